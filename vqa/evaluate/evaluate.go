// Package evaluate scores VQA predictions with the official VQA accuracy
// (package vqaeval), overall and per answer type, next to the
// majority-answer baseline, and prints the comparison as a table or JSON.
package evaluate

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/vilt-go/workbook/vqa/vqaeval"
	"github.com/vilt-go/workbook/vqa/vqav2"
)

// Scores is one scored set of predictions. Accuracies are percentages, as
// the official evaluation prints them.
type Scores struct {
	// Overall is the mean VQA accuracy over all questions.
	Overall float64 `json:"overall"`
	// PerAnswerType is the mean accuracy per answer type ("yes/no",
	// "number", "other").
	PerAnswerType map[string]float64 `json:"per_answer_type"`
}

// Report compares a model's predictions with the majority-answer baseline
// on the same questions.
type Report struct {
	// N is the number of questions scored.
	N int `json:"n"`
	// Model scores the predictions.
	Model Scores `json:"model"`
	// BaselineAnswer is the answer the baseline gives to every question.
	BaselineAnswer string `json:"baseline_answer"`
	// Baseline scores BaselineAnswer on every question.
	Baseline Scores `json:"baseline"`
}

// MajorityAnswer returns the most frequent multiple_choice_answer of anns
// (ties broken by the smaller string), the answer of the majority baseline.
// Take anns from the training split to keep the baseline honest.
func MajorityAnswer(anns []vqav2.Annotation) (string, error) {
	counts := map[string]int{}
	for _, a := range anns {
		counts[a.MultipleChoiceAnswer]++
	}
	if len(counts) == 0 {
		return "", fmt.Errorf("majority answer: no annotations")
	}
	return slices.MaxFunc(slices.Collect(maps.Keys(counts)), func(a, b string) int {
		return cmp.Or(cmp.Compare(counts[a], counts[b]), strings.Compare(b, a))
	}), nil
}

// Compare scores preds (question id -> answer, exactly the questions of
// anns) and the baseline answering baselineAnswer to everything.
func Compare(anns []vqav2.Annotation, preds map[int64]string, baselineAnswer string) (Report, error) {
	model, err := vqaeval.Evaluate(anns, preds)
	if err != nil {
		return Report{}, fmt.Errorf("scoring the predictions: %w", err)
	}
	constant := make(map[int64]string, len(anns))
	for _, a := range anns {
		constant[a.QuestionID] = baselineAnswer
	}
	base, err := vqaeval.Evaluate(anns, constant)
	if err != nil {
		return Report{}, fmt.Errorf("scoring the baseline: %w", err)
	}
	return Report{
		N:              model.N,
		Model:          Scores{Overall: model.Overall, PerAnswerType: model.PerAnswerType},
		BaselineAnswer: baselineAnswer,
		Baseline:       Scores{Overall: base.Overall, PerAnswerType: base.PerAnswerType},
	}, nil
}

// ScoreFile scores the results file resultsPath (official format:
// [{"question_id": int, "answer": str}, ...]) against the annotations file
// annotationsPath, with the baseline answer taken from baselineFrom (an
// annotations file, typically the training split's; "" uses the scored
// annotations themselves).
func ScoreFile(annotationsPath, resultsPath, baselineFrom string) (Report, error) {
	anns, err := vqav2.ReadAnnotations(annotationsPath)
	if err != nil {
		return Report{}, err
	}
	preds, err := vqav2.ReadResults(resultsPath)
	if err != nil {
		return Report{}, err
	}
	ref := anns
	if baselineFrom != "" {
		if ref, err = vqav2.ReadAnnotations(baselineFrom); err != nil {
			return Report{}, err
		}
	}
	answer, err := MajorityAnswer(ref)
	if err != nil {
		return Report{}, err
	}
	r, err := Compare(anns, preds, answer)
	if err != nil {
		return Report{}, fmt.Errorf("%s against %s: %w", resultsPath, annotationsPath, err)
	}
	return r, nil
}

// WriteText prints r as a small table: one row for the model and one for
// the baseline, one column per answer type.
func (r Report) WriteText(w io.Writer) error {
	types := slices.Sorted(maps.Keys(r.Model.PerAnswerType))
	var b strings.Builder
	fmt.Fprintf(&b, "VQA accuracy (%%) on %d questions\n%-24s %8s", r.N, "", "overall")
	for _, t := range types {
		fmt.Fprintf(&b, " %8s", t)
	}
	row := func(name string, s Scores) {
		fmt.Fprintf(&b, "\n%-24s %8.2f", name, s.Overall)
		for _, t := range types {
			fmt.Fprintf(&b, " %8.2f", s.PerAnswerType[t])
		}
	}
	row("model", r.Model)
	row(fmt.Sprintf("baseline (always %q)", r.BaselineAnswer), r.Baseline)
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON prints r as indented JSON.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
