package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vilt-go/workbook/vqa/evaluate"
)

// TestEvalCurveResume checks that a resumed run keeps the validation curve
// of the steps before it and drops the rows of steps it does again, that a
// fresh run starts an empty curve, and that a damaged eval.csv is refused.
func TestEvalCurveResume(t *testing.T) {
	path := filepath.Join(t.TempDir(), "eval.csv")
	old := "step,overall,yes/no,number,other\n250,50,60,40,30\n500,55,65,45,35\n750,60,70,50,40\n"
	rep := evaluate.Report{}
	rep.Model.Overall = 61
	steps := func() string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var s []string
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n")[1:] {
			s = append(s, strings.SplitN(line, ",", 2)[0])
		}
		return strings.Join(s, " ")
	}

	for _, c := range []struct {
		name       string
		start, add int // start 0: the final evaluation only
		want       string
	}{
		{"resumed at 501 (750 is done again), evaluated at 750", 501, 750, "250 500 750"},
		{"a fresh run, evaluated at 250", 1, 250, "250"},
		{"the final evaluation at 1000 of a finished run", 0, 1000, "250 500 750 1000"},
	} {
		if err := os.WriteFile(path, []byte(old), 0o644); err != nil {
			t.Fatal(err)
		}
		curve := &evalCurve{path: path}
		if c.start > 0 {
			if err := curve.start(c.start); err != nil {
				t.Fatal(err)
			}
		}
		if err := curve.add(c.add, rep); err != nil {
			t.Fatal(err)
		}
		if got := steps(); got != c.want {
			t.Errorf("%s: eval.csv steps %q, want %q", c.name, got, c.want)
		}
	}

	if err := os.WriteFile(path, []byte("not,a,curve\n1,2,3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := (&evalCurve{path: path}).start(501); err == nil || !strings.Contains(err.Error(), "eval.csv") {
		t.Errorf("damaged eval.csv: error %v, want one naming the file", err)
	}
}
