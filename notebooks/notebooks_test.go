// Package notebooks_test executes the workbook's GoNB notebooks headless and
// checks their key outputs. The notebooks themselves are the .ipynb files of
// this folder.
//
// TestNotebooks runs only when $VQA_NOTEBOOKS asks for it, since it needs
// Jupyter and the GoNB kernel (`make kernel`):
//
//   - VQA_NOTEBOOKS=1 (`make notebooks`, part of `make test`): each notebook
//     is executed into a scratch folder; the committed files are not touched.
//   - VQA_NOTEBOOKS=inplace (`make tutorial`): each notebook is executed in
//     place, so its saved outputs are refreshed.
//
// $VQA_QUICK=1 (set by `make notebooks`) shortens the training loops; every
// cell still runs.
package notebooks_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// cellTimeout is the longest a single cell may run, in seconds.
const cellTimeout = 1800

// expectation lists what an executed notebook must show.
type expectation struct {
	// outputs must each match some text output of the notebook.
	outputs []string
	// images is the least number of image outputs (PNG or SVG).
	images int
	// when maps a pattern to more patterns that must match if it does
	// (e.g. the real model's answer when the real model ran).
	when map[string][]string
}

// expected holds the key outputs of every notebook. The values come from
// the walk-through and the VQAv2 and ViLT facts (shared/docs), never from
// running the notebooks.
var expected = map[string]expectation{
	"01_vqav2_files.ipynb": {outputs: []string{
		`Number of questions: [1-9]\d*`,
		`COCO_val2014_000000262148\.jpg -> image id 262148 -> COCO_val2014_000000262148\.jpg`,
		`COCO_val2014_000000501080\.jpg -> image id 501080 `,
		`cat\.jpg -> .*12 digits`,
		`Number of images: [1-9]\d*`,
	}, images: 1},
	"02_labels_and_scores.ipynb": {outputs: []string{
		`Number of annotations: [1-9]\d*`,
		`answer 10: `,
		`Number of labels: 3129`,
		`id2label\[3\] = "yes"`,
		`id2label\[17\] = "2"`,
		`\n\s+1\s+0\.333\s+0\.3\n`,
		`\n\s+3\s+1\.000\s+0\.9\n`,
	}},
	"03_dataset_and_processor.ipynb": {outputs: []string{
		`tokenizer: 30522 word pieces, max length 40`,
		`input_ids: \[101 2129 2116 8870 2024 2045 1029 102\] then 32 x \[PAD\]`,
		`Number of examples: 100 - target length: 3129`,
		`keys: input_ids \[40\], token_type_ids \[40\], attention_mask \[40\], pixel_values \[3 \d+ \d+\], labels \[3129\]`,
		`decoded input_ids: \[CLS\] [^\[]+ \[SEP\] \[PAD\]`,
		`labels: \S+=`,
	}, images: 1},
	"04_model.ipynb": {outputs: []string{
		`Model: (dandelin/vilt-b32-mlm \(pre-trained weights\)|the offline "base" preset)`,
		`hidden 768, layers 12, heads 12, MLP 3072, gelu, patch 32x32, image size 384, text length 40, vocabulary 30522, answers 3129`,
		`vilt\.encoder\.layer\.N \(each of 12\)`,
		`classifier\.0\.weight +\[1536 768\]`,
		`classifier\.3\.weight +\[3129 1536\]`,
		`total +[1-9]\d* parameters`,
	}},
	"05_collate_and_dataloader.ipynb": {outputs: []string{
		`batch: input_ids \[4 40\], pixel_values \[4 3 \d+ \d+\], pixel_mask \[4 \d+ \d+\]`,
		`input_ids +\[4 40\]\nattention_mask +\[4 40\]\ntoken_type_ids +\[4 40\]\npixel_values +\[4 3 \d+ \d+\]\npixel_mask +\[4 \d+ \d+\]\nlabels +\[4 3129\]`,
		`image 3: `,
	}, images: 1},
	"06_training.ipynb": {outputs: []string{
		`backend: \S+ \(`,
		`Epoch: 0\n(<div>.*</div>)?Loss: [\d.]+\n`,
		`<progress value="\d+" max="\d+"></progress> step \d+/\d+, loss `,
		`preset tiny, [1-9]\d* training questions, [1-9]\d* answer labels`,
		`[1-9]\d* steps in .*examples/s`,
	}, images: 1},
	"07_inference.ipynb": {outputs: []string{
		`Model: \S+`,
		`input_ids +\[1 \d+\]\ntoken_type_ids +\[1 \d+\]\nattention_mask +\[1 \d+\]\npixel_values +\[1 3 \d+ \d+\]\npixel_mask +\[1 \d+ \d+\]\nlogits +\[1 \d+\]`,
		`argmax: label id \d+`,
		`Predicted answer: \S+`,
	}, images: 1, when: map[string][]string{
		// The walk-through's printed results with the real fine-tuned model.
		`Model: dandelin/vilt-b32-finetuned-vqa`: {
			`input_ids +\[1 40\]`, `pixel_values +\[1 3 384 512\]`, `logits +\[1 3129\]`,
			`argmax: label id 17\n`, `Predicted answer: 2\n`,
		},
	}},
	"08_attention_and_accuracy.ipynb": {outputs: []string{
		`Model: \S+`,
		`Patch grid: \d+ x \d+`,
		`layer +1: [\d.]+% of the \[CLS\] attention goes to the image`,
		`answered [1-9]\d* questions`,
		`VQA accuracy \(%\) on [1-9]\d* questions`,
		`\nmodel +[\d.]+ `,
		`\nbaseline \(always "[^"]+"\) +[\d.]+ `,
	}, images: 2},
}

type notebook struct {
	Metadata struct {
		Kernelspec struct {
			Name string `json:"name"`
		} `json:"kernelspec"`
	} `json:"metadata"`
	Cells []struct {
		CellType       string `json:"cell_type"`
		Source         lines  `json:"source"`
		ExecutionCount *int   `json:"execution_count"`
		Outputs        []struct {
			OutputType string           `json:"output_type"`
			Name       string           `json:"name"`
			Text       lines            `json:"text"`
			Data       map[string]lines `json:"data"`
			Ename      string           `json:"ename"`
			Evalue     string           `json:"evalue"`
		} `json:"outputs"`
	} `json:"cells"`
}

// lines is a notebook multi-line string: one string or a list of lines.
type lines string

func (l *lines) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err == nil {
		*l = lines(s)
		return nil
	}
	var parts []string
	if err := json.Unmarshal(data, &parts); err != nil {
		return fmt.Errorf("want a string or a list of strings: %w", err)
	}
	*l = lines(strings.Join(parts, ""))
	return nil
}

func readNotebook(t *testing.T, path string) notebook {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var nb notebook
	if err := json.Unmarshal(data, &nb); err != nil {
		t.Fatalf("%s: not a notebook: %v", path, err)
	}
	return nb
}

func notebookNames(t *testing.T) []string {
	t.Helper()
	names, err := filepath.Glob("*.ipynb")
	if err != nil || len(names) == 0 {
		t.Fatalf("no notebooks found in this folder (%v)", err)
	}
	return names
}

// TestSaved checks the committed notebooks: the GoNB kernel, the setup cell
// first, every code cell executed and saved with its key outputs (listed
// in expected for every notebook) and no error.
func TestSaved(t *testing.T) {
	setup := regexp.MustCompile(`^!\*go mod edit -require=github\.com/vilt-go/workbook@v0\.0\.0 -require=github\.com/janpfeifer/must@v0\.2\.0 -replace=github\.com/vilt-go/workbook=\$\(cd "\$GONB_DIR/\.\." && pwd\)$`)
	for _, name := range notebookNames(t) {
		t.Run(strings.TrimSuffix(name, ".ipynb"), func(t *testing.T) {
			want, ok := expected[name]
			if !ok {
				t.Errorf("no key outputs listed for %s in expected", name)
			}
			nb := readNotebook(t, name)
			checkOutputs(t, nb, want)
			if k := nb.Metadata.Kernelspec.Name; k != "gonb" {
				t.Errorf("kernel %q, want gonb", k)
			}
			first := true
			for _, c := range nb.Cells {
				if c.CellType != "code" {
					continue
				}
				if first && !setup.MatchString(string(c.Source)) {
					t.Errorf("first code cell %q is not the setup line", c.Source)
				}
				first = false
			}
		})
	}
}

// TestNotebooks executes every notebook with Jupyter and the GoNB kernel
// and checks its key outputs.
func TestNotebooks(t *testing.T) {
	mode := os.Getenv("VQA_NOTEBOOKS")
	if mode != "1" && mode != "inplace" {
		t.Skip("set VQA_NOTEBOOKS=1 (make notebooks) to execute the notebooks; it needs Jupyter and the GoNB kernel (make kernel)")
	}
	outDir := t.TempDir()
	for _, name := range notebookNames(t) {
		t.Run(strings.TrimSuffix(name, ".ipynb"), func(t *testing.T) {
			want, ok := expected[name]
			if !ok {
				t.Fatalf("no key outputs listed for %s in expected", name)
			}
			args := []string{"nbconvert", "--to", "notebook", "--execute",
				fmt.Sprintf("--ExecutePreprocessor.timeout=%d", cellTimeout),
				"--ExecutePreprocessor.kernel_name=gonb"}
			executed := filepath.Join(outDir, name)
			if mode == "inplace" {
				args, executed = append(args, "--inplace"), name
			} else {
				args = append(args, "--output-dir", outDir)
			}
			cmd := exec.Command("jupyter", append(args, name)...)
			var log bytes.Buffer
			cmd.Stdout, cmd.Stderr = &log, &log
			start := time.Now()
			if err := cmd.Run(); err != nil {
				t.Fatalf("jupyter nbconvert --execute %s: %v\n%s", name, err, tail(log.String(), 6000))
			}
			t.Logf("%s executed in %.0f s", name, time.Since(start).Seconds())
			checkOutputs(t, readNotebook(t, executed), want)
		})
	}
}

// checkOutputs checks that nb ran every code cell without error and shows
// the expected outputs.
func checkOutputs(t *testing.T, nb notebook, want expectation) {
	t.Helper()
	var text strings.Builder
	images := 0
	for i, c := range nb.Cells {
		if c.CellType != "code" {
			continue
		}
		if c.ExecutionCount == nil {
			t.Errorf("cell %d did not run (run `make tutorial` to save the notebooks with their outputs)", i)
		}
		for _, o := range c.Outputs {
			switch o.OutputType {
			case "error":
				t.Errorf("cell %d: %s: %s", i, o.Ename, o.Evalue)
			case "stream":
				text.WriteString(string(o.Text))
			case "display_data", "execute_result":
				text.WriteString(string(o.Data["text/plain"]))
				text.WriteString(string(o.Data["text/html"]))
				if _, ok := o.Data["image/png"]; ok {
					images++
				} else if _, ok := o.Data["image/svg+xml"]; ok {
					images++
				}
			}
		}
	}
	out := text.String()
	patterns := want.outputs
	for cond, more := range want.when {
		if regexp.MustCompile(cond).MatchString(out) {
			patterns = append(slices.Clone(patterns), more...)
		}
	}
	for _, re := range patterns {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("no output matches %q; outputs:\n%s", re, tail(out, 4000))
		}
	}
	if images < want.images {
		t.Errorf("%d image outputs, want at least %d", images, want.images)
	}
}

// tail returns the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
