package jpeg

// This file replaces image/jpeg's dct.go (the decoder needs only the block
// type and an inverse DCT). The inverse DCT is libjpeg-turbo's accurate
// integer one, jpeg_idct_islow in jidctint.c (the Loeffler-Ligtenberg-
// Moschytz algorithm with 13-bit constants), the method Pillow decodes with:
// the same arithmetic gives the same pixels. It was written from the
// algorithm's description in jidctint.c (see README.md).

// block holds the 64 coefficients of one 8x8 block, in natural (row-major)
// order once unzigzagged.
type block [blockSize]int32

const blockSize = 8 * 8

const (
	constBits = 13
	pass1Bits = 2

	fix0_298631336 = 2446
	fix0_390180644 = 3196
	fix0_541196100 = 4433
	fix0_765366865 = 6270
	fix0_899976223 = 7373
	fix1_175875602 = 9633
	fix1_501321110 = 12299
	fix1_847759065 = 15137
	fix1_961570560 = 16069
	fix2_053119869 = 16819
	fix2_562915447 = 20995
	fix3_072711026 = 25172
)

// rangeMask is libjpeg's RANGE_MASK: inverse-DCT outputs index the range
// limit table modulo 1024.
const rangeMask = 1023

// idctRangeLimit is libjpeg's post-IDCT range-limit table (jdmaster.c
// prepare_range_limit_table, seen from sample_range_limit + CENTERJSAMPLE):
// x & 1023 maps x+128 into [0, 255], clamping in [-512, 511] and wrapping
// outside it as libjpeg does on corrupt data.
var idctRangeLimit = func() (t [rangeMask + 1]uint8) {
	for m := range t {
		switch {
		case m < 128:
			t[m] = uint8(m + 128)
		case m < 512:
			t[m] = 255
		case m < 896:
			t[m] = 0
		default:
			t[m] = uint8(m - 896)
		}
	}
	return t
}()

// descale is libjpeg's DESCALE: a right shift by n, rounding half up.
func descale(x int64, n uint) int64 { return (x + 1<<(n-1)) >> n }

// idctIslowScalar dequantizes coef (natural order) by q (natural order), applies
// the inverse DCT, level-shifts by 128, range-limits and writes the 8x8
// pixels to dst with the given stride: jpeg_idct_islow. idctIslow is the
// same, vectorised where the CPU allows.
func idctIslowScalar(coef, q *block, dst []byte, stride int) {
	var ws [blockSize]int32
	// Pass 1: the columns, from coef into ws, scaled up by 2^pass1Bits.
	for c := range 8 {
		if coef[8+c]|coef[16+c]|coef[24+c]|coef[32+c]|coef[40+c]|coef[48+c]|coef[56+c] == 0 {
			// Only the DC term: every output of the column is the same
			// (exactly what the full computation gives).
			dc := coef[c] * q[c] << pass1Bits
			for k := range 8 {
				ws[8*k+c] = dc
			}
			continue
		}
		// Even part.
		z2 := int64(coef[16+c] * q[16+c])
		z3 := int64(coef[48+c] * q[48+c])
		z1 := (z2 + z3) * fix0_541196100
		tmp2 := z1 - z3*fix1_847759065
		tmp3 := z1 + z2*fix0_765366865
		z2 = int64(coef[c] * q[c])
		z3 = int64(coef[32+c] * q[32+c])
		tmp0 := (z2 + z3) << constBits
		tmp1 := (z2 - z3) << constBits
		tmp10, tmp13 := tmp0+tmp3, tmp0-tmp3
		tmp11, tmp12 := tmp1+tmp2, tmp1-tmp2
		// Odd part.
		tmp0 = int64(coef[56+c] * q[56+c])
		tmp1 = int64(coef[40+c] * q[40+c])
		tmp2 = int64(coef[24+c] * q[24+c])
		tmp3 = int64(coef[8+c] * q[8+c])
		tmp0, tmp1, tmp2, tmp3 = oddPart(tmp0, tmp1, tmp2, tmp3)
		const n = constBits - pass1Bits
		ws[c] = int32(descale(tmp10+tmp3, n))
		ws[56+c] = int32(descale(tmp10-tmp3, n))
		ws[8+c] = int32(descale(tmp11+tmp2, n))
		ws[48+c] = int32(descale(tmp11-tmp2, n))
		ws[16+c] = int32(descale(tmp12+tmp1, n))
		ws[40+c] = int32(descale(tmp12-tmp1, n))
		ws[24+c] = int32(descale(tmp13+tmp0, n))
		ws[32+c] = int32(descale(tmp13-tmp0, n))
	}
	// Pass 2: the rows, from ws into dst, descaled by 2^(13+2+3).
	for r := range 8 {
		w := ws[8*r : 8*r+8 : 8*r+8]
		out := dst[r*stride : r*stride+8 : r*stride+8]
		if w[1]|w[2]|w[3]|w[4]|w[5]|w[6]|w[7] == 0 {
			v := idctRangeLimit[descale(int64(w[0]), pass1Bits+3)&rangeMask]
			for k := range out {
				out[k] = v
			}
			continue
		}
		// Even part.
		z2, z3 := int64(w[2]), int64(w[6])
		z1 := (z2 + z3) * fix0_541196100
		tmp2 := z1 - z3*fix1_847759065
		tmp3 := z1 + z2*fix0_765366865
		tmp0 := (int64(w[0]) + int64(w[4])) << constBits
		tmp1 := (int64(w[0]) - int64(w[4])) << constBits
		tmp10, tmp13 := tmp0+tmp3, tmp0-tmp3
		tmp11, tmp12 := tmp1+tmp2, tmp1-tmp2
		// Odd part.
		tmp0, tmp1, tmp2, tmp3 = oddPart(int64(w[7]), int64(w[5]), int64(w[3]), int64(w[1]))
		const n = constBits + pass1Bits + 3
		out[0] = idctRangeLimit[descale(tmp10+tmp3, n)&rangeMask]
		out[7] = idctRangeLimit[descale(tmp10-tmp3, n)&rangeMask]
		out[1] = idctRangeLimit[descale(tmp11+tmp2, n)&rangeMask]
		out[6] = idctRangeLimit[descale(tmp11-tmp2, n)&rangeMask]
		out[2] = idctRangeLimit[descale(tmp12+tmp1, n)&rangeMask]
		out[5] = idctRangeLimit[descale(tmp12-tmp1, n)&rangeMask]
		out[3] = idctRangeLimit[descale(tmp13+tmp0, n)&rangeMask]
		out[4] = idctRangeLimit[descale(tmp13-tmp0, n)&rangeMask]
	}
}

// oddPart is the odd half of the 1-D inverse DCT: from the inputs of
// frequencies 7, 5, 3 and 1 it returns jidctint.c's tmp0..tmp3.
func oddPart(tmp0, tmp1, tmp2, tmp3 int64) (int64, int64, int64, int64) {
	z1 := tmp0 + tmp3
	z2 := tmp1 + tmp2
	z3 := tmp0 + tmp2
	z4 := tmp1 + tmp3
	z5 := (z3 + z4) * fix1_175875602
	tmp0 *= fix0_298631336
	tmp1 *= fix2_053119869
	tmp2 *= fix3_072711026
	tmp3 *= fix1_501321110
	z1 *= -fix0_899976223
	z2 *= -fix2_562915447
	z3 = z3*-fix1_961570560 + z5
	z4 = z4*-fix0_390180644 + z5
	return tmp0 + z1 + z3, tmp1 + z2 + z4, tmp2 + z2 + z3, tmp3 + z1 + z4
}
