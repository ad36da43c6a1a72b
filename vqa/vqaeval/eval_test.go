package vqaeval

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/vilt-go/workbook/vqa/internal/testutil"
	"github.com/vilt-go/workbook/vqa/vqav2"
)

// officialCases is testdata/official_cases.json, written by
// testdata/official_cases.py (a Python transcription of the official code).
type officialCases struct {
	Normalize []struct{ In, Out string }
	Accuracy  []struct {
		Pred   string
		Humans []string
		Acc    float64
	}
	Round2 []struct {
		X, Out float64
	}
	Evaluate struct {
		Questions []struct {
			QuestionID   int64  `json:"question_id"`
			QuestionType string `json:"question_type"`
			AnswerType   string `json:"answer_type"`
			Pred         string
			Humans       []string
		}
		Overall         float64
		PerQuestionType map[string]float64
		PerAnswerType   map[string]float64
		PerQuestion     map[string]float64
	}
}

func readOfficialCases(t *testing.T) officialCases {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "official_cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var c officialCases
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatalf("official_cases.json: %v", err)
	}
	if len(c.Normalize) == 0 || len(c.Accuracy) == 0 || len(c.Round2) == 0 || len(c.Evaluate.Questions) == 0 {
		t.Fatal("official_cases.json: a section is empty")
	}
	return c
}

// TestNormalizeSpec checks the examples written out in the spec.
func TestNormalizeSpec(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"100,978", "100978"},                 // digit-comma-digit: delete
		{"red, white", "red white"},           // comma next to a space: delete
		{"red,white", "red white"},            // otherwise: a space
		{"1,000-2,000", "10002000"},           // one match switches every char to delete
		{"3.5", "3.5"},                        // period before a digit stays
		{"ok.", "ok"},                         // other periods go
		{"5. ", "5"},                          //
		{"the table", "table"},                // articles
		{"at table", "at table"},              //
		{"none", "0"},                         // number words
		{"eleven", "eleven"},                  // only zero to ten
		{"twenty", "twenty"},                  //
		{"dont", "don't"},                     // contractions
		{"somebody'd", "somebodyd"},           // the backwards entry
		{"Im", "im"},                          // capital keys never match
		{"girl's", "girl's"},                  // apostrophes stay
		{"2:50", "2:50"},                      // colons stay
		{"#$%&*~^|", "#$%&*~^|"},              // not in the list
		{"a  b\t c", "b c"},                   // runs of white space
		{strings.Repeat(".", 40), "........"}, // 32 deletions at most
	} {
		if got := Normalize(tc.in); got != tc.want {
			t.Errorf("Normalize(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestNormalizeOfficial compares with the Python transcription's outputs.
func TestNormalizeOfficial(t *testing.T) {
	for _, tc := range readOfficialCases(t).Normalize {
		if got := Normalize(tc.In); got != tc.Out {
			t.Errorf("Normalize(%q) = %q, want %q", tc.In, got, tc.Out)
		}
	}
}

func TestNormalizeViLT(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Red, White", "red white"},
		{"1,000", "1000"},
		{"Two", "2"},
	} {
		if got := NormalizeViLT(tc.in); got != tc.want {
			t.Errorf("NormalizeViLT(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestContractionsTable checks the table's size and oddities named by the
// spec.
func TestContractionsTable(t *testing.T) {
	if len(contractions) != 120 {
		t.Errorf("%d contractions, want 120", len(contractions))
	}
	for k, v := range map[string]string{"let's": "let's", "she's": "she's", "somebody'd": "somebodyd", "Id've": "I'd've", "youve": "you've", "aint": "ain't"} {
		if contractions[k] != v {
			t.Errorf("contractions[%q] = %q, want %q", k, contractions[k], v)
		}
	}
	if len(punctuation) != 21 {
		t.Errorf("%d punctuation chars, want 21", len(punctuation))
	}
}

// TestAccuracyClosedForm checks the spec's table: k matching humans give
// 0, 0.3, 0.6, 0.9, then 1.
func TestAccuracyClosedForm(t *testing.T) {
	want := []float64{0, 0.3, 0.6, 0.9, 1, 1, 1, 1, 1, 1, 1}
	for k := 0; k <= 10; k++ {
		humans := make([]string, 10)
		for i := range humans {
			if i < k {
				humans[i] = "cat"
			} else {
				humans[i] = "dog" + strconv.Itoa(i)
			}
		}
		if got := Accuracy("cat", humans); math.Abs(got-want[k]) > 1e-12 {
			t.Errorf("k=%d: Accuracy = %v, want %v", k, got, want[k])
		}
	}
}

// TestAccuracyWorkedExample is the spec's question 262148000, read from the
// real record.
func TestAccuracyWorkedExample(t *testing.T) {
	file := filepath.Join(testutil.SharedData(t, "vqav2"), "sample_val2014_q262148000.json")
	anns, err := vqav2.ReadAnnotations(file)
	if err != nil {
		t.Fatal(err)
	}
	var humans []string
	for _, a := range anns[0].Answers {
		humans = append(humans, a.Answer)
	}
	for _, tc := range []struct {
		pred string
		want float64
	}{{"down", 1}, {"table", 0.3}, {"at table", 0.3}, {"the table", 0.3}, {"Down.", 1}, {"up", 0}} {
		if got := Accuracy(tc.pred, humans); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("Accuracy(%q) = %v, want %v", tc.pred, got, tc.want)
		}
	}
}

// TestAccuracyIdenticalQuirk: with 10 identical human answers nothing is
// normalized, so "2" does not match ten "Two".
func TestAccuracyIdenticalQuirk(t *testing.T) {
	ten := func(s string) []string { return slices.Repeat([]string{s}, 10) }
	if got := Accuracy("2", ten("Two")); got != 0 {
		t.Errorf("all identical: Accuracy(2, Two x10) = %v, want 0", got)
	}
	if got := Accuracy("Two", ten("Two")); got != 1 {
		t.Errorf("all identical: Accuracy(Two, Two x10) = %v, want 1", got)
	}
	mixed := append(ten("Two")[:9], "2")
	if got := Accuracy("2", mixed); got != 1 {
		t.Errorf("not identical: Accuracy(2, Two x9 + 2) = %v, want 1", got)
	}
	if got := Accuracy("x", nil); got != 0 {
		t.Errorf("no humans: Accuracy = %v, want 0", got)
	}
}

// TestAccuracyOfficial compares bit for bit with the Python transcription.
func TestAccuracyOfficial(t *testing.T) {
	for _, tc := range readOfficialCases(t).Accuracy {
		if got := Accuracy(tc.Pred, tc.Humans); got != tc.Acc {
			t.Errorf("Accuracy(%q, %q) = %v, want %v", tc.Pred, tc.Humans, got, tc.Acc)
		}
	}
}

func TestRound2(t *testing.T) {
	for _, tc := range readOfficialCases(t).Round2 {
		if got := round2(tc.X); got != tc.Out {
			t.Errorf("round2(%v) = %v, want Python's %v", tc.X, got, tc.Out)
		}
	}
}

func officialAnnotations(t *testing.T) ([]vqav2.Annotation, map[int64]string, officialCases) {
	c := readOfficialCases(t)
	var anns []vqav2.Annotation
	preds := make(map[int64]string)
	for _, q := range c.Evaluate.Questions {
		a := vqav2.Annotation{QuestionID: q.QuestionID, QuestionType: q.QuestionType, AnswerType: q.AnswerType}
		for i, h := range q.Humans {
			a.Answers = append(a.Answers, vqav2.Answer{Answer: h, Confidence: "yes", ID: i + 1})
		}
		anns = append(anns, a)
		preds[q.QuestionID] = q.Pred
	}
	return anns, preds, c
}

// TestEvaluateOfficial compares the aggregation and rounding with the Python
// transcription of the official setAccuracy.
func TestEvaluateOfficial(t *testing.T) {
	anns, preds, c := officialAnnotations(t)
	s, err := Evaluate(anns, preds)
	if err != nil {
		t.Fatal(err)
	}
	want := c.Evaluate
	if s.Overall != want.Overall || s.N != len(anns) {
		t.Errorf("Overall %v N %d, want %v %d", s.Overall, s.N, want.Overall, len(anns))
	}
	compare := func(name string, got, want map[string]float64) {
		if len(got) != len(want) {
			t.Errorf("%s: %v, want %v", name, got, want)
		}
		for k, w := range want {
			if g, ok := got[k]; !ok || g != w {
				t.Errorf("%s[%q] = %v, want %v", name, k, g, w)
			}
		}
	}
	if got, want := s.String(), "overall 62.50 (8 questions); number 60.00, other 63.33, yes/no 63.33"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	compare("PerAnswerType", s.PerAnswerType, want.PerAnswerType)
	compare("PerQuestionType", s.PerQuestionType, want.PerQuestionType)
	perQ := make(map[string]float64)
	for id, v := range s.PerQuestion {
		perQ[strconv.FormatInt(id, 10)] = v
	}
	compare("PerQuestion", perQ, want.PerQuestion)
}

// TestEvaluateFile scores a results file against the real sample record.
func TestEvaluateFile(t *testing.T) {
	anns, err := vqav2.ReadAnnotations(filepath.Join(testutil.SharedData(t, "vqav2"), "sample_val2014_q262148000.json"))
	if err != nil {
		t.Fatal(err)
	}
	res := filepath.Join(t.TempDir(), "results.json")
	if err := os.WriteFile(res, []byte(`[{"question_id": 262148000, "answer": "the table"}]`), 0o644); err != nil {
		t.Fatal(err)
	}
	preds, err := vqav2.ReadResults(res)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Evaluate(anns, preds)
	if err != nil {
		t.Fatal(err)
	}
	if s.Overall != 30 || s.PerAnswerType["other"] != 30 || s.PerQuestionType["none of the above"] != 30 || s.PerQuestion[262148000] != 30 {
		t.Errorf("summary %+v, want 30 everywhere", s)
	}
}

func TestEvaluateErrors(t *testing.T) {
	anns, preds, _ := officialAnnotations(t)
	missing := make(map[int64]string)
	for k, v := range preds {
		missing[k] = v
	}
	delete(missing, 3)
	extra := map[int64]string{99: "x"}
	for k, v := range preds {
		extra[k] = v
	}
	dup := append(append([]vqav2.Annotation(nil), anns...), anns[0])
	empty := append([]vqav2.Annotation(nil), anns...)
	empty[2].Answers = nil
	for _, tc := range []struct {
		name  string
		anns  []vqav2.Annotation
		preds map[int64]string
		want  string
	}{
		{"missing", anns, missing, "1 question ids of the annotations have no answer (3)"},
		{"extra", anns, extra, "1 answers are for question ids not in the annotations (99)"},
		{"no annotations", nil, nil, "no annotations"},
		{"duplicate", dup, preds, "annotations[8].question_id: duplicate question id 1"},
		{"no answers", empty, preds, "annotations[2] (question 3): answers: empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Evaluate(tc.anns, tc.preds)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}
