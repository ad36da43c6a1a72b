package evaluate

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vilt-go/workbook/vqa/vqav2"
)

// ann builds an annotation whose 10 human answers are the given strings
// repeated by the given counts.
func ann(qid int64, answerType, mc string, counts map[string]int) vqav2.Annotation {
	a := vqav2.Annotation{QuestionID: qid, ImageID: qid / 1000, QuestionType: "what", AnswerType: answerType, MultipleChoiceAnswer: mc}
	for ans, n := range counts {
		for range n {
			a.Answers = append(a.Answers, vqav2.Answer{Answer: ans, Confidence: "yes", ID: len(a.Answers) + 1})
		}
	}
	return a
}

// fixture: five questions whose accuracies are worked out by hand from the
// official formula (mean over annotators of min(1, matches among the other
// nine / 3)).
func fixture() ([]vqav2.Annotation, map[int64]string) {
	anns := []vqav2.Annotation{
		ann(1000, "yes/no", "yes", map[string]int{"yes": 10}),
		ann(2000, "number", "3", map[string]int{"2": 2, "3": 8}),
		ann(3000, "other", "red", map[string]int{"red": 10}),
		ann(4000, "yes/no", "no", map[string]int{"no": 10}),
		ann(5000, "yes/no", "yes", map[string]int{"yes": 10}),
	}
	preds := map[int64]string{
		1000: "yes",  // 100
		2000: "2",    // 2 annotators see 1 match (1/3), 8 see 2 (2/3): 60
		3000: "blue", // 0
		4000: "no",   // 100
		5000: "yes",  // 100
	}
	return anns, preds
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestCompare(t *testing.T) {
	anns, preds := fixture()
	answer, err := MajorityAnswer(anns)
	if err != nil || answer != "yes" {
		t.Fatalf("MajorityAnswer = %q, %v; want \"yes\" (2 of 5)", answer, err)
	}
	r, err := Compare(anns, preds, answer)
	if err != nil {
		t.Fatal(err)
	}
	if r.N != 5 || !near(r.Model.Overall, 72) {
		t.Errorf("model: N %d overall %v; want 5, 72 (=360/5)", r.N, r.Model.Overall)
	}
	for typ, want := range map[string]float64{"yes/no": 100, "number": 60, "other": 0} {
		if got := r.Model.PerAnswerType[typ]; !near(got, want) {
			t.Errorf("model %s = %v, want %v", typ, got, want)
		}
	}
	// "yes" everywhere: right on 1000 and 5000 only.
	if !near(r.Baseline.Overall, 40) || !near(r.Baseline.PerAnswerType["yes/no"], 66.67) || r.Baseline.PerAnswerType["number"] != 0 {
		t.Errorf("baseline = %+v; want overall 40, yes/no 66.67, number 0", r.Baseline)
	}
	var text, js bytes.Buffer
	if err := r.WriteText(&text); err != nil || !strings.Contains(text.String(), `baseline (always "yes")`) || !strings.Contains(text.String(), "72.00") {
		t.Errorf("text report:\n%s", text.String())
	}
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || !near(back.Model.PerAnswerType["number"], 60) {
		t.Errorf("JSON report does not round-trip: %v\n%s", err, js.String())
	}
}

func TestCompareNeedsEveryQuestion(t *testing.T) {
	anns, preds := fixture()
	delete(preds, 3000)
	if _, err := Compare(anns, preds, "yes"); err == nil || !strings.Contains(err.Error(), "3000") {
		t.Errorf("missing prediction: got %v, want an error naming question 3000", err)
	}
}

// TestAnsweredScoresTheRest: with a question skipped (its image broken),
// the others are scored and the skipped one is counted and reported.
func TestAnsweredScoresTheRest(t *testing.T) {
	anns, preds := fixture()
	delete(preds, 3000) // the "blue" (0%) answer: the rest scores 90
	kept, skipped := Answered(anns, preds)
	if len(kept) != 4 || skipped != 1 {
		t.Fatalf("Answered kept %d, skipped %d; want 4 and 1", len(kept), skipped)
	}
	r, err := Compare(kept, preds, "yes")
	if err != nil {
		t.Fatal(err)
	}
	r.Skipped = skipped
	if r.N != 4 || !near(r.Model.Overall, 90) {
		t.Errorf("N %d, overall %v; want 4 questions at 90", r.N, r.Model.Overall)
	}
	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil || !strings.Contains(text.String(), "on 4 questions (1 skipped: image missing or broken)") {
		t.Errorf("text report does not say how many were skipped:\n%s", text.String())
	}
}

func TestMajorityAnswerTies(t *testing.T) {
	anns := []vqav2.Annotation{{MultipleChoiceAnswer: "no"}, {MultipleChoiceAnswer: "2"}}
	if got, _ := MajorityAnswer(anns); got != "2" {
		t.Errorf("tie: got %q, want the smaller string \"2\"", got)
	}
	if _, err := MajorityAnswer(nil); err == nil {
		t.Error("no annotations: no error")
	}
}

// TestScoreFile scores a results file written in the official format.
func TestScoreFile(t *testing.T) {
	anns, preds := fixture()
	dir := t.TempDir()
	annPath := filepath.Join(dir, "v2_mscoco_val2014_annotations.json")
	type jsonAnswer struct {
		Answer     string `json:"answer"`
		Confidence string `json:"answer_confidence"`
		ID         int    `json:"answer_id"`
	}
	type jsonAnn struct {
		QuestionID   int64        `json:"question_id"`
		ImageID      int64        `json:"image_id"`
		QuestionType string       `json:"question_type"`
		AnswerType   string       `json:"answer_type"`
		MC           string       `json:"multiple_choice_answer"`
		Answers      []jsonAnswer `json:"answers"`
	}
	var out []jsonAnn
	for _, a := range anns {
		j := jsonAnn{a.QuestionID, a.ImageID, a.QuestionType, a.AnswerType, a.MultipleChoiceAnswer, nil}
		for _, h := range a.Answers {
			j.Answers = append(j.Answers, jsonAnswer{h.Answer, h.Confidence, h.ID})
		}
		out = append(out, j)
	}
	b, _ := json.Marshal(map[string]any{"annotations": out, "data_subtype": "val2014", "data_type": "mscoco"})
	if err := os.WriteFile(annPath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	resPath := filepath.Join(dir, "results.json")
	var res []map[string]any
	for q, a := range preds {
		res = append(res, map[string]any{"question_id": q, "answer": a})
	}
	b, _ = json.Marshal(res)
	os.WriteFile(resPath, b, 0o644)
	r, err := ScoreFile(annPath, resPath, "")
	if err != nil {
		t.Fatal(err)
	}
	if !near(r.Model.Overall, 72) || r.BaselineAnswer != "yes" {
		t.Errorf("ScoreFile = %+v", r)
	}
}

func TestPerQuestionType(t *testing.T) {
	anns, preds := fixture()
	for i, qt := range []string{"is the", "how many", "what color is the", "is the", "is there a"} {
		anns[i].QuestionType = qt
	}
	r, err := Compare(anns, preds, "no")
	if err != nil {
		t.Fatal(err)
	}
	wantN := map[string]int{"is the": 2, "how many": 1, "what color is the": 1, "is there a": 1}
	wantModel := map[string]float64{"is the": 100, "how many": 60, "what color is the": 0, "is there a": 100}
	wantBase := map[string]float64{"is the": 50, "how many": 0, "what color is the": 0, "is there a": 0}
	for qt, n := range wantN {
		if r.QuestionTypes[qt] != n || !near(r.Model.PerQuestionType[qt], wantModel[qt]) || !near(r.Baseline.PerQuestionType[qt], wantBase[qt]) {
			t.Errorf("%q: n %d model %v baseline %v; want %d, %v, %v", qt, r.QuestionTypes[qt],
				r.Model.PerQuestionType[qt], r.Baseline.PerQuestionType[qt], n, wantModel[qt], wantBase[qt])
		}
	}
	var text bytes.Buffer
	if err := r.WriteQuestionTypes(&text); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(text.String()), "\n")
	if len(lines) != 2+len(wantN) || !strings.HasPrefix(lines[2], `"is the"`) || !strings.Contains(lines[2], "100.00") {
		t.Errorf("question-type table (most frequent type first):\n%s", text.String())
	}
}
