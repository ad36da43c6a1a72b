// Package augment is the image augmentation of ViLT's fine-tuning,
// RandAugment (Cubuk et al. 2019) as dandelin's ViLT applies it: each
// image gets N operations drawn at random from a list, all at the same
// magnitude M in [0, 30] (ViLT: N=2, M=9), an operation's strength being
// M/30 of the way from its minimum to its maximum.
//
// The list keeps only the operations of dandelin's list that cannot change
// the answer to a question or the truth of a caption of the workbook's
// synthetic data (package minidata), which ask for colours, count shapes,
// and say left, right, above and below:
//
//   - Brightness and Contrast (factor 0.1 to 1.9; 0.64 at M=9): every
//     pixel's channels are scaled together about black (brightness) or
//     about the mean grey (contrast), which keeps its hue; where PIL would
//     clip a channel at 255 (factors above 1), the pixel is scaled less, so
//     that its hue stays too.
//   - Sharpness (factor 0.1 to 1.9): PIL's blend with the 3x3 smoothed
//     image; it changes edges only.
//   - TranslateX and TranslateY (0 to 10% of the side, either direction):
//     the picture is shrunk about its centre just enough for the shift to
//     keep all of it inside the frame (the border turns black). The map is
//     increasing along both axes, so every "left of" and "above" between
//     two shapes is kept, nothing leaves the frame, and a shape 15% of the
//     width from the middle (the margin of the left/right questions) stays
//     on its side at any magnitude.
//
// Left out, and why:
//
//   - horizontal flip (not in RandAugment either): swaps left and right;
//   - Invert, Solarize, SolarizeAdd, Posterize, Color (saturation),
//     AutoContrast and Equalize: they change colours (PIL stretches and
//     equalises each channel on its own, which shifts hues), and questions
//     ask for colours;
//   - Cutout (also left out by ViLT): it can hide a shape, and questions
//     count shapes;
//   - Rotate, ShearX and ShearY: they turn the line between two shapes, so
//     at M=9 (9 degrees, shear 0.09) a shape that is 15% of the width left
//     of another but far above it in a portrait picture ends up right of it;
//     dandelin's TranslateXabs/YAbs, which crop the shifted picture, are
//     replaced by the shifts above, which keep every shape whole.
//
// Operations are drawn without replacement (dandelin draws with
// replacement): two shifts along the same axis could otherwise add up past
// the side margin. Everything is deterministic given the random source.
package augment

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/vilt-go/workbook/vqa/imageproc"
)

// The RandAugment setting of ViLT's fine-tuning.
const (
	DefaultN = 2
	DefaultM = 9
	// MaxM is the largest magnitude, as in RandAugment.
	MaxM = 30
)

// op is one operation; level is M/MaxM, r draws its direction.
type op struct {
	name  string
	apply func(img imageproc.RGB, level float64, r *rand.Rand) imageproc.RGB
}

// ops are the operations RandAugment draws from (see the package comment).
var ops = []op{
	{"Brightness", func(img imageproc.RGB, level float64, _ *rand.Rand) imageproc.RGB {
		return brightness(img, enhanceFactor(level))
	}},
	{"Contrast", func(img imageproc.RGB, level float64, _ *rand.Rand) imageproc.RGB {
		return contrast(img, enhanceFactor(level))
	}},
	{"Sharpness", func(img imageproc.RGB, level float64, _ *rand.Rand) imageproc.RGB {
		return sharpness(img, enhanceFactor(level))
	}},
	{"TranslateX", func(img imageproc.RGB, level float64, r *rand.Rand) imageproc.RGB {
		return translate(img, signed(level*maxShift, r), 0)
	}},
	{"TranslateY", func(img imageproc.RGB, level float64, r *rand.Rand) imageproc.RGB {
		return translate(img, 0, signed(level*maxShift, r))
	}},
}

// maxShift is the largest shift, as a fraction of the side.
const maxShift = 0.1

// enhanceFactor maps a level to the factor of PIL's ImageEnhance
// operations, 0.1 to 1.9, as RandAugment does.
func enhanceFactor(level float64) float64 { return 0.1 + 1.8*level }

// signed returns v or -v with equal chances.
func signed(v float64, r *rand.Rand) float64 {
	if r.IntN(2) == 0 {
		return -v
	}
	return v
}

// RandAugment applies N random operations at magnitude M.
type RandAugment struct {
	n, m int
}

// New returns RandAugment with n operations per image at magnitude m:
// 0 <= n <= the number of operations (5), 0 <= m <= MaxM.
func New(n, m int) (*RandAugment, error) {
	switch {
	case n < 0 || n > len(ops):
		return nil, fmt.Errorf("augment: %d operations per image: want 0..%d", n, len(ops))
	case m < 0 || m > MaxM:
		return nil, fmt.Errorf("augment: magnitude %d: want 0..%d", m, MaxM)
	}
	return &RandAugment{n: n, m: m}, nil
}

// String describes the setting, e.g. "RandAugment(N=2, M=9)".
func (a *RandAugment) String() string { return fmt.Sprintf("RandAugment(N=%d, M=%d)", a.n, a.m) }

// Apply returns an augmented copy of img: n distinct operations drawn with
// r, applied in the order drawn. img is not modified; the result has its
// size. The same r state gives the same result.
func (a *RandAugment) Apply(r *rand.Rand, img imageproc.RGB) imageproc.RGB {
	out := imageproc.RGB{Pix: append([]uint8(nil), img.Pix...), Width: img.Width, Height: img.Height}
	level := float64(a.m) / MaxM
	for _, i := range r.Perm(len(ops))[:a.n] {
		out = ops[i].apply(out, level, r)
	}
	return out
}

// brightness scales every pixel by f, less where a channel would pass 255.
func brightness(img imageproc.RGB, f float64) imageproc.RGB {
	out := imageproc.NewRGB(img.Width, img.Height)
	for i := 0; i < len(img.Pix); i += 3 {
		p := img.Pix[i : i+3 : i+3]
		t := f
		if hi := max(p[0], p[1], p[2]); float64(hi)*t > 255 {
			t = 255 / float64(hi)
		}
		for c := range 3 {
			out.Pix[i+c] = round8(float64(p[c]) * t)
		}
	}
	return out
}

// contrast moves every pixel towards (f < 1) or away from (f > 1) the
// image's mean grey by f, as PIL's ImageEnhance.Contrast, but with the
// factor of a pixel lowered where a channel would leave [0, 255].
func contrast(img imageproc.RGB, f float64) imageproc.RGB {
	var sum float64
	for i := 0; i < len(img.Pix); i += 3 {
		// PIL's L conversion: L = R*299/1000 + G*587/1000 + B*114/1000.
		sum += float64((int(img.Pix[i])*19595 + int(img.Pix[i+1])*38470 + int(img.Pix[i+2])*7471 + 0x8000) >> 16)
	}
	mean := math.Floor(sum/float64(max(1, img.Width*img.Height)) + 0.5)
	out := imageproc.NewRGB(img.Width, img.Height)
	for i := 0; i < len(img.Pix); i += 3 {
		p := img.Pix[i : i+3 : i+3]
		t := f
		for c := range 3 {
			d := float64(p[c]) - mean
			switch v := mean + t*d; {
			case v > 255:
				t = (255 - mean) / d
			case v < 0:
				t = -mean / d
			}
		}
		for c := range 3 {
			out.Pix[i+c] = round8(mean + t*(float64(p[c])-mean))
		}
	}
	return out
}

// sharpness blends img with its smoothed copy as PIL's
// ImageEnhance.Sharpness: SMOOTH kernel [1 1 1; 1 5 1; 1 1 1]/13 inside,
// the border pixels kept, result = smooth + f*(img - smooth), clipped.
func sharpness(img imageproc.RGB, f float64) imageproc.RGB {
	w, h := img.Width, img.Height
	out := imageproc.RGB{Pix: append([]uint8(nil), img.Pix...), Width: w, Height: h}
	for y := 1; y < h-1; y++ {
		for x := 1; x < w-1; x++ {
			for c := range 3 {
				s := 4 * int(img.Pix[3*(y*w+x)+c])
				for dy := -1; dy <= 1; dy++ {
					for dx := -1; dx <= 1; dx++ {
						s += int(img.Pix[3*((y+dy)*w+x+dx)+c])
					}
				}
				smooth := float64((s + 6) / 13)
				out.Pix[3*(y*w+x)+c] = round8(smooth + f*(float64(img.Pix[3*(y*w+x)+c])-smooth))
			}
		}
	}
	return out
}

// translate shifts the picture by (tx, ty) times its width and height,
// after shrinking it about its centre by 1 - 2*max(|tx|, |ty|) so that all
// of it stays inside the frame; the uncovered border is black. Pixels are
// sampled bilinearly.
func translate(img imageproc.RGB, tx, ty float64) imageproc.RGB {
	w, h := img.Width, img.Height
	s := 1 - 2*max(math.Abs(tx), math.Abs(ty))
	ox, oy := tx*float64(w), ty*float64(h)
	out := imageproc.NewRGB(w, h)
	cx, cy := float64(w)/2, float64(h)/2
	for y := range h {
		// Source position of the output pixel centre, in pixel units with
		// pixel centres at k + 0.5.
		sy := (float64(y)+0.5-cy-oy)/s + cy - 0.5
		for x := range w {
			sx := (float64(x)+0.5-cx-ox)/s + cx - 0.5
			bilinear(img, sx, sy, out.Pix[3*(y*w+x):3*(y*w+x)+3])
		}
	}
	return out
}

// bilinear writes the colour of img at (x, y) (pixel centres at integers)
// to dst; outside the image, pixels are black.
func bilinear(img imageproc.RGB, x, y float64, dst []uint8) {
	x0, y0 := math.Floor(x), math.Floor(y)
	fx, fy := x-x0, y-y0
	var acc [3]float64
	for _, n := range [4]struct {
		dx, dy int
		w      float64
	}{{0, 0, (1 - fx) * (1 - fy)}, {1, 0, fx * (1 - fy)}, {0, 1, (1 - fx) * fy}, {1, 1, fx * fy}} {
		px, py := int(x0)+n.dx, int(y0)+n.dy
		if n.w == 0 || px < 0 || py < 0 || px >= img.Width || py >= img.Height {
			continue
		}
		i := 3 * (py*img.Width + px)
		for c := range 3 {
			acc[c] += n.w * float64(img.Pix[i+c])
		}
	}
	for c := range 3 {
		dst[c] = round8(acc[c])
	}
}

// round8 rounds v to the nearest integer in [0, 255].
func round8(v float64) uint8 {
	switch {
	case v <= 0:
		return 0
	case v >= 255:
		return 255
	}
	return uint8(v + 0.5)
}
