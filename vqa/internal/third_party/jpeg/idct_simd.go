//go:build goexperiment.simd && amd64

package jpeg

import "simd/archsimd"

// idctIslow is idctIslowScalar, 8 columns (then 8 rows) at a time with
// AVX2 where the CPU has it. The vector code computes in 32-bit lanes where
// libjpeg's intermediates are 64-bit: it runs only when the dequantized
// coefficients and the first pass's outputs are small enough that no
// 32-bit sum can overflow (always, for the coefficients an 8-bit JPEG
// encoder writes), so the results are the same; other blocks take the
// scalar code.
func idctIslow(coef, q *block, dst []byte, stride int) {
	if !archsimd.X86.AVX2() || !idctIslowAVX2(coef, q, dst, stride) {
		idctIslowScalar(coef, q, dst, stride)
	}
}

// Bounds of the vector path: |dequantized coefficient| < 2^14 and |first
// pass output| < 2^13 keep every 32-bit intermediate below 2^31.
const (
	maxVectorCoef = 1 << 14
	maxVectorWS   = 1 << 13
)

// idctIslowAVX2 is idctIslowScalar on blocks within the bounds above; it
// returns false, having written nothing, for others.
func idctIslowAVX2(coef, q *block, dst []byte, stride int) bool {
	load := func(k int) (c, z archsimd.Int32x8) {
		c = archsimd.LoadInt32x8((*[8]int32)(coef[8*k : 8*k+8]))
		return c, c.Mul(archsimd.LoadInt32x8((*[8]int32)(q[8*k : 8*k+8])))
	}
	_, z0 := load(0)
	c1, z1 := load(1)
	c2, z2 := load(2)
	c3, z3 := load(3)
	c4, z4 := load(4)
	c5, z5 := load(5)
	c6, z6 := load(6)
	c7, z7 := load(7)
	big := z0.Abs().Or(z1.Abs()).Or(z2.Abs()).Or(z3.Abs()).Or(z4.Abs()).Or(z5.Abs()).Or(z6.Abs()).Or(z7.Abs())
	if tooBig(big, maxVectorCoef) {
		return false
	}
	ac := c1.Or(c2).Or(c3).Or(c4).Or(c5).Or(c6).Or(c7)
	if ac.IsZero() && coef[1]|coef[2]|coef[3]|coef[4]|coef[5]|coef[6]|coef[7] == 0 {
		// Only the DC term: a flat block (what the full computation gives).
		v := idctRangeLimit[descale(int64(coef[0]*q[0])<<pass1Bits, pass1Bits+3)&rangeMask]
		for r := range 8 {
			row := dst[r*stride : r*stride+8 : r*stride+8]
			for k := range row {
				row[k] = v
			}
		}
		return true
	}
	// Pass 1: lane c computes column c; zk holds frequency k of each.
	w0, w1, w2, w3, w4, w5, w6, w7 := idct1D(z0, z1, z2, z3, z4, z5, z6, z7, constBits-pass1Bits)
	wsBig := w0.Abs().Or(w1.Abs()).Or(w2.Abs()).Or(w3.Abs()).Or(w4.Abs()).Or(w5.Abs()).Or(w6.Abs()).Or(w7.Abs())
	if tooBig(wsBig, maxVectorWS) {
		return false
	}
	// Pass 2: transposed, lane r computes row r; ok is column k.
	w0, w1, w2, w3, w4, w5, w6, w7 = transpose8(w0, w1, w2, w3, w4, w5, w6, w7)
	o0, o1, o2, o3, o4, o5, o6, o7 := idct1D(w0, w1, w2, w3, w4, w5, w6, w7, constBits+pass1Bits+3)
	// libjpeg's range limit, exactly: m = x & 1023 indexes idctRangeLimit;
	// (m + 128) & 1023 is below 256 where the table gives it back, 255
	// below 640 and 0 above.
	var (
		mask1023 = archsimd.BroadcastInt32x8(rangeMask)
		c128     = archsimd.BroadcastInt32x8(128)
		c255     = archsimd.BroadcastInt32x8(255)
		c640     = archsimd.BroadcastInt32x8(640)
		cols     [8][8]int32
	)
	limit := func(o archsimd.Int32x8, col *[8]int32) {
		m := o.And(mask1023).Add(c128).And(mask1023)
		m.Min(c255).Masked(m.Less(c640)).Store(col)
	}
	limit(o0, &cols[0])
	limit(o1, &cols[1])
	limit(o2, &cols[2])
	limit(o3, &cols[3])
	limit(o4, &cols[4])
	limit(o5, &cols[5])
	limit(o6, &cols[6])
	limit(o7, &cols[7])
	dst = dst[: 7*stride+8 : 7*stride+8]
	for r := range 8 {
		row := dst[r*stride : r*stride+8 : r*stride+8]
		for k := range row {
			row[k] = uint8(cols[k][r])
		}
	}
	return true
}

// tooBig reports whether a lane of ors, an OR of absolute values, shows one
// of them >= limit (a power of two), or the absolute value of math.MinInt32
// (negative).
func tooBig(ors archsimd.Int32x8, limit int32) bool {
	return ors.Greater(archsimd.BroadcastInt32x8(limit-1)).Or(ors.Less(archsimd.BroadcastInt32x8(0))).ToBits() != 0
}

// idct1D is one pass of jpeg_idct_islow on 8 independent lanes: ik is
// frequency k, the k-th result sample k, descaled by 2^n.
func idct1D(i0, i1, i2, i3, i4, i5, i6, i7 archsimd.Int32x8, n uint64) (o0, o1, o2, o3, o4, o5, o6, o7 archsimd.Int32x8) {
	fix := archsimd.BroadcastInt32x8
	// Even part.
	z1 := i2.Add(i6).Mul(fix(fix0_541196100))
	tmp2 := z1.Sub(i6.Mul(fix(fix1_847759065)))
	tmp3 := z1.Add(i2.Mul(fix(fix0_765366865)))
	tmp0 := i0.Add(i4).ShiftAllLeft(constBits)
	tmp1 := i0.Sub(i4).ShiftAllLeft(constBits)
	tmp10, tmp13 := tmp0.Add(tmp3), tmp0.Sub(tmp3)
	tmp11, tmp12 := tmp1.Add(tmp2), tmp1.Sub(tmp2)
	// Odd part.
	t0, t1, t2, t3 := i7, i5, i3, i1
	p1 := t0.Add(t3)
	p2 := t1.Add(t2)
	p3 := t0.Add(t2)
	p4 := t1.Add(t3)
	z5 := p3.Add(p4).Mul(fix(fix1_175875602))
	p1 = p1.Mul(fix(-fix0_899976223))
	p2 = p2.Mul(fix(-fix2_562915447))
	p3 = p3.Mul(fix(-fix1_961570560)).Add(z5)
	p4 = p4.Mul(fix(-fix0_390180644)).Add(z5)
	t0 = t0.Mul(fix(fix0_298631336)).Add(p1).Add(p3)
	t1 = t1.Mul(fix(fix2_053119869)).Add(p2).Add(p4)
	t2 = t2.Mul(fix(fix3_072711026)).Add(p2).Add(p3)
	t3 = t3.Mul(fix(fix1_501321110)).Add(p1).Add(p4)
	round := fix(1 << (n - 1))
	o0 = tmp10.Add(t3).Add(round).ShiftAllRight(n)
	o7 = tmp10.Sub(t3).Add(round).ShiftAllRight(n)
	o1 = tmp11.Add(t2).Add(round).ShiftAllRight(n)
	o6 = tmp11.Sub(t2).Add(round).ShiftAllRight(n)
	o2 = tmp12.Add(t1).Add(round).ShiftAllRight(n)
	o5 = tmp12.Sub(t1).Add(round).ShiftAllRight(n)
	o3 = tmp13.Add(t0).Add(round).ShiftAllRight(n)
	o4 = tmp13.Sub(t0).Add(round).ShiftAllRight(n)
	return
}

// transpose8 transposes an 8x8 matrix of int32 held as 8 row vectors.
func transpose8(r0, r1, r2, r3, r4, r5, r6, r7 archsimd.Int32x8) (c0, c1, c2, c3, c4, c5, c6, c7 archsimd.Int32x8) {
	// Pairs of rows interleaved within each 128-bit half.
	t0, t1 := r0.InterleaveLoGrouped(r1).AsInt64x4(), r0.InterleaveHiGrouped(r1).AsInt64x4()
	t2, t3 := r2.InterleaveLoGrouped(r3).AsInt64x4(), r2.InterleaveHiGrouped(r3).AsInt64x4()
	t4, t5 := r4.InterleaveLoGrouped(r5).AsInt64x4(), r4.InterleaveHiGrouped(r5).AsInt64x4()
	t6, t7 := r6.InterleaveLoGrouped(r7).AsInt64x4(), r6.InterleaveHiGrouped(r7).AsInt64x4()
	// Columns k | k+4 of rows 0-3 (u0..u3) and of rows 4-7 (u4..u7).
	u0, u1 := t0.InterleaveLoGrouped(t2).AsInt32x8(), t0.InterleaveHiGrouped(t2).AsInt32x8()
	u2, u3 := t1.InterleaveLoGrouped(t3).AsInt32x8(), t1.InterleaveHiGrouped(t3).AsInt32x8()
	u4, u5 := t4.InterleaveLoGrouped(t6).AsInt32x8(), t4.InterleaveHiGrouped(t6).AsInt32x8()
	u6, u7 := t5.InterleaveLoGrouped(t7).AsInt32x8(), t5.InterleaveHiGrouped(t7).AsInt32x8()
	return u0.SetHi(u4.GetLo()), u1.SetHi(u5.GetLo()), u2.SetHi(u6.GetLo()), u3.SetHi(u7.GetLo()),
		u4.SetLo(u0.GetHi()), u5.SetLo(u1.GetHi()), u6.SetLo(u2.GetHi()), u7.SetLo(u3.GetHi())
}
