package vqav2_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/vilt-go/workbook/vqa/vqav2"
)

// TestJoinByID: annotations in another order than the questions still meet
// their own question; unpaired records are reported.
func TestJoinByID(t *testing.T) {
	qs := []vqav2.Question{
		{ImageID: 1, QuestionID: 1000, Question: "A?"},
		{ImageID: 1, QuestionID: 1001, Question: "B?"},
		{ImageID: 2, QuestionID: 2000, Question: "C?"},
		{ImageID: 3, QuestionID: 3000, Question: "D?"},
	}
	anns := []vqav2.Annotation{
		{QuestionID: 4000, ImageID: 4, MultipleChoiceAnswer: "none"},
		{QuestionID: 2000, ImageID: 2, MultipleChoiceAnswer: "c"},
		{QuestionID: 1001, ImageID: 1, MultipleChoiceAnswer: "b"},
		{QuestionID: 1000, ImageID: 1, MultipleChoiceAnswer: "a"},
	}
	ex, rep, err := vqav2.Join(qs, anns)
	if err != nil {
		t.Fatal(err)
	}
	if len(ex) != 3 {
		t.Fatalf("%d examples, want 3", len(ex))
	}
	for i, want := range []string{"a", "b", "c"} {
		if ex[i].Question != qs[i] || ex[i].Annotation.QuestionID != qs[i].QuestionID || ex[i].Annotation.MultipleChoiceAnswer != want {
			t.Errorf("example %d = %+v, want question %+v with answer %q", i, ex[i], qs[i], want)
		}
	}
	if !slices.Equal(rep.QuestionsWithoutAnnotation, []int64{3000}) || !slices.Equal(rep.AnnotationsWithoutQuestion, []int64{4000}) {
		t.Errorf("report %+v, want questions [3000] and annotations [4000] unpaired", rep)
	}
}

func TestJoinErrors(t *testing.T) {
	q := vqav2.Question{ImageID: 1, QuestionID: 1000}
	a := vqav2.Annotation{QuestionID: 1000, ImageID: 1}
	for _, tc := range []struct {
		name string
		qs   []vqav2.Question
		anns []vqav2.Annotation
		want string
	}{
		{"duplicate question", []vqav2.Question{q, q}, []vqav2.Annotation{a}, "questions[1].question_id: duplicate question id 1000"},
		{"duplicate annotation", []vqav2.Question{q}, []vqav2.Annotation{a, a}, "annotations[1].question_id: duplicate question id 1000"},
		{"image mismatch", []vqav2.Question{q}, []vqav2.Annotation{{QuestionID: 1000, ImageID: 2}}, "questions[0].image_id is 1 but annotations[0].image_id is 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := vqav2.Join(tc.qs, tc.anns); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}
