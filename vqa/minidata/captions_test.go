package minidata

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/vilt-go/workbook/vqa/internal/testutil"
)

// The caption oracle below reads a caption's words, independently of the
// generator's templates, and says whether the caption is true of a scene.
// Its margins are looser than the generator's (10% where the generator
// asks 15%, sizes 1.2x where it asks 1.5x), so a true caption is never
// borderline.

// slot checks that a caption uses word as a word of its kind.
func slot(kind WordKind, word string) error {
	if KindOf(word) != kind {
		return fmt.Errorf("word %q: KindOf says %v, the caption uses it as a %v word", word, KindOf(word), kind)
	}
	return nil
}

var (
	relationRe  = regexp.MustCompile(`^a (\w+) (\w+) (to the left of|left of|to the right of|right of|above|below) a (\w+) (\w+)$`)
	sideRe      = regexp.MustCompile(`^(?:the (\w+) (\w+) is|a (\w+) (\w+)) (on the (left|right)(?: side)?|at the (top|bottom))$`)
	shapeIsRe   = regexp.MustCompile(`^the (?:only )?(\w+) is (\w+)$`)
	colorIsRe   = regexp.MustCompile(`^the (\w+) shape is a (\w+)$`)
	sizeRe      = regexp.MustCompile(`^the (biggest|largest|smallest) shape is (?:a (?:(\w+) )?(\w+)|(\w+))$`)
	phraseRe    = regexp.MustCompile(`^(a single|a|one|two|three|four|five) (?:(\w+) )?(\w+)$`)
	completeRe  = regexp.MustCompile(`^(?:a picture of|an image with|a scene with) (.+)$`)
	thereIsRe   = regexp.MustCompile(`^there (is|are) (.+)$`)
	countValues = map[string]int{"a": 1, "a single": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
)

// holds says whether caption is true of s; it fails on a caption it
// cannot read or whose words have the wrong kind.
func holds(s *Scene, caption string) (bool, error) {
	if caption == "" || strings.ToUpper(caption[:1]) != caption[:1] {
		return false, fmt.Errorf("want a capitalised caption")
	}
	c := strings.ToLower(caption)
	if m := relationRe.FindStringSubmatch(c); m != nil {
		return relationHolds(s, m)
	}
	if m := sideRe.FindStringSubmatch(c); m != nil {
		col, sh := m[1]+m[3], m[2]+m[4]
		o, ok, err := uniqueNamed(s, col, sh)
		if err != nil || !ok {
			return false, err
		}
		if m[6] != "" {
			side, ok := sideOf(s, o)
			return ok && side == m[6], slot(PositionWord, m[6])
		}
		d := o.Y - float64(s.Height)/2
		return m[7] == "top" && d < -0.1*float64(s.Height) || m[7] == "bottom" && d > 0.1*float64(s.Height), slot(PositionWord, m[7])
	}
	if m := sizeRe.FindStringSubmatch(c); m != nil {
		return sizeHolds(s, m)
	}
	if m := colorIsRe.FindStringSubmatch(c); m != nil {
		if err := firstErr(slot(ColorWord, m[1]), slot(ShapeWord, m[2])); err != nil {
			return false, err
		}
		o, ok := one(s, func(o Object) bool { return o.Color == colorNamed(m[1]) })
		return ok && o.Shape == shapeNamed(m[2]), nil
	}
	if m := shapeIsRe.FindStringSubmatch(c); m != nil {
		if err := firstErr(slot(ShapeWord, m[1]), slot(ColorWord, m[2])); err != nil {
			return false, err
		}
		o, ok := one(s, func(o Object) bool { return o.Shape == shapeNamed(m[1]) })
		return ok && o.Color == colorNamed(m[2]), nil
	}
	complete := false
	if m := completeRe.FindStringSubmatch(c); m != nil {
		c, complete = m[1], true
	} else if m := thereIsRe.FindStringSubmatch(c); m != nil {
		c = m[2]
	}
	return countsHold(s, c, complete)
}

// firstErr returns the first non-nil error.
func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// uniqueNamed returns the only object of the named colour and shape.
func uniqueNamed(s *Scene, color, shape string) (Object, bool, error) {
	if err := firstErr(slot(ColorWord, color), slot(ShapeWord, shape)); err != nil {
		return Object{}, false, err
	}
	o, ok := one(s, func(o Object) bool { return o.Color == colorNamed(color) && o.Shape == shapeNamed(shape) })
	return o, ok, nil
}

// relationHolds: "a red triangle to the right of a yellow square".
func relationHolds(s *Scene, m []string) (bool, error) {
	a, okA, err := uniqueNamed(s, m[1], m[2])
	if err != nil {
		return false, err
	}
	b, okB, err := uniqueNamed(s, m[4], m[5])
	if err != nil || !okA || !okB {
		return false, err
	}
	rel := strings.Fields(m[3])
	word := rel[len(rel)-1]
	if word == "of" {
		word = rel[len(rel)-2]
	}
	if err := slot(PositionWord, word); err != nil {
		return false, err
	}
	mx, my := 0.1*float64(s.Width), 0.1*float64(s.Height)
	switch word {
	case "left":
		return b.X-a.X > mx, nil
	case "right":
		return a.X-b.X > mx, nil
	case "above":
		return b.Y-a.Y > my, nil
	}
	return a.Y-b.Y > my, nil
}

// sizeHolds: "the biggest shape is a red circle", "the smallest shape is gray".
func sizeHolds(s *Scene, m []string) (bool, error) {
	if err := slot(SizeWord, m[1]); err != nil {
		return false, err
	}
	key := Object.Area
	if m[1] == "smallest" {
		key = func(o Object) float64 { return 1 / o.Area() }
	}
	o, ok := extremeBy(s, key)
	switch {
	case m[4] != "": // "is gray"
		return ok && o.Color == colorNamed(m[4]), slot(ColorWord, m[4])
	case m[2] != "": // "is a red circle"
		return ok && o.Color == colorNamed(m[2]) && o.Shape == shapeNamed(m[3]), firstErr(slot(ColorWord, m[2]), slot(ShapeWord, m[3]))
	}
	return ok && o.Shape == shapeNamed(m[3]), slot(ShapeWord, m[3])
}

// countsHold: "two red circles, a blue square and a gray shape": each
// phrase counts the objects of its colour and/or shape exactly; complete
// captions ("a picture of ...") also account for every object.
func countsHold(s *Scene, c string, complete bool) (bool, error) {
	var phrases []string
	for _, p := range strings.Split(c, ", ") {
		phrases = append(phrases, strings.Split(p, " and ")...)
	}
	total := 0
	ok := true
	for _, p := range phrases {
		m := phraseRe.FindStringSubmatch(p)
		if m == nil {
			return false, fmt.Errorf("cannot read %q", p)
		}
		n, color, noun := countValues[m[1]], m[2], m[3]
		if err := slot(NumberWord, strings.TrimPrefix(m[1], "a ")); m[1] != "a" && err != nil {
			return false, err
		}
		if (n == 1) == strings.HasSuffix(noun, "s") {
			return false, fmt.Errorf("%q: number and noun disagree", p)
		}
		noun = strings.TrimSuffix(noun, "s")
		keep := func(Object) bool { return true }
		if color != "" {
			if err := slot(ColorWord, color); err != nil {
				return false, err
			}
			keep = func(o Object) bool { return o.Color == colorNamed(color) }
		}
		if noun != "shape" {
			if err := slot(ShapeWord, noun); err != nil {
				return false, err
			}
			k := keep
			keep = func(o Object) bool { return k(o) && o.Shape == shapeNamed(noun) }
		}
		got := len(objectsWhere(s, keep))
		ok = ok && got == n
		total += n
	}
	return ok && (!complete || total == len(s.Objects)), nil
}

// functionWords are the caption words that have no kind.
var functionWords = []string{"a", "an", "the", "of", "with", "is", "are", "there", "and", "to", "on", "at",
	"side", "only", "picture", "image", "scene", "shape", "shapes"}

// TestCaptionsMatchScene checks every caption of the default dataset with
// the oracle, that each picture has CaptionsPerImage distinct captions, and
// that every word is a known kind or a function word.
func TestCaptionsMatchScene(t *testing.T) {
	splits, err := build(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	kinds := make(map[WordKind]int)
	for _, sp := range splits {
		for _, img := range sp.images {
			if len(img.captions) != CaptionsPerImage || len(slices.Compact(slices.Sorted(slices.Values(img.captions)))) != CaptionsPerImage {
				t.Errorf("%s image %d: captions %q: want %d distinct", sp.name, img.id, img.captions, CaptionsPerImage)
			}
			for _, c := range img.captions {
				ok, err := holds(&img.scene, c)
				if err != nil || !ok {
					t.Errorf("%s image %d: %q is not true of the scene %+v (%v)", sp.name, img.id, c, img.scene.Objects, err)
				}
				for _, w := range strings.Fields(strings.ReplaceAll(c, ",", "")) {
					k := KindOf(w)
					kinds[k]++
					if k == OtherWord && !slices.Contains(functionWords, strings.ToLower(w)) {
						t.Errorf("%q: word %q has no kind and is not a function word", c, w)
					}
				}
			}
		}
	}
	for k := OtherWord; k <= SizeWord; k++ {
		if kinds[k] == 0 {
			t.Errorf("no caption word of kind %v", k)
		}
	}
	t.Logf("caption words per kind: %v", kinds)
}

// swaps are word substitutions that turn a true caption false whenever
// they apply: opposite positions.
var swaps = map[string]string{"left": "right", "right": "left", "above": "below", "below": "above", "top": "bottom", "bottom": "top"}

// TestCaptionOracleDetectsFalse makes the oracle's verdicts count: swapped
// positions and changed counts must always be found false; another colour
// or shape, and captions of another scene, nearly always.
func TestCaptionOracleDetectsFalse(t *testing.T) {
	splits, err := build(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	var (
		mustFail, swapped            int
		substituted, substitutedTrue int
		foreign, foreignTrue         int
	)
	for _, sp := range splits {
		for i, img := range sp.images {
			for _, c := range img.captions {
				words := strings.Fields(c)
				for j, w := range words {
					variants, always := mutations(w)
					for _, v := range variants {
						mutated := slices.Clone(words)
						mutated[j] = v
						if j == 0 {
							mutated[j] = capitalize(v)
						}
						caption := strings.Join(mutated, " ")
						ok, err := holds(&img.scene, caption)
						switch {
						case err != nil:
							continue // e.g. "a two" reads as nothing
						case always:
							mustFail++
							if ok {
								swapped++
								t.Errorf("%s image %d: %q is true but its mutation %q is true too", sp.name, img.id, c, caption)
							}
						default:
							substituted++
							if ok {
								substitutedTrue++
							}
						}
					}
				}
				other := sp.images[(i+1)%len(sp.images)]
				if ok, err := holds(&other.scene, c); err == nil {
					foreign++
					if ok {
						foreignTrue++
					}
				}
			}
		}
	}
	t.Logf("always-false mutations: %d (%d wrongly true); colour/shape substitutions: %d, %.1f%% still true; captions of the next scene: %d, %.1f%% true",
		mustFail, swapped, substituted, 100*float64(substitutedTrue)/float64(substituted), foreign, 100*float64(foreignTrue)/float64(foreign))
	if mustFail < 1000 || substituted < 1000 || foreign < 1000 {
		t.Fatalf("too few checks: %d, %d, %d", mustFail, substituted, foreign)
	}
	if f := float64(substitutedTrue) / float64(substituted); f > 0.15 {
		t.Errorf("%.1f%% of the captions with another colour or shape are still true: want at most 15%%", 100*f)
	}
	if f := float64(foreignTrue) / float64(foreign); f > 0.25 {
		t.Errorf("%.1f%% of the captions are true of the next scene: want at most 25%%", 100*f)
	}
}

// mutations returns the replacements of word w: its opposite position, or
// other counts (always false), or other colours or shapes (usually false).
func mutations(w string) (variants []string, always bool) {
	lower := strings.ToLower(w)
	if o, ok := swaps[lower]; ok {
		return []string{o}, true
	}
	var out []string
	switch KindOf(lower) {
	case NumberWord:
		for _, n := range numberWords[2:] {
			if n != lower {
				out = append(out, n)
			}
		}
		return out, true
	case ColorWord:
		for c := range numColors {
			if c.String() != lower {
				out = append(out, c.String())
			}
		}
	case ShapeWord:
		for sh := range numShapes {
			if name := sh.String(); name != lower && name+"s" != lower {
				out = append(out, name+strings.Repeat("s", len(lower)-len(strings.TrimSuffix(lower, "s"))))
			}
		}
	}
	return out, false
}

// TestKindOf checks the kinds of the scene vocabulary and that they are
// case-insensitive.
func TestKindOf(t *testing.T) {
	for c := range numColors {
		if k := KindOf(strings.ToUpper(c.String())); k != ColorWord {
			t.Errorf("KindOf(%q) = %v", c, k)
		}
	}
	for sh := range numShapes {
		for _, w := range []string{sh.String(), sh.Plural()} {
			if k := KindOf(w); k != ShapeWord {
				t.Errorf("KindOf(%q) = %v", w, k)
			}
		}
	}
	for n := 1; n <= 5; n++ {
		if k := KindOf(numberWords[n]); k != NumberWord {
			t.Errorf("KindOf(%q) = %v", numberWords[n], k)
		}
	}
	for w := range swaps {
		if k := KindOf(w); k != PositionWord {
			t.Errorf("KindOf(%q) = %v", w, k)
		}
	}
	for _, w := range functionWords {
		if k := KindOf(w); k != OtherWord {
			t.Errorf("KindOf(%q) = %v, want other", w, k)
		}
	}
	if got := WordKind(99).String(); !strings.Contains(got, "99") {
		t.Errorf("WordKind(99).String() = %q", got)
	}
}

// TestKindWordsAreWholeTokens checks that every word with a kind is one
// token of the BERT vocabulary the processor uses, so that masked-word
// accuracy per kind can be read off single tokens.
func TestKindWordsAreWholeTokens(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(testutil.ModuleRoot(t), "data", "vilt-b32-finetuned-vqa", "vocab.txt"))
	if err != nil {
		t.Fatal(err)
	}
	vocab := make(map[string]bool)
	for _, line := range strings.Split(string(data), "\n") {
		vocab[line] = true
	}
	for w := range wordKinds {
		if !vocab[w] {
			t.Errorf("%q (a %v word) is not one token of the vocabulary", w, KindOf(w))
		}
	}
}
