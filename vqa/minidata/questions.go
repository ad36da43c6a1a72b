package minidata

import (
	"math/rand/v2"
	"slices"
	"strconv"
)

// The VQAv2 answer types.
const (
	YesNo  = "yes/no"
	Number = "number"
	Other  = "other"
)

// answerKind says which kind of word an answer is; the simulated
// annotators use it to pick synonyms and plausible wrong answers.
type answerKind int

const (
	kindYesNo answerKind = iota
	kindCount
	kindColor
	kindShape
	kindSide
	kindItems // the inventory question's: "<color> <shape>" items
)

// answerType returns the VQAv2 answer_type of answers of kind k.
func (k answerKind) answerType() string {
	switch k {
	case kindYesNo:
		return YesNo
	case kindCount:
		return Number
	default:
		return Other
	}
}

// qa is one generated question with the scene's true answer.
type qa struct {
	text string
	// qtype is the question_type: the longest entry of the official
	// mscoco_question_types.txt list that starts the question.
	qtype  string
	kind   answerKind
	answer string
}

// family generates one question of a kind about s, or reports false when
// the scene does not allow an unambiguous question of that kind.
type family struct {
	kind   answerKind
	weight int
	ask    func(s *Scene, r *rand.Rand) (qa, bool)
}

// families are the question templates, with their answer kind and their
// weight within their answer type.
var families = []family{
	{kindYesNo, 10, askIsThereA},
	{kindYesNo, 5, askMoreThan},
	{kindYesNo, 5, askIsTheShapeColor},
	{kindYesNo, 5, askAnyColor},
	{kindCount, 10, askHowManyShape},
	{kindCount, 6, askHowManyColor},
	{kindCount, 5, askHowManyShapes},
	{kindColor, 10, askColorOfShape},
	{kindColor, 5, askColorOfShapeLong},
	{kindShape, 8, askShapeOfColor},
	{kindSide, 6, askLeftOrRight},
	{kindShape, 5, askShapeOnSide},
	{kindColor, 5, askColorOfBiggest},
	{kindShape, 4, askShapeOfBiggest},
	{kindColor, 4, askColorOfSmallest},
	{kindColor, 4, askColorOnSide},
	{kindShape, 4, askMostCommonShape},
	{kindShape, 4, askWhichBigger},
}

// answerTypeWeights aim at VQAv2's mix (38% yes/no, 12% number, 50%
// other) with more counting, which the shapes make easy to learn. Scenes
// with one or two objects allow few distinct "other" questions, so the
// realised share of "other" is lower.
var answerTypeWeights = map[string]int{YesNo: 30, Number: 25, Other: 45}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// otherColor returns a colour different from c, preferring colours that
// occur in the scene so that "no" answers need a look at the picture.
func otherColor(s *Scene, c Color, r *rand.Rand) Color {
	var present []Color
	for _, o := range s.Objects {
		if o.Color != c {
			present = append(present, o.Color)
		}
	}
	if len(present) > 0 && r.IntN(2) == 0 {
		return present[r.IntN(len(present))]
	}
	return Color((int(c) + 1 + r.IntN(int(numColors)-1)) % int(numColors))
}

func randomObject(s *Scene, r *rand.Rand) Object { return s.Objects[r.IntN(len(s.Objects))] }

// askIsThereA: "Is there a red circle?" Half the questions are about an
// object in the scene; negatives usually share the colour or the shape
// of an object, so the answer needs both.
func askIsThereA(s *Scene, r *rand.Rand) (qa, bool) {
	c, sh := Color(r.IntN(int(numColors))), Shape(r.IntN(int(numShapes)))
	switch o := randomObject(s, r); r.IntN(4) {
	case 0, 1:
		c, sh = o.Color, o.Shape
	case 2:
		c = o.Color
	default:
		sh = o.Shape
	}
	return qa{"Is there a " + c.String() + " " + sh.String() + "?", "is there a", kindYesNo, yesNo(s.has(c, sh))}, true
}

// askMoreThan: "Are there more squares than circles?"
func askMoreThan(s *Scene, r *rand.Rand) (qa, bool) {
	a := Shape(r.IntN(int(numShapes)))
	b := Shape((int(a) + 1 + r.IntN(int(numShapes)-1)) % int(numShapes))
	ans := yesNo(s.countShape(a) > s.countShape(b))
	return qa{"Are there more " + a.Plural() + " than " + b.Plural() + "?", "are there", kindYesNo, ans}, true
}

// askIsTheShapeColor: "Is the square blue?" (only one square in the scene).
func askIsTheShapeColor(s *Scene, r *rand.Rand) (qa, bool) {
	o, ok := s.onlyShape(Shape(r.IntN(int(numShapes))))
	if !ok {
		return qa{}, false
	}
	c := o.Color
	if r.IntN(2) == 0 {
		c = otherColor(s, c, r)
	}
	return qa{"Is the " + o.Shape.String() + " " + c.String() + "?", "is the", kindYesNo, yesNo(c == o.Color)}, true
}

// askAnyColor: "Are there any green shapes?"
func askAnyColor(s *Scene, r *rand.Rand) (qa, bool) {
	c := Color(r.IntN(int(numColors)))
	if r.IntN(2) == 0 {
		c = randomObject(s, r).Color
	}
	return qa{"Are there any " + c.String() + " shapes?", "are there any", kindYesNo, yesNo(s.countColor(c) > 0)}, true
}

// askHowManyShape: "How many triangles are there?" (mostly shapes that
// are present; sometimes the answer is 0).
func askHowManyShape(s *Scene, r *rand.Rand) (qa, bool) {
	sh := Shape(r.IntN(int(numShapes)))
	if r.IntN(6) != 0 {
		sh = randomObject(s, r).Shape
	}
	return qa{"How many " + sh.Plural() + " are there?", "how many", kindCount, strconv.Itoa(s.countShape(sh))}, true
}

// askHowManyColor: "How many blue shapes are there?"
func askHowManyColor(s *Scene, r *rand.Rand) (qa, bool) {
	c := Color(r.IntN(int(numColors)))
	if r.IntN(6) != 0 {
		c = randomObject(s, r).Color
	}
	return qa{"How many " + c.String() + " shapes are there?", "how many", kindCount, strconv.Itoa(s.countColor(c))}, true
}

// askHowManyShapes: "How many shapes are there?"
func askHowManyShapes(s *Scene, _ *rand.Rand) (qa, bool) {
	return qa{"How many shapes are there?", "how many", kindCount, strconv.Itoa(len(s.Objects))}, true
}

// askColorOfShape: "What color is the triangle?" (only one triangle).
func askColorOfShape(s *Scene, r *rand.Rand) (qa, bool) {
	o, ok := s.onlyShape(randomObject(s, r).Shape)
	if !ok {
		return qa{}, false
	}
	return qa{"What color is the " + o.Shape.String() + "?", "what color is the", kindColor, o.Color.String()}, true
}

// askColorOfShapeLong: "What is the color of the triangle?" (only one
// triangle), the other common phrasing.
func askColorOfShapeLong(s *Scene, r *rand.Rand) (qa, bool) {
	o, ok := s.onlyShape(randomObject(s, r).Shape)
	if !ok {
		return qa{}, false
	}
	return qa{"What is the color of the " + o.Shape.String() + "?", "what is the color of the", kindColor, o.Color.String()}, true
}

// askShapeOfColor: "What shape is the green object?" (only one green object).
func askShapeOfColor(s *Scene, r *rand.Rand) (qa, bool) {
	o, ok := s.onlyColor(randomObject(s, r).Color)
	if !ok {
		return qa{}, false
	}
	return qa{"What shape is the " + o.Color.String() + " object?", "what", kindShape, o.Shape.String()}, true
}

// sideMargin is how far from the vertical centre line (as a fraction of
// the width) an object's centre must be for "left"/"right" to be clear.
const sideMargin = 0.15

// side returns "left" or "right" for an object clearly on one side.
func (s *Scene) side(o Object) (string, bool) {
	mid, m := float64(float64(s.Width)/2), float64(sideMargin*float64(s.Width))
	switch {
	case o.X < mid-m:
		return "left", true
	case o.X > mid+m:
		return "right", true
	}
	return "", false
}

// askLeftOrRight: "Is the circle on the left or the right?"
func askLeftOrRight(s *Scene, r *rand.Rand) (qa, bool) {
	o, ok := s.onlyShape(randomObject(s, r).Shape)
	if !ok {
		return qa{}, false
	}
	side, ok := s.side(o)
	if !ok {
		return qa{}, false
	}
	return qa{"Is the " + o.Shape.String() + " on the left or the right?", "is the", kindSide, side}, true
}

// onSide returns, for a scene of two objects clearly on opposite sides,
// one of them (at random) and its side.
func (s *Scene) onSide(r *rand.Rand) (Object, string, bool) {
	if len(s.Objects) != 2 {
		return Object{}, "", false
	}
	a, b := s.Objects[0], s.Objects[1]
	sa, okA := s.side(a)
	sb, okB := s.side(b)
	if !okA || !okB || sa == sb {
		return Object{}, "", false
	}
	if r.IntN(2) == 0 {
		return b, sb, true
	}
	return a, sa, true
}

// askShapeOnSide: "What shape is on the left?" (two objects, one clearly
// on each side).
func askShapeOnSide(s *Scene, r *rand.Rand) (qa, bool) {
	o, side, ok := s.onSide(r)
	if !ok {
		return qa{}, false
	}
	return qa{"What shape is on the " + side + "?", "what", kindShape, o.Shape.String()}, true
}

// askColorOnSide: "What color is the shape on the right?" (two objects,
// one clearly on each side).
func askColorOnSide(s *Scene, r *rand.Rand) (qa, bool) {
	o, side, ok := s.onSide(r)
	if !ok {
		return qa{}, false
	}
	return qa{"What color is the shape on the " + side + "?", "what color is the", kindColor, o.Color.String()}, true
}

// bigRatio is how much larger (by area) an object must be than the others
// for "biggest"/"bigger" to be clear.
const bigRatio = 1.5

// biggest returns the object whose area is at least bigRatio times every
// other object's area.
func (s *Scene) biggest() (Object, bool) {
	return s.extreme(func(a, b Object) bool { return a.Area() > float64(b.Area()*bigRatio) })
}

// smallest returns the object whose area is at most 1/bigRatio times
// every other object's area.
func (s *Scene) smallest() (Object, bool) {
	return s.extreme(func(a, b Object) bool { return float64(a.Area()*bigRatio) < b.Area() })
}

// extreme returns the object o with beats(o, p) for every other object p,
// in scenes of at least two objects.
func (s *Scene) extreme(beats func(a, b Object) bool) (Object, bool) {
	if len(s.Objects) < 2 {
		return Object{}, false
	}
	for i, o := range s.Objects {
		all := true
		for j, p := range s.Objects {
			if i != j && !beats(o, p) {
				all = false
				break
			}
		}
		if all {
			return o, true
		}
	}
	return Object{}, false
}

// askColorOfBiggest: "What color is the biggest shape?"
func askColorOfBiggest(s *Scene, _ *rand.Rand) (qa, bool) {
	o, ok := s.biggest()
	if !ok {
		return qa{}, false
	}
	return qa{"What color is the biggest shape?", "what color is the", kindColor, o.Color.String()}, true
}

// askShapeOfBiggest: "What shape is the biggest object?"
func askShapeOfBiggest(s *Scene, _ *rand.Rand) (qa, bool) {
	o, ok := s.biggest()
	if !ok {
		return qa{}, false
	}
	return qa{"What shape is the biggest object?", "what", kindShape, o.Shape.String()}, true
}

// askColorOfSmallest: "What color is the smallest shape?"
func askColorOfSmallest(s *Scene, _ *rand.Rand) (qa, bool) {
	o, ok := s.smallest()
	if !ok {
		return qa{}, false
	}
	return qa{"What color is the smallest shape?", "what color is the", kindColor, o.Color.String()}, true
}

// askMostCommonShape: "Which shape is the most common?" (one shape occurs
// at least twice and more often than each other shape).
func askMostCommonShape(s *Scene, _ *rand.Rand) (qa, bool) {
	best, second := Circle, -1
	for sh := range numShapes {
		if s.countShape(sh) > s.countShape(best) {
			best = sh
		}
	}
	for sh := range numShapes {
		if sh != best {
			second = max(second, s.countShape(sh))
		}
	}
	if s.countShape(best) < 2 || s.countShape(best) <= second {
		return qa{}, false
	}
	return qa{"Which shape is the most common?", "which", kindShape, best.String()}, true
}

// askWhichBigger: "Which is bigger, the circle or the square?" (one of
// each, clearly different in size).
func askWhichBigger(s *Scene, r *rand.Rand) (qa, bool) {
	a, ok := s.onlyShape(randomObject(s, r).Shape)
	if !ok {
		return qa{}, false
	}
	b, ok := s.onlyShape(Shape((int(a.Shape) + 1 + r.IntN(int(numShapes)-1)) % int(numShapes)))
	if !ok {
		return qa{}, false
	}
	var ans Shape
	switch {
	case a.Area() > float64(b.Area()*bigRatio):
		ans = a.Shape
	case b.Area() > float64(a.Area()*bigRatio):
		ans = b.Shape
	default:
		return qa{}, false
	}
	if r.IntN(2) == 0 {
		a, b = b, a
	}
	return qa{"Which is bigger, the " + a.Shape.String() + " or the " + b.Shape.String() + "?", "which", kindShape, ans.String()}, true
}

// InventoryQuestion is the question of [Config.Inventory], whose question
// type is "what is in the" (an entry of the official list) and answer type
// "other". Its annotators answer with the picture's items, "<color>
// <shape>" ("red triangle"), every item by some of the ten: a multi-label
// classification of the whole picture, scored like any VQA question
// (min(1, n/3): with up to three items each scores 1, with four or five
// items some score 2/3 or 1/3). It stands in for the image classification
// (ViT on ImageNet) that ViLT's weights start from.
const InventoryQuestion = "What is in the picture?"

// inventory returns the inventory question of s and its ten answers: the
// distinct items in an order drawn by r, the first one given by most
// annotators (it is the multiple-choice answer), the others as evenly as
// ten answers allow.
func inventory(s *Scene, r *rand.Rand) (qa, []humanAnswer) {
	var items []string
	for _, o := range s.Objects {
		if it := o.Color.String() + " " + o.Shape.String(); !slices.Contains(items, it) {
			items = append(items, it)
		}
	}
	slices.Sort(items)
	r.Shuffle(len(items), func(i, j int) { items[i], items[j] = items[j], items[i] })
	k := len(items)
	votes := make([]int, k)
	for i := range votes {
		votes[i] = numAnnotators / k
	}
	votes[0] += numAnnotators % k
	if k > 1 && votes[0] == votes[1] {
		votes[0]++
		votes[k-1]--
	}
	var as []humanAnswer
	for i, it := range items {
		for range votes[i] {
			as = append(as, humanAnswer{it, "yes"})
		}
	}
	return qa{InventoryQuestion, "what is in the", kindItems, items[0]}, as
}

// askQuestions draws up to n distinct questions about s: an answer type by
// answerTypeWeights, then a family of that type by its weight.
func askQuestions(s *Scene, n int, r *rand.Rand) []qa {
	types := []string{YesNo, Number, Other}
	typeWeights := make([]int, len(types))
	byType := make([][]family, len(types))
	famWeights := make([][]int, len(types))
	for i, t := range types {
		typeWeights[i] = answerTypeWeights[t]
		for _, f := range families {
			if f.kind.answerType() == t {
				byType[i] = append(byType[i], f)
				famWeights[i] = append(famWeights[i], f.weight)
			}
		}
	}
	var out []qa
	seen := make(map[string]bool)
	for len(out) < n && slices.ContainsFunc(typeWeights, func(w int) bool { return w > 0 }) {
		t := pickWeighted(r, typeWeights)
		found := false
		for range 30 {
			q, ok := byType[t][pickWeighted(r, famWeights[t])].ask(s, r)
			if ok && !seen[q.text] {
				seen[q.text] = true
				out = append(out, q)
				found = true
				break
			}
		}
		if !found {
			typeWeights[t] = 0 // no new question of this type for this scene
		}
	}
	return out
}
