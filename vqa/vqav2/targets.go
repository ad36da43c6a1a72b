package vqav2

import "fmt"

// Scoring selects how the number of annotators who gave an answer becomes
// that answer's soft target score.
type Scoring int

const (
	// ScoreTutorial scores min(1, count/3), as the HuggingFace walk-through
	// does (1 -> 1/3, 2 -> 2/3, 3 or more -> 1). It is the default.
	ScoreTutorial Scoring = iota
	// ScoreVQA scores 1 -> 0.3, 2 -> 0.6, 3 -> 0.9, 4 or more -> 1.0, as the
	// original ViLT does; it equals the official VQA accuracy of the answer.
	ScoreVQA
)

// String returns "tutorial" or "vqa".
func (s Scoring) String() string {
	switch s {
	case ScoreTutorial:
		return "tutorial"
	case ScoreVQA:
		return "vqa"
	}
	return fmt.Sprintf("Scoring(%d)", int(s))
}

// ParseScoring returns the Scoring named "tutorial" or "vqa".
func ParseScoring(name string) (Scoring, error) {
	switch name {
	case "tutorial":
		return ScoreTutorial, nil
	case "vqa":
		return ScoreVQA, nil
	}
	return 0, fmt.Errorf("scoring %q: want \"tutorial\" or \"vqa\"", name)
}

// Score returns the target score of an answer given by count annotators.
func (s Scoring) Score(count int) float32 {
	if count <= 0 {
		return 0
	}
	if s == ScoreVQA {
		return [...]float32{0.3, 0.6, 0.9, 1}[min(count, 4)-1]
	}
	return float32(min(1, float64(count)/3))
}

// Targets turns the human answers of one question into a sparse soft target,
// as figures 10-12 of the walk-through do: it counts the raw answer strings
// (no normalization), keeps the answers found in label2id and scores each by
// its count. labels and scores are parallel, in order of first appearance
// among the answers.
//
// Unknown answers (not in label2id) are dropped; unknown counts the
// annotator answers dropped that way. A question whose answers are all
// unknown gets empty labels and scores: an all-zero target, which the
// walk-through keeps and ViLT drops from training.
func Targets(answers []Answer, label2id map[string]int, s Scoring) (labels []int, scores []float32, unknown int) {
	counts := make(map[string]int, len(answers))
	var order []string
	for _, a := range answers {
		if _, ok := label2id[a.Answer]; !ok {
			unknown++
			continue
		}
		if counts[a.Answer] == 0 {
			order = append(order, a.Answer)
		}
		counts[a.Answer]++
	}
	labels = make([]int, len(order))
	scores = make([]float32, len(order))
	for i, a := range order {
		labels[i] = label2id[a]
		scores[i] = s.Score(counts[a])
	}
	return labels, scores, unknown
}
