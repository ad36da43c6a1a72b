package vqav2

import (
	"fmt"
	"slices"
)

// Example is a question joined with its annotation.
type Example struct {
	Question
	// Annotation holds the question's human answers.
	Annotation Annotation
}

// JoinReport lists the records that [Join] could not pair, by question id,
// in input order.
type JoinReport struct {
	// QuestionsWithoutAnnotation are questions with no annotation (all of
	// them for the test splits, which have no annotations).
	QuestionsWithoutAnnotation []int64
	// AnnotationsWithoutQuestion are annotations with no question.
	AnnotationsWithoutQuestion []int64
}

// Join pairs questions and annotations on question_id (never on list
// position) and returns the pairs in question order. Records without a
// partner are listed in the report and left out. It fails if a question id
// repeats in either list or if a question and its annotation disagree on the
// image id.
func Join(qs []Question, anns []Annotation) ([]Example, JoinReport, error) {
	var rep JoinReport
	byID := make(map[int64]int, len(anns))
	for i, a := range anns {
		if _, dup := byID[a.QuestionID]; dup {
			return nil, rep, fmt.Errorf("joining: annotations[%d].question_id: duplicate question id %d", i, a.QuestionID)
		}
		byID[a.QuestionID] = i
	}
	used := make([]bool, len(anns))
	examples := make([]Example, 0, min(len(qs), len(anns)))
	seen := make(map[int64]struct{}, len(qs))
	for i, q := range qs {
		if _, dup := seen[q.QuestionID]; dup {
			return nil, rep, fmt.Errorf("joining: questions[%d].question_id: duplicate question id %d", i, q.QuestionID)
		}
		seen[q.QuestionID] = struct{}{}
		j, ok := byID[q.QuestionID]
		if !ok {
			rep.QuestionsWithoutAnnotation = append(rep.QuestionsWithoutAnnotation, q.QuestionID)
			continue
		}
		if a := anns[j]; a.ImageID != q.ImageID {
			return nil, rep, fmt.Errorf("joining: question id %d: questions[%d].image_id is %d but annotations[%d].image_id is %d",
				q.QuestionID, i, q.ImageID, j, a.ImageID)
		}
		used[j] = true
		examples = append(examples, Example{Question: q, Annotation: anns[j]})
	}
	for j, a := range anns {
		if !used[j] {
			rep.AnnotationsWithoutQuestion = append(rep.AnnotationsWithoutQuestion, a.QuestionID)
		}
	}
	return slices.Clip(examples), rep, nil
}
