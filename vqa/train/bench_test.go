package train

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/vilt-go/workbook/vqa/hfmodel"
	"github.com/vilt-go/workbook/vqa/internal/testutil"
)

// BenchmarkTrainStepBase measures one training step (forward, backward,
// AdamW) of the base preset (ViLT-B/32, 3129 labels) on a batch of 4
// images of 384x576 with 40 text tokens: the "train_b4_384x576" case of
// shared/bench/torch_vilt_bench.py, which runs first in the same benchmark
// when /usr/bin/python3 has torch ($VQA_TORCH_BENCH=0 skips it). Both
// throughputs are reported in examples/s. Each step takes minutes on two
// CPU cores: run it with -benchtime=2x.
func BenchmarkTrainStepBase(b *testing.B) {
	const batch, height, width, text = 4, 384, 576, 40
	torchPerSec := torchBaseline(b)
	m, err := hfmodel.NewFromPreset("base", make3129Labels(), 1)
	if err != nil {
		b.Fatal(err)
	}
	st, err := newState(m.Store, m.Config, DefaultOptimizer(), 1)
	if err != nil {
		b.Fatal(err)
	}
	be := testutil.Backend(b)
	step, _, err := buildExecs(be, m, st, 1, 1, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer step.Finalize()
	ins := testutil.RandomBatch(batch, text, height, width, 30522, 3129)
	run := func() {
		outs, err := step.Call(append(ins, tensors.FromScalar(float32(5e-5)))...)
		if err != nil {
			b.Fatal(err)
		}
		for _, o := range outs {
			o.FinalizeAll()
		}
	}
	run() // compilation
	start := time.Now()
	for b.Loop() {
		run()
	}
	goPerSec := float64(batch*b.N) / time.Since(start).Seconds()
	b.ReportMetric(goPerSec, "examples/s")
	if torchPerSec > 0 {
		b.ReportMetric(torchPerSec, "torch-examples/s")
		b.ReportMetric(goPerSec/torchPerSec, "go/torch")
	}
}

// torchBaseline runs the PyTorch training-step case on 2 threads and
// returns its examples/s, or 0 when PyTorch is not available.
func torchBaseline(b *testing.B) float64 {
	if os.Getenv("VQA_TORCH_BENCH") == "0" {
		return 0
	}
	script := filepath.Join(testutil.ModuleRoot(b), "..", "shared", "bench", "torch_vilt_bench.py")
	out, err := exec.CommandContext(context.Background(), "/usr/bin/python3", script,
		"--cases", "train_b4_384x576", "--runs", "3", "--warmup", "1", "--threads", "2").Output()
	if err != nil {
		b.Logf("PyTorch baseline not run: %v", err)
		return 0
	}
	var res struct {
		Batch   int     `json:"batch"`
		MedianS float64 `json:"median_s"`
	}
	if err := json.Unmarshal(out, &res); err != nil || res.MedianS <= 0 {
		b.Logf("PyTorch baseline output %q: %v", out, err)
		return 0
	}
	b.Logf("PyTorch train_b4_384x576: median %.2f s per step", res.MedianS)
	return float64(res.Batch) / res.MedianS
}

// make3129Labels returns 3129 distinct labels, the size of ViLT's VQA head.
func make3129Labels() []string {
	labels := make([]string, 3129)
	for i := range labels {
		labels[i] = "answer " + strconv.Itoa(i)
	}
	return labels
}
