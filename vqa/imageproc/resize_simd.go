//go:build goexperiment.simd && amd64

package imageproc

import "simd/archsimd"

// weightedRows is weightedRowsScalar, 8 outputs at a time with AVX2 when
// the CPU has it (same integer arithmetic, bit-identical).
func weightedRows(out []uint8, rows [][]uint8, w []int32) {
	i := 0
	if archsimd.X86.AVX2() {
		i = weightedRowsAVX2(out, rows, w)
	}
	weightedRowsScalar(out, rows, w, i)
}

// maxVectorTaps bounds the broadcast weights kept on the stack; longer
// kernels (downscaling by more than ~15x) broadcast per use.
const maxVectorTaps = 32

// weightedRowsAVX2 handles out[:i] for the returned i, 16 bytes per step
// (i leaves fewer than 16 trailing bytes for the scalar kernel).
func weightedRowsAVX2(out []uint8, rows [][]uint8, w []int32) int {
	if len(rows) > maxVectorTaps {
		return 0
	}
	var ws [maxVectorTaps]archsimd.Int32x8
	for j, x := range w {
		ws[j] = archsimd.BroadcastInt32x8(x)
	}
	n := len(out)
	half := archsimd.BroadcastInt32x8(1 << (precision - 1))
	lo, hi := archsimd.BroadcastInt32x8(0), archsimd.BroadcastInt32x8(255)
	var tmp0, tmp1 [8]int32
	i := 0
	for ; i+24 <= n; i += 16 {
		a0, a1 := half, half
		for j, r := range rows {
			r = r[i : i+24]
			a0 = a0.Add(archsimd.LoadUint8x16Slice(r[:16]).ExtendLo8ToUint32().AsInt32x8().Mul(ws[j]))
			a1 = a1.Add(archsimd.LoadUint8x16Slice(r[8:24]).ExtendLo8ToUint32().AsInt32x8().Mul(ws[j]))
		}
		a0.ShiftAllRight(precision).Max(lo).Min(hi).Store(&tmp0)
		a1.ShiftAllRight(precision).Max(lo).Min(hi).Store(&tmp1)
		o := out[i : i+16 : i+16]
		for k := range 8 {
			o[k], o[8+k] = uint8(tmp0[k]), uint8(tmp1[k])
		}
	}
	return i
}
