package hfmodel

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"

	"github.com/vilt-go/workbook/vqa/hfweights"
	"github.com/vilt-go/workbook/vqa/internal/testutil"
	"github.com/vilt-go/workbook/vqa/vilt"
)

// values returns every parameter's values, by HF key.
func values(t *testing.T, m *Model) map[string][]float32 {
	t.Helper()
	out := map[string][]float32{}
	for _, p := range vilt.Params(m.Config) {
		v := m.Store.GetVariable(vilt.VariablePath(p.Key))
		if v == nil {
			t.Fatalf("no variable for %s", p.Key)
		}
		out[p.Key] = testutil.Floats(t, v.MustValue())
	}
	return out
}

// maxRelDiff returns the largest |a-b| / (1 + |b|) over all parameters.
func maxRelDiff(a, b map[string][]float32) (float64, string) {
	worst, where := 0.0, ""
	for k, x := range a {
		for i := range x {
			d := float64(x[i] - b[k][i])
			d = max(d, -d) / (1 + max(float64(b[k][i]), -float64(b[k][i])))
			if !(d <= worst) {
				worst, where = d, k
			}
		}
	}
	return worst, where
}

// exportLoad exports m in dtype to a new folder and loads it back with
// opt; it returns the loaded model, the folder and the load report.
func exportLoad(t *testing.T, m *Model, dtype dtypes.DType, opt LoadOptions) (*Model, string, vilt.Report) {
	t.Helper()
	dir := t.TempDir()
	if err := m.Export(dir, dtype); err != nil {
		t.Fatal(err)
	}
	back, rep, err := Load(dir, opt)
	if err != nil {
		t.Fatal(err)
	}
	return back, dir, rep
}

// TestExportLoad writes a model as a HuggingFace folder and reads it back,
// in float32 (bit-identical) and float16 (half the file).
func TestExportLoad(t *testing.T) {
	m, err := NewFromPreset("tiny", []string{"yes", "no", "2", "red"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	back, dir, rep := exportLoad(t, m, dtypes.Float32, LoadOptions{})
	if len(rep.Missing)+len(rep.Unexpected) != 0 {
		t.Errorf("report: %+v", rep)
	}
	if !slices.Equal(back.Labels(), m.Labels()) {
		t.Errorf("labels differ after export")
	}
	if d, where := maxRelDiff(values(t, back), values(t, m)); d != 0 {
		t.Errorf("exported parameters differ by %.3g at %s", d, where)
	}
	small, half, _ := exportLoad(t, m, dtypes.Float16, LoadOptions{})
	if d, where := maxRelDiff(values(t, small), values(t, m)); d > 1e-3 {
		t.Errorf("float16 export differs by %.3g (relative) at %s; float16 keeps 11 bits", d, where)
	}
	st32, _ := os.Stat(filepath.Join(dir, "model.safetensors"))
	st16, _ := os.Stat(filepath.Join(half, "model.safetensors"))
	if st16.Size()*2 > st32.Size()+1<<16 {
		t.Errorf("float16 file %d bytes, float32 %d", st16.Size(), st32.Size())
	}
	// New labels: the head is re-initialised only when asked.
	if _, _, err := Load(dir, LoadOptions{Labels: []string{"a", "b", "c"}}); err == nil {
		t.Error("new labels loaded without NewHead")
	}
	_, rep, err = Load(dir, LoadOptions{Labels: []string{"a", "b", "c"}, NewHead: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Missing) != 6 || !strings.HasPrefix(rep.Missing[0], "classifier.") {
		t.Errorf("with new labels, missing = %v, want the 6 classifier tensors", rep.Missing)
	}
}

// TestLoadPicksHead loads every head fixture (the head chosen from
// config.json's architectures) and the MLM fixture as a QA model with a
// new head, as fine-tuning from dandelin/vilt-b32-mlm does.
func TestLoadPicksHead(t *testing.T) {
	root := testutil.Fixtures(t, "vilt_heads")
	dirs, err := filepath.Glob(filepath.Join(root, "*", "config.json"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no head fixture under %s", root)
	}
	for _, f := range dirs {
		dir := filepath.Dir(f)
		cfg, err := vilt.ReadConfig(f)
		if err != nil {
			t.Fatal(err)
		}
		m, rep, err := Load(dir, LoadOptions{})
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		if m.Head() != vilt.Head(cfg.Architectures[0]) || len(rep.Missing)+len(rep.Unexpected) > 0 {
			t.Errorf("%s: head %s, report %+v; want %s and an empty report", dir, m.Head(), rep, cfg.Architectures[0])
		}
		// An export loads back with the same head, bit-identical.
		back, _, rep := exportLoad(t, m, dtypes.Float32, LoadOptions{})
		if back.Head() != m.Head() || len(rep.Missing)+len(rep.Unexpected) > 0 {
			t.Errorf("%s exported: head %s, report %+v", dir, back.Head(), rep)
		}
		if d, where := maxRelDiff(values(t, back), values(t, m)); d != 0 {
			t.Errorf("%s exported: parameters differ by %.3g at %s", dir, d, where)
		}
		if m.Head() != vilt.MaskedLM {
			continue
		}
		labels := []string{"yes", "no"}
		if _, _, err := Load(dir, LoadOptions{Head: vilt.QuestionAnswering, Labels: labels}); err == nil {
			t.Errorf("%s: a QA head was initialised without NewHead", dir)
		}
		qa, rep, err := Load(dir, LoadOptions{Head: vilt.QuestionAnswering, Labels: labels, NewHead: true})
		if err != nil {
			t.Fatal(err)
		}
		if qa.Head() != vilt.QuestionAnswering || len(rep.Missing) != 6 || !slices.ContainsFunc(rep.Unexpected, func(k string) bool { return strings.HasPrefix(k, "mlm_score.") }) {
			t.Errorf("MLM -> QA: head %s, report %+v", qa.Head(), rep)
		}
	}
}

// TestLoadRefusesMissingWeights checks that a checkpoint lacking weights
// (here: a model.safetensors whose header is {}) is an error naming them,
// not a model answering with random weights.
func TestLoadRefusesMissingWeights(t *testing.T) {
	m, err := NewFromPreset("tiny", []string{"yes", "no"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := m.Export(dir, dtypes.Float32); err != nil {
		t.Fatal(err)
	}
	if err := hfweights.WriteSafetensors(filepath.Join(dir, "model.safetensors"), nil, nil); err != nil {
		t.Fatal(err)
	}
	_, _, err = Load(dir, LoadOptions{})
	if err == nil || !strings.Contains(err.Error(), "vilt.pooler.dense.weight") || !strings.Contains(err.Error(), "classifier.3.weight") {
		t.Errorf("empty checkpoint: error %v, want one naming the missing tensors", err)
	}
}
