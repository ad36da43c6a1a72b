package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"

	"github.com/vilt-go/workbook/vqa/augment"
	"github.com/vilt-go/workbook/vqa/dataset"
	"github.com/vilt-go/workbook/vqa/hfmodel"
	"github.com/vilt-go/workbook/vqa/internal/fslock"
	"github.com/vilt-go/workbook/vqa/processor"
	"github.com/vilt-go/workbook/vqa/train"
)

// runFlags are the flags of a training run that `vqa train` and `vqa
// pretrain` share: the folder, the schedule, AdamW, checkpoints and output.
type runFlags struct {
	out                       string
	force                     bool
	epochs, maxSteps, batch   int
	accum                     int
	opt                       train.Optimizer
	seed                      uint64
	noShuffle                 bool
	ckptEvery, keep, logEvery int
	quiet, augment            bool
	cpuProfile                string
	wpa                       float64 // pre-training only: weight of word-patch alignment
}

// register adds the flags to fs, with the command's default folder, batch
// size and learning rate.
func (r *runFlags) register(fs *flag.FlagSet, out string, batch int, lr float64) {
	fs.StringVar(&r.out, "out", out, "training folder (checkpoints, loss curve, final HuggingFace model): missing, empty, or the folder of a run with the same settings (resumed)")
	fs.BoolVar(&r.force, "force", false, "train into -out even if it is not empty and not a training folder (its files of the same names are replaced), or holds checkpoints that cannot be resumed, of a run with other settings or none intact (they are removed and training starts afresh)")
	fs.IntVar(&r.epochs, "epochs", 3, "passes over the data")
	fs.IntVar(&r.maxSteps, "max-steps", 0, "stop after this many optimizer steps (0: epochs decide)")
	fs.IntVar(&r.batch, "batch", batch, "batch size")
	r.opt = train.DefaultOptimizer()
	r.opt.LR = lr
	fs.Float64Var(&r.opt.LR, "lr", r.opt.LR, "peak learning rate")
	fs.Float64Var(&r.opt.WeightDecay, "weight-decay", r.opt.WeightDecay, "AdamW decoupled weight decay")
	fs.Float64Var(&r.opt.Beta1, "beta1", r.opt.Beta1, "AdamW beta1")
	fs.Float64Var(&r.opt.Beta2, "beta2", r.opt.Beta2, "AdamW beta2")
	fs.Float64Var(&r.opt.Eps, "eps", r.opt.Eps, "AdamW epsilon")
	fs.BoolVar(&r.opt.NoDecayBiasNorm, "no-decay-bias-norm", false, "no weight decay on biases and LayerNorm weights (ViLT recipe)")
	fs.Float64Var(&r.opt.HeadLRMultiplier, "head-lr-mult", 1, "learning-rate multiplier for the head (ViLT recipe: 10)")
	fs.Float64Var(&r.opt.Warmup, "warmup", 0, "linear warm-up: a number of steps (>= 1) or a fraction of all steps (< 1; ViLT: 0.1)")
	fs.BoolVar(&r.opt.Decay, "decay", false, "decay the learning rate linearly to 0 after the warm-up (ViLT recipe)")
	fs.IntVar(&r.accum, "accumulate", 1, "batches whose gradients make one optimizer step")
	fs.Uint64Var(&r.seed, "seed", 0, "seed of the random initialisation, the shuffling (and the masking)")
	fs.BoolVar(&r.noShuffle, "no-shuffle", false, "keep the file order of the examples")
	fs.BoolVar(&r.augment, "augment", false, "transform every training picture anew each epoch with RandAugment (N=2, M=9, as ViLT's fine-tuning), without the operations that would change an answer here (flips, colour changes; see package augment)")
	fs.IntVar(&r.ckptEvery, "checkpoint-every", 100, "save a checkpoint every N optimizer steps (0: only at the end and on Ctrl-C)")
	fs.IntVar(&r.keep, "keep", 3, "checkpoints kept")
	fs.IntVar(&r.logEvery, "log-every", 1, "print \"Loss: ...\" every N steps (0: never)")
	fs.BoolVar(&r.quiet, "quiet", false, "no progress bar")
	fs.StringVar(&r.cpuProfile, "cpuprofile", "", "write a CPU profile of the run to this file")
}

// checkOut refuses -out before anything is loaded when the run would be
// refused it whatever its settings (see train.CheckFolder).
func (r *runFlags) checkOut() error {
	if err := train.CheckFolder(r.out, r.force); err != nil {
		return forceHint(err)
	}
	return nil
}

// forceHint adds where -force is explained to a refusal of the folder.
func forceHint(err error) error {
	if errors.Is(err, train.ErrFolderTaken) {
		return fmt.Errorf("%w (-force overrides this: see -help)", err)
	}
	return err
}

// loaderOptions completes the data flags' loader options of the training
// data with the batch size, the shuffling and the augmentation.
func (r *runFlags) loaderOptions(d dataFlags) (dataset.LoaderOptions, error) {
	lo := d.loaderOptions(r.batch)
	lo.Shuffle, lo.Seed = !r.noShuffle, r.seed
	if r.augment {
		a, err := augment.New(augment.DefaultN, augment.DefaultM)
		if err != nil {
			return lo, err
		}
		lo.Augment = a
	}
	return lo, nil
}

// startProfile starts the CPU profile if asked; call the returned function
// when the run ends.
func (r *runFlags) startProfile() (stop func(), err error) {
	if r.cpuProfile == "" {
		return func() {}, nil
	}
	f, err := os.Create(r.cpuProfile)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// settings returns the settings a resume must repeat (see
// train.Config.Settings): the data (root, split, limit, number of
// examples, image size), the starting model, the batching and shuffling,
// and the command's own.
func (r *runFlags) settings(root string, d dataFlags, examples int, proc *processor.Processor, start string, command map[string]string) (map[string]string, error) {
	absRoot, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("-data %s: %w", root, err)
	}
	s := map[string]string{
		"data": absRoot, "split": d.split, "limit": strconv.Itoa(d.limit), "examples": strconv.Itoa(examples),
		"image_size": strconv.Itoa(proc.ImageConfig().ShortestEdge), "start": start,
		"batch": strconv.Itoa(r.batch), "shuffle": strconv.FormatBool(!r.noShuffle),
		"bucket": strconv.FormatBool(d.bucket), "seed": strconv.FormatUint(r.seed, 10),
		"augment": strconv.FormatBool(r.augment),
	}
	if ts := splitTypes(d.onlyTypes); len(ts) > 0 {
		s["question_types"] = strings.Join(ts, ",")
	}
	if ts := splitTypes(d.skipTypes); len(ts) > 0 {
		s["skip_question_types"] = strings.Join(ts, ",")
	}
	maps.Copy(s, command)
	return s, nil
}

// train runs the training of m on loader into the training folder, which
// train.Run checks (settings must match a resumed run's) and locks; the
// processor files of modelRef's source are written there before the first
// step, so that the folder can be evaluated while training runs. It then
// exports the model there. onStep, if not nil, is called after every
// optimizer step.
func (r *runFlags) train(ctx context.Context, b compute.Backend, m *hfmodel.Model, loader *dataset.Loader, proc *processor.Processor, modelRef string, settings map[string]string, onStep func(step int, loss float64), stdout, stderr io.Writer) (train.Result, error) {
	files, err := processorFileData(modelRef, proc)
	if err != nil {
		return train.Result{}, err
	}
	cfg := train.Config{
		Optimizer: r.opt, Epochs: r.epochs, MaxSteps: r.maxSteps, Accumulate: r.accum, Dir: r.out,
		Settings: settings, Force: r.force, Files: files,
		CheckpointEvery: r.ckptEvery, Keep: r.keep, LogEvery: r.logEvery, Log: stdout,
		ProgressInterval: time.Second, OnStep: onStep, WPA: r.wpa,
	}
	if !r.quiet {
		cfg.Progress = stderr
	}
	res, err := train.Run(ctx, b, m, loader, cfg)
	switch {
	case errors.Is(err, context.Canceled):
		return res, fmt.Errorf("%w; checkpoint saved in %s: run the same command again to resume", err, r.out)
	case err != nil:
		return res, forceHint(err)
	}
	fmt.Fprintf(stdout, "trained to step %d in %s (%.2f examples/s after the first step)\n", res.Steps, res.Elapsed.Round(time.Second), res.ExamplesPerSecond)
	if err := exportLocked(m, r.out); err != nil {
		return res, err
	}
	fmt.Fprintf(stdout, "model written to %s (config.json, model.safetensors, processor files); loss curve in %s\n", r.out, filepath.Join(r.out, "loss.csv"))
	return res, nil
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
