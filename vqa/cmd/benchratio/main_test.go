package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	goOut := filepath.Join(dir, "go.txt")
	torchOut := filepath.Join(dir, "torch.jsonl")
	if err := os.WriteFile(goOut, []byte("goos: linux\nBenchmarkViLTB32/fwd_b1_384x384-2   3   900000000 ns/op   96 B/op\nBenchmarkViLTB32/train_b4_384x576-2 1 8000000000 ns/op\nPASS\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(torchOut, []byte(`{"case": "fwd_b1_384x384", "batch": 1, "height": 384, "width": 384, "tokens": 185, "median_s": 0.45}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	if err := run(goOut, torchOut, 0, &sb); err != nil {
		t.Fatal(err)
	}
	out := sb.String()
	for _, want := range []string{"fwd_b1_384x384", "0.900", "0.450", "2.00", "train_b4_384x576"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if err := run(torchOut, torchOut, 0, &sb); err == nil {
		t.Error("no error for a file without benchmark results")
	}
}

// TestForwardFLOPs checks the count against the dominant term computed by
// hand: 12 layers x 2 x tokens x (4*768^2 + 2*768*3072) multiply-adds.
func TestForwardFLOPs(t *testing.T) {
	got := forwardFLOPs(1, 384, 384)
	layers := 12.0 * 2 * 185 * (4*768*768 + 2*768*3072)
	if got < layers || got > 1.1*layers {
		t.Errorf("forwardFLOPs(1, 384, 384) = %.3g, want slightly above %.3g", got, layers)
	}
	if r := forwardFLOPs(4, 384, 384) / got; r != 4 {
		t.Errorf("batch 4 / batch 1 = %g", r)
	}
}
