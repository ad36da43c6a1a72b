package vqaeval

import (
	"math/rand/v2"
	"testing"

	"github.com/vilt-go/workbook/vqa/vqav2"
)

// BenchmarkEvaluate scores 20,000 generated questions (a tenth of val2014)
// and reports questions per second.
func BenchmarkEvaluate(b *testing.B) {
	const n = 20000
	rng := rand.New(rand.NewPCG(3, 4))
	words := []string{"yes", "no", "2", "two", "red, white", "the table", "at table", "dont know", "3.5", "ok.", "1,000"}
	anns := make([]vqav2.Annotation, n)
	preds := make(map[int64]string, n)
	for i := range anns {
		a := vqav2.Annotation{QuestionID: int64(i), QuestionType: "what", AnswerType: vqav2.AnswerTypeOther}
		for j := range vqav2.AnswersPerQuestion {
			a.Answers = append(a.Answers, vqav2.Answer{Answer: words[rng.IntN(len(words))], Confidence: "yes", ID: j + 1})
		}
		anns[i] = a
		preds[a.QuestionID] = words[rng.IntN(len(words))]
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Evaluate(anns, preds); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "questions/s")
}
