package minidata

import (
	"image"
	"image/jpeg"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/vilt-go/workbook/vqa/internal/testutil"
)

// oracle answers one question family from the scene alone, reading the
// question's words; it reports false when the question is ambiguous for
// the scene (which the generator must never ask).
type oracle struct {
	re     *regexp.Regexp
	answer func(s *Scene, m []string) (string, bool)
}

func shapeNamed(name string) Shape {
	for sh := range numShapes {
		if sh.String() == name {
			return sh
		}
	}
	return -1
}

func colorNamed(name string) Color {
	for c := range numColors {
		if c.String() == name {
			return c
		}
	}
	return -1
}

// the objects of s for which keep is true.
func objectsWhere(s *Scene, keep func(Object) bool) []Object {
	var out []Object
	for _, o := range s.Objects {
		if keep(o) {
			out = append(out, o)
		}
	}
	return out
}

// one returns the single object for which keep is true.
func one(s *Scene, keep func(Object) bool) (Object, bool) {
	objs := objectsWhere(s, keep)
	if len(objs) != 1 {
		return Object{}, false
	}
	return objs[0], true
}

func yn(b bool) (string, bool) {
	if b {
		return "yes", true
	}
	return "no", true
}

// sideOf returns the side of o, which must be at least 10% of the width
// away from the middle.
func sideOf(s *Scene, o Object) (string, bool) {
	d := o.X - float64(s.Width)/2
	switch {
	case d < -0.1*float64(s.Width):
		return "left", true
	case d > 0.1*float64(s.Width):
		return "right", true
	}
	return "", false
}

// extremeBy returns the object with the largest key, which must beat every
// other by 20%.
func extremeBy(s *Scene, key func(Object) float64) (Object, bool) {
	if len(s.Objects) < 2 {
		return Object{}, false
	}
	best := s.Objects[0]
	for _, o := range s.Objects {
		if key(o) > key(best) {
			best = o
		}
	}
	for _, o := range s.Objects {
		if o != best && key(best) < 1.2*key(o) {
			return Object{}, false
		}
	}
	return best, true
}

var oracles = []oracle{
	{regexp.MustCompile(`^Is there a (\w+) (\w+)\?$`), func(s *Scene, m []string) (string, bool) {
		return yn(len(objectsWhere(s, func(o Object) bool { return o.Color == colorNamed(m[1]) && o.Shape == shapeNamed(m[2]) })) > 0)
	}},
	{regexp.MustCompile(`^Are there more (\w+)s than (\w+)s\?$`), func(s *Scene, m []string) (string, bool) {
		a := objectsWhere(s, func(o Object) bool { return o.Shape == shapeNamed(m[1]) })
		b := objectsWhere(s, func(o Object) bool { return o.Shape == shapeNamed(m[2]) })
		return yn(len(a) > len(b))
	}},
	{regexp.MustCompile(`^Is the (\w+) on the left or the right\?$`), func(s *Scene, m []string) (string, bool) {
		o, ok := one(s, func(o Object) bool { return o.Shape == shapeNamed(m[1]) })
		if !ok {
			return "", false
		}
		return sideOf(s, o)
	}},
	{regexp.MustCompile(`^Is the (\w+) (\w+)\?$`), func(s *Scene, m []string) (string, bool) {
		o, ok := one(s, func(o Object) bool { return o.Shape == shapeNamed(m[1]) })
		if !ok {
			return "", false
		}
		return yn(o.Color == colorNamed(m[2]))
	}},
	{regexp.MustCompile(`^Are there any (\w+) shapes\?$`), func(s *Scene, m []string) (string, bool) {
		return yn(len(objectsWhere(s, func(o Object) bool { return o.Color == colorNamed(m[1]) })) > 0)
	}},
	{regexp.MustCompile(`^How many shapes are there\?$`), func(s *Scene, m []string) (string, bool) {
		return strconv.Itoa(len(s.Objects)), true
	}},
	{regexp.MustCompile(`^How many (\w+) shapes are there\?$`), func(s *Scene, m []string) (string, bool) {
		return strconv.Itoa(len(objectsWhere(s, func(o Object) bool { return o.Color == colorNamed(m[1]) }))), true
	}},
	{regexp.MustCompile(`^How many (\w+)s are there\?$`), func(s *Scene, m []string) (string, bool) {
		return strconv.Itoa(len(objectsWhere(s, func(o Object) bool { return o.Shape == shapeNamed(m[1]) }))), true
	}},
	{regexp.MustCompile(`^What color is the (biggest|smallest) shape\?$`), func(s *Scene, m []string) (string, bool) {
		key := Object.Area
		if m[1] == "smallest" {
			key = func(o Object) float64 { return 1 / o.Area() }
		}
		o, ok := extremeBy(s, key)
		return o.Color.String(), ok
	}},
	{regexp.MustCompile(`^What shape is the biggest object\?$`), func(s *Scene, m []string) (string, bool) {
		o, ok := extremeBy(s, Object.Area)
		return o.Shape.String(), ok
	}},
	{regexp.MustCompile(`^What color is the shape on the (left|right)\?$`), func(s *Scene, m []string) (string, bool) {
		o, ok := one(s, func(o Object) bool { side, ok := sideOf(s, o); return ok && side == m[1] })
		return o.Color.String(), ok && len(s.Objects) == 2
	}},
	{regexp.MustCompile(`^What shape is on the (left|right)\?$`), func(s *Scene, m []string) (string, bool) {
		o, ok := one(s, func(o Object) bool { side, ok := sideOf(s, o); return ok && side == m[1] })
		return o.Shape.String(), ok && len(s.Objects) == 2
	}},
	{regexp.MustCompile(`^(?:What color is the|What is the color of the) (\w+)\?$`), func(s *Scene, m []string) (string, bool) {
		o, ok := one(s, func(o Object) bool { return o.Shape == shapeNamed(m[1]) })
		return o.Color.String(), ok
	}},
	{regexp.MustCompile(`^What shape is the (\w+) object\?$`), func(s *Scene, m []string) (string, bool) {
		o, ok := one(s, func(o Object) bool { return o.Color == colorNamed(m[1]) })
		return o.Shape.String(), ok
	}},
	{regexp.MustCompile(`^Which shape is the most common\?$`), func(s *Scene, m []string) (string, bool) {
		counts := make(map[Shape]int)
		for _, o := range s.Objects {
			counts[o.Shape]++
		}
		best, bestN, tie := Shape(-1), 0, false
		for sh, c := range counts {
			switch {
			case c > bestN:
				best, bestN, tie = sh, c, false
			case c == bestN:
				tie = true
			}
		}
		return best.String(), !tie && bestN >= 2
	}},
	{regexp.MustCompile(`^Which is bigger, the (\w+) or the (\w+)\?$`), func(s *Scene, m []string) (string, bool) {
		a, okA := one(s, func(o Object) bool { return o.Shape == shapeNamed(m[1]) })
		b, okB := one(s, func(o Object) bool { return o.Shape == shapeNamed(m[2]) })
		switch {
		case !okA || !okB:
			return "", false
		case a.Area() > 1.2*b.Area():
			return a.Shape.String(), true
		case b.Area() > 1.2*a.Area():
			return b.Shape.String(), true
		}
		return "", false
	}},
}

// TestAnswersMatchScene re-derives every answer of the default dataset
// from the scene and the question's words, and checks that it is the
// annotators' majority answer; it also checks the answer types.
func TestAnswersMatchScene(t *testing.T) {
	splits, err := build(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	families := make(map[*regexp.Regexp]int)
	for _, sp := range splits {
		for _, img := range sp.images {
			for k, q := range img.qas {
				var m []string
				var o oracle
				for _, o = range oracles {
					if m = o.re.FindStringSubmatch(q.text); m != nil {
						break
					}
				}
				if m == nil {
					t.Errorf("%s image %d: no oracle understands %q", sp.name, img.id, q.text)
					continue
				}
				families[o.re]++
				want, ok := o.answer(&img.scene, m)
				if !ok {
					t.Errorf("%s image %d: %q is ambiguous for the scene %+v", sp.name, img.id, q.text, img.scene.Objects)
					continue
				}
				if q.answer != want || mostCommon(img.answers[k]) != want {
					t.Errorf("%s image %d: %q: generator says %q, annotators' majority %q, scene says %q",
						sp.name, img.id, q.text, q.answer, mostCommon(img.answers[k]), want)
				}
				wantType := Other
				if want == "yes" || want == "no" {
					wantType = YesNo
				} else if _, err := strconv.Atoi(want); err == nil {
					wantType = Number
				}
				if got := q.kind.answerType(); got != wantType {
					t.Errorf("%q: answer type %q, want %q", q.text, got, wantType)
				}
			}
		}
	}
	for _, o := range oracles {
		if families[o.re] == 0 {
			t.Errorf("no question matches %s", o.re)
		}
	}
}

// TestPicturesMatchScene reads the committed val2014 pictures and checks
// that each object of the scene is drawn where the scene says, in its
// colour, and that the background holds no object colour.
func TestPicturesMatchScene(t *testing.T) {
	splits, err := build(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(testutil.ModuleRoot(t), "data", "vqav2-mini", Val)
	for _, sp := range splits {
		if sp.name != Val {
			continue
		}
		for _, rec := range sp.images {
			f, err := os.Open(filepath.Join(dir, ImageFileName(Val, rec.id)))
			if err != nil {
				t.Fatal(err)
			}
			img, err := jpeg.Decode(f)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			checkPicture(t, rec, img)
		}
	}
}

// nearest returns the palette colour nearest to the pixel and its distance.
func nearest(img image.Image, x, y int) (Color, float64) {
	r, g, b, _ := img.At(x, y).RGBA()
	px := [3]float64{float64(r >> 8), float64(g >> 8), float64(b >> 8)}
	best, bestD := Color(-1), math.Inf(1)
	for c := range numColors {
		d := 0.0
		for i := range 3 {
			d += (px[i] - rgb[c][i]) * (px[i] - rgb[c][i])
		}
		if d = math.Sqrt(d); d < bestD {
			best, bestD = c, d
		}
	}
	return best, bestD
}

func checkPicture(t *testing.T, rec imageRec, img image.Image) {
	t.Helper()
	s := rec.scene
	if b := img.Bounds(); b.Dx() != s.Width || b.Dy() != s.Height {
		t.Fatalf("image %d: %v, scene is %dx%d", rec.id, b, s.Width, s.Height)
	}
	// Points at half the radius around the centre are inside every shape
	// (the triangle's inradius is 0.75 R, the square's half side 0.85 R).
	for _, o := range s.Objects {
		for k := range 9 {
			x, y := o.X, o.Y
			if k > 0 {
				a := float64(k) * math.Pi / 4
				x, y = x+0.5*o.R*math.Cos(a), y+0.5*o.R*math.Sin(a)
			}
			if c, d := nearest(img, int(x), int(y)); c != o.Color || d > 60 {
				t.Errorf("image %d: %v %v at (%.0f, %.0f): pixel nearest to %v (distance %.0f)", rec.id, o.Color, o.Shape, x, y, c, d)
			}
		}
	}
	// Away from every object, no pixel is close to an object colour.
	for y := 4; y < s.Height; y += 16 {
		for x := 4; x < s.Width; x += 16 {
			near := false
			for _, o := range s.Objects {
				if math.Hypot(float64(x)-o.X, float64(y)-o.Y) < 1.6*o.R+4 {
					near = true
				}
			}
			if c, d := nearest(img, x, y); !near && d < 45 {
				t.Errorf("image %d: background at (%d, %d) looks %v (distance %.0f)", rec.id, x, y, c, d)
			}
		}
	}
}

func TestMostCommon(t *testing.T) {
	as := func(words ...string) []humanAnswer {
		var out []humanAnswer
		for _, w := range words {
			out = append(out, humanAnswer{answer: w, confidence: "yes"})
		}
		return out
	}
	for _, c := range []struct {
		in   []humanAnswer
		want string
	}{
		{as("2", "2", "two"), "2"},
		{as("two", "2", "2"), "2"},
		{as("yes", "no"), ""},
		{as("a", "b", "b", "a"), ""},
		{as("a", "b", "b", "a", "c", "a"), "a"},
	} {
		if got := mostCommon(c.in); got != c.want {
			t.Errorf("mostCommon(%v) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestShrunkPicturesMatchScene generates pictures with a short side of 128
// pixels and checks them like the full-size ones, against the scene scaled
// to the picture's size.
func TestShrunkPicturesMatchScene(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Seed, cfg.TrainQuestions, cfg.ValQuestions, cfg.TrainImages, cfg.ShortSide, cfg.JPEGQuality = 5, 0, 0, 12, 128, 90
	dir := t.TempDir()
	if _, err := Generate(dir, cfg); err != nil {
		t.Fatal(err)
	}
	splits, err := build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(splits) != 1 || splits[0].name != Train || len(splits[0].images) != 12 {
		t.Fatalf("built %d splits: want train2014 alone with 12 pictures", len(splits))
	}
	for _, rec := range splits[0].images {
		f, err := os.Open(filepath.Join(dir, Train, ImageFileName(Train, rec.id)))
		if err != nil {
			t.Fatal(err)
		}
		img, err := jpeg.Decode(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		b := img.Bounds()
		if min(b.Dx(), b.Dy()) != 128 {
			t.Errorf("image %d: %v, want a shorter side of 128", rec.id, b)
		}
		scale := 128 / float64(min(rec.scene.Width, rec.scene.Height))
		s := Scene{Width: b.Dx(), Height: b.Dy()}
		for _, o := range rec.scene.Objects {
			o.X, o.Y, o.R = o.X*scale, o.Y*scale, o.R*scale
			s.Objects = append(s.Objects, o)
		}
		rec.scene = s
		checkPicture(t, rec, img)
	}
}
