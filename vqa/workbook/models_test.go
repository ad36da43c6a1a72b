package workbook

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vilt-go/workbook/vqa/hfmodel"
	"github.com/vilt-go/workbook/vqa/processor"
	"github.com/vilt-go/workbook/vqa/vqaeval"
)

func TestSavedModelDir(t *testing.T) {
	runs := t.TempDir()
	t.Setenv(RunsEnv, runs)
	t.Setenv(QuickEnv, "")
	if dir, err := SavedModelDir(); err != nil || dir != filepath.Join(runs, "notebook-06") {
		t.Errorf("SavedModelDir() = %q, %v; want notebook-06 in %s", dir, err, runs)
	}
	t.Setenv(QuickEnv, "1")
	if dir, err := SavedModelDir(); err != nil || dir != filepath.Join(runs, "notebook-06-quick") {
		t.Errorf("with %s=1: SavedModelDir() = %q, %v; want notebook-06-quick in %s", QuickEnv, dir, err, runs)
	}
}

func TestSaveModel(t *testing.T) {
	m, err := hfmodel.NewFromPreset("tiny", []string{"yes", "no", "2"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	p, err := processor.Default()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "saved")
	fp, err := SaveModel(dir, m, p.WithShortestEdge(96))
	if err != nil {
		t.Fatal(err)
	}
	if len(fp) != 12 || !HasSavedModel(dir) {
		t.Fatalf("fingerprint %q, saved %v: want 12 hex digits and a saved model", fp, HasSavedModel(dir))
	}
	l, err := LoadFolder(dir, hfmodel.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(l.Model.Labels(), ","); got != "yes,no,2" {
		t.Errorf("loaded labels %q, want yes,no,2", got)
	}
	if e := l.Processor.ImageConfig().ShortestEdge; e != 96 {
		t.Errorf("loaded processor resizes to %d, want 96", e)
	}

	// Saving again replaces the folder it wrote; other weights, another fingerprint.
	m2, err := hfmodel.NewFromPreset("tiny", []string{"yes", "no", "2"}, 2)
	if err != nil {
		t.Fatal(err)
	}
	fp2, err := SaveModel(dir, m2, p)
	if err != nil {
		t.Fatal(err)
	}
	if fp2 == fp {
		t.Errorf("other weights, same fingerprint %s", fp)
	}

	// A folder it did not write is never overwritten.
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "notes.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := SaveModel(other, m, p); err == nil || !strings.Contains(err.Error(), "not overwriting") {
		t.Errorf("SaveModel into a folder it did not create: %v, want a refusal", err)
	}
	if _, err := os.Stat(filepath.Join(other, "model.safetensors")); err == nil {
		t.Error("SaveModel wrote into a folder it did not create")
	}
	if HasSavedModel(other) {
		t.Error("HasSavedModel is true for a folder without the marker")
	}
}

func TestLoadHubOr(t *testing.T) {
	t.Setenv("HF_HUB_OFFLINE", "1")
	t.Setenv("HF_HOME", t.TempDir())
	m, err := hfmodel.NewFromPreset("tiny", []string{"yes", "no"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p, err := processor.Default()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := SaveModel(dir, m, p); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	l, err := LoadHubOr(&log, "nobody/no-such-model", dir, hfmodel.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := "offline: using " + dir + " (nobody/no-such-model is neither in the HuggingFace cache nor downloadable)\n"
	if log.String() != want || l.Hub || l.Source != dir {
		t.Errorf("wrote %q, hub %v, source %q; want %q, false, %q", log.String(), l.Hub, l.Source, want, dir)
	}
}

func TestCheckFirst(t *testing.T) {
	t.Setenv("VQA_DATA", "")
	m, err := hfmodel.NewFromPreset("tiny", []string{"yes", "no", "left", "right", "2"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	p, err := processor.Default()
	if err != nil {
		t.Fatal(err)
	}
	cs, err := CheckFirst(m, p.WithShortestEdge(64), "val2014", 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 3 {
		t.Fatalf("%d answers, want 3", len(cs))
	}
	for i, c := range cs {
		if c.Index != i || c.Question == "" || len(c.Humans) != 10 || c.Majority == "" || !slices.Contains(m.Labels(), c.Answer) {
			t.Errorf("answer %d: %+v", i, c)
		}
		if want := vqaeval.Accuracy(c.Answer, c.Humans); c.Accuracy != want || c.Right() != (want >= 1) {
			t.Errorf("answer %d: accuracy %g, right %v; want %g", i, c.Accuracy, c.Right(), want)
		}
	}
	if n := NumRight(cs); n != 3-len(Wrong(cs)) {
		t.Errorf("NumRight = %d", n)
	}
}
