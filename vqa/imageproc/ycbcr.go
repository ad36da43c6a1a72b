package imageproc

import "image"

// libjpeg-turbo's YCbCr -> RGB tables (jdcolor.c, build_ycc_rgb_table):
// 16-bit fixed point with each term rounded separately. Go's
// color.YCbCrToRGB rounds differently and can differ by one level.
var (
	crR, cbB, crG, cbG [256]int32
	// rangeLimit[i+256] is i clamped to [0, 255] (jdmaster.c's range_limit).
	rangeLimit [768]uint8
)

func init() {
	const scale = 16
	fix := func(x float64) int32 { return int32(x*(1<<scale) + 0.5) }
	const half = 1 << (scale - 1)
	for i := range 256 {
		x := int32(i) - 128
		crR[i] = (fix(1.40200)*x + half) >> scale
		cbB[i] = (fix(1.77200)*x + half) >> scale
		crG[i] = -fix(0.71414) * x
		cbG[i] = -fix(0.34414)*x + half
	}
	for i := range rangeLimit {
		rangeLimit[i] = uint8(min(max(i-256, 0), 255))
	}
}

// yccPixel converts one pixel like libjpeg-turbo's ycc_rgb_convert.
func yccPixel(o []uint8, y, cb, cr uint8) {
	yy := int32(y) + 256
	o[0] = rangeLimit[yy+crR[cr]]
	o[1] = rangeLimit[yy+(cbG[cb]+crG[cr])>>16]
	o[2] = rangeLimit[yy+cbB[cb]]
}

// ycbcrToRGB converts a decoded JPEG the way libjpeg-turbo (PIL) does by
// default: "fancy" (triangular) chroma upsampling for 4:2:0 and 4:2:2
// (jdsample.c h2v2_fancy_upsample, h2v1_fancy_upsample) and jdcolor.c's
// fixed-point colour conversion. Other subsampling ratios, and images whose
// chroma is 2 samples wide or less, replicate chroma (as libjpeg-turbo does).
func ycbcrToRGB(src *image.YCbCr, dst RGB) {
	w, h := dst.Width, dst.Height
	b := src.Bounds()
	cw := (w + 1) / 2 // downsampled chroma width
	fancy := src.SubsampleRatio == image.YCbCrSubsampleRatio420 || src.SubsampleRatio == image.YCbCrSubsampleRatio422
	// libjpeg-turbo (jdsample.c) skips fancy upsampling when the
	// downsampled width is 2 or less.
	if !fancy || cw <= 2 || b.Min != (image.Point{}) {
		for y := range h {
			o := dst.Pix[3*y*w : 3*(y+1)*w]
			for x := range w {
				yi := src.YOffset(b.Min.X+x, b.Min.Y+y)
				ci := src.COffset(b.Min.X+x, b.Min.Y+y)
				yccPixel(o[3*x:3*x+3], src.Y[yi], src.Cb[ci], src.Cr[ci])
			}
		}
		return
	}
	if src.SubsampleRatio == image.YCbCrSubsampleRatio420 {
		// 4:2:0: h2v2_fancy_upsample fused with the colour conversion.
		ch := (h + 1) / 2
		sb, sr := make([]int32, cw), make([]int32, cw)
		for y := range h {
			near := y / 2
			far := near - 1 // upper output row of the pair blends the chroma row above
			if y%2 == 1 {
				far = near + 1
			}
			far = min(max(far, 0), ch-1) // edges replicate the first/last row
			colSums(src.Cb[near*src.CStride:], src.Cb[far*src.CStride:], sb)
			colSums(src.Cr[near*src.CStride:], src.Cr[far*src.CStride:], sr)
			row420(dst.Pix[3*y*w:3*(y+1)*w], src.Y[y*src.YStride:y*src.YStride+w], sb, sr)
		}
		return
	}
	// 4:2:2: h2v1_fancy_upsample, then the colour conversion.
	cbRow, crRow := make([]uint8, 2*cw), make([]uint8, 2*cw)
	for y := range h {
		fancy1(src.Cb[y*src.CStride:y*src.CStride+cw], cbRow)
		fancy1(src.Cr[y*src.CStride:y*src.CStride+cw], crRow)
		yrow := src.Y[y*src.YStride : y*src.YStride+w]
		o := dst.Pix[3*y*w : 3*(y+1)*w]
		cbs, crs := cbRow[:len(yrow)], crRow[:len(yrow)]
		for x, yv := range yrow {
			yccPixel(o[3*x:3*x+3:3*x+3], yv, cbs[x], crs[x])
		}
	}
}

// colSumsScalar sets sums[i] = 3*near[i] + far[i] for i >= from: the
// vertical half of h2v2_fancy_upsample for one output row (near is the
// chroma row of the output row, far the neighbouring one).
func colSumsScalar(near, far []uint8, sums []int32, from int) {
	near, far = near[:len(sums)], far[:len(sums)]
	for i := from; i < len(sums); i++ {
		sums[i] = 3*int32(near[i]) + int32(far[i])
	}
}

// row420Scalar converts pixels [from, to) of one 4:2:0 row: the horizontal
// half of h2v2_fancy_upsample on the column sums sb (Cb) and sr (Cr), then
// jdcolor.c's conversion. Each output pixel blends its own chroma column
// (3/4) with the nearer neighbour (1/4); the edges replicate.
func row420Scalar(o, yrow []uint8, sb, sr []int32, from, to int) {
	last := len(sb) - 1
	for x := from; x < to; x++ {
		i := x >> 1
		var cb, cr int32
		if x&1 == 0 {
			j := max(i-1, 0)
			cb = (3*sb[i] + sb[j] + 8) >> 4
			cr = (3*sr[i] + sr[j] + 8) >> 4
		} else {
			j := min(i+1, last)
			cb = (3*sb[i] + sb[j] + 7) >> 4
			cr = (3*sr[i] + sr[j] + 7) >> 4
		}
		yccPixel(o[3*x:3*x+3:3*x+3], yrow[x], uint8(cb), uint8(cr))
	}
}

// fancy1 is h2v1_fancy_upsample for one row of at least 2 samples.
func fancy1(in []uint8, out []uint8) {
	n := len(in)
	out[0] = in[0]
	out[1] = uint8((int32(in[0])*3 + int32(in[1]) + 2) >> 2)
	for i := 1; i < n-1; i++ {
		v := int32(in[i]) * 3
		out[2*i] = uint8((v + int32(in[i-1]) + 1) >> 2)
		out[2*i+1] = uint8((v + int32(in[i+1]) + 2) >> 2)
	}
	out[2*n-2] = uint8((int32(in[n-1])*3 + int32(in[n-2]) + 1) >> 2)
	out[2*n-1] = in[n-1]
}
