// Package evaluate is what `vqa eval` and notebook 08 report: a model run
// over a split ([Split]) or a results file ([ScoreFile]) scored overall,
// per answer type and per question type next to the majority-answer
// baseline, printed as tables or JSON. The metric itself (answer
// normalisation, min(1, #humans/3) over the ten leave-one-out subsets) is
// package vqaeval, a port of the official evaluation code; this package
// only applies it and compares.
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
	// PerQuestionType is the mean accuracy per question type (the
	// annotations' question_type, e.g. "what color is the").
	PerQuestionType map[string]float64 `json:"per_question_type"`
}

// Report compares a model's predictions with the majority-answer baseline
// on the same questions.
type Report struct {
	// N is the number of questions scored.
	N int `json:"n"`
	// Skipped is the number of questions left out, unscored, because their
	// image was missing or broken (flags -skip-missing, -skip-broken).
	Skipped int `json:"skipped"`
	// QuestionTypes counts the scored questions per question type.
	QuestionTypes map[string]int `json:"question_types"`
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
	counts := make(map[string]int)
	for _, a := range anns {
		counts[a.QuestionType]++
	}
	return Report{
		N:              model.N,
		QuestionTypes:  counts,
		Model:          scores(model),
		BaselineAnswer: baselineAnswer,
		Baseline:       scores(base),
	}, nil
}

// Answered returns the annotations of anns whose question preds answers,
// and how many were left out: with broken images skipped, only the
// remaining questions can be scored.
func Answered(anns []vqav2.Annotation, preds map[int64]string) (kept []vqav2.Annotation, skipped int) {
	kept = make([]vqav2.Annotation, 0, len(anns))
	for _, a := range anns {
		if _, ok := preds[a.QuestionID]; ok {
			kept = append(kept, a)
		}
	}
	return kept, len(anns) - len(kept)
}

// scores keeps the accuracies of a vqaeval summary.
func scores(s vqaeval.Summary) Scores {
	return Scores{Overall: s.Overall, PerAnswerType: s.PerAnswerType, PerQuestionType: s.PerQuestionType}
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
	fmt.Fprintf(&b, "VQA accuracy (%%) on %d questions", r.N)
	if r.Skipped > 0 {
		fmt.Fprintf(&b, " (%d skipped: image missing or broken)", r.Skipped)
	}
	fmt.Fprintf(&b, "\n%-24s %8s", "", "overall")
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

// WriteQuestionTypes prints the accuracy per question type, most frequent
// type first: the number of questions, the model's and the baseline's
// accuracy. A model that ignores the image shows it here first: its
// accuracy on questions that only the picture can answer ("what color is
// the", "how many") stays near what the question text alone allows.
func (r Report) WriteQuestionTypes(w io.Writer) error {
	types := slices.SortedFunc(maps.Keys(r.QuestionTypes), func(a, b string) int {
		return cmp.Or(cmp.Compare(r.QuestionTypes[b], r.QuestionTypes[a]), strings.Compare(a, b))
	})
	var b strings.Builder
	fmt.Fprintf(&b, "VQA accuracy (%%) per question type\n%-28s %6s %8s %8s\n", "question type", "n", "model", "baseline")
	for _, t := range types {
		fmt.Fprintf(&b, "%-28s %6d %8.2f %8.2f\n", fmt.Sprintf("%q", t), r.QuestionTypes[t], r.Model.PerQuestionType[t], r.Baseline.PerQuestionType[t])
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON prints r as indented JSON.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
