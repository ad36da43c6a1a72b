package train

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gomlx/gomlx/ml/model/checkpoint"

	"github.com/vilt-go/workbook/vqa/hfmodel"
	"github.com/vilt-go/workbook/vqa/internal/fslock"
	"github.com/vilt-go/workbook/vqa/internal/testutil"
)

// oneStep is a run of 1 step with a checkpoint.
func oneStep(dir string) Config {
	cfg := Config{Optimizer: DefaultOptimizer(), Epochs: 1, MaxSteps: 1, CheckpointEvery: 1, Dir: dir}
	cfg.Optimizer.LR = 1e-3
	return cfg
}

// TestRefusesFolderOfOtherFiles trains into a model folder (not a training
// folder): refused, with nothing on disk changed, unless Force.
func TestRefusesFolderOfOtherFiles(t *testing.T) {
	b := testutil.Backend(t)
	l := miniLoader(t, 4, 4)
	dir := t.TempDir()
	for name, content := range map[string]string{"config.json": "{}", "model.safetensors": "weights", "notes.txt": "mine"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	before := testutil.Snapshot(t, dir)
	_, err := Run(context.Background(), b, tinyModel(t, l, 1), l, oneStep(dir))
	if !errors.Is(err, ErrFolderTaken) || !strings.Contains(err.Error(), "not a training folder") || !strings.Contains(err.Error(), "notes.txt") {
		t.Fatalf("training into a model folder: %v, want ErrFolderTaken naming its files", err)
	}
	testutil.CheckUnchanged(t, "refused folder", before, testutil.Snapshot(t, dir))

	cfg := oneStep(dir)
	cfg.Force = true
	if _, err := Run(context.Background(), b, tinyModel(t, l, 1), l, cfg); err != nil {
		t.Fatalf("with Force: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "notes.txt")); err != nil || string(b) != "mine" {
		t.Errorf("with Force, a file the run does not write was touched: %q, %v", b, err)
	}
	if !hfmodel.HasCheckpoints(dir) {
		t.Error("with Force, no checkpoint was written")
	}
}

// TestResumeWithOtherSettings resumes a training folder with other labels
// and another learning rate: refused before anything is written, naming
// the differences, and the folder still loads; Force starts afresh.
func TestResumeWithOtherSettings(t *testing.T) {
	b := testutil.Backend(t)
	l4, l8 := miniLoader(t, 4, 4), miniLoader(t, 8, 4)
	if l4.Dataset().NumLabels() == l8.Dataset().NumLabels() {
		t.Fatal("the test needs two label sets of different sizes")
	}
	dir := t.TempDir()
	cfg := oneStep(dir)
	cfg.Settings = map[string]string{"data": "mini", "limit": "4"}
	if _, err := Run(context.Background(), b, tinyModel(t, l4, 1), l4, cfg); err != nil {
		t.Fatal(err)
	}
	before := testutil.Snapshot(t, dir)
	other := oneStep(dir)
	other.Optimizer.LR = 5e-4
	other.Settings = map[string]string{"data": "mini", "limit": "8"}
	_, err := Run(context.Background(), b, tinyModel(t, l8, 1), l8, other)
	if !errors.Is(err, ErrFolderTaken) {
		t.Fatalf("resume with other settings: %v, want ErrFolderTaken", err)
	}
	for _, s := range []string{"model.num_labels: saved", "model.labels_sha256", "optimizer.lr: saved 0.001, now 0.0005", "limit: saved 4, now 8"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not say %q", err, s)
		}
	}
	if strings.Contains(err.Error(), "data:") {
		t.Errorf("error %q lists a setting that did not change", err)
	}
	testutil.CheckUnchanged(t, "refused resume", before, testutil.Snapshot(t, dir))
	if _, _, err := hfmodel.Load(dir, hfmodel.LoadOptions{}); err != nil {
		t.Errorf("the folder no longer loads after the refused resume: %v", err)
	}

	other.Force = true
	res, err := Run(context.Background(), b, tinyModel(t, l8, 1), l8, other)
	if err != nil || res.StartStep != 0 || res.Steps != 1 {
		t.Fatalf("with Force: start %d, steps %d, %v; want a fresh run of 1 step", res.StartStep, res.Steps, err)
	}
	m, _, err := hfmodel.Load(dir, hfmodel.LoadOptions{})
	if err != nil || m.Config.NumLabels() != l8.Dataset().NumLabels() {
		t.Errorf("after Force the folder holds a model of %v labels (%v), want %d", m, err, l8.Dataset().NumLabels())
	}
}

// TestResumeFolderWithoutSettingsFile resumes a training folder written
// before training.json existed: its config.json's model settings are
// compared, the others cannot be.
func TestResumeFolderWithoutSettingsFile(t *testing.T) {
	b := testutil.Backend(t)
	l4, l8 := miniLoader(t, 4, 4), miniLoader(t, 8, 4)
	dir := t.TempDir()
	cfg := oneStep(dir)
	cfg.Epochs = 2
	if _, err := Run(context.Background(), b, tinyModel(t, l4, 1), l4, cfg); err != nil {
		t.Fatal(err)
	}
	settings := filepath.Join(dir, SettingsFile)
	os.Remove(settings)
	_, err := Run(context.Background(), b, tinyModel(t, l8, 1), l8, cfg)
	if !errors.Is(err, ErrFolderTaken) || !strings.Contains(err.Error(), "model.num_labels") {
		t.Errorf("other labels without training.json: %v, want ErrFolderTaken naming model.num_labels", err)
	}
	cfg.MaxSteps = 2
	res, err := Run(context.Background(), b, tinyModel(t, l4, 1), l4, cfg)
	if err != nil || res.StartStep != 1 || res.Steps != 2 {
		t.Errorf("same model without training.json: from %d to %d, %v; want a resume from 1 to 2", res.StartStep, res.Steps, err)
	}
	if _, err := os.Stat(settings); err != nil {
		t.Errorf("the resumed run did not record its settings: %v", err)
	}
}

// TestSecondRunIsLockedOut starts a second run into a training folder
// while a first one is training there: it fails at once, naming the lock,
// and the first run finishes with its checkpoints.
func TestSecondRunIsLockedOut(t *testing.T) {
	b := testutil.Backend(t)
	l := miniLoader(t, 8, 4)
	dir := t.TempDir()
	first := oneStep(dir)
	first.MaxSteps = 2
	atStep1, resume := make(chan struct{}), make(chan struct{})
	first.OnStep = func(step int, _ float64) {
		if step == 1 {
			close(atStep1)
			<-resume
		}
	}
	done := make(chan error, 1)
	go func() {
		_, err := Run(context.Background(), b, tinyModel(t, l, 1), l, first)
		done <- err
	}()
	select {
	case <-atStep1:
	case err := <-done:
		t.Fatalf("the first run ended before step 1: %v", err)
	}
	start := time.Now()
	_, err := Run(context.Background(), b, tinyModel(t, l, 1), l, oneStep(dir))
	close(resume)
	if !errors.Is(err, fslock.ErrLocked) || !strings.Contains(err.Error(), "training into "+dir) {
		t.Errorf("second run: %v, want fslock.ErrLocked naming the first run", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the second run took %v to fail", d)
	}
	if err := <-done; err != nil {
		t.Fatalf("first run: %v", err)
	}
	names, _ := filepath.Glob(filepath.Join(dir, "checkpoint-*.json"))
	if len(names) != 2 {
		t.Errorf("the first run left checkpoints %v, want steps 1 and 2", names)
	}
	// Released at the end: the same run resumes (and has nothing to do).
	if res, err := Run(context.Background(), b, tinyModel(t, l, 1), l, first); err != nil || res.Steps != 2 {
		t.Errorf("rerun after the first ended: %d steps, %v", res.Steps, err)
	}
}

// corrupt flips one byte in the middle of path.
func corrupt(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestDamagedCheckpoint corrupts bytes of the newest checkpoint: loading
// falls back to the previous one and says so, resuming sets the damaged
// one aside, and with every checkpoint damaged loading fails and a stopped
// run claims no good checkpoint.
func TestDamagedCheckpoint(t *testing.T) {
	b := testutil.Backend(t)
	l := miniLoader(t, 12, 4)
	dir := t.TempDir()
	cfg := oneStep(dir)
	cfg.Epochs, cfg.MaxSteps = 2, 3
	if _, err := Run(context.Background(), b, tinyModel(t, l, 1), l, cfg); err != nil {
		t.Fatal(err)
	}
	corrupt(t, filepath.Join(dir, checkpointName(3)+checkpoint.BinDataSuffix))

	var log bytes.Buffer
	if _, _, err := hfmodel.Load(dir, hfmodel.LoadOptions{Log: &log}); err != nil {
		t.Fatal(err)
	}
	if s := log.String(); !strings.Contains(s, checkpointName(3)+" is damaged") || !strings.Contains(s, "using the previous intact checkpoint "+checkpointName(2)) {
		t.Errorf("load note %q does not name the damaged checkpoint and the one used", s)
	}

	m := tinyModel(t, l, 7)
	st, err := newState(m.Store, m.Config, cfg.Optimizer, 1)
	if err != nil {
		t.Fatal(err)
	}
	ck, err := hfmodel.LoadLatest(m.Store, dir)
	if err != nil || ck.Name != checkpointName(2) || len(ck.Skipped) != 1 || ck.Skipped[0].Name != checkpointName(3) {
		t.Fatalf("LoadLatest: %+v, %v; want %s with %s skipped", ck, err, checkpointName(2), checkpointName(3))
	}
	if step, _, err := st.counters(); err != nil || step != 2 {
		t.Errorf("loaded step %d (%v), want 2", step, err)
	}

	cfg.MaxSteps, cfg.Log = 4, &log
	log.Reset()
	res, err := Run(context.Background(), b, tinyModel(t, l, 1), l, cfg)
	if err != nil || res.StartStep != 2 || res.Steps != 4 {
		t.Fatalf("resume: from %d to %d, %v; want from 2 to 4", res.StartStep, res.Steps, err)
	}
	if _, err := os.Stat(filepath.Join(dir, damagedDir, checkpointName(3)+checkpoint.BinDataSuffix)); err != nil || !strings.Contains(log.String(), damagedDir) {
		t.Errorf("the damaged checkpoint was not set aside (%v); log %q", err, log.String())
	}

	jsons, _ := filepath.Glob(filepath.Join(dir, "checkpoint-*"+checkpoint.JsonNameSuffix))
	for _, j := range jsons {
		corrupt(t, j)
	}
	_, _, err = hfmodel.Load(dir, hfmodel.LoadOptions{})
	if err == nil || !strings.Contains(err.Error(), "no checkpoint in "+dir+" is intact") {
		t.Errorf("every checkpoint damaged: Load gives %v", err)
	}
	if k := (&saver{dir: dir}).kept(); strings.Contains(k, "last good") || !strings.Contains(k, "no intact checkpoint") {
		t.Errorf("every checkpoint damaged, a stopped run says %q", k)
	}
	before := testutil.Snapshot(t, dir)
	if _, err := Run(context.Background(), b, tinyModel(t, l, 1), l, cfg); !errors.Is(err, ErrFolderTaken) || !strings.Contains(err.Error(), "cannot be resumed") {
		t.Errorf("resume with every checkpoint damaged: %v, want ErrFolderTaken", err)
	}
	after := testutil.Snapshot(t, dir)
	// Found under the lock: only the lock file's holder line changed.
	delete(before, filepath.Join(dir, fslock.FileName))
	delete(after, filepath.Join(dir, fslock.FileName))
	testutil.CheckUnchanged(t, "refused resume of damaged checkpoints", before, after)
	cfg.Force = true
	if res, err := Run(context.Background(), b, tinyModel(t, l, 1), l, cfg); err != nil || res.StartStep != 0 {
		t.Errorf("with Force: started at %d, %v; want a fresh run", res.StartStep, err)
	}
}

// TestCheckpointsWithoutChecksums checks a folder whose checkpoints have no
// checksum files (written before they had one): the newest loads, marked
// unverified; and a newest checkpoint lacking the checksum file the others
// have is passed over.
func TestCheckpointsWithoutChecksums(t *testing.T) {
	b := testutil.Backend(t)
	l := miniLoader(t, 8, 4)
	dir := t.TempDir()
	cfg := oneStep(dir)
	cfg.MaxSteps = 2
	if _, err := Run(context.Background(), b, tinyModel(t, l, 1), l, cfg); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, checkpointName(2)+hfmodel.ChecksumSuffix)); err != nil {
		t.Fatal(err)
	}
	c, err := hfmodel.LatestGood(dir)
	if err != nil || c.Name != checkpointName(1) || len(c.Skipped) != 1 || !strings.Contains(c.Skipped[0].Err.Error(), "no checksum file") {
		t.Errorf("newest without its checksum file: %+v, %v; want %s with the newest skipped", c, err, checkpointName(1))
	}
	if err := os.Remove(filepath.Join(dir, checkpointName(1)+hfmodel.ChecksumSuffix)); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	if _, _, err := hfmodel.Load(dir, hfmodel.LoadOptions{Log: &log}); err != nil || !strings.Contains(log.String(), checkpointName(2)+" has no checksum file") {
		t.Errorf("no checksum files at all: %v, note %q; want the newest, unverified", err, log.String())
	}
}

// TestCheckpointOfOtherShapes loads a checkpoint into a model whose
// config.json says other sizes: an error naming the variables, not a
// panic while building the graph, and the store keeps its values.
func TestCheckpointOfOtherShapes(t *testing.T) {
	b := testutil.Backend(t)
	l4, l8 := miniLoader(t, 4, 4), miniLoader(t, 8, 4)
	dir := t.TempDir()
	if _, err := Run(context.Background(), b, tinyModel(t, l4, 1), l4, oneStep(dir)); err != nil {
		t.Fatal(err)
	}
	m := tinyModel(t, l8, 1)
	before := params(t, m)
	_, err := hfmodel.LoadLatest(m.Store, dir)
	if err == nil || !strings.Contains(err.Error(), "/classifier/3/weight: saved [") {
		t.Fatalf("loading a checkpoint of other labels: %v, want an error naming /classifier/3/weight", err)
	}
	if d, where := maxRelDiff(params(t, m), before); d != 0 {
		t.Errorf("the refused load changed %s", where)
	}
}
