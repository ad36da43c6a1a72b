//go:build goexperiment.simd && amd64

package imageproc

import (
	"encoding/binary"
	"simd/archsimd"
)

// colSums is colSumsScalar, 8 sums at a time with AVX2 where the CPU has it.
func colSums(near, far []uint8, sums []int32) {
	i := 0
	if archsimd.X86.AVX2() {
		three := archsimd.BroadcastInt32x8(3)
		// Loads read 16 bytes and use 8: stop while 16 are left in both.
		for ; i+8 <= len(sums) && i+16 <= len(near) && i+16 <= len(far); i += 8 {
			n := archsimd.LoadUint8x16Slice(near[i:]).ExtendLo8ToUint32().AsInt32x8()
			f := archsimd.LoadUint8x16Slice(far[i:]).ExtendLo8ToUint32().AsInt32x8()
			n.Mul(three).Add(f).StoreSlice(sums[i:])
		}
	}
	colSumsScalar(near, far, sums, i)
}

// row420 is row420Scalar over the whole row, 16 pixels at a time with AVX2
// where the CPU has it (the same integer arithmetic: bit-identical).
func row420(o, yrow []uint8, sb, sr []int32) {
	x := 0
	if archsimd.X86.AVX2() && len(sb) >= 10 {
		row420Scalar(o, yrow, sb, sr, 0, 2)
		x = row420AVX2(o, yrow, sb, sr)
	}
	row420Scalar(o, yrow, sb, sr, x, len(yrow))
}

// row420AVX2 converts pixels [2, x) for the returned x: chunks of 16 pixels
// (8 chroma columns i0..i0+7, 1 <= i0, i0+8 <= last column) whose
// neighbours are all inside the row, so no edge needs replicating, and
// after which at least one pixel remains (each pixel is stored as 4 bytes,
// the 4th overwritten by the next pixel).
func row420AVX2(o, yrow []uint8, sb, sr []int32) int {
	var (
		three  = archsimd.BroadcastInt32x8(3)
		seven  = archsimd.BroadcastInt32x8(7)
		eight  = archsimd.BroadcastInt32x8(8)
		c128   = archsimd.BroadcastInt32x8(128)
		lowFF  = archsimd.BroadcastInt32x8(0xff)
		zero   = archsimd.BroadcastInt32x8(0)
		max255 = archsimd.BroadcastInt32x8(255)
		half   = archsimd.BroadcastInt32x8(1 << 15)
		// jdcolor.c's FIX(1.40200), FIX(1.77200), -FIX(0.71414),
		// -FIX(0.34414) in 16-bit fixed point (the tables of ycbcr.go).
		kCrR = archsimd.BroadcastInt32x8(91881)
		kCbB = archsimd.BroadcastInt32x8(116130)
		kCrG = archsimd.BroadcastInt32x8(-46802)
		kCbG = archsimd.BroadcastInt32x8(-22554)
	)
	// rgb packs the converted pixels of one parity as R | G<<8 | B<<16.
	rgb := func(y, cb, cr archsimd.Int32x8, out *[8]int32) {
		cb, cr = cb.Sub(c128), cr.Sub(c128)
		r := y.Add(cr.Mul(kCrR).Add(half).ShiftAllRight(16))
		g := y.Add(cb.Mul(kCbG).Add(half).Add(cr.Mul(kCrG)).ShiftAllRight(16))
		b := y.Add(cb.Mul(kCbB).Add(half).ShiftAllRight(16))
		r, g, b = r.Max(zero).Min(max255), g.Max(zero).Min(max255), b.Max(zero).Min(max255)
		r.Or(g.ShiftAllLeft(8)).Or(b.ShiftAllLeft(16)).Store(out)
	}
	var even, odd [8]int32
	i0 := 1
	for ; i0+8 <= len(sb)-1; i0 += 8 {
		x0 := 2 * i0
		sbc := archsimd.LoadInt32x8Slice(sb[i0:]).Mul(three)
		src := archsimd.LoadInt32x8Slice(sr[i0:]).Mul(three)
		cbE := sbc.Add(archsimd.LoadInt32x8Slice(sb[i0-1:])).Add(eight).ShiftAllRight(4)
		cbO := sbc.Add(archsimd.LoadInt32x8Slice(sb[i0+1:])).Add(seven).ShiftAllRight(4)
		crE := src.Add(archsimd.LoadInt32x8Slice(sr[i0-1:])).Add(eight).ShiftAllRight(4)
		crO := src.Add(archsimd.LoadInt32x8Slice(sr[i0+1:])).Add(seven).ShiftAllRight(4)
		// Lane k of yv holds Y of pixels x0+2k (low byte) and x0+2k+1.
		yv := archsimd.LoadUint8x16Slice(yrow[x0:]).AsUint16x8().ExtendToUint32().AsInt32x8()
		rgb(yv.And(lowFF), cbE, crE, &even)
		rgb(yv.ShiftAllRight(8), cbO, crO, &odd)
		out := o[3*x0 : 3*x0+49 : 3*x0+49]
		for k := range 8 {
			binary.LittleEndian.PutUint32(out[6*k:], uint32(even[k]))
			binary.LittleEndian.PutUint32(out[6*k+3:], uint32(odd[k]))
		}
	}
	return 2 * i0
}
