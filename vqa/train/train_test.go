package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // GoMLX graph-building idiom.
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/vilt-go/workbook/vqa/dataset"
	"github.com/vilt-go/workbook/vqa/hfmodel"
	"github.com/vilt-go/workbook/vqa/hfweights"
	"github.com/vilt-go/workbook/vqa/internal/testutil"
	"github.com/vilt-go/workbook/vqa/processor"
	"github.com/vilt-go/workbook/vqa/vilt"
	"github.com/vilt-go/workbook/vqa/vqav2"
)

// miniLoader loads the first n training questions of data/vqav2-mini with
// 64-pixel images (a 2x2 patch grid, to keep the tests fast) and labels
// from their answers.
func miniLoader(t testing.TB, n, batch int) *dataset.Loader {
	t.Helper()
	root := filepath.Join(testutil.ModuleRoot(t), "data", "vqav2-mini")
	anns, err := vqav2.ReadAnnotations(vqav2.AnnotationsPath(root, "train2014"))
	if err != nil {
		t.Fatal(err)
	}
	labels := vqav2.BuildVocab(anns[:n], nil, 1, 0)
	p, err := processor.Default()
	if err != nil {
		t.Fatal(err)
	}
	cfg := p.ImageConfig()
	cfg.ShortestEdge = 64
	ds, err := dataset.Load(root, "train2014", labels, processor.New(p.Tokenizer(), cfg), dataset.Options{Limit: n, CacheImages: true})
	if err != nil {
		t.Fatal(err)
	}
	l, err := dataset.NewLoader(ds, dataset.LoaderOptions{BatchSize: batch, Shuffle: true, Seed: 5, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// tinyModel is the tiny preset initialised from seed.
func tinyModel(t testing.TB, l *dataset.Loader, seed uint64) *hfmodel.Model {
	t.Helper()
	m, err := hfmodel.NewFromPreset("tiny", l.Dataset().LabelMap.ID2Label, seed)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// params returns every parameter's values, by HF key.
func params(t testing.TB, m *hfmodel.Model) map[string][]float32 {
	t.Helper()
	out := map[string][]float32{}
	for _, p := range vilt.Params(m.Config) {
		v := m.Store.GetVariable(vilt.VariablePath(p.Key))
		v.MustValue().ConstFlatData(func(flat any) { out[p.Key] = slices.Clone(flat.([]float32)) })
	}
	return out
}

// maxRelDiff returns the largest |a-b| / (1 + |b|) over all parameters.
func maxRelDiff(a, b map[string][]float32) (float64, string) {
	worst, where := 0.0, ""
	for k, x := range a {
		for i := range x {
			d := math.Abs(float64(x[i]-b[k][i])) / (1 + math.Abs(float64(b[k][i])))
			if !(d <= worst) {
				worst, where = d, k
			}
		}
	}
	return worst, where
}

func TestLRSchedule(t *testing.T) {
	o := Optimizer{LR: 1, Warmup: 4, Decay: true}
	var got []float64
	for s := range 10 {
		got = append(got, o.LRAt(s, 10))
	}
	want := []float64{0.25, 0.5, 0.75, 1, 1, 5.0 / 6, 4.0 / 6, 3.0 / 6, 2.0 / 6, 1.0 / 6}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-12 {
			t.Fatalf("LRAt = %v, want %v", got, want)
		}
	}
	fraction := Optimizer{LR: 1, Warmup: 0.4, Decay: true}
	for s := range 10 {
		if got := fraction.LRAt(s, 10); math.Abs(got-want[s]) > 1e-12 {
			t.Errorf("warm-up 0.4 of 10 steps: LRAt(%d) = %g, want %g (as 4 steps)", s, got, want[s])
		}
	}
	if c := DefaultOptimizer(); c.LRAt(7, 10) != 5e-5 {
		t.Errorf("default schedule is not constant 5e-5")
	}
}

// TestHeadScale checks the head's learning-rate factor: the multiplier when
// set, 1 (no scaling) for 0 or a negative value.
func TestHeadScale(t *testing.T) {
	for _, c := range []struct{ mult, want float64 }{{10, 10}, {0.5, 0.5}, {1, 1}, {0, 1}, {-3, 1}} {
		if got := (Optimizer{HeadLRMultiplier: c.mult}).HeadScale(); got != c.want {
			t.Errorf("HeadLRMultiplier %g: HeadScale() = %g, want %g", c.mult, got, c.want)
		}
	}
}

// TestParityAdamW runs two AdamW steps (lr 1e-3, torch.optim.AdamW's
// defaults otherwise) of the training executable on each ViLT fixture
// case's batch and compares the losses and the parameter deltas with
// PyTorch's (adamw.safetensors).
func TestParityAdamW(t *testing.T) {
	b := testutil.Backend(t)
	root := testutil.Fixtures(t, "vilt")
	dirs, err := filepath.Glob(filepath.Join(root, "*", "adamw.safetensors"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no fixture case with adamw.safetensors under %s (%v)", root, err)
	}
	for _, f := range dirs {
		dir := filepath.Dir(f)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			cfg, err := vilt.ReadConfig(filepath.Join(dir, "config.json"))
			if err != nil {
				t.Fatal(err)
			}
			before := readTensors(t, filepath.Join(dir, "model.safetensors"))
			store := model.NewStore()
			if _, err := vilt.LoadWeights(store, cfg, before, false); err != nil {
				t.Fatal(err)
			}
			m := &hfmodel.Model{Config: cfg, Store: store}
			o := DefaultOptimizer()
			o.LR = 1e-3
			st, err := newState(store, cfg, o, 1)
			if err != nil {
				t.Fatal(err)
			}
			exec, _, err := buildExecs(b, m, st, 1, 1, 0)
			if err != nil {
				t.Fatal(err)
			}
			in := readTensors(t, filepath.Join(dir, "inputs.safetensors"))
			var args []any
			for _, k := range []string{"input_ids", "attention_mask", "token_type_ids", "pixel_values", "pixel_mask", "labels"} {
				args = append(args, testutil.Int32(t, in[k]))
			}
			args = append(args, tensors.FromScalar(float32(o.LR)))
			want := readTensors(t, filepath.Join(dir, "adamw.safetensors"))
			for i := range 2 {
				outs, err := exec.Call(args...)
				if err != nil {
					t.Fatal(err)
				}
				got, ref := tensors.ToScalar[float32](outs[0]), tensors.ToScalar[float32](want[fmt.Sprintf("loss.step%d", i)])
				if d := math.Abs(float64(got - ref)); d > 1e-5*math.Abs(float64(ref)) {
					t.Errorf("loss of step %d: %g, PyTorch %g", i, got, ref)
				}
			}
			worst, where := 0.0, ""
			for _, p := range vilt.Params(cfg) {
				b0, err := tensors.CopyFlatData[float32](before[p.Key])
				if err != nil {
					t.Fatal(err)
				}
				after, err := tensors.CopyFlatData[float32](store.GetVariable(vilt.VariablePath(p.Key)).MustValue())
				if err != nil {
					t.Fatal(err)
				}
				ref, err := tensors.CopyFlatData[float32](want[p.Key])
				if err != nil {
					t.Fatal(err)
				}
				for i := range after {
					if d := math.Abs(float64(after[i] - b0[i] - ref[i])); !(d <= worst) {
						worst, where = d, p.Key
					}
				}
			}
			// The fixtures' README: float32 vs float64 AdamW deltas differ by
			// up to 2.5e-5; 1e-4 is its suggested bound.
			t.Logf("AdamW deltas after 2 steps: max|diff| %.3g at %s", worst, where)
			if worst > 1e-4 {
				t.Errorf("AdamW deltas after 2 steps differ from PyTorch's by %.3g at %s (tolerance 1e-4)", worst, where)
			}
		})
	}
}

// readTensors reads a safetensors file.
func readTensors(t *testing.T, path string) map[string]*tensors.Tensor {
	t.Helper()
	ts, err := hfweights.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// TestTrainingMode checks the training graph is built in training mode, so
// the model uses the GELU and attention variants with cheaper gradients:
// it builds the loss graph train uses and asks the store.
func TestTrainingMode(t *testing.T) {
	b := testutil.Backend(t)
	l := miniLoader(t, 4, 4)
	m := tinyModel(t, l, 1)
	training := false
	exec, err := model.NewExec(b, m.Store, func(scope *model.Scope, ins []*Node) *Node {
		loss, _ := trainingLoss(scope, m.Config, ins[:5], ins[5:6], 0)
		training = scope.IsTraining(loss.Graph())
		return loss
	})
	if err != nil {
		t.Fatal(err)
	}
	defer exec.Finalize()
	for batch, err := range l.Epoch(context.Background(), 0, 0) {
		if err != nil {
			t.Fatal(err)
		}
		in, labels := batch.Tensors()
		if _, err := exec.Call(in[0], in[1], in[2], in[3], in[4], labels[0]); err != nil {
			t.Fatal(err)
		}
		break
	}
	if !training {
		t.Error("the training loss graph was built without training mode (Store.SetTraining)")
	}
}

// TestResumeAfterInterrupt cancels a run mid-way (as Ctrl-C does), resumes
// it from the checkpoint it saved, and compares the parameters with an
// uninterrupted run of the same length.
func TestResumeAfterInterrupt(t *testing.T) {
	b := testutil.Backend(t)
	l := miniLoader(t, 12, 4) // 3 batches per epoch
	cfg := Config{Optimizer: DefaultOptimizer(), Epochs: 3, CheckpointEvery: 2, Keep: 2}
	cfg.Optimizer.LR = 1e-3
	cfg.Optimizer.Warmup, cfg.Optimizer.Decay = 2, true

	whole := tinyModel(t, l, 1)
	wcfg := cfg
	wcfg.Dir = t.TempDir()
	full, err := Run(context.Background(), b, whole, l, wcfg)
	if err != nil {
		t.Fatal(err)
	}
	if full.Steps != 9 {
		t.Fatalf("3 epochs of 3 batches ran %d steps", full.Steps)
	}

	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	icfg := cfg
	icfg.Dir = dir
	icfg.OnStep = func(step int, _ float64) {
		if step == 4 {
			cancel() // mid-epoch: epoch 1, after its first batch
		}
	}
	part, err := Run(ctx, b, tinyModel(t, l, 1), l, icfg)
	if !errors.Is(err, context.Canceled) || part.Steps != 4 {
		t.Fatalf("interrupted run: %d steps, error %v; want 4 steps and context.Canceled", part.Steps, err)
	}
	resumed := tinyModel(t, l, 99) // other weights: everything must come from the checkpoint
	icfg.OnStep = nil
	rest, err := Run(context.Background(), b, resumed, l, icfg)
	if err != nil {
		t.Fatal(err)
	}
	if rest.StartStep != 4 || rest.Steps != 9 {
		t.Errorf("resumed run went from step %d to %d, want 4 to 9", rest.StartStep, rest.Steps)
	}
	if d, where := maxRelDiff(params(t, resumed), params(t, whole)); d != 0 {
		t.Errorf("resumed parameters differ from the uninterrupted run by %.3g at %s", d, where)
	}
	for i, p := range rest.Curve {
		if p.Step != i+1 || p.Loss != full.Curve[i].Loss {
			t.Errorf("loss curve point %d: %+v, uninterrupted run %+v", i, p, full.Curve[i])
		}
	}
	names, _ := filepath.Glob(filepath.Join(dir, "checkpoint-*.json"))
	if len(names) != 2 || !strings.HasSuffix(names[1], checkpointName(9)+".json") {
		t.Errorf("checkpoints kept: %v, want the last 2, ending at step 9", names)
	}
	if left, _ := os.ReadDir(filepath.Join(dir, stagingDir)); len(left) != 0 {
		t.Errorf("staging folder not empty: %v", left)
	}
	curve, err := ReadCurve(filepath.Join(dir, "loss.csv"))
	if err != nil || len(curve) != 9 {
		t.Errorf("loss.csv: %d points, %v", len(curve), err)
	}
}

// TestAccumulation checks that two accumulated batches of 2 make the same
// step as one batch of 4 holding the same examples.
func TestAccumulation(t *testing.T) {
	b := testutil.Backend(t)
	big, small := miniLoader(t, 8, 4), miniLoader(t, 8, 2)
	// Eps 1 (PyTorch's default is 1e-8) and lr 1 make AdamW's update,
	// lr*g/(|g|+eps) on the first step, follow the gradient's size: with eps
	// 1e-8 it is lr*sign(g) wherever |g| >> 1e-8, so a gradient summed
	// instead of averaged would go unseen, and wherever |g| ~ 1e-8 (a dead
	// GELU unit's weights) it is set by the rounding of the sum, which two
	// batchings do in different orders.
	o := DefaultOptimizer()
	o.LR, o.Eps = 1, 1
	// Unshuffled orders: batch k of 4 = batches 2k and 2k+1 of 2.
	big, _ = dataset.NewLoader(big.Dataset(), dataset.LoaderOptions{BatchSize: 4})
	small, _ = dataset.NewLoader(small.Dataset(), dataset.LoaderOptions{BatchSize: 2})
	a, c := tinyModel(t, big, 1), tinyModel(t, small, 1)
	if _, err := Run(context.Background(), b, a, big, Config{Optimizer: o, Epochs: 1}); err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), b, c, small, Config{Optimizer: o, Epochs: 1, Accumulate: 2})
	if err != nil {
		t.Fatal(err)
	}
	if res.Steps != 2 {
		t.Errorf("4 batches accumulated by 2 made %d steps", res.Steps)
	}
	if d, where := maxRelDiff(params(t, c), params(t, a)); d > 1e-5 {
		t.Errorf("accumulated step differs from the big batch by %.3g at %s", d, where)
	}
}

// TestNonFiniteStops makes the update blow up (a learning rate of 1e30
// makes the parameters huge but finite, and the next loss NaN) and checks
// that training stops, keeping the last good checkpoint and naming it.
func TestNonFiniteStops(t *testing.T) {
	b := testutil.Backend(t)
	l := miniLoader(t, 8, 4)
	dir := t.TempDir()
	o := DefaultOptimizer()
	o.LR = 1e30
	res, err := Run(context.Background(), b, tinyModel(t, l, 1), l, Config{Optimizer: o, Epochs: 3, Dir: dir, CheckpointEvery: 1})
	if !errors.Is(err, ErrNonFinite) {
		t.Fatalf("got %v, want ErrNonFinite", err)
	}
	t.Log(err)
	names, _ := filepath.Glob(filepath.Join(dir, "checkpoint-*.json"))
	if len(names) == 0 || !strings.HasSuffix(names[len(names)-1], checkpointName(int64(res.Steps))+".json") {
		t.Fatalf("stopped after step %d with checkpoints %v, want the last at that step", res.Steps, names)
	}
	if want := "the last good checkpoint " + checkpointName(int64(res.Steps)) + " in " + dir + " is kept"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
	back, _, err := hfmodel.Load(dir, hfmodel.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for k, xs := range params(t, back) {
		for _, x := range xs {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				t.Fatalf("the kept checkpoint has a non-finite %s", k)
			}
		}
	}
}
