// Package train fine-tunes or trains a ViLT model (figures 16 and 19 of the
// walk-through) on a dataset loader: AdamW with PyTorch's defaults and the
// ViLT paper's options (warm-up and linear decay, head learning-rate
// multiplier, no weight decay on biases and LayerNorms, gradient
// accumulation); the loss printed per step, a progress bar with ETA and a
// loss curve; atomic checkpoints every N steps keeping the last K, resume
// after an interruption, and a stop with a message on a non-finite loss.
// The model comes from vqa/hfmodel; the loss is its head's
// (vilt.HeadLoss).
package train

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"time"

	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // GoMLX graph-building idiom.
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/vilt-go/workbook/vqa/dataset"
	"github.com/vilt-go/workbook/vqa/hfmodel"
	"github.com/vilt-go/workbook/vqa/vilt"
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
	// Dir is the training folder: training.json (the run's settings),
	// config.json, the checkpoints and loss.csv. It must be missing, empty
	// or a training folder; if it holds checkpoints of a run with the same
	// settings, training resumes from the newest intact one. It is locked
	// for the run. "" trains without checkpoints.
	Dir string
	// Settings are the caller's settings that a resume must repeat (data,
	// batch size, seed, ...), recorded in training.json with the model's
	// and the schedule's and compared with them before anything in Dir is
	// changed: a difference is an error listing them.
	Settings map[string]string
	// Force lets a run use a Dir that is neither empty nor a training
	// folder (its files of the same names are overwritten), or one holding
	// checkpoints it cannot resume, of a run with other settings or none
	// intact (they are removed, and training starts afresh).
	Force bool
	// Files are written into Dir (name -> content) once it is checked and
	// locked, before the first step: e.g. the processor's files, so that
	// the folder can be evaluated while training runs.
	Files map[string][]byte
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
	// WPA is the weight of word-patch alignment in the pre-training loss
	// (vilt.WordPatchAlignment; ViLT: vilt.WPAWeight); 0 leaves it out.
	// Only pre-training (a loader of captions) uses it.
	WPA float64
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

// run is the state of one call of [Run].
type run struct {
	cfg        Config
	m          *hfmodel.Model
	loader     *dataset.Loader
	st         *state
	sv         *saver // nil without a training folder
	curvePath  string
	res        Result
	totalSteps int // steps of the whole schedule
	lastStep   int // step this call stops at
	numBatches int // batches per epoch
	// numLabelInputs is the number of label tensors of a batch: 1 (VQA
	// targets) or 3 (masked-LM positions and labels, image-text matching
	// labels).
	numLabelInputs int
	// batchExec runs forward, backward and (without accumulation) the
	// update on one batch; applyExec applies accumulated gradients.
	batchExec, applyExec *model.Exec
}

// Run trains m on the loader's batches. It first checks that the run may
// use the training folder cfg.Dir (see Config.Dir and Config.Force), then
// holds its lock until it returns: a second run there fails at once. On
// cancellation of ctx it saves a checkpoint (when cfg.Dir is set) and
// returns ctx's error; on a non-finite loss it stops without saving, so
// the last checkpoint holds the last good parameters, and returns an error
// wrapping [ErrNonFinite].
// Errors panicked by GoMLX are returned as errors.
func Run(ctx context.Context, b compute.Backend, m *hfmodel.Model, loader *dataset.Loader, cfg Config) (res Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("train: %v", r)
		}
	}()
	r, err := newRun(m, loader, cfg)
	if r != nil {
		defer r.sv.release()
	}
	if err != nil || r.res.Steps >= r.lastStep {
		return r.resOrZero(), err
	}
	if r.batchExec, r.applyExec, err = buildExecs(b, m, r.st, max(1, cfg.Accumulate), r.numLabelInputs, cfg.WPA); err != nil {
		return r.res, err
	}
	defer r.batchExec.Finalize()
	if r.applyExec != nil {
		defer r.applyExec.Finalize()
	}
	err = r.loop(ctx)
	return r.res, err
}

// resOrZero returns the result so far (a zero Result for a nil run).
func (r *run) resOrZero() Result {
	if r == nil {
		return Result{}
	}
	return r.res
}

// newRun checks the set-up, creates the optimizer state, prepares the
// training folder (resuming from its latest checkpoint) and works out the
// schedule.
func newRun(m *hfmodel.Model, loader *dataset.Loader, cfg Config) (r *run, err error) {
	if cfg.Epochs <= 0 {
		return nil, fmt.Errorf("train: epochs %d: want > 0", cfg.Epochs)
	}
	if ds := loader.Dataset(); ds != nil && ds.NumLabels() != m.Config.NumOutputs() {
		return nil, fmt.Errorf("train: the dataset has %d labels, the model %d", ds.NumLabels(), m.Config.NumOutputs())
	}
	if loader.Pretraining() && (!m.Config.HasHead(vilt.MaskedLM) || !m.Config.ITMHead) {
		return nil, fmt.Errorf("train: pre-training needs a %s with the image-text matching head, the model is a %s (itm_head %v)", vilt.MaskedLM, m.Config.Architectures, m.Config.ITMHead)
	}
	r = &run{cfg: cfg, m: m, loader: loader, numLabelInputs: 1}
	if loader.Pretraining() {
		r.numLabelInputs = 3
	}
	accum := max(1, cfg.Accumulate)
	if r.st, err = newState(m.Store, m.Config, cfg.Optimizer, accum); err != nil {
		return nil, err
	}
	if cfg.Dir != "" {
		if r.sv, r.curvePath, err = prepareDir(m, loader, cfg); err != nil {
			return nil, err
		}
		defer func(sv *saver) {
			if err != nil {
				sv.release()
			}
		}(r.sv)
	}
	step, _, err := r.st.counters()
	if err != nil {
		return nil, err
	}
	r.res.StartStep, r.res.Steps = int(step), int(step)
	if r.curvePath != "" && step > 0 {
		if r.res.Curve, err = ReadCurve(r.curvePath); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		r.res.Curve = r.res.Curve[:min(len(r.res.Curve), int(step))]
	}
	if r.numBatches, err = loader.NumBatches(); err != nil {
		return nil, err
	}
	r.totalSteps = cfg.Epochs * r.numBatches / accum
	if r.totalSteps == 0 {
		return nil, fmt.Errorf("train: %d epochs of %d batches make no optimizer step of %d batches", cfg.Epochs, r.numBatches, accum)
	}
	r.lastStep = r.totalSteps
	if cfg.MaxSteps > 0 {
		r.lastStep = min(r.lastStep, cfg.MaxSteps)
	}
	return r, nil
}

// loop runs the epochs from the resumed position to r.lastStep.
func (r *run) loop(ctx context.Context) error {
	step, batchesDone, err := r.st.counters()
	if err != nil {
		return err
	}
	if r.cfg.Log != nil && step > 0 {
		fmt.Fprintf(r.cfg.Log, "Resuming at step %d of %d (epoch %d)\n", step, r.lastStep, int(batchesDone)/r.numBatches)
	}
	accum := max(1, r.cfg.Accumulate)
	prog := newProgressBar(r.cfg.Progress, r.cfg.ProgressInterval, int(step), r.lastStep)
	start := time.Now()
	var firstStepEnd time.Time
	examples, firstExamples := 0, 0
	priorSeconds := 0.0
	if len(r.res.Curve) > 0 {
		priorSeconds = r.res.Curve[len(r.res.Curve)-1].Seconds
	}
	stepLoss, stepBatches := 0.0, 0
	var stepParts []float64 // the loss of each objective, when there are several
	for epoch := int(batchesDone) / r.numBatches; r.res.Steps < r.lastStep; epoch++ {
		from := int(batchesDone) % r.numBatches
		if r.cfg.Log != nil && from == 0 {
			fmt.Fprintf(r.cfg.Log, "Epoch: %d\n", epoch)
		}
		for batch, berr := range r.loader.Epoch(ctx, epoch, from) {
			if berr == nil && ctx.Err() != nil && stepBatches == 0 {
				berr = ctx.Err() // a prefetched batch: stop before it
			}
			if berr != nil {
				prog.finish()
				return r.stopped(ctx, berr)
			}
			lr := r.cfg.Optimizer.LRAt(r.res.Steps, r.totalSteps)
			loss, parts, paramsMax, err := r.batchStep(batch, lr)
			if err != nil {
				return err
			}
			batchesDone++
			examples += batch.Size
			stepLoss += loss
			if stepParts == nil {
				stepParts = make([]float64, len(parts))
			}
			for i, p := range parts {
				stepParts[i] += p
			}
			stepBatches++
			if stepBatches < accum {
				continue
			}
			if r.applyExec != nil {
				if paramsMax, err = r.applyStep(lr); err != nil {
					return err
				}
			}
			loss = stepLoss / float64(stepBatches)
			for i := range stepParts {
				stepParts[i] /= float64(stepBatches)
			}
			point := Point{Epoch: epoch, Loss: loss, LR: lr, Parts: stepParts}
			stepLoss, stepParts, stepBatches = 0, nil, 0
			if bad := nonFinite(loss, paramsMax); bad != "" {
				prog.finish()
				return fmt.Errorf("train: %s at step %d; stopping (%s): %w", bad, r.res.Steps+1, r.sv.kept(), ErrNonFinite)
			}
			r.res.Steps++
			if firstStepEnd.IsZero() {
				firstStepEnd, firstExamples = time.Now(), examples
			}
			point.Step, point.Seconds = r.res.Steps, priorSeconds+time.Since(start).Seconds()
			r.res.Curve = append(r.res.Curve, point)
			if r.cfg.Log != nil && r.cfg.LogEvery > 0 && r.res.Steps%r.cfg.LogEvery == 0 {
				fmt.Fprintf(r.cfg.Log, "Loss: %.6g\n", loss)
			}
			prog.update(r.res.Steps, loss)
			if r.cfg.OnStep != nil {
				r.cfg.OnStep(r.res.Steps, loss)
			}
			if r.cfg.CheckpointEvery > 0 && r.res.Steps%r.cfg.CheckpointEvery == 0 && r.res.Steps < r.lastStep {
				if err := r.save(); err != nil {
					return err
				}
			}
			if r.res.Steps >= r.lastStep {
				break
			}
		}
	}
	prog.finish()
	r.res.Elapsed = time.Since(start)
	if !firstStepEnd.IsZero() {
		if secs := time.Since(firstStepEnd).Seconds(); secs > 0 && examples > firstExamples {
			r.res.ExamplesPerSecond = float64(examples-firstExamples) / secs
		}
	}
	return r.save()
}

// stopped handles a loader error: on cancellation it saves a checkpoint
// and returns the interruption, else the error.
func (r *run) stopped(ctx context.Context, berr error) error {
	if ctx.Err() == nil {
		return fmt.Errorf("train: %w", berr)
	}
	if err := r.save(); err != nil {
		return errors.Join(ctx.Err(), err)
	}
	return fmt.Errorf("train: interrupted at step %d: %w", r.res.Steps, ctx.Err())
}

// batchStep runs the batch executable and returns the batch's loss, the
// loss of each objective when there are several, and, without
// accumulation, the updated parameters' check value (see state.update).
func (r *run) batchStep(batch *dataset.Batch, lr float64) (loss float64, parts []float64, paramsMax float64, err error) {
	in, labels := batch.Tensors()
	var args []any
	for _, t := range append(in, labels...) {
		args = append(args, t)
	}
	if r.applyExec == nil {
		args = append(args, tensors.FromScalar(float32(lr)))
	}
	outs, err := r.batchExec.Call(args...)
	for _, t := range append(in, labels...) {
		t.FinalizeAll()
	}
	if err != nil {
		return 0, nil, 0, fmt.Errorf("train: step %d: %w", r.res.Steps+1, err)
	}
	defer func() {
		for _, t := range outs {
			t.FinalizeAll()
		}
	}()
	loss = float64(tensors.ToScalar[float32](outs[0]))
	rest := outs[1:]
	if r.applyExec == nil {
		paramsMax = float64(tensors.ToScalar[float32](outs[len(outs)-1]))
		rest = outs[1 : len(outs)-1]
	}
	for _, t := range rest {
		parts = append(parts, float64(tensors.ToScalar[float32](t)))
	}
	return loss, parts, paramsMax, nil
}

// applyStep applies the accumulated gradients with learning rate lr and
// returns the updated parameters' check value.
func (r *run) applyStep(lr float64) (float64, error) {
	c, err := r.applyExec.Call1(tensors.FromScalar(float32(lr)))
	if err != nil {
		return 0, fmt.Errorf("train: step %d: %w", r.res.Steps+1, err)
	}
	defer c.FinalizeAll()
	return float64(tensors.ToScalar[float32](c)), nil
}

// save writes a checkpoint and the loss curve (nothing without a training
// folder).
func (r *run) save() error {
	if r.sv == nil {
		return nil
	}
	if err := r.sv.save(int64(r.res.Steps)); err != nil {
		return err
	}
	return writeCurve(r.curvePath, r.res.Curve)
}

// nonFinite describes what is wrong when the loss or the updated
// parameters' check value (see state.update) is NaN or infinite, else
// returns "".
func nonFinite(loss, paramsMax float64) string {
	switch {
	case math.IsNaN(loss) || math.IsInf(loss, 0):
		return fmt.Sprintf("loss is %v", loss)
	case math.IsNaN(paramsMax) || math.IsInf(paramsMax, 0):
		return fmt.Sprintf("the update made parameters %v (loss %.6g)", paramsMax, loss)
	}
	return ""
}

// buildExecs returns the executable run on every batch and, with gradient
// accumulation, the one applying the accumulated step.
//
// The batch executable takes the five model inputs, the numLabels label
// tensors and, without accumulation, the learning rate; it returns the
// loss, the loss of each objective when there are several, and, without
// accumulation, the updated parameters' check value (it does forward,
// backward and the AdamW update). With accumulation it adds the gradients
// to the accumulators instead; the apply executable takes the learning
// rate, applies them and returns the check value.
func buildExecs(b compute.Backend, m *hfmodel.Model, st *state, accum, numLabels int, wpa float64) (batch, apply *model.Exec, err error) {
	batch, err = model.NewExec(b, m.Store, func(scope *model.Scope, ins []*Node) []*Node {
		loss, parts := trainingLoss(scope, m.Config, ins[:5], ins[5:5+numLabels], wpa)
		outs := append([]*Node{loss}, parts...)
		if accum == 1 {
			outs = append(outs, st.update(loss.Graph(), st.gradients(loss), ins[5+numLabels]))
		} else {
			st.accumulate(st.gradients(loss))
		}
		st.countBatch(loss.Graph())
		return outs
	})
	if err != nil {
		return nil, nil, fmt.Errorf("train: %w", err)
	}
	if accum == 1 {
		return batch, nil, nil
	}
	apply, err = model.NewExec(b, m.Store, func(scope *model.Scope, lr *Node) *Node {
		return st.update(lr.Graph(), st.accumulated(lr.Graph()), lr)
	})
	if err != nil {
		return nil, nil, fmt.Errorf("train: %w", err)
	}
	return batch, apply, nil
}

// trainingLoss marks the graph as a training graph (so the model builds the
// variants of GELU and attention whose gradients are cheaper) and builds
// the loss on a batch: the head's loss against labels[0] (vilt.HeadLoss);
// for pre-training (a masked-LM model with the image-text matching head and
// the label tensors of dataset.Batch.Tensors: masked positions, their
// labels, matched or not) the sum of the masked-LM cross-entropy at the
// masked positions, the image-text matching cross-entropy and, if wpa > 0,
// wpa times the word-patch alignment distance, which it also returns as
// parts.
func trainingLoss(scope *model.Scope, cfg *vilt.Config, inputs, labels []*Node, wpa float64) (loss *Node, parts []*Node) {
	scope.Store().SetTraining(inputs[0].Graph(), true)
	if len(labels) == 3 {
		in := vilt.NewInputs(inputs)
		out := vilt.Forward(scope, cfg, in, vilt.Options{MLMPositions: labels[0]})
		mlm := vilt.CrossEntropy(out.Logits, labels[1])
		itm := vilt.CrossEntropy(out.ITMLogits, labels[2])
		if wpa <= 0 {
			return Add(mlm, itm), []*Node{mlm, itm}
		}
		ot := vilt.WordPatchAlignment(in, out, labels[2])
		return Add(Add(mlm, itm), MulScalar(ot, wpa)), []*Node{mlm, itm, ot}
	}
	out := vilt.Forward(scope, cfg, vilt.NewInputs(inputs), vilt.Options{})
	loss, err := vilt.HeadLoss(cfg, out, labels[0])
	if err != nil {
		panic(err)
	}
	return loss, nil
}
