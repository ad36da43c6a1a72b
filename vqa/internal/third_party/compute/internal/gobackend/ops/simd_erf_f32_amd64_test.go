// Copyright 2023-2026 The GoMLX Authors. SPDX-License-Identifier: Apache-2.0

//go:build amd64 && goexperiment.simd

package ops

import (
	"math"
	"math/rand/v2"
	"os"
	"simd/archsimd"
	"strconv"
	"testing"
)

// simdULPError returns how many float32 ulps got is from want (the float64 exact value): |got - want| divided by
// the spacing of the float32 values around want (2^-149 for subnormals). Infinities and NaN count as 0 if got is
// want rounded to float32 (any NaN for NaN), +Inf otherwise.
func simdULPError(got float32, want float64) float64 {
	if math.IsNaN(want) || math.IsInf(want, 0) || math.IsInf(float64(got), 0) || got != got {
		if (math.IsNaN(want) && got != got) || got == float32(want) { // float32(want) may round to ±Inf.
			return 0
		}
		return math.Inf(1)
	}
	_, exp := math.Frexp(want) // |want| in [2^(exp-1), 2^exp).
	ulp := math.Ldexp(1, max(exp-24, -149))
	if math.Abs(want) > math.MaxFloat32 { // Rounds to Inf: how far from the largest float32.
		ulp = math.Ldexp(1, 104)
	}
	return math.Abs(float64(got)-want) / ulp
}

// simdSweepFloat32 calls check on chunks of the float32 values whose bit patterns are multiples of step (every
// float32 for step 1), both signs, NaN and infinities included.
func simdSweepFloat32(step uint64, check func(x []float32)) {
	const chunk = 1 << 16
	x := make([]float32, 0, chunk)
	for bits := uint64(0); bits < 1<<32; bits += step {
		x = append(x, math.Float32frombits(uint32(bits)))
		if len(x) == chunk {
			check(x)
			x = x[:0]
		}
	}
	check(x)
}

// simdSpecialFloat32 are edge values of erf and exp.
var simdSpecialFloat32 = []float32{
	0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()),
	math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32, 1e-40, -1e-40, 1e-30, 1.1754944e-38, 1e-8, -1e-8,
	0.5, 0.9999999, 1, 1.0000001, -0.9999999, -1, -1.0000001, 2, 3.9, 3.92, 3.93, 4, 4.0000005, 5, 10, -10,
	1e10, -1e10, math.MaxFloat32, -math.MaxFloat32,
	88.72283, 88.72284, 88.7229, 89, 100, -87.33654, -87.33655, -100, -103.97, -103.98, -104, -105, -1000,
}

// simdCheckLengths checks that fn gives the same results on every length 0-40 and 1000, each element as when computed
// alone, in place too.
func simdCheckLengths(t *testing.T, name string, fn func(input, output []float32)) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, n := range []int{0, 1, 2, 7, 15, 16, 17, 31, 32, 33, 40, 1000} {
		x := simdTestValues(rng, n, true)
		got := make([]float32, n)
		fn(x, got)
		one := make([]float32, 1)
		for ii, v := range x {
			fn(x[ii:ii+1], one)
			if !simdSameFloat32(got[ii], one[0]) {
				t.Fatalf("%s, n=%d: %s(%g) = %g at %d, %g alone", name, n, name, v, got[ii], ii, one[0])
			}
		}
		y := append([]float32(nil), x...)
		fn(y, y)
		for ii, v := range x {
			if !simdSameFloat32(y[ii], got[ii]) {
				t.Fatalf("%s, n=%d: %s(%g) in place = %g, want %g", name, n, name, v, y[ii], got[ii])
			}
		}
	}
}

// simdSweepStep returns the step of the bit patterns swept by the accuracy tests: 1 (every float32, about a
// few minutes) if $GOMLX_SIMD_EXHAUSTIVE is set, else 101 (about 43 million values).
func simdSweepStep() uint64 {
	if os.Getenv("GOMLX_SIMD_EXHAUSTIVE") != "" {
		return 1
	}
	return 101
}

func TestSIMDErfFloat32(t *testing.T) {
	if !archsimd.X86.AVX512() {
		t.Skip("no AVX-512")
	}
	const maxULP = 1.5
	check := func(x []float32) (worst float64, worstX float32) {
		got := make([]float32, len(x))
		simdErfFloat32(x, got)
		for ii, v := range x {
			want := math.Erf(float64(v))
			if e := simdULPError(got[ii], want); e > worst || e != e {
				worst, worstX = e, v
			}
			if v == 0 && math.Signbit(float64(got[ii])) != math.Signbit(float64(v)) {
				t.Fatalf("erf(%g) = %g: sign of zero lost", v, got[ii])
			}
		}
		return
	}
	if worst, x := check(simdSpecialFloat32); worst > maxULP {
		t.Errorf("erf(%g) is %.3g ulp off (got %g, want %g)", x, worst, simdErfOne(x), math.Erf(float64(x)))
	}
	worst, worstX := 0.0, float32(0)
	simdSweepFloat32(simdSweepStep(), func(x []float32) {
		if e, v := check(x); e > worst {
			worst, worstX = e, v
		}
	})
	t.Logf("erf: at most %.3f ulp off math.Erf (at x=%g)", worst, worstX)
	if worst > maxULP {
		t.Errorf("erf(%g) is %.3g ulp off (got %g, want %g)", worstX, worst, simdErfOne(worstX), math.Erf(float64(worstX)))
	}
	simdCheckLengths(t, "erf", simdErfFloat32)
}

func TestSIMDExpFloat32(t *testing.T) {
	if !archsimd.X86.AVX512() {
		t.Skip("no AVX-512")
	}
	const maxULP = 1.0
	check := func(x []float32) (worst float64, worstX float32) {
		got := make([]float32, len(x))
		simdExpFloat32(x, got)
		for ii, v := range x {
			if e := simdULPError(got[ii], math.Exp(float64(v))); e > worst || e != e {
				worst, worstX = e, v
			}
			if v == 0 && got[ii] != 1 {
				t.Fatalf("exp(%g) = %g, want 1", v, got[ii])
			}
		}
		return
	}
	if worst, x := check(simdSpecialFloat32); worst > maxULP {
		out := []float32{0}
		simdExpFloat32([]float32{x}, out)
		t.Errorf("exp(%g) is %.3g ulp off (got %g, want %g)", x, worst, out[0], math.Exp(float64(x)))
	}
	worst, worstX := 0.0, float32(0)
	simdSweepFloat32(simdSweepStep(), func(x []float32) {
		if e, v := check(x); e > worst {
			worst, worstX = e, v
		}
	})
	t.Logf("exp: at most %.3f ulp off math.Exp (at x=%g)", worst, worstX)
	if worst > maxULP {
		t.Errorf("exp(%g) is %.3g ulp off", worstX, worst)
	}
	simdCheckLengths(t, "exp", simdExpFloat32)
}

// simdErfOne returns simdErf(x).
func simdErfOne(x float32) float32 {
	out := []float32{0}
	simdErfFloat32([]float32{x}, out)
	return out[0]
}

func TestSIMDGeluFloat32(t *testing.T) {
	if !archsimd.X86.AVX512() {
		t.Skip("no AVX-512")
	}
	// Against the generic GELU's formula with math.Erf: they differ by erf's error, times x/2.
	check := func(x []float32) {
		got := make([]float32, len(x))
		SIMDGeluFloat32(x, got)
		sqrt2Inv := float32(1.0 / math.Sqrt(2.0))
		for ii, v := range x {
			y := v * sqrt2Inv
			erf := math.Erf(float64(y))
			want := v * 0.5 * (1.0 + float32(erf))
			if got[ii] == want || (got[ii] != got[ii] && want != want) {
				continue
			}
			_, exp := math.Frexp(erf)
			tolerance := math.Abs(float64(v))*0.5*1.5*math.Ldexp(1, max(exp-24, -149)) + // erf's error
				2*math.Ldexp(1, max(math.Ilogb(float64(want))-23, -149)) // roundings
			if math.Abs(float64(got[ii]-want)) > tolerance || math.IsInf(float64(got[ii]), 0) != math.IsInf(float64(want), 0) {
				t.Fatalf("gelu(%g) = %g, want %g (tolerance %g)", v, got[ii], want, tolerance)
			}
		}
	}
	check(simdSpecialFloat32)
	simdSweepFloat32(4093, check)
	simdCheckLengths(t, "gelu", SIMDGeluFloat32)
}

func TestSIMDNegFloat32(t *testing.T) {
	if !archsimd.X86.AVX512() {
		t.Skip("no AVX-512")
	}
	check := func(x []float32) {
		got := make([]float32, len(x))
		simdNegFloat32(x, got)
		for ii, v := range x {
			if math.Float32bits(got[ii]) != math.Float32bits(-v) {
				t.Fatalf("-(%g) = %g", v, got[ii])
			}
		}
	}
	check(simdSpecialFloat32)
	simdSweepFloat32(4093, check)
	simdCheckLengths(t, "neg", simdNegFloat32)
}

// BenchmarkSIMDErfFloat32 times the generic executors' loops (GOMAXPROCS=1: no parallel chunks) and the AVX-512
// ones on the GELU's activations of the workbook's tiny recipe, [16·81, 384] and [32·81, 384]: Erf and Exp (the
// GELU's gradient), Neg. The GELU itself is timed in package fusedops (BenchmarkSIMDGeluFloat32).
func BenchmarkSIMDErfFloat32(b *testing.B) {
	if !archsimd.X86.AVX512() {
		b.Skip("no AVX-512")
	}
	rng := rand.New(rand.NewPCG(13, 14))
	for _, rows := range []int{16 * 81, 32 * 81} {
		n := rows * 384
		x := simdTestValues(rng, n, false)
		negSquares := make([]float32, n) // Exp's operand in erf's gradient: -(x/√2)².
		for ii, v := range x {
			negSquares[ii] = -v * v / 2
		}
		out := make([]float32, n)
		name := func(op string) string { return op + "[" + strconv.Itoa(rows) + ",384]" }
		for _, c := range []struct {
			name          string
			generic, simd func()
		}{
			{name("Erf"), func() {
				for ii, v := range x {
					out[ii] = float32(math.Erf(float64(v)))
				}
			}, func() { simdErfFloat32(x, out) }},
			{name("Exp"), func() { execExpGeneric(negSquares, out) }, func() { simdExpFloat32(negSquares, out) }},
			{name("Neg"), func() { execNegGeneric(x, out) }, func() { simdNegFloat32(x, out) }},
		} {
			b.Run("generic/"+c.name, func(b *testing.B) {
				for b.Loop() {
					c.generic()
				}
			})
			b.Run("simd/"+c.name, func(b *testing.B) {
				for b.Loop() {
					c.simd()
				}
			})
		}
	}
}
