// Copyright 2023-2026 The GoMLX Authors. SPDX-License-Identifier: Apache-2.0

//go:build amd64 && goexperiment.simd

package ops

import (
	"simd/archsimd"
	"sync"

	"github.com/gomlx/compute/internal/gobackend"
)

// This file holds AVX-512 float32 executors for Erf, Exp and Neg, and the exact GELU kernel that the fused GELU
// (package fusedops) calls: the ops of an exact GELU and of its gradient, which the generic executors compute per
// element in float64 with math.Erf and math.Exp. They are registered with the other float32 AVX-512 executors
// (registerSIMDFloat32) and compute 16 lanes at a time in float32:
//
//   - erf(x), |x| < 1: x + x·P(x²), P of degree 6 (relative error of the approximation 1.2e-9);
//     |x| ≥ 1: sign(x)·(1 - exp(-Q(min(|x|, 4) - 1))), Q of degree 7 approximating -log(erfc(|x|)) (its error
//     weighted by erfc(|x|), the absolute error it makes in erf, 2.1e-11); erf(±4) rounds to ±1 in float32, as
//     erf does from ±3.92. NaN stays NaN, ±0 stays ±0.
//   - exp(x) = 2^n·p(r), n = round(x/ln 2), r = x - n·ln 2 (ln 2 in two parts) in [-ln2/2, ln2/2], p(r) =
//     1 + r + r²·q(r), q of degree 4 (relative error 3.1e-9); VSCALEFPS multiplies by 2^n, rounding once: it
//     overflows to +Inf and underflows gradually to subnormals and 0, as math.Exp rounded to float32 does.
//   - Neg flips the sign bit, as the generic -x does (bitwise the same results).
//
// P, Q and q are minimax fits (weighted as said; Lawson's iteration on 3000 Chebyshev points; coefficients rounded
// to float32). Against math.Erf and math.Exp over every float32 (PATCH.md), erf is at most 1.02 ulp off and exp at
// most 0.91 ulp off, where the generic executors, rounding the float64 result, are at most 0.5 ulp off but 15 to 25
// times slower. TestSIMDErfFloat32 and TestSIMDExpFloat32 check a dense sweep of float32 values.

const (
	simdErfThreshold = 1.0 // Below it, P; from it, Q.
	simdErfMaxArg    = 4.0 // Q's argument is clamped to it: erf is ±1 in float32 from ±3.92.

	// erf(x) = x + x·P(x²) for |x| < 1.
	simdErfP0 = 0.128379166
	simdErfP1 = -0.37612626
	simdErfP2 = 0.112835854
	simdErfP3 = -0.0268538129
	simdErfP4 = 0.00518832868
	simdErfP5 = -0.000801020244
	simdErfP6 = 7.85388838e-05

	// -log(erfc(a)) = Q(a - 1) for 1 ≤ a ≤ 4.
	simdErfQ0 = 1.84960556
	simdErfQ1 = 2.63896751
	simdErfQ2 = 0.843107104
	simdErfQ3 = 0.0415634811
	simdErfQ4 = -0.0100464523
	simdErfQ5 = 0.00201196643
	simdErfQ6 = -0.000289527932
	simdErfQ7 = 2.16867575e-05

	// exp(r) = 1 + r + r²·q(r) for |r| ≤ ln2/2.
	simdExpQ0 = 0.49999994
	simdExpQ1 = 0.166665211
	simdExpQ2 = 0.041668389
	simdExpQ3 = 0.00836871099
	simdExpQ4 = 0.00138146104

	simdLog2E = 1.44269504088896341
	simdLn2Hi = 0.693145751953125      // ln 2 rounded to 16 bits.
	simdLn2Lo = 1.4286068202862268e-06 // ln 2 - simdLn2Hi.

	// exp(x) is +Inf in float32 from 88.73 and 0 below -103.98: clamping x to [-104, 89] keeps n finite, and
	// VSCALEFPS's rounding gives the same +Inf and 0.
	simdExpMaxArg = 89.0
	simdExpMinArg = -104.0

	simdSqrt1_2 = 0.70710678118654752440 // 1/√2, rounded to float32 as in the generic GELU.

	// simdElementwiseMinChunk is the minimum number of elements per parallel task of simdParallel.
	simdElementwiseMinChunk = 1 << 16
)

// simdExpRange returns exp(x) for x in [simdExpMinArg, simdExpMaxArg].
func simdExpRange(x archsimd.Float32x16) archsimd.Float32x16 {
	n := x.Mul(archsimd.BroadcastFloat32x16(simdLog2E)).RoundToEvenScaled(0)
	r := n.MulAdd(archsimd.BroadcastFloat32x16(-simdLn2Hi), x)
	r = n.MulAdd(archsimd.BroadcastFloat32x16(-simdLn2Lo), r)
	q := r.MulAdd(archsimd.BroadcastFloat32x16(simdExpQ4), archsimd.BroadcastFloat32x16(simdExpQ3))
	q = q.MulAdd(r, archsimd.BroadcastFloat32x16(simdExpQ2))
	q = q.MulAdd(r, archsimd.BroadcastFloat32x16(simdExpQ1))
	q = q.MulAdd(r, archsimd.BroadcastFloat32x16(simdExpQ0))
	one := archsimd.BroadcastFloat32x16(1)
	p := q.MulAdd(r, one).MulAdd(r, one) // (q·r + 1)·r + 1 = 1 + r + r²·q.
	return p.Scale(n)
}

// simdExp returns exp(x).
func simdExp(x archsimd.Float32x16) archsimd.Float32x16 {
	clamped := x.Min(archsimd.BroadcastFloat32x16(simdExpMaxArg)).Max(archsimd.BroadcastFloat32x16(simdExpMinArg))
	return x.Merge(simdExpRange(clamped), x.IsNaN())
}

// simdErf returns erf(x).
func simdErf(x archsimd.Float32x16) archsimd.Float32x16 {
	bits := x.AsUint32x16()
	a := bits.And(archsimd.BroadcastUint32x16(0x7fff_ffff)).AsFloat32x16()

	// |x| < 1 (and NaN, for which the comparison below is false): x + x·P(x²).
	s := x.Mul(x)
	p := s.MulAdd(archsimd.BroadcastFloat32x16(simdErfP6), archsimd.BroadcastFloat32x16(simdErfP5))
	p = p.MulAdd(s, archsimd.BroadcastFloat32x16(simdErfP4))
	p = p.MulAdd(s, archsimd.BroadcastFloat32x16(simdErfP3))
	p = p.MulAdd(s, archsimd.BroadcastFloat32x16(simdErfP2))
	p = p.MulAdd(s, archsimd.BroadcastFloat32x16(simdErfP1))
	p = p.MulAdd(s, archsimd.BroadcastFloat32x16(simdErfP0))
	small := x.MulAdd(p, x)

	// |x| ≥ 1: sign(x)·(1 - exp(-Q(min(|x|, 4) - 1))), -Q evaluated with the negated coefficients (exactly -Q).
	t := a.Min(archsimd.BroadcastFloat32x16(simdErfMaxArg)).Sub(archsimd.BroadcastFloat32x16(simdErfThreshold))
	q := t.MulAdd(archsimd.BroadcastFloat32x16(-simdErfQ7), archsimd.BroadcastFloat32x16(-simdErfQ6))
	q = q.MulAdd(t, archsimd.BroadcastFloat32x16(-simdErfQ5))
	q = q.MulAdd(t, archsimd.BroadcastFloat32x16(-simdErfQ4))
	q = q.MulAdd(t, archsimd.BroadcastFloat32x16(-simdErfQ3))
	q = q.MulAdd(t, archsimd.BroadcastFloat32x16(-simdErfQ2))
	q = q.MulAdd(t, archsimd.BroadcastFloat32x16(-simdErfQ1))
	q = q.MulAdd(t, archsimd.BroadcastFloat32x16(-simdErfQ0))
	large := archsimd.BroadcastFloat32x16(1).Sub(simdExpRange(q))
	large = large.AsUint32x16().Or(bits.And(archsimd.BroadcastUint32x16(0x8000_0000))).AsFloat32x16()

	return large.Merge(small, a.GreaterEqual(archsimd.BroadcastFloat32x16(simdErfThreshold)))
}

// simdExpFloat32 computes output[i] = exp(input[i]).
func simdExpFloat32(input, output []float32) {
	n := len(output)
	input = input[:n]
	ii := 0
	for ; ii+16 <= n; ii += 16 {
		simdExp(archsimd.LoadFloat32x16Slice(input[ii:])).StoreSlice(output[ii:])
	}
	simdTailFloat32(input[ii:], output[ii:], simdExp)
}

// simdTailFloat32 applies f to the last len(output) < 16 values through a full 16-lane array: the partial loads
// and stores of archsimd (LoadFloat32x16SlicePart) cast the slice to a 16-element array pointer, which the race
// detector's pointer checks reject when the slice ends an allocation.
func simdTailFloat32(input, output []float32, f func(archsimd.Float32x16) archsimd.Float32x16) {
	if len(output) == 0 {
		return
	}
	var lanes [16]float32
	copy(lanes[:], input[:len(output)])
	f(archsimd.LoadFloat32x16Slice(lanes[:])).StoreSlice(lanes[:])
	copy(output, lanes[:])
}

// simdErfFloat32 computes output[i] = erf(input[i]).
func simdErfFloat32(input, output []float32) {
	n := len(output)
	input = input[:n]
	ii := 0
	for ; ii+16 <= n; ii += 16 {
		simdErf(archsimd.LoadFloat32x16Slice(input[ii:])).StoreSlice(output[ii:])
	}
	simdTailFloat32(input[ii:], output[ii:], simdErf)
}

// SIMDGeluFloat32 computes the exact GELU, output[i] = x·0.5·(1 + erf(x/√2)) with x = input[i], in the generic
// GELU's order of operations (fusedops' geluChunk) with simdErf for erf. The CPU must have AVX-512.
func SIMDGeluFloat32(input, output []float32) {
	n := len(output)
	input = input[:n]
	ii := 0
	for ; ii+16 <= n; ii += 16 {
		simdGelu(archsimd.LoadFloat32x16Slice(input[ii:])).StoreSlice(output[ii:])
	}
	simdTailFloat32(input[ii:], output[ii:], simdGelu)
}

// simdGelu is the exact GELU of 16 values.
func simdGelu(x archsimd.Float32x16) archsimd.Float32x16 {
	cdf := simdErf(x.Mul(archsimd.BroadcastFloat32x16(simdSqrt1_2))).Add(archsimd.BroadcastFloat32x16(1))
	return x.Mul(archsimd.BroadcastFloat32x16(0.5)).Mul(cdf)
}

// simdNegFloat32 computes output[i] = -input[i] by flipping the sign bit.
func simdNegFloat32(input, output []float32) {
	n := len(output)
	input = input[:n]
	sign := archsimd.BroadcastUint32x16(0x8000_0000)
	ii := 0
	for ; ii+16 <= n; ii += 16 {
		archsimd.LoadFloat32x16Slice(input[ii:]).AsUint32x16().Xor(sign).AsFloat32x16().StoreSlice(output[ii:])
	}
	for ; ii < n; ii++ {
		output[ii] = -input[ii]
	}
}

// SIMDParallelFloat32 runs fn(input[lo:hi], output[lo:hi]) over [0, len(output)) in chunks of at least
// simdElementwiseMinChunk elements (multiples of 16), in parallel on backend's workers when it has more than one
// (inline otherwise).
func SIMDParallelFloat32(backend *gobackend.Backend, input, output []float32, fn func(input, output []float32)) {
	n := len(output)
	numChunks := 1
	if backend != nil && backend.Workers.IsEnabled() {
		numChunks = min(backend.Workers.AdjustedMaxParallelism(), n/simdElementwiseMinChunk)
	}
	if numChunks <= 1 {
		fn(input[:n], output)
		return
	}
	chunk := (n/numChunks + 15) &^ 15
	var wg sync.WaitGroup
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Add(1)
		backend.Workers.WaitToStart(func() {
			fn(input[lo:hi], output[lo:hi])
			wg.Done()
		})
	}
	wg.Wait()
}
