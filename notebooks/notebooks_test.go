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
	// once must each match exactly once (a line that must not repeat).
	once []string
	// absent must match no output.
	absent []string
	// images is the least number of image outputs (PNG or SVG).
	images int
	// when maps a pattern to more patterns that must match if it does
	// (e.g. the real model's answer when the real model ran).
	when map[string][]string
	// whenAbsent maps a pattern to patterns that must not match if it does.
	whenAbsent map[string][]string
}

// everywhere lists what no notebook may show: raw network errors and
// internal addresses (a notebook says "offline: using ..." instead), the
// folders of the machine that ran them (paths are relative to the
// repository), and
// the per-step loss lines that a progress bar and a loss curve replace.
var everywhere = []string{`/work/|/root/|/home/|/tmp/`, `dial tcp`, `no such host`, `Hub unreachable`, `\b\d{1,3}(\.\d{1,3}){3}:\d+\b`, `(?m)^Loss: `}

// expected holds the key outputs of every notebook. The values come from
// the walk-through and the VQAv2 and ViLT facts (shared/docs), never from
// running the notebooks.
var expected = map[string]expectation{
	"00_vilt_overview.ipynb": {outputs: []string{
		`VQA: "How many cats are there\?" about the cats picture -> \S+ \([\d.]+\)`,
		`VQA: "What color is the square\?" about val2014 picture 376304 -> \S+`,
		`model: (dandelin/vilt-b32-finetuned-coco|data/vilt-tiny-mlm)\n`,
		`\n 1\. [✓ ] -?[\d.]+  \S.*\n 2\. `,
		`the picture's own captions among the first 5: [0-5] \(by chance: about \d\)`,
		`the matched pair scores higher: (true|false)`,
		`verify: "The yellow square is on the left side" -> (true|false) \(score [\d.]+\)`,
		`(NLVR2: "The left image contains two cats\." -> \S+|offline: skipping NLVR2)`,
		`pixel_values \[1 3 384 512\]\n-> 12 x 16 = 192 patches of 3 x 32 x 32 = 3072 numbers each`,
		`patch embeddings \[1 192 768\]`,
		`The yellow \[MASK\] is on the left side -> filled in: "[^"\s]+" \(the caption says "square"\)`,
		`matched pair: +p\(match\) = [\d.]+`,
		`mismatched pair: +p\(match\) = [\d.]+`,
		`Go: go1\.`,
	}, images: 2},
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
		`label2id\["left"\] = \d+`,
		`\n\s+1\s+0\.333\s+0\.3\n`,
		`\n\s+3\s+1\.000\s+0\.9\n`,
		`[1-9]\d* training questions, [1-9]\d* different answers; the most common: "[^"]+" \([1-9]\d*\)`,
	}, images: 1},
	"03_dataset_and_processor.ipynb": {outputs: []string{
		`targets: 3129 values, non-zero at \[\d+`,
		`the same as the library's example: true`,
		`tokenizer: 30522 word pieces, max length 40`,
		`input_ids: \[101 2129 2116 8870 2024 2045 1029 102\] then 32 x \[PAD\]`,
		`Number of examples: 100 - target length: 3129`,
		`keys: input_ids \[40\], token_type_ids \[40\], attention_mask \[40\], pixel_values \[3 \d+ \d+\], labels \[3129\]`,
		`decoded input_ids: \[CLS\] [^\[]+ \[SEP\] \[PAD\]`,
		`labels: \S+=`,
	}, images: 1},
	"04_model.ipynb": {outputs: []string{
		`Model: (dandelin/vilt-b32-mlm|data/vilt-tiny-mlm) \(pre-trained weights\), new VQA head for 3129 answers`,
		// transformers' "newly initialized" warning: the VQA head, and only it.
		`Newly initialized \(not in the checkpoint, trained by fine-tuning\): \[classifier\.0\.bias classifier\.0\.weight classifier\.1\.bias classifier\.1\.weight classifier\.3\.bias classifier\.3\.weight\]\n`,
		`Not used \(in the checkpoint, not in ViltForQuestionAnswering\): \[[^\]]*mlm_score\.`,
		`hidden \d+, layers \d+, heads \d+, MLP \d+, patch \d+x\d+, images \d+ px \(the processor's\), answers 3129`,
		`vilt\.encoder\.layer\.N \(each of 12\)`,
		`classifier\.0\.weight +\[1536 768\]`,
		`classifier\.3\.weight +\[3129 1536\]`,
		`total +[1-9]\d* parameters`,
	}, once: []string{`Model: `}, when: map[string][]string{
		`offline: using data/vilt-tiny-mlm`: {`Model: data/vilt-tiny-mlm`},
	}},
	"05_collate_and_dataloader.ipynb": {outputs: []string{
		`batch: input_ids \[4 40\], pixel_values \[4 3 \d+ \d+\], pixel_mask \[4 \d+ \d+\]`,
		`input_ids +\[4 40\]\nattention_mask +\[4 40\]\ntoken_type_ids +\[4 40\]\npixel_values +\[4 3 \d+ \d+\]\npixel_mask +\[4 \d+ \d+\]\nlabels +\[4 3129\]`,
		`image 3: `,
	}, images: 1},
	"06_training.ipynb": {outputs: []string{
		`mean BCE x num_labels = [\d.]+ / 4 x 4 = [\d.]+`,
		`backend: \S+ \(`,
		`Model: (dandelin/vilt-b32-mlm|data/vilt-tiny-mlm), [1-9]\d* training questions, [1-9]\d* answer labels, images \d+ px`,
		`<progress value="\d+" max="\d+"></progress> step \d+/\d+, loss `,
		`[1-9]\d* steps in .*examples/s`,
		savedRE,
		`dataset\[0\]: ".+" \(humans: .+\)\n1\. \S+ +[\d.]+\n2\. \S+ +[\d.]+\n3\. .*\n4\. .*\n5\. `,
	}, once: []string{`Model: `}, images: 1},
	"07_inference.ipynb": {outputs: []string{
		`input_ids +\[1 8\] unpadded as in the article, \[1 40\] padded`,
		`pixel_values +\[1 3 384 512\]\npixel_mask +\[1 384 512\]`,
		`Model: \S+`,
		`input_ids +\[1 \d+\]\ntoken_type_ids +\[1 \d+\]\nattention_mask +\[1 \d+\]\npixel_values +\[1 3 \d+ \d+\]\npixel_mask +\[1 \d+ \d+\]\nlogits +\[1 \d+\]`,
		`argmax: label id \d+`,
		// The article's question is always asked.
		`Question: How many cats are there\?\nPredicted answer: \S+`,
		// The mini questions, each marked right or wrong.
		`(?m)^(✓ right|✗ wrong)[^\n]*"[^"]+"\s+model: \S+ +\([\d.]+\)  humans: `,
		`[0-8] of 8 right`,
		// The shipped fine-tuned model is asked the same questions; how many it
		// gets right is its quality (docs/tiny-model.md), not the notebook's.
		`shipped model: [0-8] of 8 right`,
	}, once: []string{`Model: `}, images: 1, when: map[string][]string{
		// The walk-through's printed results with the real fine-tuned model.
		`Model: dandelin/vilt-b32-finetuned-vqa`: {
			`input_ids +\[1 40\]`, `pixel_values +\[1 3 384 512\]`, `logits +\[1 3129\]`,
			`argmax: label id 17\n`, `Predicted answer: 2\n`,
		},
		// The tiny models say what they are, and show the article's answer as a reference.
		`Model: (data/vilt-tiny|runs/notebook-06)`: {
			`this model has only seen the mini dataset's pictures of coloured shapes`,
			`Reference, the article's figure 25 \(dandelin/vilt-b32-finetuned-vqa, not computed here\)`,
		},
		`Model: runs/notebook-06`: {loadedRE},
	}},
	"08_attention_and_accuracy.ipynb": {outputs: []string{
		`Model: \S+`,
		`Patch grid: \d+ x \d+`,
		`layer +1: [\d.]+% of the \[CLS\] attention goes to the image`,
		`".+" -> \S+ \((right|wrong); humans: .+\)\nthe last layer looks most at patch row \d+, column \d+: the [a-z ]+ of the picture`,
		`answered [1-9]\d* questions`,
		`VQA accuracy \(%\) on [1-9]\d* questions`,
		`\nmodel +[\d.]+ `,
		`\nbaseline \(always "[^"]+"\) +[\d.]+ `,
		`\d+ of [1-9]\d* answers wrong; the first ones:`,
	}, once: []string{`Model: `}, images: 3},
}

// savedRE is what notebook 06 prints when it saves its model, and loadedRE
// what notebook 07 prints when it loads it: the folder and the fingerprint
// of the weights, which must be the same.
const (
	savedRE  = `saved: (runs/notebook-06\S*) \(weights ([0-9a-f]{12})\)`
	loadedRE = `loaded: (runs/notebook-06\S*) \(weights ([0-9a-f]{12})\)`
)

// checkSavedLoaded checks that notebook 07 loaded the model notebook 06
// saved, when 07 loaded a model of notebook 06 and 06's outputs are known.
func checkSavedLoaded(t *testing.T, outputs map[string]string) {
	t.Helper()
	if err := savedLoaded(outputs); err != nil {
		t.Error(err)
	}
}

// savedLoaded compares the folder and fingerprint notebook 06 printed when
// it saved its model with those notebook 07 printed when it loaded one.
func savedLoaded(outputs map[string]string) error {
	saved := regexp.MustCompile(savedRE).FindStringSubmatch(outputs["06_training.ipynb"])
	loaded := regexp.MustCompile(loadedRE).FindStringSubmatch(outputs["07_inference.ipynb"])
	if saved == nil || loaded == nil {
		return nil
	}
	if saved[1] != loaded[1] || saved[2] != loaded[2] {
		return fmt.Errorf("notebook 06 saved %s (weights %s) but notebook 07 loaded %s (weights %s)", saved[1], saved[2], loaded[1], loaded[2])
	}
	return nil
}

// TestSavedLoaded checks the comparison of notebook 06's and 07's outputs.
func TestSavedLoaded(t *testing.T) {
	saved := "saved: runs/notebook-06 (weights 0123456789ab)\n"
	for _, c := range []struct {
		loaded string
		ok     bool
	}{
		{"loaded: runs/notebook-06 (weights 0123456789ab)\n", true},
		{"loaded: runs/notebook-06 (weights 0123456789ac)\n", false},
		{"loaded: runs/notebook-06-quick (weights 0123456789ab)\n", false},
		{"Model: data/vilt-tiny-finetuned-vqa\n", true},
	} {
		err := savedLoaded(map[string]string{"06_training.ipynb": saved, "07_inference.ipynb": c.loaded})
		if (err == nil) != c.ok {
			t.Errorf("07 printing %q: %v, want ok %v", c.loaded, err, c.ok)
		}
	}
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
	outputs := map[string]string{}
	defer func() { checkSavedLoaded(t, outputs) }()
	setup := regexp.MustCompile(`^!\*go mod edit -require=github\.com/vilt-go/workbook@v0\.0\.0 -require=github\.com/janpfeifer/must@v0\.2\.0 -replace=github\.com/vilt-go/workbook=\$\(cd "\$GONB_DIR/\.\." && pwd\) -replace=github\.com/gomlx/compute=\$\(cd "\$GONB_DIR/\.\." && pwd\)/vqa/internal/third_party/compute$`)
	for _, name := range notebookNames(t) {
		t.Run(strings.TrimSuffix(name, ".ipynb"), func(t *testing.T) {
			want, ok := expected[name]
			if !ok {
				t.Errorf("no key outputs listed for %s in expected", name)
			}
			nb := readNotebook(t, name)
			outputs[name] = checkOutputs(t, nb, want)
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
	outputs := map[string]string{}
	defer func() { checkSavedLoaded(t, outputs) }()
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
			outputs[name] = checkOutputs(t, readNotebook(t, executed), want)
		})
	}
}

// checkOutputs checks that nb ran every code cell without error and shows
// the expected outputs, and returns its text outputs.
func checkOutputs(t *testing.T, nb notebook, want expectation) string {
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
	for _, re := range want.once {
		if n := len(regexp.MustCompile(re).FindAllStringIndex(out, -1)); n != 1 {
			t.Errorf("%d outputs match %q, want exactly one", n, re)
		}
	}
	absent := slices.Concat(everywhere, want.absent)
	for cond, more := range want.whenAbsent {
		if regexp.MustCompile(cond).MatchString(out) {
			absent = append(absent, more...)
		}
	}
	for _, re := range absent {
		if m := regexp.MustCompile(re).FindString(out); m != "" {
			t.Errorf("an output matches %q (%q), which must not be shown", re, m)
		}
	}
	if images < want.images {
		t.Errorf("%d image outputs, want at least %d", images, want.images)
	}
	return out
}

// tail returns the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
