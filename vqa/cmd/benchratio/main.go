// Command benchratio pairs the Go ViLT-B/32 benchmark results (go test
// -bench output of BenchmarkViLTB32) with the JSON lines printed by
// torch_vilt_bench.py and prints, per case, both times, the Go/PyTorch
// ratio and the achieved GFLOP/s.
//
//	go run ./vqa/cmd/benchratio -go go.txt -torch torch.jsonl [-peak 166]
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
)

func main() {
	goPath := flag.String("go", "", "file with the `go test -bench BenchmarkViLTB32` output")
	torchPath := flag.String("torch", "", "file with torch_vilt_bench.py's JSON lines")
	peak := flag.Float64("peak", 0, "CPU fp32 peak in GFLOP/s, to print the fraction reached (0: skip)")
	flag.Parse()
	if err := run(*goPath, *torchPath, *peak, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "benchratio:", err)
		os.Exit(1)
	}
}

// benchLine matches e.g. "BenchmarkViLTB32/fwd_b1_384x384-2  3  20769425618 ns/op".
var benchLine = regexp.MustCompile(`^BenchmarkViLTB32/(\S+?)(?:-\d+)?\s+\d+\s+([0-9.]+) ns/op`)

// caseLine is one line of torch_vilt_bench.py's output.
type caseLine struct {
	Case    string  `json:"case"`
	Batch   int     `json:"batch"`
	Height  int     `json:"height"`
	Width   int     `json:"width"`
	MedianS float64 `json:"median_s"`
}

func run(goPath, torchPath string, peak float64, w io.Writer) error {
	goTimes, order, err := readGo(goPath)
	if err != nil {
		return err
	}
	torch, err := readTorch(torchPath)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%-18s %10s %10s %8s %10s\n", "case", "go_s", "torch_s", "go/torch", "go_GFLOP/s")
	for _, name := range order {
		g := goTimes[name]
		t, ok := torch[name]
		if !ok {
			fmt.Fprintf(w, "%-18s %10.3f %10s\n", name, g, "-")
			continue
		}
		flops := forwardFLOPs(t.Batch, t.Height, t.Width)
		if strings.HasPrefix(name, "train") {
			flops *= 3 // forward + the two backward matmuls per forward matmul
		}
		gflops := flops / g / 1e9
		fmt.Fprintf(w, "%-18s %10.3f %10.3f %8.2f %10.1f", name, g, t.MedianS, g/t.MedianS, gflops)
		if peak > 0 {
			fmt.Fprintf(w, "  (%.0f%% of %.0f)", 100*gflops/peak, peak)
		}
		fmt.Fprintln(w)
	}
	return nil
}

func readGo(path string) (map[string]float64, []string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	times := map[string]float64{}
	var order []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := benchLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		ns, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %q: %w", path, sc.Text(), err)
		}
		if _, seen := times[m[1]]; !seen {
			order = append(order, m[1])
		}
		times[m[1]] = ns / 1e9
	}
	if len(order) == 0 {
		return nil, nil, fmt.Errorf("%s: no BenchmarkViLTB32 result", path)
	}
	return times, order, sc.Err()
}

func readTorch(path string) (map[string]caseLine, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]caseLine{}
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "{") {
			continue
		}
		var c caseLine
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			return nil, fmt.Errorf("%s: %q: %w", path, line, err)
		}
		out[c.Case] = c
	}
	return out, nil
}

// forwardFLOPs counts the multiply-adds (x2) of a ViLT-B/32 forward pass:
// patch projection, 12 encoder layers (projections, MLP, attention
// products), pooler and classifier.
func forwardFLOPs(b, h, w int) float64 {
	const d, mlp, layers, labels, p, text = 768, 3072, 12, 3129, 32, 40
	patches := float64((h / p) * (w / p))
	t := text + 1 + patches
	perLayer := 2*t*(4*d*d+2*d*mlp) + 2*2*t*t*d
	return float64(b) * (2*patches*3*p*p*d + layers*perLayer + 2*(d*d+2*d*d+2*d*labels))
}
