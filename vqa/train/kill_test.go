package train

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/vilt-go/workbook/vqa/internal/testutil"
)

// killEnv, when set in a test process, names the training folder that
// TestHelperKilledRun trains into before killing its own process.
const killEnv = "VQA_TRAIN_KILL_DIR"

// killConfig is the run shared by TestKillAndResume and its helper: 9
// steps, a checkpoint every 2.
func killConfig(dir string) Config {
	cfg := Config{Optimizer: DefaultOptimizer(), Epochs: 3, CheckpointEvery: 2, Keep: 2, Dir: dir}
	cfg.Optimizer.LR = 1e-3
	return cfg
}

// TestHelperKilledRun is not a test: run by TestKillAndResume in a child
// process, it trains and sends itself SIGKILL during step 5.
func TestHelperKilledRun(t *testing.T) {
	dir := os.Getenv(killEnv)
	if dir == "" {
		t.Skip("helper process for TestKillAndResume")
	}
	b := testutil.Backend(t)
	l := miniLoader(t, 12, 4)
	cfg := killConfig(dir)
	cfg.OnStep = func(step int, _ float64) {
		if step == 5 {
			syscall.Kill(os.Getpid(), syscall.SIGKILL) // kill -9: no chance to save
		}
	}
	Run(context.Background(), b, tinyModel(t, l, 1), l, cfg)
	t.Fatal("the process was not killed")
}

// TestKillAndResume kills a training process with SIGKILL during step 5
// and resumes from its last checkpoint (step 4): the final parameters must
// equal those of an uninterrupted run.
func TestKillAndResume(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a child process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperKilledRun$")
	cmd.Env = append(os.Environ(), killEnv+"="+dir)
	err := cmd.Run()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("helper process was not killed by SIGKILL: %v", err)
	}
	names, _ := filepath.Glob(filepath.Join(dir, "checkpoint-*.json"))
	if len(names) == 0 || filepath.Base(names[len(names)-1]) != checkpointName(4)+".json" {
		t.Fatalf("after the kill the checkpoints are %v, want the last at step 4", names)
	}

	b := testutil.Backend(t)
	l := miniLoader(t, 12, 4)
	resumed := tinyModel(t, l, 99)
	res, err := Run(context.Background(), b, resumed, l, killConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	whole := tinyModel(t, l, 1)
	if _, err := Run(context.Background(), b, whole, l, killConfig(t.TempDir())); err != nil {
		t.Fatal(err)
	}
	if res.StartStep != 4 || res.Steps != 9 {
		t.Errorf("resumed from step %d to %d, want 4 to 9", res.StartStep, res.Steps)
	}
	if d, where := maxRelDiff(params(t, resumed), params(t, whole)); d != 0 {
		t.Errorf("resumed parameters differ from the uninterrupted run by %.3g at %s", d, where)
	}
}
