package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/vilt-go/workbook/vqa/train"
)

func TestMedianStep(t *testing.T) {
	// Step ends at 10 s (compilation), 11, 13, 14.5 and 15.5: steps after
	// the first two take 2, 1.5 and 1 s.
	var points []train.Point
	for i, s := range []float64{10, 11, 13, 14.5, 15.5} {
		points = append(points, train.Point{Step: i + 1, Seconds: s})
	}
	for _, c := range []struct {
		warmup int
		want   float64
	}{{2, 1.5}, {3, 1.25}, {4, 1}} {
		got, err := medianStep(points, c.warmup)
		if err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("warmup %d: median %v, want %v", c.warmup, got, c.want)
		}
	}
	if _, err := medianStep(points, 5); err == nil {
		t.Error("no step after the warm-up: want an error")
	}
}

func TestParseTorch(t *testing.T) {
	out := []byte("some warning\n{\"case\": \"train_loop_tiny_b16_p16_96\", \"steps\": 30, \"median_step_s\": 0.25}\n")
	line, err := parseTorch(out)
	if err != nil {
		t.Fatal(err)
	}
	if line.Steps != 30 || line.MedianStepS != 0.25 {
		t.Errorf("parsed %+v", line)
	}
	for _, bad := range []string{"", "no json\n", "{\"steps\": 3}\n", "{broken\n"} {
		if _, err := parseTorch([]byte(bad)); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
}

func TestPrintTable(t *testing.T) {
	var buf bytes.Buffer
	printTable(&buf, []result{{loopCase{name: "tiny", preset: "tiny", patch: 16, imageSize: 96, batch: 16, steps: 30}, 0.5, 1}}, 2)
	// Go: 16/0.5 = 32 examples/s, PyTorch 16/1 = 16: ratio 2.
	row := strings.Fields(strings.Split(buf.String(), "\n")[1])
	if got := strings.Join(row[len(row)-4:], " "); got != "30 32.00 16.00 2.00" {
		t.Errorf("row %q, want steps 30, 32.00 and 16.00 examples/s, ratio 2.00", got)
	}
}
