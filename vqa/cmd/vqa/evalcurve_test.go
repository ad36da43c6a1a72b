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

	// Resumed from the checkpoint of step 500: 750 is done again.
	if err := os.WriteFile(path, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	c := &evalCurve{path: path}
	if err := c.start(501); err != nil {
		t.Fatal(err)
	}
	if err := c.add(750, rep); err != nil {
		t.Fatal(err)
	}
	if got := steps(); got != "250 500 750" {
		t.Errorf("resumed at 501, evaluated at 750: eval.csv steps %q, want \"250 500 750\"", got)
	}

	// A fresh run does not keep an earlier run's rows.
	if err := os.WriteFile(path, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	c = &evalCurve{path: path}
	if err := c.start(1); err != nil {
		t.Fatal(err)
	}
	if err := c.add(250, rep); err != nil {
		t.Fatal(err)
	}
	if got := steps(); got != "250" {
		t.Errorf("fresh run evaluated at 250: eval.csv steps %q, want \"250\"", got)
	}

	// A resumed run with only the final evaluation (nothing left to train).
	if err := os.WriteFile(path, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	c = &evalCurve{path: path}
	if err := c.add(1000, rep); err != nil {
		t.Fatal(err)
	}
	if got := steps(); got != "250 500 750 1000" {
		t.Errorf("final evaluation at 1000 of a finished run: eval.csv steps %q, want \"250 500 750 1000\"", got)
	}

	if err := os.WriteFile(path, []byte("not,a,curve\n1,2,3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c = &evalCurve{path: path}
	if err := c.start(501); err == nil || !strings.Contains(err.Error(), "eval.csv") {
		t.Errorf("damaged eval.csv: error %v, want one naming the file", err)
	}
}
