package augment

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/vilt-go/workbook/vqa/imageproc"
)

// disc is a filled circle of the test pictures; the fills are minidata's
// red, green, blue and yellow, four well-separated hues.
type disc struct {
	x, y, r float64
	fill    [3]uint8
}

var fills = [][3]uint8{{205, 35, 35}, {35, 155, 55}, {40, 75, 205}, {240, 200, 20}}

// picture draws discs on a light, muted, noisy background like minidata's.
func picture(w, h int, discs []disc, seed uint64) imageproc.RGB {
	r := rand.New(rand.NewPCG(seed, 1))
	img := imageproc.NewRGB(w, h)
	for y := range h {
		for x := range w {
			i := 3 * (y*w + x)
			g := r.IntN(13) - 6
			base := [3]int{200 + x*20/w, 195, 185 + y*20/h}
			for c := range 3 {
				img.Pix[i+c] = uint8(base[c] + g)
			}
			for _, d := range discs {
				if math.Hypot(float64(x)+0.5-d.x, float64(y)+0.5-d.y) <= d.r {
					for c := range 3 {
						img.Pix[i+c] = uint8(min(255, max(0, int(d.fill[c])+g)))
					}
				}
			}
		}
	}
	return img
}

// scenes are test pictures with discs at the margins that matter: 15% of
// the width from the middle, near the top and bottom, one 15% of the width
// left of another but far above it; portrait and wide landscape.
func scenes() []struct {
	w, h  int
	discs []disc
} {
	return []struct {
		w, h  int
		discs []disc
	}{
		{160, 240, []disc{{56, 34, 14, fills[0]}, {104, 206, 14, fills[1]}, {130, 40, 14, fills[2]}, {30, 200, 14, fills[3]}}},
		{256, 144, []disc{{89, 24, 12, fills[0]}, {167, 120, 12, fills[1]}, {30, 114, 12, fills[2]}, {226, 30, 12, fills[3]}}},
	}
}

// hsv returns the hue (degrees), saturation and value of a pixel.
func hsv(p []uint8) (hue, sat, val float64) {
	r, g, b := float64(p[0]), float64(p[1]), float64(p[2])
	hi, lo := max(r, g, b), min(r, g, b)
	if hi == 0 {
		return 0, 0, 0
	}
	sat, val = (hi-lo)/hi, hi/255
	if hi == lo {
		return 0, sat, val
	}
	switch hi {
	case r:
		hue = 60 * math.Mod((g-b)/(hi-lo)+6, 6)
	case g:
		hue = 60 * ((b-r)/(hi-lo) + 2)
	default:
		hue = 60 * ((r-g)/(hi-lo) + 4)
	}
	return hue, sat, val
}

// coloured reports whether a pixel has a clear hue.
func coloured(p []uint8) bool {
	_, s, v := hsv(p)
	return s > 0.4 && v > 0.15
}

// hueHistogram returns the share of the clearly coloured pixels in each
// 15-degree hue bin.
func hueHistogram(img imageproc.RGB) [24]float64 {
	var hist [24]float64
	n := 0.0
	for i := 0; i < len(img.Pix); i += 3 {
		if p := img.Pix[i : i+3]; coloured(p) {
			h, _, _ := hsv(p)
			hist[int(h/15)%24]++
			n++
		}
	}
	for i := range hist {
		hist[i] /= max(n, 1)
	}
	return hist
}

// hueDistance is the L1 distance between the hue histograms of a and b
// (0: the same mix of hues, 2: no hue in common).
func hueDistance(a, b imageproc.RGB) float64 {
	ha, hb := hueHistogram(a), hueHistogram(b)
	d := 0.0
	for i := range ha {
		d += math.Abs(ha[i] - hb[i])
	}
	return d
}

// maxHueDistance is how far the hue mix may move: edge pixels blend two
// colours, which shifts a few percent of the coloured pixels.
const maxHueDistance = 0.1

func TestNewRejects(t *testing.T) {
	for _, c := range []struct{ n, m int }{{-1, 9}, {len(ops) + 1, 9}, {2, -1}, {2, MaxM + 1}} {
		if _, err := New(c.n, c.m); err == nil {
			t.Errorf("New(%d, %d): no error", c.n, c.m)
		}
	}
	a, err := New(DefaultN, DefaultM)
	if err != nil || a.String() != "RandAugment(N=2, M=9)" {
		t.Errorf("New(2, 9) = %v, %v", a, err)
	}
}

// TestApplyDeterministic: the same random state gives the same picture,
// the input is left alone, other states give other pictures, and N=0 or
// M=0 with no shift changes nothing.
func TestApplyDeterministic(t *testing.T) {
	sc := scenes()[0]
	img := picture(sc.w, sc.h, sc.discs, 1)
	orig := bytes.Clone(img.Pix)
	a, err := New(DefaultN, DefaultM)
	if err != nil {
		t.Fatal(err)
	}
	distinct := make(map[string]bool)
	for seed := range uint64(12) {
		x := a.Apply(rand.New(rand.NewPCG(seed, 0)), img)
		y := a.Apply(rand.New(rand.NewPCG(seed, 0)), img)
		if !bytes.Equal(x.Pix, y.Pix) || x.Width != img.Width || x.Height != img.Height {
			t.Fatalf("seed %d: two applications differ, or the size changed to %dx%d", seed, x.Width, x.Height)
		}
		if bytes.Equal(x.Pix, img.Pix) {
			t.Errorf("seed %d: the picture is unchanged", seed)
		}
		distinct[string(x.Pix)] = true
	}
	if !bytes.Equal(img.Pix, orig) {
		t.Fatal("Apply modified its input")
	}
	if len(distinct) < 6 {
		t.Errorf("12 seeds gave %d distinct pictures", len(distinct))
	}
	none, _ := New(0, DefaultM)
	if x := none.Apply(rand.New(rand.NewPCG(1, 0)), img); !bytes.Equal(x.Pix, img.Pix) {
		t.Error("N=0 changed the picture")
	}
}

// TestHuesKept checks that each operation, at M=9 and at the largest
// magnitude, and RandAugment itself keep the mix of hues; and that the
// measure notices a colour change (inverting, or stretching the channels
// apart as PIL's AutoContrast does), so that it can fail.
func TestHuesKept(t *testing.T) {
	for _, sc := range scenes() {
		img := picture(sc.w, sc.h, sc.discs, 2)
		for _, o := range ops {
			for _, m := range []int{DefaultM, MaxM} {
				for seed := range uint64(2) {
					out := o.apply(img, float64(m)/MaxM, rand.New(rand.NewPCG(seed, 0)))
					if d := hueDistance(img, out); d > maxHueDistance {
						t.Errorf("%dx%d: %s at M=%d: hue histograms %.3f apart, want <= %.2f", sc.w, sc.h, o.name, m, d, maxHueDistance)
					}
				}
			}
		}
		a, _ := New(DefaultN, DefaultM)
		for seed := range uint64(20) {
			if d := hueDistance(img, a.Apply(rand.New(rand.NewPCG(seed, 0)), img)); d > maxHueDistance {
				t.Errorf("%dx%d: RandAugment seed %d: hue histograms %.3f apart", sc.w, sc.h, seed, d)
			}
		}
		inverted := imageproc.RGB{Pix: bytes.Clone(img.Pix), Width: img.Width, Height: img.Height}
		stretched := imageproc.RGB{Pix: bytes.Clone(img.Pix), Width: img.Width, Height: img.Height}
		for i := range inverted.Pix {
			inverted.Pix[i] = 255 - img.Pix[i]
			if i%3 == 1 { // green channel stretched from [35, 205] to [0, 255]
				stretched.Pix[i] = round8((float64(img.Pix[i]) - 35) * 255 / 170)
			}
		}
		for name, x := range map[string]imageproc.RGB{"inverted": inverted, "stretched": stretched} {
			if d := hueDistance(img, x); d < 4*maxHueDistance {
				t.Errorf("%dx%d: the %s picture is only %.3f from the original: the measure misses colour changes", sc.w, sc.h, name, d)
			}
		}
	}
}

// blob is where a disc's hue shows in a picture.
type blob struct {
	n                      int
	cx, cy                 float64
	minX, maxX, minY, maxY int
}

// blobs finds each disc of sc in img by its hue (nearest fill hue within
// 20 degrees among the clearly coloured pixels).
func blobs(img imageproc.RGB, discs []disc) []blob {
	hues := make([]float64, len(discs))
	for k, d := range discs {
		hues[k], _, _ = hsv(d.fill[:])
	}
	out := make([]blob, len(discs))
	for k := range out {
		out[k] = blob{minX: img.Width, minY: img.Height, maxX: -1, maxY: -1}
	}
	for y := range img.Height {
		for x := range img.Width {
			p := img.Pix[3*(y*img.Width+x) : 3*(y*img.Width+x)+3]
			if !coloured(p) {
				continue
			}
			h, _, _ := hsv(p)
			for k, dh := range hues {
				if d := math.Abs(h - dh); min(d, 360-d) < 20 {
					b := &out[k]
					b.n++
					b.cx += float64(x) + 0.5
					b.cy += float64(y) + 0.5
					b.minX, b.maxX = min(b.minX, x), max(b.maxX, x)
					b.minY, b.maxY = min(b.minY, y), max(b.maxY, y)
				}
			}
		}
	}
	for k := range out {
		if out[k].n > 0 {
			out[k].cx /= float64(out[k].n)
			out[k].cy /= float64(out[k].n)
		}
	}
	return out
}

// TestShapesStayWhole checks RandAugment (many draws at M=9) and every
// shift at the largest magnitude, alone and composed: each disc is still
// there, whole (most of its area, none of it touching the frame), not
// doubled, on the same side of the middle, and in the same left/right and
// above/below order with every other disc.
func TestShapesStayWhole(t *testing.T) {
	a, _ := New(DefaultN, DefaultM)
	for _, sc := range scenes() {
		img := picture(sc.w, sc.h, sc.discs, 3)
		before := blobs(img, sc.discs)
		check := func(what string, out imageproc.RGB, minArea float64) {
			t.Helper()
			after := blobs(out, sc.discs)
			for k, b := range after {
				o := before[k]
				switch {
				case float64(b.n) < minArea*float64(o.n) || float64(b.n) > 1.1*float64(o.n):
					t.Errorf("%dx%d %s: disc %d has %d pixels of its hue, had %d", sc.w, sc.h, what, k, b.n, o.n)
				case b.minX < 1 || b.minY < 1 || b.maxX > out.Width-2 || b.maxY > out.Height-2:
					t.Errorf("%dx%d %s: disc %d reaches the frame (%d..%d, %d..%d)", sc.w, sc.h, what, k, b.minX, b.maxX, b.minY, b.maxY)
				case (b.cx < float64(sc.w)/2) != (o.cx < float64(sc.w)/2), (b.cy < float64(sc.h)/2) != (o.cy < float64(sc.h)/2):
					t.Errorf("%dx%d %s: disc %d moved from (%.1f, %.1f) to (%.1f, %.1f), across a middle line", sc.w, sc.h, what, k, o.cx, o.cy, b.cx, b.cy)
				}
				for j, c := range after {
					if (b.cx < c.cx) != (o.cx < before[j].cx) || (b.cy < c.cy) != (o.cy < before[j].cy) {
						t.Errorf("%dx%d %s: discs %d and %d changed their order", sc.w, sc.h, what, k, j)
					}
				}
			}
		}
		for seed := range uint64(30) {
			check("RandAugment", a.Apply(rand.New(rand.NewPCG(seed, 7)), img), 0.6)
		}
		for _, s := range [][2]float64{{maxShift, 0}, {-maxShift, 0}, {0, maxShift}, {0, -maxShift}} {
			check("shift", translate(img, s[0], s[1]), 0.5)
			check("two shifts", translate(translate(img, s[0], 0), 0, s[0]), 0.3)
		}
	}
}

// BenchmarkApply measures RandAugment (N=2, M=9) on a 640x480 picture.
func BenchmarkApply(b *testing.B) {
	sc := scenes()[1]
	img := picture(640, 480, sc.discs, 1)
	a, _ := New(DefaultN, DefaultM)
	r := rand.New(rand.NewPCG(1, 2))
	for b.Loop() {
		a.Apply(r, img)
	}
}
