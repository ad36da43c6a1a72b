package minidata

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
)

// CaptionsPerImage is the number of captions written for every picture,
// as in COCO, where most pictures have five.
const CaptionsPerImage = 5

// WordKind classifies the content words of captions and questions, e.g. to
// score masked-word predictions per kind.
type WordKind int

// The word kinds. OtherWord covers function words ("a", "the", "of") and
// generic nouns ("shape", "picture").
const (
	OtherWord WordKind = iota
	ColorWord
	ShapeWord
	NumberWord
	PositionWord
	SizeWord
)

var wordKindNames = []string{"other", "color", "shape", "number", "position", "size"}

// ParseWordKind returns the kind named name (as [WordKind.String] names it)
// and whether there is one.
func ParseWordKind(name string) (WordKind, bool) {
	for k, n := range wordKindNames {
		if n == name {
			return WordKind(k), true
		}
	}
	return OtherWord, false
}

// String returns the kind's name: "other", "color", "shape", "number",
// "position" or "size".
func (k WordKind) String() string {
	if k < 0 || int(k) >= len(wordKindNames) {
		return fmt.Sprintf("WordKind(%d)", int(k))
	}
	return wordKindNames[k]
}

// numberWords[n] is the word for count n in captions.
var numberWords = []string{"zero", "one", "two", "three", "four", "five"}

// positionWords and sizeWords are the position and size words of captions.
var (
	positionWords = []string{"left", "right", "above", "below", "top", "bottom"}
	sizeWords     = []string{"biggest", "largest", "smallest", "bigger"}
)

// wordKinds maps every colour, shape, number, position and size word of
// the generated captions and questions to its kind.
var wordKinds = func() map[string]WordKind {
	m := map[string]WordKind{"single": NumberWord}
	for c := range numColors {
		m[c.String()] = ColorWord
	}
	for sh := range numShapes {
		m[sh.String()], m[sh.Plural()] = ShapeWord, ShapeWord
	}
	for _, w := range numberWords {
		m[w] = NumberWord
	}
	for _, w := range positionWords {
		m[w] = PositionWord
	}
	for _, w := range sizeWords {
		m[w] = SizeWord
	}
	return m
}()

// KindOf returns the kind of a word of the captions' vocabulary, matched
// case-insensitively; any other word is an OtherWord.
func KindOf(word string) WordKind {
	return wordKinds[strings.ToLower(word)]
}

// captionMargin is how far apart (as a fraction of the picture's width or
// height) two objects' centres must be for "left of"/"above" to be clear,
// and how far from the middle an object must be for "at the top"; it is
// the margin of the left/right questions.
const captionMargin = sideMargin

// captionFamily draws one caption about s, or reports false when the scene
// does not allow one of its kind.
type captionFamily struct {
	weight int
	say    func(s *Scene, r *rand.Rand) (string, bool)
}

// captionFamilies are the caption templates with their weights.
var captionFamilies = []captionFamily{
	{4, sayInventory},
	{2, sayShapeCounts},
	{2, sayColorCounts},
	{1, sayTotal},
	{2, sayGroupCount},
	{8, sayRelation},
	{5, saySide},
	{2, sayAttribute},
	{6, saySize},
}

// pick returns one of words at random.
func pick(r *rand.Rand, words ...string) string { return words[r.IntN(len(words))] }

// countWord returns how a caption says count n before a noun: "a" or
// "one" for one, else the number word.
func countWord(n int, r *rand.Rand) string {
	if n == 1 && r.IntN(3) > 0 {
		return "a"
	}
	return numberWords[n]
}

// plural returns noun with an "s" unless n is 1.
func plural(n int, noun string) string {
	if n == 1 {
		return noun
	}
	return noun + "s"
}

// list joins phrases as "a, b and c".
func list(phrases []string) string {
	if len(phrases) == 1 {
		return phrases[0]
	}
	return strings.Join(phrases[:len(phrases)-1], ", ") + " and " + phrases[len(phrases)-1]
}

// framed puts a complete description of the scene (every object) into one
// of the frames that say so: "a picture of", "an image with", "a scene
// with". Captions without such a frame speak of some objects only.
func framed(desc string, r *rand.Rand) string {
	return pick(r, "a picture of ", "an image with ", "a scene with ") + desc
}

// counted describes groups of objects as "two red circles, a blue square"
// phrases in random order; key names a group and counts its objects.
func counted[K comparable](s *Scene, key func(Object) K, noun func(K) string, r *rand.Rand) []string {
	counts := make(map[K]int)
	var order []K
	for _, o := range s.Objects {
		k := key(o)
		if counts[k] == 0 {
			order = append(order, k)
		}
		counts[k]++
	}
	r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	phrases := make([]string, len(order))
	for i, k := range order {
		n := counts[k]
		phrases[i] = countWord(n, r) + " " + plural(n, noun(k))
	}
	return phrases
}

// sayInventory: "a red circle, two blue squares and a gray triangle" (every
// object, grouped by colour and shape).
func sayInventory(s *Scene, r *rand.Rand) (string, bool) {
	type group struct {
		c  Color
		sh Shape
	}
	if len(s.Objects) == 1 && r.IntN(2) == 0 {
		o := s.Objects[0]
		return "a single " + o.Color.String() + " " + o.Shape.String(), true
	}
	phrases := counted(s, func(o Object) group { return group{o.Color, o.Shape} },
		func(g group) string { return g.c.String() + " " + g.sh.String() }, r)
	return framed(list(phrases), r), true
}

// sayShapeCounts: "two circles and a triangle" (every object, by shape).
func sayShapeCounts(s *Scene, r *rand.Rand) (string, bool) {
	phrases := counted(s, func(o Object) Shape { return o.Shape }, Shape.String, r)
	return framed(list(phrases), r), true
}

// sayColorCounts: "two red shapes and a green shape" (every object, by
// colour).
func sayColorCounts(s *Scene, r *rand.Rand) (string, bool) {
	phrases := counted(s, func(o Object) Color { return o.Color },
		func(c Color) string { return c.String() + " shape" }, r)
	return framed(list(phrases), r), true
}

// sayTotal: "four shapes", "a single shape".
func sayTotal(s *Scene, r *rand.Rand) (string, bool) {
	n := len(s.Objects)
	if n == 1 {
		return pick(r, "a single shape", "one shape", "there is one shape", "a picture of one shape"), true
	}
	w := numberWords[n]
	return pick(r, w+" shapes", "there are "+w+" shapes", "a picture of "+w+" shapes", "a scene with "+w+" shapes"), true
}

// sayGroupCount: "two blue circles" (all the objects of one colour and
// shape; the others are not mentioned).
func sayGroupCount(s *Scene, r *rand.Rand) (string, bool) {
	o := randomObject(s, r)
	n := 0
	for _, p := range s.Objects {
		if p.Color == o.Color && p.Shape == o.Shape {
			n++
		}
	}
	desc := numberWords[n] + " " + o.Color.String() + " " + plural(n, o.Shape.String())
	if r.IntN(2) == 0 {
		return desc, true
	}
	if n == 1 {
		return "there is " + desc, true
	}
	return "there are " + desc, true
}

// unique reports whether o is the only object of its colour and shape.
func (s *Scene) unique(o Object) bool {
	n := 0
	for _, p := range s.Objects {
		if p.Color == o.Color && p.Shape == o.Shape {
			n++
		}
	}
	return n == 1
}

// name returns "red circle".
func (o Object) name() string { return o.Color.String() + " " + o.Shape.String() }

// sayRelation: "a red triangle to the right of a yellow square", "a blue
// circle above a gray square" (two objects, each the only one of its
// colour and shape, clearly apart in that direction).
func sayRelation(s *Scene, r *rand.Rand) (string, bool) {
	if len(s.Objects) < 2 {
		return "", false
	}
	a, b := randomObject(s, r), randomObject(s, r)
	if a == b || !s.unique(a) || !s.unique(b) {
		return "", false
	}
	dx, dy := b.X-a.X, b.Y-a.Y
	mx, my := float64(captionMargin*float64(s.Width)), float64(captionMargin*float64(s.Height))
	var rel []string
	switch {
	case dx > mx: // a is left of b
		rel = append(rel, pick(r, "to the left of", "left of"))
	case dx < -mx:
		rel = append(rel, pick(r, "to the right of", "right of"))
	}
	switch {
	case dy > my: // a is above b (y points down)
		rel = append(rel, "above")
	case dy < -my:
		rel = append(rel, "below")
	}
	if len(rel) == 0 {
		return "", false
	}
	return "a " + a.name() + " " + pick(r, rel...) + " a " + b.name(), true
}

// saySide: "a green square on the left", "the red circle is at the top"
// (the only object of its colour and shape, clearly on that side).
func saySide(s *Scene, r *rand.Rand) (string, bool) {
	o := randomObject(s, r)
	if !s.unique(o) {
		return "", false
	}
	var where []string
	if side, ok := s.side(o); ok {
		where = append(where, "on the "+side, "on the "+side+" side")
	}
	mid, m := float64(s.Height)/2, float64(captionMargin*float64(s.Height))
	switch {
	case o.Y < mid-m:
		where = append(where, "at the top")
	case o.Y > mid+m:
		where = append(where, "at the bottom")
	}
	if len(where) == 0 {
		return "", false
	}
	w := pick(r, where...)
	if r.IntN(2) == 0 {
		return "the " + o.name() + " is " + w, true
	}
	return "a " + o.name() + " " + w, true
}

// sayAttribute: "the triangle is yellow" (the only triangle), "the yellow
// shape is a square" (the only yellow object).
func sayAttribute(s *Scene, r *rand.Rand) (string, bool) {
	o := randomObject(s, r)
	if r.IntN(2) == 0 {
		if s.countShape(o.Shape) != 1 {
			return "", false
		}
		return pick(r, "the ", "the only ") + o.Shape.String() + " is " + o.Color.String(), true
	}
	if s.countColor(o.Color) != 1 {
		return "", false
	}
	return "the " + o.Color.String() + " shape is a " + o.Shape.String(), true
}

// saySize: "the biggest shape is a red circle", "the smallest shape is
// gray" (an object clearly bigger or smaller than every other).
func saySize(s *Scene, r *rand.Rand) (string, bool) {
	word, o, ok := pick(r, "biggest", "largest"), Object{}, false
	if r.IntN(2) == 0 {
		word = "smallest"
		o, ok = s.smallest()
	} else {
		o, ok = s.biggest()
	}
	if !ok {
		return "", false
	}
	switch r.IntN(3) {
	case 0:
		return "the " + word + " shape is " + o.Color.String(), true
	case 1:
		return "the " + word + " shape is a " + o.Shape.String(), true
	}
	return "the " + word + " shape is a " + o.name(), true
}

// capitalize upper-cases the first letter, as COCO captions are written.
func capitalize(s string) string { return strings.ToUpper(s[:1]) + s[1:] }

// describe draws CaptionsPerImage distinct captions of s: a family by its
// weight, then a caption of that family.
func describe(s *Scene, r *rand.Rand) ([]string, error) {
	weights := make([]int, len(captionFamilies))
	for i, f := range captionFamilies {
		weights[i] = f.weight
	}
	var out []string
	for range 1000 {
		if len(out) == CaptionsPerImage {
			return out, nil
		}
		c, ok := captionFamilies[pickWeighted(r, weights)].say(s, r)
		if ok && !slices.Contains(out, capitalize(c)) {
			out = append(out, capitalize(c))
		}
	}
	return nil, fmt.Errorf("minidata: found only %d distinct captions for a scene of %d objects, want %d", len(out), len(s.Objects), CaptionsPerImage)
}
