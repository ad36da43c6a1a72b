package main

import (
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vilt-go/workbook/vqa/internal/fslock"
	"github.com/vilt-go/workbook/vqa/internal/testutil"
)

// copyModel copies the shipped model folder to a new folder and returns it.
func copyModel(t *testing.T) string {
	t.Helper()
	src := filepath.Join(testutil.ModuleRoot(t), "data", defaultModel)
	dst := filepath.Join(t.TempDir(), "model")
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}

// trainArgs are the flags of a 2-step tiny training run on the mini data.
func trainArgs(t *testing.T, out string, more ...string) []string {
	root := filepath.Join(testutil.ModuleRoot(t), "data", "vqav2-mini")
	return append([]string{"train", "-data", root, "-preset", "tiny", "-limit", "8", "-batch", "4", "-max-steps", "2",
		"-image-size", "64", "-quiet", "-log-every", "0", "-out", out}, more...)
}

// TestTrainRefusesModelFolder trains into a copy of the shipped model
// folder (issue 15 item 1): refused with exit 1, nothing changed; -force
// trains there.
func TestTrainRefusesModelFolder(t *testing.T) {
	dir := copyModel(t)
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := testutil.Snapshot(t, dir)
	code, stdout, stderr := runCLI(t, trainArgs(t, dir)...)
	if code != 1 || !strings.Contains(stderr, "not a training folder") || !strings.Contains(stderr, "-force") {
		t.Errorf("train into a model folder: code %d, stderr %q; want 1, naming -force\n%s", code, stderr, stdout)
	}
	if strings.Contains(stdout, "questions") {
		t.Errorf("train into a model folder loaded the data before refusing the folder:\n%s", stdout)
	}
	testutil.CheckUnchanged(t, "train into a model folder", before, testutil.Snapshot(t, dir))
	if code, _, stderr := runCLI(t, trainArgs(t, dir, "-force")...); code != 0 {
		t.Errorf("train -force: code %d\n%s", code, stderr)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "notes.txt")); err != nil || string(b) != "mine" {
		t.Errorf("train -force touched a file it does not write: %q, %v", b, err)
	}
}

// TestTrainResumeOtherSettings resumes a training folder with other
// settings (issue 15 item 2): refused with exit 1 naming them, nothing
// changed, and the folder still answers with predict.
func TestTrainResumeOtherSettings(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	if code, _, stderr := runCLI(t, trainArgs(t, out)...); code != 0 {
		t.Fatalf("train: code %d\n%s", code, stderr)
	}
	before := testutil.Snapshot(t, out)
	code, _, stderr := runCLI(t, trainArgs(t, out, "-limit", "16", "-hidden", "48", "-lr", "1e-4")...)
	if code != 1 {
		t.Errorf("resume with other settings: code %d, want 1\n%s", code, stderr)
	}
	for _, s := range []string{"model.hidden_size: saved 96, now 48", "limit: saved 8, now 16", "optimizer.lr: saved 5e-05, now 0.0001", "nothing was changed"} {
		if !strings.Contains(stderr, s) {
			t.Errorf("stderr %q does not say %q", stderr, s)
		}
	}
	if strings.Contains(stderr, "panic") || strings.Contains(stderr, "expected [") {
		t.Errorf("the settings were not checked before building the graph: %s", stderr)
	}
	testutil.CheckUnchanged(t, "refused resume", before, testutil.Snapshot(t, out))
	img := filepath.Join(testutil.ModuleRoot(t), "data", "coco", "000000039769.png")
	if code, _, stderr := runCLI(t, "predict", "-model", out, "-image", img, "-question", "How many cats are there?"); code != 0 {
		t.Errorf("predict after the refused resume: code %d\n%s", code, stderr)
	}
	// The same settings resume (and have nothing left to do).
	if code, stdout, stderr := runCLI(t, trainArgs(t, out)...); code != 0 || !strings.Contains(stdout, "trained to step 2") {
		t.Errorf("resume with the same settings: code %d\n%s\n%s", code, stdout, stderr)
	}
}

// writeSafetensorsHeader writes a safetensors file holding only header.
func writeSafetensorsHeader(t *testing.T, path, header string) {
	t.Helper()
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	if err := os.WriteFile(path, append(b, header...), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestMissingWeightsRefused runs predict, eval and export on a model folder
// whose model.safetensors holds no tensor (header "{}"): each fails with
// exit 1 naming missing tensors instead of answering with random weights
// (issue 15 item 3).
func TestMissingWeightsRefused(t *testing.T) {
	dir := copyModel(t)
	writeSafetensorsHeader(t, filepath.Join(dir, "model.safetensors"), "{}")
	img := filepath.Join(testutil.ModuleRoot(t), "data", "coco", "000000039769.png")
	for _, args := range [][]string{
		{"predict", "-model", dir, "-image", img, "-question", "How many cats are there?"},
		{"eval", "-model", dir, "-split", "val2014", "-limit", "4"},
		{"export", "-model", dir, "-out", filepath.Join(t.TempDir(), "hf")},
	} {
		code, stdout, stderr := runCLI(t, args...)
		if code != 1 || !strings.Contains(stderr, "the checkpoint lacks") || !strings.Contains(stderr, "classifier.3.weight") || stdout != "" {
			t.Errorf("vqa %s on empty weights: code %d, stdout %q, stderr %q; want exit 1 naming the missing tensors", args[0], code, stdout, stderr)
		}
	}
}

// TestDuplicateLabelsRefused gives two label ids the same answer: predict
// and eval both fail the same way, naming the answer (issue 15 item 3).
func TestDuplicateLabelsRefused(t *testing.T) {
	dir := copyModel(t)
	path := filepath.Join(dir, "config.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	id2label := cfg["id2label"].(map[string]any)
	dup := id2label["0"].(string)
	id2label["1"] = dup
	delete(cfg, "label2id")
	if b, err = json.Marshal(cfg); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(testutil.ModuleRoot(t), "data", "coco", "000000039769.png")
	for _, args := range [][]string{
		{"predict", "-model", dir, "-image", img, "-question", "How many cats are there?"},
		{"eval", "-model", dir, "-split", "val2014", "-limit", "4"},
	} {
		code, _, stderr := runCLI(t, args...)
		if code != 1 || !strings.Contains(stderr, `ids 0 and 1 are both the answer "`+dup+`"`) {
			t.Errorf("vqa %s with a duplicate label: code %d, stderr %q; want exit 1 naming %q", args[0], code, stderr, dup)
		}
	}
}

// TestExportRefusesFolder exports into a folder that is not empty: refused
// with nothing changed; -force overwrites the export's files only.
func TestExportRefusesFolder(t *testing.T) {
	src := filepath.Join(testutil.ModuleRoot(t), "data", defaultModel)
	dir := copyModel(t)
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := testutil.Snapshot(t, dir)
	code, _, stderr := runCLI(t, "export", "-model", src, "-out", dir, "-dtype", "float16")
	if code != 1 || !strings.Contains(stderr, "not empty") || !strings.Contains(stderr, "-force") {
		t.Errorf("export into a full folder: code %d, stderr %q; want 1, naming -force", code, stderr)
	}
	testutil.CheckUnchanged(t, "refused export", before, testutil.Snapshot(t, dir))
	if code, _, stderr := runCLI(t, "export", "-model", src, "-out", dir, "-dtype", "float16", "-force"); code != 0 {
		t.Fatalf("export -force: code %d\n%s", code, stderr)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "notes.txt")); err != nil || string(b) != "mine" {
		t.Errorf("export -force touched a file it does not write: %q, %v", b, err)
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".*tmp*"))
	if len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// TestExportLocked exports into a folder another holder has locked: exit
// 1 naming the holder, nothing written; once released, the export goes
// through.
func TestExportLocked(t *testing.T) {
	src := filepath.Join(testutil.ModuleRoot(t), "data", defaultModel)
	out := filepath.Join(t.TempDir(), "export")
	lock, err := fslock.Acquire(out, "another vqa export")
	if err != nil {
		t.Fatal(err)
	}
	before := testutil.Snapshot(t, out)
	code, _, stderr := runCLI(t, "export", "-model", src, "-out", out)
	if code != 1 || !strings.Contains(stderr, "in use by another vqa export") {
		t.Errorf("export into a locked folder: code %d, stderr %q; want 1 naming the holder", code, stderr)
	}
	testutil.CheckUnchanged(t, "locked folder", before, testutil.Snapshot(t, out))
	lock.Release()
	if code, _, stderr := runCLI(t, "export", "-model", src, "-out", out); code != 0 {
		t.Errorf("export once the lock is released: code %d\n%s", code, stderr)
	}
}

// TestDamagedCheckpointFallsBack corrupts bytes of a training folder's
// newest checkpoint (issue 15 item 10): predict says so and uses the
// previous one; with every checkpoint damaged it fails with exit 1.
func TestDamagedCheckpointFallsBack(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	if code, _, stderr := runCLI(t, trainArgs(t, out, "-checkpoint-every", "1")...); code != 0 {
		t.Fatalf("train: code %d\n%s", code, stderr)
	}
	bins, _ := filepath.Glob(filepath.Join(out, "checkpoint-*.bin"))
	if len(bins) != 2 {
		t.Fatalf("checkpoints %v, want 2", bins)
	}
	corrupt := func(path string) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 0xff
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	corrupt(bins[1])
	img := filepath.Join(testutil.ModuleRoot(t), "data", "coco", "000000039769.png")
	predictArgs := []string{"predict", "-model", out, "-image", img, "-question", "How many cats are there?"}
	base := func(p string) string { return strings.TrimSuffix(filepath.Base(p), ".bin") }
	code, stdout, stderr := runCLI(t, predictArgs...)
	if code != 0 || !strings.Contains(stdout, "Predicted answer: ") || !strings.Contains(stderr, base(bins[1])+" is damaged") || !strings.Contains(stderr, "using the previous intact checkpoint "+base(bins[0])) {
		t.Errorf("predict with the newest checkpoint damaged: code %d, stderr %q; want an answer and a note naming both checkpoints", code, stderr)
	}
	corrupt(bins[0])
	if code, _, stderr := runCLI(t, predictArgs...); code != 1 || !strings.Contains(stderr, "is intact") {
		t.Errorf("predict with every checkpoint damaged: code %d, stderr %q; want exit 1", code, stderr)
	}
}

// TestTrainLockedOut trains into a folder another holder has locked (issue
// 15 item 9): exit 1 at once, naming the holder, with nothing written.
func TestTrainLockedOut(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	lock, err := fslock.Acquire(out, "another vqa train")
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	before := testutil.Snapshot(t, out)
	code, _, stderr := runCLI(t, trainArgs(t, out)...)
	if code != 1 || !strings.Contains(stderr, "in use by another vqa train") {
		t.Errorf("train into a locked folder: code %d, stderr %q; want 1 naming the holder", code, stderr)
	}
	testutil.CheckUnchanged(t, "locked folder", before, testutil.Snapshot(t, out))
}
