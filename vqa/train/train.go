// Package train fine-tunes or trains ViLT for VQA (figures 16 and 19 of the
// walk-through): model set-up from a preset, a pre-trained (MLM) or a
// fine-tuned checkpoint ([NewFromPreset], [Load]); AdamW with PyTorch's
// defaults and the ViLT paper's options (warm-up and linear decay, head
// learning-rate multiplier, no weight decay on biases and LayerNorms,
// gradient accumulation); the loss printed per step, a progress bar with
// ETA and a loss curve; atomic checkpoints every N steps keeping the last
// K, resume after an interruption, and a stop with a message on a
// non-finite loss.
package train

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // GoMLX graph-building idiom.
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/vilt-go/workbook/vqa/dataset"
)

// Config sets up a training run.
type Config struct {
	// Optimizer is the AdamW set-up and learning-rate schedule.
	Optimizer Optimizer
	// Epochs is the number of passes over the data; it sets the schedule's
	// length.
	Epochs int
	// MaxSteps, if > 0, stops after that many optimizer steps (in total,
	// counting steps done before a resume).
	MaxSteps int
	// Accumulate is the number of batches whose gradients are averaged into
	// one optimizer step (gradient accumulation; 0 or 1: none).
	Accumulate int
	// Dir is the training folder: config.json, the checkpoints and
	// loss.csv. If it holds checkpoints, training resumes from the latest.
	// "" trains without checkpoints.
	Dir string
	// CheckpointEvery saves a checkpoint every that many optimizer steps
	// (0: only at the end and on interruption).
	CheckpointEvery int
	// Keep is the number of checkpoints kept (default 3).
	Keep int
	// LogEvery prints the walk-through's "Loss: ..." line every that many
	// steps to Log (0: never); "Epoch: N" is printed at each epoch start.
	LogEvery int
	Log      io.Writer
	// Progress receives a progress bar with ETA, redrawn with "\r" at most
	// every ProgressInterval (nil: none).
	Progress         io.Writer
	ProgressInterval time.Duration
	// OnStep, if set, is called after every optimizer step (step counts
	// from 1).
	OnStep func(step int, loss float64)
}

// Result summarises a run.
type Result struct {
	// StartStep is the step training resumed from (0 for a fresh run).
	StartStep int
	// Steps is the number of optimizer steps done in total.
	Steps int
	// Curve is the loss curve of every step since step 1.
	Curve []Point
	// Elapsed is the time spent in this call.
	Elapsed time.Duration
	// ExamplesPerSecond is the training throughput of this call, the first
	// step (graph compilation) left out.
	ExamplesPerSecond float64
}

// ErrNonFinite is returned (wrapped) when the loss becomes NaN or infinite.
var ErrNonFinite = errors.New("non-finite loss")

// Run trains m on the loader's batches. On cancellation of ctx it saves a
// checkpoint (when cfg.Dir is set) and returns ctx's error; on a
// non-finite loss it stops without saving, so the last checkpoint holds
// the last good parameters, and returns an error wrapping [ErrNonFinite].
// Errors panicked by GoMLX are returned as errors.
func Run(ctx context.Context, b compute.Backend, m *Model, loader *dataset.Loader, cfg Config) (res Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("train: %v", r)
		}
	}()
	if cfg.Epochs <= 0 {
		return res, fmt.Errorf("train: epochs %d: want > 0", cfg.Epochs)
	}
	if got, want := loader.Dataset().NumLabels(), m.Config.NumLabels(); got != want {
		return res, fmt.Errorf("train: the dataset has %d labels, the model %d", got, want)
	}
	accum := max(1, cfg.Accumulate)
	st, err := newState(m.Store, m.Config, cfg.Optimizer, accum)
	if err != nil {
		return res, err
	}
	var sv *saver
	curvePath := ""
	if cfg.Dir != "" {
		if sv, curvePath, err = prepareDir(m, cfg.Dir, cfg.Keep); err != nil {
			return res, err
		}
	}
	step, micro, err := st.counters()
	if err != nil {
		return res, err
	}
	res.StartStep, res.Steps = int(step), int(step)
	if curvePath != "" && step > 0 {
		if res.Curve, err = ReadCurve(curvePath); err != nil && !errors.Is(err, os.ErrNotExist) {
			return res, err
		}
		res.Curve = res.Curve[:min(len(res.Curve), int(step))]
	}
	nb, err := loader.NumBatches()
	if err != nil {
		return res, err
	}
	totalSteps := cfg.Epochs * nb / accum
	if totalSteps == 0 {
		return res, fmt.Errorf("train: %d epochs of %d batches make no optimizer step of %d batches", cfg.Epochs, nb, accum)
	}
	lastStep := totalSteps
	if cfg.MaxSteps > 0 {
		lastStep = min(lastStep, cfg.MaxSteps)
	}
	if int(step) >= lastStep {
		return res, nil
	}
	if cfg.Log != nil && step > 0 {
		fmt.Fprintf(cfg.Log, "Resuming at step %d of %d (epoch %d)\n", step, lastStep, int(micro)/nb)
	}

	microExec, applyExec, err := buildExecs(b, m, st, accum)
	if err != nil {
		return res, err
	}
	defer microExec.Finalize()
	if applyExec != nil {
		defer applyExec.Finalize()
	}

	save := func() error {
		if sv == nil {
			return nil
		}
		if err := sv.save(int64(res.Steps)); err != nil {
			return err
		}
		return writeCurve(curvePath, res.Curve)
	}
	prog := newProgressBar(cfg.Progress, cfg.ProgressInterval, int(step), lastStep)
	start := time.Now()
	var firstStepEnd time.Time
	examples, firstExamples := 0, 0
	priorSeconds := 0.0
	if len(res.Curve) > 0 {
		priorSeconds = res.Curve[len(res.Curve)-1].Seconds
	}
	stepLoss, stepBatches := 0.0, 0

	for epoch := int(micro) / nb; res.Steps < lastStep; epoch++ {
		from := int(micro) % nb
		if cfg.Log != nil && from == 0 {
			fmt.Fprintf(cfg.Log, "Epoch: %d\n", epoch)
		}
		for batch, berr := range loader.Epoch(ctx, epoch, from) {
			if berr == nil && ctx.Err() != nil && stepBatches == 0 {
				berr = ctx.Err() // a prefetched batch: stop before it
			}
			if berr != nil {
				if ctx.Err() != nil {
					prog.finish()
					if serr := save(); serr != nil {
						return res, errors.Join(ctx.Err(), serr)
					}
					return res, fmt.Errorf("train: interrupted at step %d: %w", res.Steps, ctx.Err())
				}
				return res, fmt.Errorf("train: %w", berr)
			}
			in, labels := batch.Tensors()
			lr := cfg.Optimizer.LRAt(res.Steps, totalSteps)
			args := []any{in[0], in[1], in[2], in[3], in[4], labels[0]}
			if applyExec == nil {
				args = append(args, tensors.FromScalar(float32(lr)))
			}
			outs, err := microExec.Call(args...)
			for _, t := range append(in, labels...) {
				t.FinalizeAll()
			}
			if err != nil {
				return res, fmt.Errorf("train: step %d: %w", res.Steps+1, err)
			}
			loss := float64(tensors.ToScalar[float32](outs[0]))
			check := 0.0
			if len(outs) > 1 {
				check = float64(tensors.ToScalar[float32](outs[1]))
			}
			for _, t := range outs {
				t.FinalizeAll()
			}
			micro++
			examples += batch.Size
			stepLoss += loss
			stepBatches++
			if stepBatches < accum {
				continue
			}
			if applyExec != nil {
				c, err := applyExec.Call1(tensors.FromScalar(float32(lr)))
				if err != nil {
					return res, fmt.Errorf("train: step %d: %w", res.Steps+1, err)
				}
				check = float64(tensors.ToScalar[float32](c))
				c.FinalizeAll()
			}
			loss = stepLoss / float64(stepBatches)
			stepLoss, stepBatches = 0, 0
			if bad := nonFinite(loss, check); bad != "" {
				prog.finish()
				kept := "no checkpoint was saved"
				if sv != nil && hasCheckpoints(cfg.Dir) {
					kept = "the last good checkpoint in " + cfg.Dir + " is kept"
				}
				return res, fmt.Errorf("train: %s at step %d; stopping (%s): %w", bad, res.Steps+1, kept, ErrNonFinite)
			}
			res.Steps++
			if firstStepEnd.IsZero() {
				firstStepEnd, firstExamples = time.Now(), examples
			}
			res.Curve = append(res.Curve, Point{Step: res.Steps, Epoch: epoch, Loss: loss, LR: lr, Seconds: priorSeconds + time.Since(start).Seconds()})
			if cfg.Log != nil && cfg.LogEvery > 0 && res.Steps%cfg.LogEvery == 0 {
				fmt.Fprintf(cfg.Log, "Loss: %.6g\n", loss)
			}
			prog.update(res.Steps, loss)
			if cfg.OnStep != nil {
				cfg.OnStep(res.Steps, loss)
			}
			if cfg.CheckpointEvery > 0 && res.Steps%cfg.CheckpointEvery == 0 && res.Steps < lastStep {
				if err := save(); err != nil {
					return res, err
				}
			}
			if res.Steps >= lastStep {
				break
			}
		}
	}
	prog.finish()
	res.Elapsed = time.Since(start)
	if !firstStepEnd.IsZero() {
		if secs := time.Since(firstStepEnd).Seconds(); secs > 0 && examples > firstExamples {
			res.ExamplesPerSecond = float64(examples-firstExamples) / secs
		}
	}
	return res, save()
}

// nonFinite describes what is wrong when the loss or the parameter check
// (see state.update) is NaN or infinite, else returns "".
func nonFinite(loss, check float64) string {
	switch {
	case math.IsNaN(loss) || math.IsInf(loss, 0):
		return fmt.Sprintf("loss is %v", loss)
	case math.IsNaN(check) || math.IsInf(check, 0):
		return fmt.Sprintf("the update made parameters %v (loss %.6g)", check, loss)
	}
	return ""
}

// prepareDir creates the training folder, writes the model's config.json,
// resumes from its latest checkpoint if any and returns the checkpoint
// saver and the loss-curve path.
func prepareDir(m *Model, dir string, keep int) (*saver, string, error) {
	if keep <= 0 {
		keep = 3
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, "", fmt.Errorf("train: %w", err)
	}
	if hasCheckpoints(dir) {
		if _, err := loadLatest(m.Store, dir); err != nil {
			return nil, "", err
		}
	}
	if err := m.Config.WriteFile(filepath.Join(dir, "config.json")); err != nil {
		return nil, "", fmt.Errorf("train: %w", err)
	}
	sv, err := newSaver(m.Store, dir, keep)
	if err != nil {
		return nil, "", err
	}
	return sv, filepath.Join(dir, "loss.csv"), nil
}

// buildExecs returns the executable run on every batch and, with gradient
// accumulation, the one applying the accumulated step.
//
// Without accumulation the batch executable takes the five model inputs,
// the targets and the learning rate, and does forward, backward and the
// AdamW update. With accumulation it takes no learning rate and adds the
// gradients to the accumulators; the apply executable takes the learning
// rate.
func buildExecs(b compute.Backend, m *Model, st *state, accum int) (micro, apply *model.Exec, err error) {
	if accum == 1 {
		micro, err = model.NewExec(b, m.Store, func(scope *model.Scope, ins []*Node) []*Node {
			loss := forwardLoss(scope, m.Config, ins)
			check := st.update(loss.Graph(), st.gradients(loss), ins[6])
			st.countMicro(loss.Graph())
			return []*Node{loss, check}
		})
		if err != nil {
			return nil, nil, fmt.Errorf("train: %w", err)
		}
		return micro, nil, nil
	}
	micro, err = model.NewExec(b, m.Store, func(scope *model.Scope, ins []*Node) []*Node {
		loss := forwardLoss(scope, m.Config, ins)
		st.accumulate(st.gradients(loss))
		st.countMicro(loss.Graph())
		return []*Node{loss}
	})
	if err != nil {
		return nil, nil, fmt.Errorf("train: %w", err)
	}
	apply, err = model.NewExec(b, m.Store, func(scope *model.Scope, lr *Node) *Node {
		return st.update(lr.Graph(), st.accumulated(lr.Graph()), lr)
	})
	if err != nil {
		return nil, nil, fmt.Errorf("train: %w", err)
	}
	return micro, apply, nil
}
