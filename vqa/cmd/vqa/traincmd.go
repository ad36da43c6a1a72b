package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"time"

	"github.com/gomlx/compute/dtypes"

	"github.com/vilt-go/workbook/vqa/backend"
	"github.com/vilt-go/workbook/vqa/dataset"
	"github.com/vilt-go/workbook/vqa/hfmodel"
	"github.com/vilt-go/workbook/vqa/internal/fslock"
	"github.com/vilt-go/workbook/vqa/predict"
	"github.com/vilt-go/workbook/vqa/train"
	"github.com/vilt-go/workbook/vqa/vilt"
	"github.com/vilt-go/workbook/vqa/vqav2"
)

func runTrain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("train", "Trains or fine-tunes ViLT on a VQAv2 split (the walk-through's figures 13-19): from a preset\n"+
		"with random weights (-preset), or from a checkpoint (-model: folder or Hub id; an MLM checkpoint\n"+
		"such as dandelin/vilt-b32-mlm gets a new classifier for the dataset's answers). Checkpoints,\n"+
		"config.json, loss.csv and at the end model.safetensors and the processor files go to -out;\n"+
		"rerunning the same command resumes from the latest checkpoint (Ctrl-C saves one). -out must be\n"+
		"missing, empty or a training folder: its training.json records the settings, and a resume with\n"+
		"other ones is refused before anything is written. One run at a time holds the folder.", stderr)
	var d dataFlags
	d.register(fs, "train2014")
	var ms modelSetup
	fs.StringVar(&ms.preset, "preset", "tiny", "model size preset with random initialisation (tiny, base); ignored with -model")
	fs.IntVar(&ms.sizes.Hidden, "hidden", 0, "with -preset: hidden size instead of the preset's (0: preset's; tiny 96, base 768)")
	fs.IntVar(&ms.sizes.Layers, "layers", 0, "with -preset: transformer layers instead of the preset's (0: preset's; tiny 2, base 12)")
	fs.IntVar(&ms.sizes.Heads, "heads", 0, "with -preset: attention heads instead of the preset's (0: preset's; tiny 3, base 12)")
	fs.IntVar(&ms.sizes.MLP, "mlp", 0, "with -preset: MLP (intermediate) size instead of the preset's (0: preset's; tiny 192, base 3072)")
	fs.IntVar(&ms.sizes.Patch, "patch", 0, "with -preset: image patch size instead of the preset's 32 (a divisor of the processor's size_divisor, 32)")
	fs.StringVar(&ms.ref, "model", "", "start from this checkpoint (folder or Hub id) instead of a preset")
	fs.BoolVar(&ms.keepLabels, "keep-labels", false, "keep the checkpoint's answer labels instead of building them from the data")
	fs.StringVar(&ms.labelsFrom, "labels", "", "take the answer labels from this config.json (id2label) instead of the data, e.g. data/vilt-b32-finetuned-vqa/config.json")
	fs.IntVar(&ms.minCount, "min-count", 1, "answer labels: keep answers that are the majority answer at least this often")
	fs.IntVar(&ms.topK, "top-labels", 0, "answer labels: keep only the most frequent N (0: all)")
	out := fs.String("out", "runs/vqa", "training folder (checkpoints, loss curve, final HuggingFace model): missing, empty, or the folder of a run with the same settings (resumed)")
	force := fs.Bool("force", false, "train into -out even if it is not empty and not a training folder (its files of the same names are replaced), or holds checkpoints that cannot be resumed, of a run with other settings or none intact (they are removed and training starts afresh)")
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
	fs.Float64Var(&o.Warmup, "warmup", 0, "linear warm-up: a number of steps (>= 1) or a fraction of all steps (< 1; ViLT: 0.1)")
	fs.BoolVar(&o.Decay, "decay", false, "decay the learning rate linearly to 0 after the warm-up (ViLT recipe)")
	accum := fs.Int("accumulate", 1, "batches whose gradients make one optimizer step")
	fs.Uint64Var(&ms.seed, "seed", 0, "seed of the random initialisation and of the shuffling")
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
	proc, err := loadProcessor(ms.ref, d.imageSize)
	if err != nil {
		return err
	}
	dopts, err := d.options()
	if err != nil {
		return err
	}

	if ms.ref != "" && ms.sizes != (vilt.Sizes{}) {
		return errors.New("train: -hidden, -layers, -heads, -mlp and -patch resize a -preset; a -model checkpoint keeps its sizes")
	}
	m, err := ms.model(root, d, stdout)
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
	lo.Shuffle, lo.Seed = !*noShuffle, ms.seed
	loader, err := dataset.NewLoader(ds, lo)
	if err != nil {
		return err
	}
	b, err := backend.New(stderr)
	if err != nil {
		return err
	}
	defer b.Finalize()
	// The processor files are written once the folder is checked and
	// locked, before the first step, so that the folder can be evaluated
	// while training runs (the latest checkpoint is read).
	files, err := processorFileData(ms.ref, proc)
	if err != nil {
		return err
	}
	absRoot, err := filepath.Abs(root)
	if err != nil {
		return fmt.Errorf("-data %s: %w", root, err)
	}
	cfg := train.Config{
		Optimizer: o, Epochs: *epochs, MaxSteps: *maxSteps, Accumulate: *accum, Dir: *out,
		Settings: map[string]string{
			"data": absRoot, "split": d.split, "limit": strconv.Itoa(d.limit), "examples": strconv.Itoa(ds.Len()),
			"scoring": d.scoring, "image_size": strconv.Itoa(proc.ImageConfig().ShortestEdge),
			"batch": strconv.Itoa(*batch), "shuffle": strconv.FormatBool(lo.Shuffle), "bucket": strconv.FormatBool(lo.Bucket),
			"seed": strconv.FormatUint(ms.seed, 10), "start": ms.start(),
		},
		Force: *force, Files: files,
		CheckpointEvery: *ckptEvery, Keep: *keep, LogEvery: *logEvery, Log: stdout,
		ProgressInterval: time.Second,
	}
	if !*quiet {
		cfg.Progress = stderr
	}
	res, err := train.Run(ctx, b, m, loader, cfg)
	switch {
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("%w; checkpoint saved in %s: run the same command again to resume", err, *out)
	case errors.Is(err, train.ErrFolderTaken):
		return fmt.Errorf("%w (-force overrides this: see -help)", err)
	case err != nil:
		return err
	}
	fmt.Fprintf(stdout, "trained to step %d in %s (%.2f examples/s after the first step)\n", res.Steps, res.Elapsed.Round(time.Second), res.ExamplesPerSecond)
	if err := exportLocked(m, *out); err != nil {
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
	rep, _, err := evaluateFlags(ctx, pred, root, d, labels, *batch)
	if err != nil {
		return err
	}
	return rep.WriteText(stdout)
}

// exportLocked writes the trained model into its training folder dir,
// holding the folder's lock again: a run that took the folder over since
// train.Run returned makes it fail instead of mixing two runs' files.
func exportLocked(m *hfmodel.Model, dir string) error {
	lock, err := fslock.Acquire(dir, "vqa train: writing the final model into "+dir)
	if err != nil {
		return fmt.Errorf("writing the final model: %w", err)
	}
	defer lock.Release()
	return m.Export(dir, dtypes.Float32)
}

// modelSetup are the flags that pick the model to train.
type modelSetup struct {
	ref, preset    string
	sizes          vilt.Sizes
	labelsFrom     string
	keepLabels     bool
	minCount, topK int
	seed           uint64
}

// start names the model a run starts from, for the settings a resume must
// repeat: the checkpoint (and whether its labels are kept) or the preset
// (its sizes are in the model's settings).
func (ms modelSetup) start() string {
	switch {
	case ms.ref != "" && ms.keepLabels:
		return ms.ref + " (its labels)"
	case ms.ref != "":
		return ms.ref
	}
	return "preset " + ms.preset
}

// model returns the model to train: the checkpoint ms.ref (keeping its
// labels, or with a new head for the new labels) or a preset resized by
// ms.sizes; new labels come from ms.labelsFrom (a config.json) or the
// split's answers.
func (ms modelSetup) model(root string, d dataFlags, stdout io.Writer) (*hfmodel.Model, error) {
	if ms.ref != "" && ms.keepLabels {
		m, _, err := hfmodel.Load(ms.ref, hfmodel.LoadOptions{Head: vilt.QuestionAnswering, Log: stdout})
		return m, err
	}
	var labels []string
	if ms.labelsFrom != "" {
		lm, err := vqav2.ReadLabelMap(ms.labelsFrom)
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
		labels = vqav2.BuildVocab(anns, nil, ms.minCount, ms.topK).ID2Label
	}
	if ms.ref == "" {
		cfg, err := vilt.Preset(ms.preset)
		if err != nil {
			return nil, err
		}
		if err := cfg.SetSizes(ms.sizes); err != nil {
			return nil, err
		}
		return hfmodel.New(cfg, labels, ms.seed)
	}
	m, rep, err := hfmodel.Load(ms.ref, hfmodel.LoadOptions{Head: vilt.QuestionAnswering, Labels: labels, NewHead: true, Seed: ms.seed, Log: stdout})
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(stdout, "loaded %s: newly initialised: %v; not used: %v\n", ms.ref, rep.Missing, rep.Unexpected)
	return m, nil
}
