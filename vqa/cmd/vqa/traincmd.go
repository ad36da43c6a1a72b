package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/gomlx/compute"

	"github.com/vilt-go/workbook/vqa/backend"
	"github.com/vilt-go/workbook/vqa/dataset"
	"github.com/vilt-go/workbook/vqa/evaluate"
	"github.com/vilt-go/workbook/vqa/hfmodel"
	"github.com/vilt-go/workbook/vqa/internal/safefile"
	"github.com/vilt-go/workbook/vqa/predict"
	"github.com/vilt-go/workbook/vqa/processor"
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
	d.registerQuestionTypes(fs)
	var ms modelSetup
	ms.register(fs, "start from this checkpoint (folder or Hub id) instead of a preset")
	fs.BoolVar(&ms.keepLabels, "keep-labels", false, "keep the checkpoint's answer labels instead of building them from the data")
	fs.StringVar(&ms.labelsFrom, "labels", "", "take the answer labels from this config.json (id2label) instead of the data, e.g. data/vilt-b32-finetuned-vqa/config.json")
	fs.IntVar(&ms.minCount, "min-count", 1, "answer labels: keep answers that are the majority answer at least this often")
	fs.IntVar(&ms.topK, "top-labels", 0, "answer labels: keep only the most frequent N (0: all)")
	var rf runFlags
	rf.register(fs, "runs/vqa", 4, train.DefaultOptimizer().LR)
	evalSplit := fs.String("eval", "", "after training, evaluate on this split (e.g. val2014) against the majority baseline")
	evalData := fs.String("eval-data", "", "with -eval: the VQAv2 folder of the evaluation split (default: -data's)")
	evalEvery := fs.Int("eval-every", 0, "with -eval: also evaluate every N steps, the accuracies going to eval.csv in -out (a validation curve)")
	if err := parse(fs, args); err != nil {
		return err
	}
	ms.seed = rf.seed
	if err := rf.checkOut(); err != nil {
		return err
	}
	stop, err := rf.startProfile()
	if err != nil {
		return err
	}
	defer stop()
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

	if err := ms.checkStart("train"); err != nil {
		return err
	}
	m, err := ms.model(root, d.split, dopts, stdout)
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
	lo, err := rf.loaderOptions(d)
	if err != nil {
		return err
	}
	loader, err := dataset.NewLoader(ds, lo)
	if err != nil {
		return err
	}
	b, err := backend.New(stderr)
	if err != nil {
		return err
	}
	defer b.Finalize()
	settings, err := rf.settings(root, d, ds.Len(), proc, ms.start(), map[string]string{"scoring": d.scoring})
	if err != nil {
		return err
	}
	if *evalSplit == "" {
		_, err := rf.train(ctx, b, m, loader, proc, ms.ref, settings, nil, stdout, stderr)
		return err
	}
	ed := d
	ed.split, ed.limit, ed.root = *evalSplit, 0, *evalData
	if ed.root == "" {
		ed.root = root
	}
	ev, err := newEvaluator(ctx, b, m, proc, ed, labels, rf.batch, *evalEvery, filepath.Join(rf.out, "eval.csv"), stdout)
	if err != nil {
		return err
	}
	defer ev.close()
	res, err := rf.train(ctx, b, m, loader, proc, ms.ref, settings, ev.onStep, stdout, stderr)
	if err != nil {
		return err
	}
	return ev.final(res.Steps)
}

// evaluator scores a model being trained on an evaluation split: every
// N steps and at the end, each time adding a row to eval.csv.
type evaluator struct {
	ctx    context.Context
	pred   *predict.Predictor
	ds     *dataset.Dataset
	lo     dataset.LoaderOptions
	every  int
	curve  *evalCurve
	stdout io.Writer
	err    error // the first error of an evaluation during training
}

// newEvaluator loads the split of d (its root, split and options) with
// the model's labels and prepares a predictor on the model's own store, so
// that each evaluation sees the current weights.
func newEvaluator(ctx context.Context, b compute.Backend, m *hfmodel.Model, proc *processor.Processor, d dataFlags, labels vqav2.LabelMap, batch, every int, csvPath string, stdout io.Writer) (*evaluator, error) {
	dopts, err := d.options()
	if err != nil {
		return nil, err
	}
	ds, err := dataset.Load(d.root, d.split, labels, proc, dopts)
	if err != nil {
		return nil, err
	}
	pred, err := predict.New(b, m, proc)
	if err != nil {
		return nil, err
	}
	return &evaluator{ctx: ctx, pred: pred, ds: ds, lo: d.loaderOptions(batch), every: every, curve: &evalCurve{path: csvPath}, stdout: stdout}, nil
}

// close frees the predictor.
func (e *evaluator) close() { e.pred.Close() }

// evaluate scores the model after step and records it in eval.csv.
func (e *evaluator) evaluate(step int) (evaluate.Report, error) {
	rep, _, err := evaluate.Split(e.ctx, e.pred, e.ds, e.lo)
	if err == nil {
		err = e.curve.add(step, rep)
	}
	return rep, err
}

// onStep evaluates every e.every steps (a train.Config.OnStep).
func (e *evaluator) onStep(step int, _ float64) {
	if e.err == nil {
		e.err = e.curve.start(step)
	}
	if e.every <= 0 || step%e.every != 0 || e.err != nil {
		return
	}
	rep, err := e.evaluate(step)
	if e.err = err; err == nil {
		fmt.Fprintf(e.stdout, "step %d: %s VQA accuracy %.2f%%\n", step, e.ds.Split, rep.Model.Overall)
	}
}

// final reports an error of the evaluations during training, else
// evaluates the trained model and prints the report.
func (e *evaluator) final(step int) error {
	if e.err != nil {
		return fmt.Errorf("evaluating during training: %w", e.err)
	}
	rep, err := e.evaluate(step)
	if err != nil {
		return err
	}
	return rep.WriteText(e.stdout)
}

// evalCurve is the validation curve of a training run: eval.csv with the
// VQA accuracy (overall and per answer type) after some steps.
type evalCurve struct {
	path    string
	rows    [][]string
	started bool
}

// evalHeader is eval.csv's first line.
var evalHeader = []string{"step", "overall", "yes/no", "number", "other"}

// start is called with the first step of this call of the training: a
// resumed run keeps the rows of its eval.csv from before that step (rows
// after it, of steps done again, are dropped); a fresh run (step 1) starts
// an empty curve. Only the first call does anything.
func (c *evalCurve) start(step int) error {
	if c.started {
		return nil
	}
	c.started = true
	if step <= 1 {
		return nil
	}
	data, err := safefile.ReadFile(c.path, safefile.MaxMetadataBytes)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading the validation curve: %w", err)
	}
	rows, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil || len(rows) == 0 || !slices.Equal(rows[0], evalHeader) {
		return fmt.Errorf("validation curve %s: want CSV with the header %s (%v)", c.path, strings.Join(evalHeader, ","), err)
	}
	for _, r := range rows[1:] {
		if n, err := strconv.Atoi(r[0]); err == nil && n < step && len(r) == len(evalHeader) {
			c.rows = append(c.rows, r)
		}
	}
	return nil
}

// add appends the accuracies of rep after step and rewrites the file.
func (c *evalCurve) add(step int, rep evaluate.Report) error {
	if err := c.start(step); err != nil {
		return err
	}
	if len(c.rows) > 0 && c.rows[len(c.rows)-1][0] == strconv.Itoa(step) {
		return nil // evaluated at this step already
	}
	c.rows = append(c.rows, []string{strconv.Itoa(step), fmt.Sprintf("%.4f", rep.Model.Overall),
		fmt.Sprintf("%.4f", rep.Model.PerAnswerType["yes/no"]), fmt.Sprintf("%.4f", rep.Model.PerAnswerType["number"]),
		fmt.Sprintf("%.4f", rep.Model.PerAnswerType["other"])})
	return safefile.Write(c.path, 0o644, func(w io.Writer) error {
		cw := csv.NewWriter(w)
		cw.Write(evalHeader)
		cw.WriteAll(c.rows)
		return cw.Error()
	})
}

// modelSetup are the flags that pick the model to train.
type modelSetup struct {
	ref, preset    string
	sizes          vilt.Sizes
	initRange      float64
	labelsFrom     string
	keepLabels     bool
	minCount, topK int
	seed           uint64
}

// register adds the flags that pick the starting model: -preset, the
// size flags that resize it, and -model (described by modelUsage).
func (ms *modelSetup) register(fs *flag.FlagSet, modelUsage string) {
	fs.StringVar(&ms.preset, "preset", "tiny", "model size preset with random initialisation (tiny, base); ignored with -model")
	fs.IntVar(&ms.sizes.Hidden, "hidden", 0, "with -preset: hidden size instead of the preset's (0: preset's; tiny 96, base 768)")
	fs.IntVar(&ms.sizes.Layers, "layers", 0, "with -preset: transformer layers instead of the preset's (0: preset's; tiny 2, base 12)")
	fs.IntVar(&ms.sizes.Heads, "heads", 0, "with -preset: attention heads instead of the preset's (0: preset's; tiny 3, base 12)")
	fs.IntVar(&ms.sizes.MLP, "mlp", 0, "with -preset: MLP (intermediate) size instead of the preset's (0: preset's; tiny 192, base 3072)")
	fs.IntVar(&ms.sizes.Patch, "patch", 0, "with -preset: image patch size instead of the preset's 32 (a divisor of the processor's size_divisor, 32)")
	fs.Float64Var(&ms.initRange, "init-range", 0, "with -preset: standard deviation of the random initial weights, HF's initializer_range (0: preset's, 0.02)")
	fs.StringVar(&ms.ref, "model", "", modelUsage)
}

// checkStart refuses size or initialisation flags with -model: a
// checkpoint keeps its sizes and weights.
func (ms modelSetup) checkStart(cmd string) error {
	if ms.ref != "" && (ms.sizes != (vilt.Sizes{}) || ms.initRange != 0) {
		return fmt.Errorf("%s: -hidden, -layers, -heads, -mlp, -patch and -init-range shape a -preset; a -model checkpoint keeps its sizes and weights", cmd)
	}
	if ms.initRange < 0 {
		return fmt.Errorf("%s: -init-range must be >= 0, got %g", cmd, ms.initRange)
	}
	return nil
}

// presetConfig returns the configuration of ms.preset with the sizes and
// initialisation the flags set.
func (ms modelSetup) presetConfig() (*vilt.Config, error) {
	cfg, err := vilt.Preset(ms.preset)
	if err != nil {
		return nil, err
	}
	if err := cfg.SetSizes(ms.sizes); err != nil {
		return nil, err
	}
	if ms.initRange > 0 {
		cfg.InitializerRange = ms.initRange
	}
	return cfg, nil
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
// answers of the split's questions that dopts keeps (its question types,
// then its limit).
func (ms modelSetup) model(root, split string, dopts dataset.Options, stdout io.Writer) (*hfmodel.Model, error) {
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
		anns, err := vqav2.ReadAnnotations(vqav2.AnnotationsPath(root, split))
		if err != nil {
			return nil, err
		}
		anns = slices.DeleteFunc(anns, func(a vqav2.Annotation) bool { return !dopts.Keeps(a) })
		if len(anns) == 0 && len(dopts.QuestionTypes)+len(dopts.SkipQuestionTypes) > 0 {
			return nil, fmt.Errorf("no questions of the question types %q other than %q in %s", dopts.QuestionTypes, dopts.SkipQuestionTypes, vqav2.AnnotationsPath(root, split))
		}
		if dopts.Limit > 0 && dopts.Limit < len(anns) {
			anns = anns[:dopts.Limit]
		}
		labels = vqav2.BuildVocab(anns, nil, ms.minCount, ms.topK).ID2Label
	}
	if ms.ref == "" {
		cfg, err := ms.presetConfig()
		if err != nil {
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
