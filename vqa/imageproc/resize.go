package imageproc

import (
	"fmt"
	"math"
)

// RGB is an 8-bit RGB image stored row-major, 3 bytes per pixel (HWC), the
// layout of numpy.asarray(pil_image.convert("RGB")).
type RGB struct {
	Pix           []uint8 // len 3*Width*Height
	Width, Height int
}

// NewRGB allocates a zeroed width x height image.
func NewRGB(width, height int) RGB {
	return RGB{Pix: make([]uint8, 3*width*height), Width: width, Height: height}
}

// TargetSize returns the (height, width) ViltImageProcessor resizes an
// h x w image to: shorter edge to ShortestEdge, longer edge capped at
// LongerEdgeCap, both rounded half up, then floored to SizeDivisor. It fails
// when a side would be 0 (aspect ratios above about 20:1 at 384).
func (c Config) TargetSize(h, w int) (int, int, error) {
	if h <= 0 || w <= 0 {
		return 0, 0, fmt.Errorf("imageproc: image size %dx%d has a zero side", w, h)
	}
	shorter := float64(c.ShortestEdge)
	longer := float64(c.LongerEdgeCap())
	scale := shorter / float64(min(h, w))
	var nh, nw float64
	if h < w {
		nh, nw = shorter, scale*float64(w)
	} else {
		nh, nw = scale*float64(h), shorter
	}
	if m := max(nh, nw); m > longer {
		s := longer / m
		nh, nw = s*nh, s*nw
	}
	ih, iw := int(nh+0.5), int(nw+0.5)
	ih, iw = ih/c.SizeDivisor*c.SizeDivisor, iw/c.SizeDivisor*c.SizeDivisor
	if ih <= 0 || iw <= 0 {
		return 0, 0, fmt.Errorf("imageproc: image size %dx%d resizes to %dx%d: height and width must be > 0 (aspect ratio too extreme)", w, h, iw, ih)
	}
	return ih, iw, nil
}

// precision is Pillow's PRECISION_BITS for 8-bit resampling (32 - 8 - 2).
const precision = 22

// coeffs holds the fixed-point weights of one resize axis: output pixel i
// reads inputs [start[i], start[i]+n[i]) with weights w[i*k : i*k+n[i]].
type coeffs struct {
	start, n []int
	w        []int32
	k        int // stride between the weight rows
}

// bicubic is Pillow's bicubic_filter (a = -0.5), in its exact evaluation
// order; the explicit float64 conversions forbid fused multiply-adds.
func bicubic(x float64) float64 {
	const a = -0.5
	if x < 0 {
		x = -x
	}
	if x < 1 {
		return float64(float64(float64((a+2)*x)-(a+3))*x)*x + 1
	}
	if x < 2 {
		return float64(float64(float64(float64(x-5)*x)+8)*x-4) * a
	}
	return 0
}

// computeCoeffs is Pillow's precompute_coeffs + normalize_coeffs_8bpc for
// the bicubic filter over the whole input (box [0, in)).
func computeCoeffs(in, out int) coeffs {
	scale := float64(in) / float64(out)
	fs := max(scale, 1.0)
	support := 2 * fs
	k := int(math.Ceil(support))*2 + 1
	c := coeffs{start: make([]int, out), n: make([]int, out), w: make([]int32, out*k), k: k}
	ws := make([]float64, k)
	ss := 1 / fs
	for i := range out {
		center := (float64(i) + 0.5) * scale
		xmin := max(int(center-support+0.5), 0)
		xmax := min(int(center+support+0.5), in) - xmin
		sum := 0.0
		for x := range xmax {
			w := bicubic(float64(float64(x+xmin)-center+0.5) * ss)
			ws[x] = w
			sum += w
		}
		for x := range xmax {
			w := ws[x]
			if sum != 0 {
				w /= sum
			}
			if w < 0 {
				c.w[i*k+x] = int32(-0.5 + w*(1<<precision))
			} else {
				c.w[i*k+x] = int32(0.5 + w*(1<<precision))
			}
		}
		c.start[i], c.n[i] = xmin, xmax
	}
	return c
}

func clip8(v int32) uint8 {
	v >>= precision
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// Resize is Pillow 9.4's Image.resize((width, height), Image.BICUBIC) on an
// RGB image, bit-exact: a horizontal pass (when the width changes) then a
// vertical pass (when the height changes), with 22-bit fixed-point weights
// and uint8 rounding in between. The same size returns a copy.
func Resize(src RGB, width, height int) (RGB, error) {
	if err := checkResize(src, width, height); err != nil {
		return RGB{}, err
	}
	img := src
	if width != src.Width {
		img = horizontal(img, width, nil)
	}
	if height != src.Height {
		img = vertical(NewRGB(img.Width, height), img)
	}
	if width == src.Width && height == src.Height {
		img = RGB{Pix: append([]uint8(nil), src.Pix...), Width: width, Height: height}
	}
	return img, nil
}

func checkResize(src RGB, width, height int) error {
	if width <= 0 || height <= 0 || src.Width <= 0 || src.Height <= 0 {
		return fmt.Errorf("imageproc: cannot resize %dx%d to %dx%d", src.Width, src.Height, width, height)
	}
	if len(src.Pix) != 3*src.Width*src.Height {
		return fmt.Errorf("imageproc: RGB buffer has %d bytes, want 3*%d*%d", len(src.Pix), src.Width, src.Height)
	}
	return nil
}

// Buffers holds the scratch images of [Config.ProcessTo] (and of [Decode]
// with [WithBuffers]) for reuse: a
// caller that processes many images keeps one per goroutine (fewer
// allocations, less for the garbage collector to do). The zero value is
// ready to use; a nil *Buffers allocates afresh. A Buffers must not be used
// by two goroutines at once.
type Buffers struct {
	scratch [numScratch][]uint8
}

// The scratch images of a Buffers.
const (
	decodedScratch    = iota // a decoded image (WithBuffers)
	transposedScratch        // the source, transposed
	resampledScratch         // the horizontal pass, transposed
	backScratch              // the horizontal pass
	rowScratch               // one row of the vertical pass
	numScratch
)

// get returns scratch slot i resized to n bytes, reusing its array when it
// is large enough (b == nil: a new one).
func (b *Buffers) get(i, n int) []uint8 {
	if b == nil {
		return make([]uint8, n)
	}
	if cap(b.scratch[i]) < n {
		b.scratch[i] = make([]uint8, n)
	}
	return b.scratch[i][:n]
}

// horizontal resamples every row to width pixels. It runs the column
// kernel on the transposed image, which computes the same sums per output
// pixel (bit-identical) with contiguous, vectorisable rows. The result
// lives in buf's scratch when buf is not nil.
func horizontal(src RGB, width int, buf *Buffers) RGB {
	t := transpose(RGB{Pix: buf.get(transposedScratch, len(src.Pix)), Width: src.Height, Height: src.Width}, src)
	r := vertical(RGB{Pix: buf.get(resampledScratch, 3*t.Width*width), Width: t.Width, Height: width}, t)
	return transpose(RGB{Pix: buf.get(backScratch, len(r.Pix)), Width: r.Height, Height: r.Width}, r)
}

// vertical resamples every column of src to dst.Height pixels, into dst
// (of src's width), and returns dst.
func vertical(dst, src RGB) RGB {
	verticalRows(src, dst.Height, func(y int, row func(out []uint8)) {
		row(dst.Pix[3*y*dst.Width : 3*(y+1)*dst.Width])
	})
	return dst
}

// verticalRows runs the vertical resampling of src to height rows, handing
// each output row y to emit with the function that computes it into a
// 3*src.Width-byte slice.
func verticalRows(src RGB, height int, emit func(y int, row func(out []uint8))) {
	c := computeCoeffs(src.Height, height)
	stride := 3 * src.Width
	rows := make([][]uint8, c.k)
	for y := range height {
		rs := rows[:c.n[y]]
		for j := range rs {
			off := (c.start[y] + j) * stride
			rs[j] = src.Pix[off : off+stride]
		}
		w := c.w[y*c.k : y*c.k+c.n[y]]
		emit(y, func(out []uint8) { weightedRows(out, rs, w) })
	}
}

// weightedRowsScalar sets out[i] = clip8(2^21 + sum_j rows[j][i]*w[j]) for
// i >= from: one output row of a resampling pass (Pillow's inner loop).
func weightedRowsScalar(out []uint8, rows [][]uint8, w []int32, from int) {
	for i := from; i < len(out); i++ {
		s := int32(1 << (precision - 1))
		for j, r := range rows {
			s += int32(r[i]) * w[j]
		}
		out[i] = clip8(s)
	}
}

// transpose writes the transpose of src into dst (src.Height x src.Width,
// its own Pix of the same length) and returns dst. It walks 8 source rows
// at a time so that each source column becomes one 24-byte store.
func transpose(dst, src RGB) RGB {
	w, h := src.Width, src.Height
	row := 3 * w
	y0 := 0
	for ; y0+8 <= h; y0 += 8 {
		var r [8][]uint8
		for k := range r {
			r[k] = src.Pix[(y0+k)*row : (y0+k+1)*row]
		}
		for x := range w {
			i := 3 * x
			d := dst.Pix[3*(x*h+y0) : 3*(x*h+y0)+24 : 3*(x*h+y0)+24]
			for k := range 8 {
				p := r[k][i : i+3 : i+3]
				q := d[3*k : 3*k+3 : 3*k+3]
				q[0], q[1], q[2] = p[0], p[1], p[2]
			}
		}
	}
	for ; y0 < h; y0++ {
		in := src.Pix[y0*row : (y0+1)*row]
		for x := range w {
			copy(dst.Pix[3*(x*h+y0):3*(x*h+y0)+3], in[3*x:3*x+3])
		}
	}
	return dst
}
