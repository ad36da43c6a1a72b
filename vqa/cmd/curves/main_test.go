package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCurves(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.csv"), filepath.Join(dir, "b.csv")
	os.WriteFile(a, []byte("step,overall,yes/no,number,other\n10,50,70,40,30\n20,60,80,45,50\n"), 0o644)
	os.WriteFile(b, []byte("step,overall,yes/no,number,other\n10,40,70,20,30\n"), 0o644)
	out := filepath.Join(dir, "plot.svg")
	if err := run(out, "t", "overall", []string{"pre-trained=" + a, "scratch=" + b}); err != nil {
		t.Fatal(err)
	}
	svg, err := os.ReadFile(out)
	if err != nil || !strings.HasPrefix(string(svg), "<svg") || !strings.Contains(string(svg), "pre-trained") || !strings.Contains(string(svg), "scratch") {
		t.Errorf("plot (%v):\n%.300s", err, svg)
	}
	for _, bad := range [][]string{{a}, {"x=" + filepath.Join(dir, "missing.csv")}} {
		if err := run(out, "t", "overall", bad); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
	if err := run(out, "t", "colour", []string{"x=" + a}); err == nil || !strings.Contains(err.Error(), `no column "colour"`) {
		t.Errorf("unknown column: %v", err)
	}
}
