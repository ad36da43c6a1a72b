// Command benchloop times the walk-through's training loop end to end on
// both sides with the same data, batch, image size and model size: `vqa
// train` and ../shared/bench/torch_vilt_train_loop.py (the loop in plain
// PyTorch + Pillow: decode, resize, normalise, pad, tokenize, targets,
// forward, backward, AdamW). It runs the base preset (batch 4, 384 px) and
// the tiny recipe (patch 16, 96 px, batch 16) and prints examples/s for both
// sides and their ratio.
//
// Both sides do the same work per step: the questions in file order, 40
// text tokens (no -trim-text), every image decoded again (no
// -cache-images), the labels of -labels, AdamW at lr 5e-5. `vqa train`
// prepares batches ahead in parallel (its -workers and -prefetch defaults);
// the PyTorch loop prepares each batch before its step, as the tutorial's
// DataLoader with num_workers=0 does. Both count a step from the end of the
// previous one, data loading included, and take batch / median step time
// over the steps after -warmup (the first one compiles the graph on the Go
// side): Go's step times come from the run's loss.csv, PyTorch's median from
// the script's JSON line.
//
//	go build -o /tmp/vqa ./vqa/cmd/vqa
//	go run ./vqa/cmd/benchloop -vqa /tmp/vqa -script ../shared/bench/torch_vilt_train_loop.py -out /tmp/bench-loop
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"

	"github.com/vilt-go/workbook/vqa/train"
)

// loopCase is one training set-up run on both sides.
type loopCase struct {
	name, preset            string
	patch, imageSize, batch int
	steps                   int // timed steps, after the warm-up
}

// settings are what both sides share beyond the case.
type settings struct {
	vqa, python, script      string
	data, labels, vocab, out string
	warmup, threads          int
}

func main() {
	var s settings
	flag.StringVar(&s.vqa, "vqa", "", "the vqa command (built with go build ./vqa/cmd/vqa)")
	flag.StringVar(&s.python, "python", "/usr/bin/python3", "Python with PyTorch, Pillow and numpy")
	flag.StringVar(&s.script, "script", "../shared/bench/torch_vilt_train_loop.py", "the PyTorch training loop")
	flag.StringVar(&s.data, "data", "data/vqav2-mini", "VQAv2-layout folder (its train2014 split is read)")
	flag.StringVar(&s.labels, "labels", "data/vilt-b32-finetuned-vqa/config.json", "config.json whose labels both heads use")
	flag.StringVar(&s.vocab, "vocab", "data/vilt-b32-finetuned-vqa/vocab.txt", "BERT WordPiece vocabulary for the PyTorch tokenizer")
	flag.StringVar(&s.out, "out", filepath.Join(os.TempDir(), "vilt-bench-loop"), "folder for the logs and the Go training runs")
	flag.IntVar(&s.warmup, "warmup", 2, "steps run before timing starts, on both sides")
	flag.IntVar(&s.threads, "threads", runtime.NumCPU(), "PyTorch threads (the Go backend uses every core)")
	base := loopCase{name: "base", preset: "base", patch: 32, imageSize: 384, batch: 4}
	tiny := loopCase{name: "tiny", preset: "tiny", patch: 16, imageSize: 96, batch: 16}
	flag.IntVar(&base.steps, "base-steps", 4, "timed steps of the base preset (batch 4, 384 px)")
	flag.IntVar(&tiny.steps, "tiny-steps", 30, "timed steps of the tiny recipe (patch 16, 96 px, batch 16)")
	flag.Parse()
	if err := run(s, []loopCase{base, tiny}, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "benchloop:", err)
		os.Exit(1)
	}
}

// result is one case's throughput on both sides.
type result struct {
	c           loopCase
	goS, torchS float64 // median step seconds
}

func run(s settings, cases []loopCase, w io.Writer) error {
	if s.vqa == "" {
		return errors.New("-vqa is required")
	}
	if s.warmup < 1 {
		return errors.New("-warmup must be at least 1: the first Go step compiles the graph")
	}
	if err := os.MkdirAll(s.out, 0o755); err != nil {
		return err
	}
	var results []result
	for _, c := range cases {
		if c.steps < 1 {
			continue
		}
		goS, err := runGo(s, c)
		if err != nil {
			return fmt.Errorf("%s, vqa train: %w", c.name, err)
		}
		torchS, err := runTorch(s, c)
		if err != nil {
			return fmt.Errorf("%s, %s: %w", c.name, filepath.Base(s.script), err)
		}
		results = append(results, result{c, goS, torchS})
	}
	printTable(w, results, s.warmup)
	return nil
}

// runGo trains the case from scratch with `vqa train` and returns its median
// step time after the warm-up, read from the run's loss.csv.
func runGo(s settings, c loopCase) (float64, error) {
	dir := filepath.Join(s.out, c.name+"-go")
	// A leftover run would be resumed from its checkpoint instead of timed.
	if err := os.RemoveAll(dir); err != nil {
		return 0, err
	}
	log := filepath.Join(s.out, c.name+"-go.log")
	args := []string{"train", "-data", s.data, "-labels", s.labels,
		"-preset", c.preset, "-patch", strconv.Itoa(c.patch), "-image-size", strconv.Itoa(c.imageSize),
		"-batch", strconv.Itoa(c.batch), "-max-steps", strconv.Itoa(s.warmup + c.steps),
		"-no-shuffle", "-checkpoint-every", "0", "-log-every", "0", "-quiet", "-out", dir}
	if _, err := runLogged(log, s.vqa, args...); err != nil {
		return 0, err
	}
	points, err := train.ReadCurve(filepath.Join(dir, "loss.csv"))
	if err != nil {
		return 0, err
	}
	return medianStep(points, s.warmup)
}

// medianStep returns the median time between consecutive steps of a loss
// curve, leaving out the first warmup steps (the first one's time runs from
// the start of training).
func medianStep(points []train.Point, warmup int) (float64, error) {
	if len(points) <= warmup {
		return 0, fmt.Errorf("%d steps in the loss curve, none after the %d warm-up steps", len(points), warmup)
	}
	steps := make([]float64, 0, len(points)-warmup)
	for i := warmup; i < len(points); i++ {
		steps = append(steps, points[i].Seconds-points[i-1].Seconds)
	}
	slices.Sort(steps)
	n := len(steps)
	return (steps[(n-1)/2] + steps[n/2]) / 2, nil
}

// torchLine is the part of torch_vilt_train_loop.py's JSON line used here.
type torchLine struct {
	Steps       int     `json:"steps"`
	MedianStepS float64 `json:"median_step_s"`
}

// runTorch runs the PyTorch loop on the case and returns its median step time.
func runTorch(s settings, c loopCase) (float64, error) {
	log := filepath.Join(s.out, c.name+"-torch.log")
	stdout, err := runLogged(log, s.python, s.script, "--data", s.data, "--labels", s.labels, "--vocab", s.vocab,
		"--preset", c.preset, "--patch", strconv.Itoa(c.patch), "--image-size", strconv.Itoa(c.imageSize),
		"--batch", strconv.Itoa(c.batch), "--steps", strconv.Itoa(c.steps), "--warmup", strconv.Itoa(s.warmup),
		"--threads", strconv.Itoa(s.threads))
	if err != nil {
		return 0, err
	}
	line, err := parseTorch(stdout)
	if err != nil {
		return 0, fmt.Errorf("%w (log: %s)", err, log)
	}
	if line.Steps != c.steps {
		return 0, fmt.Errorf("timed %d steps, asked for %d", line.Steps, c.steps)
	}
	return line.MedianStepS, nil
}

// parseTorch returns the last JSON line of the script's standard output.
func parseTorch(stdout []byte) (torchLine, error) {
	var line torchLine
	found := false
	sc := bufio.NewScanner(bytes.NewReader(stdout))
	for sc.Scan() {
		if b := bytes.TrimSpace(sc.Bytes()); len(b) > 0 && b[0] == '{' {
			if err := json.Unmarshal(b, &line); err != nil {
				return line, fmt.Errorf("reading %q: %w", b, err)
			}
			found = true
		}
	}
	if !found || line.MedianStepS <= 0 {
		return line, errors.New("no JSON line with a median_step_s")
	}
	return line, nil
}

// runLogged runs a command with its standard output and error written to
// log, echoes the command line, and returns the standard output.
func runLogged(log, name string, args ...string) ([]byte, error) {
	f, err := os.Create(log)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cmd := exec.Command(name, args...)
	fmt.Fprintln(os.Stderr, "+", cmd.String())
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.MultiWriter(&stdout, f), f
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%w (log: %s)", err, log)
	}
	return stdout.Bytes(), nil
}

// printTable prints one row per case: examples/s on each side and their ratio.
func printTable(w io.Writer, results []result, warmup int) {
	fmt.Fprintf(w, "%-26s %6s %10s %12s %9s\n", "case", "steps", "go_ex/s", "torch_ex/s", "go/torch")
	for _, r := range results {
		c := r.c
		name := fmt.Sprintf("%s (b%d, p%d, %d px)", c.name, c.batch, c.patch, c.imageSize)
		goRate, torchRate := float64(c.batch)/r.goS, float64(c.batch)/r.torchS
		fmt.Fprintf(w, "%-26s %6d %10.2f %12.2f %9.2f\n", name, c.steps, goRate, torchRate, goRate/torchRate)
	}
	fmt.Fprintf(w, "examples/s: batch / median step time over the steps after %d warm-up steps, data loading included;\n"+
		"go/torch: Go's examples/s over PyTorch's (above 1: Go is faster)\n", warmup)
}
