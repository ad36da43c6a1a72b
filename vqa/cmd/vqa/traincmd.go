package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/pprof"
	"time"

	"github.com/gomlx/compute/dtypes"

	"github.com/vilt-go/workbook/vqa/backend"
	"github.com/vilt-go/workbook/vqa/dataset"
	"github.com/vilt-go/workbook/vqa/evaluate"
	"github.com/vilt-go/workbook/vqa/predict"
	"github.com/vilt-go/workbook/vqa/train"
	"github.com/vilt-go/workbook/vqa/vilt"
	"github.com/vilt-go/workbook/vqa/vqav2"
)

// dataFlags are the flags that pick and load a dataset split.
type dataFlags struct {
	root, split        string
	limit, imageSize   int
	scoring            string
	skipMissing, cache bool
	workers, prefetch  int
	bucket, skipBroken bool
	trimText           bool
}

func (d *dataFlags) register(fs *flag.FlagSet, split string) {
	fs.StringVar(&d.root, "data", "", "VQAv2-layout folder (default $VQA_DATA, else data/vqav2-mini)")
	fs.StringVar(&d.split, "split", split, "split to read (train2014, val2014, ...)")
	fs.IntVar(&d.limit, "limit", 0, "use only the first N questions (0: all)")
	fs.IntVar(&d.imageSize, "image-size", 0, "resize images to this shorter edge instead of the processor's (0: processor's, 384)")
	fs.StringVar(&d.scoring, "scoring", "tutorial", "target scores: tutorial (min(1, n/3)) or vqa (0.3/0.6/0.9/1)")
	fs.BoolVar(&d.skipMissing, "skip-missing", false, "skip questions whose image file is missing (counted)")
	fs.BoolVar(&d.skipBroken, "skip-broken", false, "skip examples whose image cannot be decoded (counted)")
	fs.BoolVar(&d.cache, "cache-images", false, "keep processed images in memory across epochs")
	fs.IntVar(&d.workers, "workers", 0, "parallel image-decoding workers (0: number of CPUs)")
	fs.IntVar(&d.prefetch, "prefetch", 2, "batches prepared ahead")
	fs.BoolVar(&d.bucket, "bucket", false, "group images by size bucket and pad to it (fewer graph compilations)")
	fs.BoolVar(&d.trimText, "trim-text", false, "pad questions to the batch's longest (multiple of 8) instead of 40 tokens")
}

func (d *dataFlags) options() (dataset.Options, error) {
	s, err := vqav2.ParseScoring(d.scoring)
	return dataset.Options{Limit: d.limit, Scoring: s, SkipMissing: d.skipMissing, CacheImages: d.cache}, err
}

func (d *dataFlags) loaderOptions(batch int) dataset.LoaderOptions {
	return dataset.LoaderOptions{BatchSize: batch, Workers: d.workers, Prefetch: d.prefetch, Bucket: d.bucket, SkipBroken: d.skipBroken, TrimText: d.trimText}
}

func runTrain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("train", "Trains or fine-tunes ViLT on a VQAv2 split (the walk-through's figures 13-19): from a preset\n"+
		"with random weights (-preset), or from a checkpoint (-model: folder or Hub id; an MLM checkpoint\n"+
		"such as dandelin/vilt-b32-mlm gets a new classifier for the dataset's answers). Checkpoints,\n"+
		"config.json, loss.csv and at the end model.safetensors and the processor files go to -out;\n"+
		"rerunning the same command resumes from the latest checkpoint (Ctrl-C saves one).", stderr)
	var d dataFlags
	d.register(fs, "train2014")
	preset := fs.String("preset", "tiny", "model size preset with random initialisation (tiny, base); ignored with -model")
	var sizes vilt.Sizes
	fs.IntVar(&sizes.Hidden, "hidden", 0, "with -preset: hidden size instead of the preset's (0: preset's; tiny 96, base 768)")
	fs.IntVar(&sizes.Layers, "layers", 0, "with -preset: transformer layers instead of the preset's (0: preset's; tiny 2, base 12)")
	fs.IntVar(&sizes.Heads, "heads", 0, "with -preset: attention heads instead of the preset's (0: preset's; tiny 3, base 12)")
	fs.IntVar(&sizes.MLP, "mlp", 0, "with -preset: MLP (intermediate) size instead of the preset's (0: preset's; tiny 192, base 3072)")
	fs.IntVar(&sizes.Patch, "patch", 0, "with -preset: image patch size instead of the preset's 32 (a divisor of the processor's size_divisor, 32)")
	modelRef := fs.String("model", "", "start from this checkpoint (folder or Hub id) instead of a preset")
	keepLabels := fs.Bool("keep-labels", false, "keep the checkpoint's answer labels instead of building them from the data")
	labelsFrom := fs.String("labels", "", "take the answer labels from this config.json (id2label) instead of the data, e.g. data/vilt-b32-finetuned-vqa/config.json")
	minCount := fs.Int("min-count", 1, "answer labels: keep answers that are the majority answer at least this often")
	topK := fs.Int("top-labels", 0, "answer labels: keep only the most frequent N (0: all)")
	out := fs.String("out", "runs/vqa", "training folder (checkpoints, loss curve, final HuggingFace model)")
	epochs := fs.Int("epochs", 3, "passes over the data")
	maxSteps := fs.Int("max-steps", 0, "stop after this many optimizer steps (0: epochs decide)")
	batch := fs.Int("batch", 4, "batch size")
	o := train.DefaultOptimizer()
	fs.Float64Var(&o.LR, "lr", o.LR, "peak learning rate")
	fs.Float64Var(&o.WeightDecay, "weight-decay", o.WeightDecay, "AdamW decoupled weight decay")
	fs.Float64Var(&o.Beta1, "beta1", o.Beta1, "AdamW beta1")
	fs.Float64Var(&o.Beta2, "beta2", o.Beta2, "AdamW beta2")
	fs.Float64Var(&o.Eps, "eps", o.Eps, "AdamW epsilon")
	fs.BoolVar(&o.NoDecayBiasNorm, "no-decay-bias-norm", false, "no weight decay on biases and LayerNorm weights (ViLT recipe)")
	fs.Float64Var(&o.HeadLRMultiplier, "head-lr-mult", 1, "learning-rate multiplier for the classifier head (ViLT recipe: 10)")
	warmup := fs.Float64("warmup", 0, "linear warm-up: a number of steps (>= 1) or a fraction of all steps (< 1; ViLT: 0.1)")
	fs.BoolVar(&o.Decay, "decay", false, "decay the learning rate linearly to 0 after the warm-up (ViLT recipe)")
	accum := fs.Int("accumulate", 1, "batches whose gradients make one optimizer step")
	seed := fs.Uint64("seed", 0, "seed of the random initialisation and of the shuffling")
	noShuffle := fs.Bool("no-shuffle", false, "keep the file order of the examples")
	ckptEvery := fs.Int("checkpoint-every", 100, "save a checkpoint every N optimizer steps (0: only at the end and on Ctrl-C)")
	keep := fs.Int("keep", 3, "checkpoints kept")
	logEvery := fs.Int("log-every", 1, "print \"Loss: ...\" every N steps (0: never)")
	evalSplit := fs.String("eval", "", "after training, evaluate on this split (e.g. val2014) against the majority baseline")
	quiet := fs.Bool("quiet", false, "no progress bar")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the run to this file")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	root, err := dataRoot(d.root)
	if err != nil {
		return err
	}
	proc, err := loadProcessor(*modelRef, d.imageSize)
	if err != nil {
		return err
	}
	dopts, err := d.options()
	if err != nil {
		return err
	}

	if *modelRef != "" && sizes != (vilt.Sizes{}) {
		return errors.New("train: -hidden, -layers, -heads, -mlp and -patch resize a -preset; a -model checkpoint keeps its sizes")
	}
	m, err := setUpModel(root, d, *modelRef, *preset, sizes, *labelsFrom, *keepLabels, *minCount, *topK, *seed, stdout)
	if err != nil {
		return err
	}
	if div := proc.ImageConfig().SizeDivisor; div%m.Config.PatchSize != 0 {
		return fmt.Errorf("train: patch size %d does not divide the processor's size_divisor %d, so images would not split into whole patches", m.Config.PatchSize, div)
	}
	labels, err := vqav2.NewLabelMap(m.Labels())
	if err != nil {
		return err
	}
	ds, err := dataset.Load(root, d.split, labels, proc, dopts)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s/%s: %d questions, %d answer labels, %d skipped (missing image), %d annotator answers outside the labels\n",
		root, d.split, ds.Len(), labels.Len(), ds.Skipped, ds.UnknownAnswers)
	first, err := ds.Example(0)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "first example:")
	if err := ds.Describe(stdout, first); err != nil {
		return err
	}
	lo := d.loaderOptions(*batch)
	lo.Shuffle, lo.Seed = !*noShuffle, *seed
	loader, err := dataset.NewLoader(ds, lo)
	if err != nil {
		return err
	}
	nb, err := loader.NumBatches()
	if err != nil {
		return err
	}
	if *warmup >= 1 {
		o.WarmupSteps = int(*warmup)
	} else if *warmup > 0 {
		o.WarmupSteps = int(*warmup * float64(*epochs*nb/max(1, *accum)))
	}
	b, err := backend.New(stderr)
	if err != nil {
		return err
	}
	defer b.Finalize()
	cfg := train.Config{
		Optimizer: o, Epochs: *epochs, MaxSteps: *maxSteps, Accumulate: *accum, Dir: *out,
		CheckpointEvery: *ckptEvery, Keep: *keep, LogEvery: *logEvery, Log: stdout,
		ProgressInterval: time.Second,
	}
	if !*quiet {
		cfg.Progress = stderr
	}
	// The processor files first, so that the folder can be evaluated while
	// training runs (the latest checkpoint is read).
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	if err := writeProcessorFiles(*out, *modelRef, proc); err != nil {
		return err
	}
	res, err := train.Run(ctx, b, m, loader, cfg)
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("%w; checkpoint saved in %s: run the same command again to resume", err, *out)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "trained to step %d in %s (%.2f examples/s after the first step)\n", res.Steps, res.Elapsed.Round(time.Second), res.ExamplesPerSecond)
	if err := m.Export(*out, dtypes.Float32); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "model written to %s (config.json, model.safetensors, processor files); loss curve in %s\n", *out, filepath.Join(*out, "loss.csv"))
	if *evalSplit == "" {
		return nil
	}
	pred, err := predict.New(b, m, proc)
	if err != nil {
		return err
	}
	defer pred.Close()
	d.split, d.limit = *evalSplit, 0
	rep, _, err := evaluateSplit(ctx, pred, root, d, labels, *batch)
	if err != nil {
		return err
	}
	return rep.WriteText(stdout)
}

// setUpModel returns the model to train: the checkpoint modelRef (keeping
// its labels, or with a new head for the new labels) or a preset resized by
// sizes; new labels come from labelsFrom (a config.json) or the split's
// answers.
func setUpModel(root string, d dataFlags, modelRef, preset string, sizes vilt.Sizes, labelsFrom string, keepLabels bool, minCount, topK int, seed uint64, stdout io.Writer) (*train.Model, error) {
	if modelRef != "" && keepLabels {
		m, _, err := train.Load(modelRef, nil, seed)
		return m, err
	}
	var labels []string
	if labelsFrom != "" {
		lm, err := vqav2.ReadLabelMap(labelsFrom)
		if err != nil {
			return nil, err
		}
		labels = lm.ID2Label
	} else {
		anns, err := vqav2.ReadAnnotations(vqav2.AnnotationsPath(root, d.split))
		if err != nil {
			return nil, err
		}
		if d.limit > 0 && d.limit < len(anns) {
			anns = anns[:d.limit]
		}
		labels = vqav2.BuildVocab(anns, nil, minCount, topK).ID2Label
	}
	if modelRef == "" {
		cfg, err := vilt.Preset(preset)
		if err != nil {
			return nil, err
		}
		if err := cfg.Resize(sizes); err != nil {
			return nil, err
		}
		return train.New(cfg, labels, seed)
	}
	m, rep, err := train.Load(modelRef, labels, seed)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(stdout, "loaded %s: newly initialised: %v; not used: %v\n", modelRef, rep.Missing, rep.Unexpected)
	return m, nil
}

// evaluateSplit answers every question of a split and scores the answers (also
// returned) against the majority baseline (its answer taken from the train2014
// annotations next to the split when they exist, else from the split).
func evaluateSplit(ctx context.Context, pred *predict.Predictor, root string, d dataFlags, labels vqav2.LabelMap, batch int) (evaluate.Report, map[int64]string, error) {
	dopts, err := d.options()
	if err != nil {
		return evaluate.Report{}, nil, err
	}
	ds, err := dataset.Load(root, d.split, labels, pred.Processor(), dopts)
	if err != nil {
		return evaluate.Report{}, nil, err
	}
	answers, err := pred.Dataset(ctx, ds, d.loaderOptions(batch))
	if err != nil {
		return evaluate.Report{}, nil, err
	}
	anns := make([]vqav2.Annotation, ds.Len())
	for i, r := range ds.Records {
		anns[i] = r.Annotation
	}
	ref := anns
	if d.split != "train2014" {
		if train, err := vqav2.ReadAnnotations(vqav2.AnnotationsPath(root, "train2014")); err == nil {
			ref = train
		}
	}
	majority, err := evaluate.MajorityAnswer(ref)
	if err != nil {
		return evaluate.Report{}, nil, err
	}
	skipped := ds.Skipped
	if d.skipBroken {
		var broken int
		anns, broken = evaluate.Answered(anns, answers)
		skipped += broken
	}
	rep, err := evaluate.Compare(anns, answers, majority)
	rep.Skipped = skipped
	return rep, answers, err
}
