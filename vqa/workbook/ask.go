package workbook

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/vilt-go/workbook/vqa/backend"
	"github.com/vilt-go/workbook/vqa/dataset"
	"github.com/vilt-go/workbook/vqa/hfmodel"
	"github.com/vilt-go/workbook/vqa/imageproc"
	"github.com/vilt-go/workbook/vqa/predict"
	"github.com/vilt-go/workbook/vqa/processor"
	"github.com/vilt-go/workbook/vqa/repo"
	"github.com/vilt-go/workbook/vqa/vqaeval"
	"github.com/vilt-go/workbook/vqa/vqav2"
)

// Checked is a model's answer to one question of a dataset, checked
// against the question's ten human answers.
type Checked struct {
	// Index is the question's record index in the dataset.
	Index int
	// Question, QuestionType and ImagePath describe the question.
	Question, QuestionType, ImagePath string
	// Answer is the model's best answer and Score its sigmoid.
	Answer string
	Score  float64
	// Humans are the annotators' answers; Majority is the most common one
	// (the annotation's multiple_choice_answer).
	Humans   []string
	Majority string
	// Accuracy is the official VQA accuracy of Answer, in [0, 1]: 1 when at
	// least three annotators gave it.
	Accuracy float64
}

// Right reports whether the answer counts as right: its VQA accuracy is 1,
// that is at least three of the ten annotators gave it.
func (c Checked) Right() bool { return c.Accuracy >= 1 }

// Mark is "✓ right" or "✗ wrong" (with the partial accuracy when one or two
// annotators gave the answer).
func (c Checked) Mark() string {
	switch {
	case c.Right():
		return "✓ right"
	case c.Accuracy > 0:
		return fmt.Sprintf("✗ wrong (VQA accuracy %.0f%%)", 100*c.Accuracy)
	}
	return "✗ wrong"
}

// CheckQuestions answers the questions of ds at the given record indices
// (nil: all of them) with pred and checks every answer against the
// annotations.
func CheckQuestions(pred *predict.Predictor, ds *dataset.Dataset, indices []int) ([]Checked, error) {
	if indices == nil {
		for i := range ds.Len() {
			indices = append(indices, i)
		}
	}
	var out []Checked
	for _, i := range indices {
		if i < 0 || i >= ds.Len() {
			return nil, fmt.Errorf("check questions: index %d of a dataset of %d questions", i, ds.Len())
		}
		r := ds.Records[i]
		img, err := imageproc.Decode(r.ImagePath)
		if err != nil {
			return nil, err
		}
		p, err := pred.Predict(img, r.Question.Question, 1)
		if err != nil {
			return nil, err
		}
		humans := Humans(r.Annotation)
		out = append(out, Checked{
			Index: i, Question: r.Question.Question, QuestionType: r.Annotation.QuestionType, ImagePath: r.ImagePath,
			Answer: p.Top[0].Label, Score: p.Top[0].Score,
			Humans: humans, Majority: r.Annotation.MultipleChoiceAnswer,
			Accuracy: vqaeval.Accuracy(p.Top[0].Label, humans),
		})
	}
	return out, nil
}

// Wrong returns the answers of cs that are not right, in order.
func Wrong(cs []Checked) []Checked {
	var out []Checked
	for _, c := range cs {
		if !c.Right() {
			out = append(out, c)
		}
	}
	return out
}

// Humans returns the annotators' answers of a question.
func Humans(a vqav2.Annotation) []string {
	humans := make([]string, len(a.Answers))
	for i, ans := range a.Answers {
		humans[i] = ans.Answer
	}
	return humans
}

// WriteChecked prints one line per checked answer: the mark, the question,
// the model's answer with its sigmoid, and what the annotators said.
func WriteChecked(w io.Writer, cs []Checked) {
	for _, c := range cs {
		fmt.Fprintf(w, "%-30s %-45q model: %-8s (%.2f)  humans: %s\n", c.Mark(), c.Question, c.Answer, c.Score, HumanCounts(c.Humans))
	}
}

// HumanCounts summarises the annotators' answers, most frequent first:
// `left x6, right x2, on left x2`.
func HumanCounts(humans []string) string {
	counts := map[string]int{}
	for _, h := range humans {
		counts[h]++
	}
	keys := slices.Collect(maps.Keys(counts))
	slices.SortFunc(keys, func(a, b string) int {
		if counts[a] != counts[b] {
			return counts[b] - counts[a]
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s x%d", k, counts[k])
	}
	return strings.Join(parts, ", ")
}

// CheckFirst answers the first n questions of split (of [repo.DataRoot])
// with the model m, its inputs encoded by p, and checks every answer against
// the annotations ([CheckQuestions]).
func CheckFirst(m *hfmodel.Model, p *processor.Processor, split string, n int) ([]Checked, error) {
	root, err := repo.DataRoot()
	if err != nil {
		return nil, err
	}
	labels, err := vqav2.NewLabelMap(m.Labels())
	if err != nil {
		return nil, err
	}
	ds, err := dataset.Load(root, split, labels, p, dataset.Options{Limit: n})
	if err != nil {
		return nil, err
	}
	b, err := backend.New(nil)
	if err != nil {
		return nil, err
	}
	pred, err := predict.New(b, m, p)
	if err != nil {
		return nil, err
	}
	defer pred.Close()
	return CheckQuestions(pred, ds, nil)
}

// NumRight counts the answers of cs that are right.
func NumRight(cs []Checked) int {
	return len(cs) - len(Wrong(cs))
}
