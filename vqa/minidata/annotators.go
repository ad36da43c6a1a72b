package minidata

import (
	"fmt"
	"math/rand/v2"
	"strconv"
)

// numAnnotators is the number of human answers per VQAv2 question.
const numAnnotators = 10

// humanAnswer is one simulated annotator's answer.
type humanAnswer struct {
	answer, confidence string
}

// synonyms are other ways annotators write an answer; the first one is
// the most common (e.g. "grey" for "gray", "two" for "2").
var synonyms = map[string][]string{
	"yes": {"yeah", "yep"}, "no": {"nope"},
	"0": {"none", "zero"}, "1": {"one"}, "2": {"two"}, "3": {"three"}, "4": {"four"}, "5": {"five"},
	"red": {"dark red", "maroon"}, "green": {"dark green", "lime"}, "blue": {"dark blue", "navy"},
	"yellow": {"gold", "orange"}, "gray": {"grey", "silver"},
	"circle": {"round", "oval", "circular"}, "square": {"rectangle", "box"}, "triangle": {"triangular", "pyramid"},
	"left": {"on left", "left side"}, "right": {"on right", "right side"},
}

// wrongAnswer returns a plausible wrong answer for a question whose true
// answer is ans: a flipped yes/no, a count off by one, another colour
// (preferably one in the scene), another shape, the other side.
func wrongAnswer(k answerKind, ans string, s *Scene, r *rand.Rand) string {
	switch k {
	case kindYesNo:
		if ans == "yes" {
			return "no"
		}
		return "yes"
	case kindCount:
		n, _ := strconv.Atoi(ans)
		if n == 0 || r.IntN(2) == 0 {
			return strconv.Itoa(n + 1)
		}
		return strconv.Itoa(n - 1)
	case kindColor:
		for c := range numColors {
			if c.String() == ans {
				return otherColor(s, c, r).String()
			}
		}
	case kindShape:
		for sh := range numShapes {
			if sh.String() == ans {
				return Shape((int(sh) + 1 + r.IntN(int(numShapes)-1)) % int(numShapes)).String()
			}
		}
	case kindSide:
		if ans == "left" {
			return "right"
		}
		return "left"
	}
	return ans
}

// minTypoLen is the shortest answer that annotators misspell (shorter
// words too easily turn into other real words).
const minTypoLen = 5

// typo misspells w by swapping, dropping or doubling one letter; words
// shorter than minTypoLen are returned unchanged.
func typo(w string, r *rand.Rand) string {
	if len(w) < minTypoLen {
		return w
	}
	b := []byte(w)
	i := 1 + r.IntN(len(b)-2)
	switch r.IntN(3) {
	case 0:
		b[i], b[i+1] = b[i+1], b[i]
	case 1:
		b = append(b[:i], b[i+1:]...)
	default:
		b = append(b[:i+1], b[i:]...)
	}
	return string(b)
}

// confidence draws an annotator's answer_confidence: mostly "yes" when the
// answer is the true one, more often "maybe" or "no" otherwise.
func confidence(correct bool, r *rand.Rand) string {
	x := r.IntN(100)
	switch {
	case correct && x < 90, !correct && x < 50:
		return "yes"
	case correct && x < 98, !correct && x < 85:
		return "maybe"
	}
	return "no"
}

// annotate simulates the 10 annotators of a question. Each question gets
// an error rate; an erring annotator writes a synonym, a typo or a wrong
// answer. The true answer is always strictly the most common one (drawn
// again otherwise), so it is the multiple_choice_answer.
func annotate(q qa, s *Scene, r *rand.Rand) ([]humanAnswer, error) {
	// Most questions are easy, a few are hard: the error rate is 2% to 60%,
	// skewed towards the low end.
	u := r.Float64()
	errRate := 0.02 + float64(0.58*float64(float64(u*u)*u))
	if q.kind == kindCount {
		errRate += 0.05
	}
	for range 100 {
		out := make([]humanAnswer, numAnnotators)
		for i := range out {
			a := q.answer
			if r.Float64() < errRate {
				a = noisy(q, s, r)
			}
			out[i] = humanAnswer{a, confidence(a == q.answer, r)}
		}
		if mostCommon(out) == q.answer {
			return out, nil
		}
	}
	return nil, fmt.Errorf("minidata: question %q: no annotator draw had %q as the clear majority", q.text, q.answer)
}

// noisy returns one erring annotator's answer.
func noisy(q qa, s *Scene, r *rand.Rand) string {
	x := r.IntN(100)
	syn := synonyms[q.answer]
	switch {
	case x < 40 && len(syn) > 0:
		if r.IntN(10) < 6 {
			return syn[0]
		}
		return syn[r.IntN(len(syn))]
	case x < 55 && len(q.answer) >= minTypoLen:
		return typo(q.answer, r)
	}
	return wrongAnswer(q.kind, q.answer, s, r)
}

// mostCommon returns the answer given most often, or "" on a tie for the
// first place.
func mostCommon(as []humanAnswer) string {
	count := make(map[string]int, len(as))
	best, bestN, tie := "", 0, false
	for _, a := range as {
		count[a.answer]++
		switch n := count[a.answer]; {
		case n > bestN:
			best, bestN, tie = a.answer, n, false
		case n == bestN && a.answer != best:
			tie = true
		}
	}
	if tie {
		return ""
	}
	return best
}
