// Package vqaeval is the official VQA evaluation: the answer normalization
// and the accuracy metric of GT-Vision-Lab/VQA's vqaEval.py, ported with its
// quirks (see docs/vqa-eval-spec.md of the shared material), and the
// aggregation overall, per answer type and per question type.
package vqaeval

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/vilt-go/workbook/vqa/vqav2"
)

// Accuracy returns the VQA accuracy in [0, 1] of the predicted answer pred
// against the human answers (10 in VQAv2), as the official code computes it:
// newlines and tabs become spaces and the ends are trimmed; then, only if the
// human answers are not all identical, pred and every human answer are
// normalized ([Normalize]); finally the mean over the annotators i of
// min(1, (number of the other human answers equal to pred)/3). It returns 0
// when humans is empty.
func Accuracy(pred string, humans []string) float64 {
	answers := make([]vqav2.Answer, len(humans))
	for i, h := range humans {
		answers[i] = vqav2.Answer{Answer: h, ID: i + 1}
	}
	return accuracy(pred, answers)
}

// accuracy is [Accuracy] over annotation answers. Like the official code it
// leaves out, for each annotator, every answer record equal to theirs (the
// whole record, after normalization): only records repeated verbatim, same
// answer_id included, make this differ from leaving out one answer.
func accuracy(pred string, answers []vqav2.Answer) float64 {
	if len(answers) == 0 {
		return 0
	}
	pred = clean(pred)
	gts := make([]vqav2.Answer, len(answers))
	identical := true
	for i, a := range answers {
		a.Answer = clean(a.Answer)
		gts[i] = a
		identical = identical && a.Answer == gts[0].Answer
	}
	if !identical {
		for i := range gts {
			gts[i].Answer = Normalize(gts[i].Answer)
		}
		pred = Normalize(pred)
	}
	sum := 0.0
	for _, gt := range gts {
		matching := 0
		for _, other := range gts {
			if other != gt && other.Answer == pred {
				matching++
			}
		}
		sum += min(1, float64(matching)/3)
	}
	return sum / float64(len(gts))
}

// clean turns newlines and tabs into spaces and trims white space at both
// ends, as Python's str.strip does.
func clean(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' {
			return ' '
		}
		return r
	}, s)
	return strings.TrimFunc(s, isPySpace)
}

// Summary is the result of [Evaluate]. Like the official code's, every
// number is a percentage rounded to 2 decimals (Python's round, half to
// even on the exact binary value), and each mean is taken over the
// unrounded per-question accuracies.
type Summary struct {
	// Overall is the mean accuracy over all questions.
	Overall float64
	// PerAnswerType is the mean accuracy per answer_type.
	PerAnswerType map[string]float64
	// PerQuestionType is the mean accuracy per question_type.
	PerQuestionType map[string]float64
	// PerQuestion is each question's accuracy, by question id.
	PerQuestion map[int64]float64
	// N is the number of questions scored.
	N int
}

// String formats the overall and per answer type accuracies on one line,
// e.g. "overall 62.50 (8 questions); number 60.00, other 63.33, yes/no 63.33".
func (s Summary) String() string {
	types := make([]string, 0, len(s.PerAnswerType))
	for _, t := range slices.Sorted(maps.Keys(s.PerAnswerType)) {
		types = append(types, fmt.Sprintf("%s %.2f", t, s.PerAnswerType[t]))
	}
	return fmt.Sprintf("overall %.2f (%d questions); %s", s.Overall, s.N, strings.Join(types, ", "))
}

// Evaluate scores the predicted answers preds (question id -> answer)
// against anns. Like the official loader, it requires preds to hold exactly
// the question ids of anns; anns must be non-empty, with unique question ids
// and at least one answer each. Sums run in the order of anns.
func Evaluate(anns []vqav2.Annotation, preds map[int64]string) (Summary, error) {
	if len(anns) == 0 {
		return Summary{}, fmt.Errorf("evaluate: no annotations to score")
	}
	if err := checkCoverage(anns, preds); err != nil {
		return Summary{}, err
	}
	s := Summary{
		PerAnswerType:   make(map[string]float64),
		PerQuestionType: make(map[string]float64),
		PerQuestion:     make(map[int64]float64, len(anns)),
		N:               len(anns),
	}
	var all mean
	byAnswerType := make(map[string]*mean)
	byQuestionType := make(map[string]*mean)
	add := func(ms map[string]*mean, key string, acc float64) {
		m := ms[key]
		if m == nil {
			m = new(mean)
			ms[key] = m
		}
		m.add(acc)
	}
	for i, a := range anns {
		if len(a.Answers) == 0 {
			return Summary{}, fmt.Errorf("evaluate: annotations[%d] (question %d): answers: empty; want the human answers", i, a.QuestionID)
		}
		acc := accuracy(preds[a.QuestionID], a.Answers)
		s.PerQuestion[a.QuestionID] = round2(100 * acc)
		all.add(acc)
		add(byAnswerType, a.AnswerType, acc)
		add(byQuestionType, a.QuestionType, acc)
	}
	s.Overall = all.percent()
	for k, m := range byAnswerType {
		s.PerAnswerType[k] = m.percent()
	}
	for k, m := range byQuestionType {
		s.PerQuestionType[k] = m.percent()
	}
	return s, nil
}

// checkCoverage fails unless preds has exactly the question ids of anns,
// which must be unique.
func checkCoverage(anns []vqav2.Annotation, preds map[int64]string) error {
	ids := make(map[int64]struct{}, len(anns))
	var missing []int64
	for i, a := range anns {
		if _, dup := ids[a.QuestionID]; dup {
			return fmt.Errorf("evaluate: annotations[%d].question_id: duplicate question id %d", i, a.QuestionID)
		}
		ids[a.QuestionID] = struct{}{}
		if _, ok := preds[a.QuestionID]; !ok {
			missing = append(missing, a.QuestionID)
		}
	}
	var extra []int64
	for qid := range preds {
		if _, ok := ids[qid]; !ok {
			extra = append(extra, qid)
		}
	}
	if len(missing) == 0 && len(extra) == 0 {
		return nil
	}
	var msgs []string
	if len(missing) > 0 {
		msgs = append(msgs, fmt.Sprintf("%d question ids of the annotations have no answer (%s)", len(missing), firstIDs(missing)))
	}
	if len(extra) > 0 {
		slices.Sort(extra)
		msgs = append(msgs, fmt.Sprintf("%d answers are for question ids not in the annotations (%s)", len(extra), firstIDs(extra)))
	}
	return fmt.Errorf("evaluate: results must answer exactly the annotated questions: %s", strings.Join(msgs, "; "))
}

// firstIDs formats up to 5 ids.
func firstIDs(ids []int64) string {
	const show = 5
	parts := make([]string, 0, show+1)
	for _, id := range ids[:min(show, len(ids))] {
		parts = append(parts, strconv.FormatInt(id, 10))
	}
	if len(ids) > show {
		parts = append(parts, "...")
	}
	return strings.Join(parts, ", ")
}

// mean accumulates accuracies in order, as Python's sum does.
type mean struct {
	sum float64
	n   int
}

func (m *mean) add(acc float64) { m.sum += acc; m.n++ }

// percent is round(100*sum/n, 2), as the official setAccuracy computes it.
func (m *mean) percent() float64 { return round2(100 * m.sum / float64(m.n)) }

// round2 is Python's round(x, 2): the correctly rounded 2-decimal value of
// the exact binary x, ties to even.
func round2(x float64) float64 {
	r, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'f', 2, 64), 64)
	return r
}
