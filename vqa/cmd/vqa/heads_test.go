package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vilt-go/workbook/vqa/hfweights"
	"github.com/vilt-go/workbook/vqa/internal/testutil"
	"github.com/vilt-go/workbook/vqa/predict"
)

// headMeta is the part of a heads fixture's meta.json the command-line
// tests use.
type headMeta struct {
	Head            string    `json:"head"`
	Texts           []string  `json:"texts"`
	Questions       []string  `json:"questions"`
	Sentences       []string  `json:"sentences"`
	Images          [][]any   `json:"images"`
	MaskedPositions [][]int   `json:"masked_positions"`
	Top1AtMasked    []float64 `json:"top1_at_masked"`
}

// image returns the file of entry i of the meta's images: the COCO cats
// picture or the fixture's synthetic PNG "synthetic_<w>x<h>_<seed>.png".
func (m headMeta) image(t *testing.T, dir string, i int) string {
	t.Helper()
	e := m.Images[i]
	if s, ok := e[2].(string); ok && s == "cats" {
		return filepath.Join(testutil.ModuleRoot(t), "data", "coco", "000000039769.png")
	}
	return filepath.Join(dir, fmt.Sprintf("synthetic_%vx%v_%v.png", e[0], e[1], e[2]))
}

// fixtureOutput reads one tensor of a fixture's outputs.safetensors.
func fixtureOutput(t *testing.T, dir, key string) []float32 {
	t.Helper()
	ts, err := hfweights.Read(filepath.Join(dir, "outputs.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	return testutil.Floats(t, ts[key])
}

// TestPredictEveryHead runs `vqa predict` offline on every heads fixture
// (the head picked from its config.json) and checks the answers against
// transformers' outputs for the same inputs: the retrieval scores, the
// masked word, the NLVR2 probability and the token labels.
func TestPredictEveryHead(t *testing.T) {
	root := testutil.Fixtures(t, "vilt_heads")
	metas, err := filepath.Glob(filepath.Join(root, "*", "meta.json"))
	if err != nil || len(metas) == 0 {
		t.Fatalf("no heads fixture under %s", root)
	}
	for _, f := range metas {
		dir := filepath.Dir(f)
		var m headMeta
		b, err := os.ReadFile(f)
		if err == nil {
			err = json.Unmarshal(b, &m)
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Run(filepath.Base(dir), func(t *testing.T) {
			args := []string{"predict", "-model", dir, "-json", "-image", m.image(t, dir, 0)}
			switch m.Head {
			case "ViltForImageAndTextRetrieval":
				for _, text := range m.Texts {
					args = append(args, "-text", text)
				}
			case "ViltForMaskedLM":
				words := strings.Fields(m.Questions[0])
				words[m.MaskedPositions[0][0]-1] = "[MASK]" // position 0 is [CLS]; one piece per word here
				args = append(args, "-text", strings.Join(words, " "), "-top", "1")
			case "ViltForImagesAndTextClassification":
				args = append(args, "-image2", m.image(t, dir, 1), "-text", m.Sentences[0])
			case "ViltForTokenClassification":
				args = append(args, "-text", m.Questions[0])
			default:
				t.Fatalf("head %q has no command-line case", m.Head)
			}
			code, stdout, stderr := runCLI(t, args...)
			if code != 0 {
				t.Fatalf("vqa %s: code %d\n%s", strings.Join(args, " "), code, stderr)
			}
			switch m.Head {
			case "ViltForImageAndTextRetrieval":
				var ranked []predict.Scored
				mustJSON(t, stdout, &ranked)
				want := fixtureOutput(t, dir, "score_matrix")[:len(m.Texts)]
				for _, r := range ranked {
					if d := math.Abs(r.Score - float64(want[r.Index])); d > 1e-4 {
						t.Errorf("score of %q: %g, transformers %g", r.Text, r.Score, want[r.Index])
					}
				}
			case "ViltForMaskedLM":
				var masks []predict.Mask
				mustJSON(t, stdout, &masks)
				if len(masks) != 1 || float64(masks[0].Top[0].ID) != m.Top1AtMasked[0] {
					t.Errorf("filled %+v, transformers' top word is id %v", masks, m.Top1AtMasked[0])
				}
			case "ViltForImagesAndTextClassification":
				var v predict.Verdict
				mustJSON(t, stdout, &v)
				l := fixtureOutput(t, dir, "logits")[:2]
				pTrue := 1 / (1 + math.Exp(float64(l[0]-l[1])))
				want, p := "True", pTrue
				if pTrue < 0.5 {
					want, p = "False", 1-pTrue
				}
				if v.Label != want || math.Abs(v.Probability-p) > 1e-4 {
					t.Errorf("verdict %+v, transformers %s with %g", v, want, p)
				}
			case "ViltForTokenClassification":
				var labels []predict.TokenLabel
				mustJSON(t, stdout, &labels)
				logits := fixtureOutput(t, dir, "logits")
				n := len(logits) / (2 * 40)
				for _, l := range labels {
					row := logits[l.Position*n : (l.Position+1)*n]
					best := 0
					for i := range row {
						if row[i] > row[best] {
							best = i
						}
					}
					if l.Label != fmt.Sprintf("LABEL_%d", best) {
						t.Errorf("token %q at %d: %s, transformers LABEL_%d", l.Token, l.Position, l.Label, best)
					}
				}
				if len(labels) == 0 {
					t.Error("no token labelled")
				}
			}
		})
	}
}

func mustJSON(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("%v:\n%s", err, s)
	}
}

// TestPredictWrongInputs checks that a head given the inputs of another
// gets an error naming what it needs.
func TestPredictWrongInputs(t *testing.T) {
	root := testutil.Fixtures(t, "vilt_heads")
	cat := filepath.Join(testutil.ModuleRoot(t), "data", "coco", "000000039769.png")
	for _, tc := range []struct {
		model string
		args  []string
		want  string
	}{
		{"mlm32", []string{"-image", cat, "-text", "no mask here"}, "has no [MASK]"},
		{"mlm32", []string{"-image", cat, "-question", "how many?"}, "fill-mask: give -image and one -text"},
		{"nlvr2_32", []string{"-image", cat, "-text", "two cats"}, "-image2 (right)"},
		{"itr32", []string{"-text", "two cats"}, "retrieval: give -image"},
		{"itr32", []string{"-images", root, "-text", "two cats"}, "holds no .jpg"},
	} {
		dir := filepath.Join(root, tc.model)
		if _, err := os.Stat(dir); err != nil {
			continue // only the cases of the fixtures present
		}
		code, _, stderr := runCLI(t, append([]string{"predict", "-model", dir}, tc.args...)...)
		if code == 0 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%s %v: code %d, stderr %q; want an error containing %q", tc.model, tc.args, code, stderr, tc.want)
		}
	}
}
