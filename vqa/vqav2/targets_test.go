package vqav2_test

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/vilt-go/workbook/vqa/internal/testutil"
	"github.com/vilt-go/workbook/vqa/vqav2"
)

func TestScore(t *testing.T) {
	for _, tc := range []struct {
		s    vqav2.Scoring
		want []float32 // counts 0..5
	}{
		{vqav2.ScoreTutorial, []float32{0, 1.0 / 3, 2.0 / 3, 1, 1, 1}},
		{vqav2.ScoreVQA, []float32{0, 0.3, 0.6, 0.9, 1, 1}},
	} {
		for count, want := range tc.want {
			if got := tc.s.Score(count); got != want {
				t.Errorf("%v.Score(%d) = %v, want %v", tc.s, count, got, want)
			}
		}
	}
	for _, name := range []string{"tutorial", "vqa"} {
		if s, err := vqav2.ParseScoring(name); err != nil || s.String() != name {
			t.Errorf("ParseScoring(%q) = %v, %v", name, s, err)
		}
	}
	if _, err := vqav2.ParseScoring("soft"); err == nil {
		t.Error("ParseScoring(soft): want an error")
	}
}

// TestTargetsSample is the walk-through's figure 12 for question 262148000:
// labels [267 "down", 2063 "at table", 11 "skateboard", 81 "table"] with
// scores [1, 1/3, 1/3, 1/3] against the real 3129-label config.
func TestTargetsSample(t *testing.T) {
	anns, err := vqav2.ReadAnnotations(sampleFile(t))
	if err != nil {
		t.Fatal(err)
	}
	m, err := vqav2.ReadLabelMap(filepath.Join(testutil.ModuleRoot(t), "data", "vilt-b32-finetuned-vqa", "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		s      vqav2.Scoring
		scores []float32
	}{
		{vqav2.ScoreTutorial, []float32{1, 1.0 / 3, 1.0 / 3, 1.0 / 3}},
		{vqav2.ScoreVQA, []float32{1, 0.3, 0.3, 0.3}},
	} {
		labels, scores, unknown := vqav2.Targets(anns[0].Answers, m.Label2ID, tc.s)
		if !slices.Equal(labels, []int{267, 2063, 11, 81}) || !slices.Equal(scores, tc.scores) || unknown != 0 {
			t.Errorf("%v: Targets = %v %v %d, want [267 2063 11 81] %v 0", tc.s, labels, scores, unknown, tc.scores)
		}
	}
}

// TestTargetsUnknown: answers outside the vocabulary are dropped and counted;
// raw strings are matched without normalization.
func TestTargetsUnknown(t *testing.T) {
	label2id := map[string]int{"yes": 0, "no": 1, "2": 2}
	var answers []vqav2.Answer
	for i, a := range []string{"yes", "Yes", "two", "2", "yes", "no", "maybe", "yes", "2", "yes"} {
		answers = append(answers, vqav2.Answer{Answer: a, Confidence: "yes", ID: i + 1})
	}
	labels, scores, unknown := vqav2.Targets(answers, label2id, vqav2.ScoreVQA)
	if !slices.Equal(labels, []int{0, 2, 1}) || !slices.Equal(scores, []float32{1, 0.6, 0.3}) || unknown != 3 {
		t.Errorf("Targets = %v %v %d, want [0 2 1] [1 0.6 0.3] 3", labels, scores, unknown)
	}
	labels, scores, unknown = vqav2.Targets(answers[1:3], label2id, vqav2.ScoreTutorial)
	if len(labels) != 0 || len(scores) != 0 || unknown != 2 {
		t.Errorf("all unknown: Targets = %v %v %d, want empty and 2", labels, scores, unknown)
	}
}
