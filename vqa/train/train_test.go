package train

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // GoMLX graph-building idiom.
	"github.com/gomlx/gomlx/ml/model"

	"github.com/vilt-go/workbook/vqa/dataset"
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
func tinyModel(t testing.TB, l *dataset.Loader, seed uint64) *Model {
	t.Helper()
	m, err := NewFromPreset("tiny", l.Dataset().LabelMap.ID2Label, seed)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// params returns every parameter's values, by HF key.
func params(t testing.TB, m *Model) map[string][]float32 {
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
	o := Optimizer{LR: 1, WarmupSteps: 4, Decay: true}
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
	if c := DefaultOptimizer(); c.LRAt(7, 10) != 5e-5 {
		t.Errorf("default schedule is not constant 5e-5")
	}
}

// TestAdamWMatchesVilt checks the training step against vilt.AdamW (GoMLX's
// Adam set up as torch.optim.AdamW, itself checked against PyTorch's
// fixtures) over three steps.
func TestAdamWMatchesVilt(t *testing.T) {
	b := testutil.Backend(t)
	l := miniLoader(t, 8, 4)
	ours, ref := tinyModel(t, l, 1), tinyModel(t, l, 1)
	o := DefaultOptimizer()
	o.LR = 1e-3
	if _, err := Run(context.Background(), b, ours, l, Config{Optimizer: o, Epochs: 2, MaxSteps: 3}); err != nil {
		t.Fatal(err)
	}
	opt := vilt.AdamW(1e-3)
	exec, err := model.NewExec(b, ref.Store, func(scope *model.Scope, ins []*Node) *Node {
		loss := forwardLoss(scope, ref.Config, ins)
		opt.UpdateGraph(scope, loss.Graph(), loss)
		return loss
	})
	if err != nil {
		t.Fatal(err)
	}
	step := 0
	for epoch := 0; step < 3; epoch++ {
		for batch, err := range l.Epoch(context.Background(), epoch, 0) {
			if err != nil {
				t.Fatal(err)
			}
			in, labels := batch.Tensors()
			if _, err := exec.Call(in[0], in[1], in[2], in[3], in[4], labels[0]); err != nil {
				t.Fatal(err)
			}
			if step++; step == 3 {
				break
			}
		}
	}
	if d, where := maxRelDiff(params(t, ours), params(t, ref)); d > 1e-5 {
		t.Errorf("after 3 steps the parameters differ from vilt.AdamW's by %.3g (relative) at %s", d, where)
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
	cfg.Optimizer.WarmupSteps, cfg.Optimizer.Decay = 2, true

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
	o := DefaultOptimizer()
	o.LR = 1e-3
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

// TestNonFiniteStops makes the update blow up and checks that training
// stops, keeping the last good checkpoint.
func TestNonFiniteStops(t *testing.T) {
	b := testutil.Backend(t)
	l := miniLoader(t, 8, 4)
	dir := t.TempDir()
	o := DefaultOptimizer()
	o.LR = 1e-3
	m := tinyModel(t, l, 1)
	if _, err := Run(context.Background(), b, m, l, Config{Optimizer: o, Epochs: 1, Dir: dir}); err != nil {
		t.Fatal(err)
	}
	o.LR = math.Inf(1)
	_, err := Run(context.Background(), b, m, l, Config{Optimizer: o, Epochs: 3, Dir: dir, CheckpointEvery: 1})
	if !errors.Is(err, ErrNonFinite) || !strings.Contains(err.Error(), "checkpoint") {
		t.Fatalf("got %v, want ErrNonFinite naming the kept checkpoint", err)
	}
	names, _ := filepath.Glob(filepath.Join(dir, "checkpoint-*.json"))
	if len(names) != 1 || !strings.HasSuffix(names[0], checkpointName(2)+".json") {
		t.Errorf("checkpoints after the blow-up: %v, want only step 2's", names)
	}
	back, _, err := Load(dir, nil, 0)
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

// TestExportLoad writes a trained model as a HuggingFace folder and reads
// it back.
func TestExportLoad(t *testing.T) {
	l := miniLoader(t, 8, 4)
	m := tinyModel(t, l, 1)
	back, dir, rep := exportLoad(t, m, dtypes.Float32)
	if len(rep.Missing)+len(rep.Unexpected) != 0 {
		t.Errorf("report: %+v", rep)
	}
	if !slices.Equal(back.Labels(), m.Labels()) {
		t.Errorf("labels differ after export")
	}
	if d, where := maxRelDiff(params(t, back), params(t, m)); d != 0 {
		t.Errorf("exported parameters differ by %.3g at %s", d, where)
	}
	// Half precision: half the file, values within float16 rounding.
	small, half, _ := exportLoad(t, m, dtypes.Float16)
	if d, where := maxRelDiff(params(t, small), params(t, m)); d > 1e-3 {
		t.Errorf("float16 export differs by %.3g (relative) at %s; float16 keeps 11 bits", d, where)
	}
	st32, _ := os.Stat(filepath.Join(dir, "model.safetensors"))
	st16, _ := os.Stat(filepath.Join(half, "model.safetensors"))
	if st16.Size()*2 > st32.Size()+1<<16 {
		t.Errorf("float16 file %d bytes, float32 %d", st16.Size(), st32.Size())
	}
	// New labels: the head is re-initialised and reported missing, like
	// fine-tuning from an MLM checkpoint.
	_, rep, err := Load(dir, []string{"a", "b", "c"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Missing) != 6 || !strings.HasPrefix(rep.Missing[0], "classifier.") {
		t.Errorf("with new labels, missing = %v, want the 6 classifier tensors", rep.Missing)
	}
}

// exportLoad exports m in dtype to a new folder and loads it back, keeping
// its labels; it returns the loaded model, the folder and the load report.
func exportLoad(t *testing.T, m *Model, dtype dtypes.DType) (*Model, string, vilt.Report) {
	t.Helper()
	dir := t.TempDir()
	if err := m.Export(dir, dtype); err != nil {
		t.Fatal(err)
	}
	back, rep, err := Load(dir, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	return back, dir, rep
}
