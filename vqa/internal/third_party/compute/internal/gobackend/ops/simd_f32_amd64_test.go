// Copyright 2023-2026 The GoMLX Authors. SPDX-License-Identifier: Apache-2.0

//go:build amd64 && goexperiment.simd

package ops

import (
	"fmt"
	"math"
	"math/rand/v2"
	"simd/archsimd"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/internal/gobackend"
	"github.com/gomlx/compute/shapes"
)

// simdTestValues returns n random float32 values, some of them special (zeros of both signs, infinities, NaN) if
// special.
func simdTestValues(rng *rand.Rand, n int, special bool) []float32 {
	values := make([]float32, n)
	for ii := range values {
		values[ii] = float32(rng.NormFloat64() * 3)
		if special && rng.IntN(20) == 0 {
			values[ii] = []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)),
				float32(math.NaN()), 1e-40}[rng.IntN(6)]
		}
	}
	return values
}

// simdSameFloat32 reports whether a and b are the same float32 (bitwise, any NaN matching any NaN).
func simdSameFloat32(a, b float32) bool {
	if a != a || b != b {
		return a != a && b != b
	}
	return math.Float32bits(a) == math.Float32bits(b)
}

func TestSIMDBinaryFloat32(t *testing.T) {
	if !archsimd.X86.AVX512() {
		t.Skip("no AVX-512")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	dimChoices := []int{1, 2, 3, 5, 15, 16, 17, 33, 64}
	ops := []struct {
		op  simdBinaryOp
		ref func(a, b float32) float32
	}{
		{simdOpAdd, func(a, b float32) float32 { return a + b }},
		{simdOpSub, func(a, b float32) float32 { return a - b }},
		{simdOpMul, func(a, b float32) float32 { return a * b }},
		{simdOpDiv, func(a, b float32) float32 { return a / b }},
	}
	for round := range 3000 {
		rank := rng.IntN(5)
		outputDims := make([]int, rank)
		lhsDims := make([]int, rank)
		rhsDims := make([]int, rank)
		for axis := range rank {
			outputDims[axis] = dimChoices[rng.IntN(len(dimChoices))]
			if rank > 2 && rng.IntN(6) == 0 {
				outputDims[axis] = 1 + rng.IntN(3)
			}
			lhsDims[axis], rhsDims[axis] = outputDims[axis], outputDims[axis]
			switch rng.IntN(4) {
			case 0:
				lhsDims[axis] = 1
			case 1:
				rhsDims[axis] = 1
			}
		}
		zeroAxis := rng.IntN(8) == 0
		if zeroAxis {
			outputDims = append(outputDims, 0)
			lhsDims = append(lhsDims, 0)
			rhsDims = append(rhsDims, 0)
		}
		outputShape := shapes.Make(dtypes.Float32, outputDims...)
		lhsShape := shapes.Make(dtypes.Float32, lhsDims...)
		rhsShape := shapes.Make(dtypes.Float32, rhsDims...)
		// The reference broadcasts operands of the output's rank: a scalar is all 1s.
		lhsRefShape, rhsRefShape := lhsShape, rhsShape
		ones := make([]int, len(outputDims))
		for axis := range ones {
			ones[axis] = 1
		}
		if !zeroAxis {
			switch rng.IntN(6) {
			case 0:
				lhsShape, lhsRefShape = shapes.Make(dtypes.Float32), shapes.Make(dtypes.Float32, ones...)
			case 1:
				rhsShape, rhsRefShape = shapes.Make(dtypes.Float32), shapes.Make(dtypes.Float32, ones...)
			}
		}
		lhs := simdTestValues(rng, lhsShape.Size(), true)
		rhs := simdTestValues(rng, rhsShape.Size(), true)
		for _, op := range ops {
			want := make([]float32, outputShape.Size())
			if len(want) > 0 {
				zip := gobackend.NewZippedBroadcastIterator(lhsRefShape, rhsRefShape, outputShape)
				for indices := range zip.IterFlatIndices() {
					want[indices.TgtFlatIdx] = op.ref(lhs[indices.LHSFlatIdx], rhs[indices.RHSFlatIdx])
				}
			}
			name := fmt.Sprintf("round %d op %d: %s op %s -> %s", round, op.op, lhsShape, rhsShape, outputShape)
			got := make([]float32, len(want))
			simdBinaryFloat32(op.op, lhs, rhs, got, lhsShape.Dimensions, rhsShape.Dimensions, outputDims)
			for ii := range want {
				if !simdSameFloat32(got[ii], want[ii]) {
					t.Fatalf("%s: output[%d] = %g, want %g", name, ii, got[ii], want[ii])
				}
			}
			// In place: the output is one of the operands.
			if len(lhs) == len(want) {
				inPlace := append([]float32(nil), lhs...)
				simdBinaryFloat32(op.op, inPlace, rhs, inPlace, lhsShape.Dimensions, rhsShape.Dimensions, outputDims)
				for ii := range want {
					if !simdSameFloat32(inPlace[ii], want[ii]) {
						t.Fatalf("%s, in place of lhs: output[%d] = %g, want %g", name, ii, inPlace[ii], want[ii])
					}
				}
			}
			if len(rhs) == len(want) {
				inPlace := append([]float32(nil), rhs...)
				simdBinaryFloat32(op.op, lhs, inPlace, inPlace, lhsShape.Dimensions, rhsShape.Dimensions, outputDims)
				for ii := range want {
					if !simdSameFloat32(inPlace[ii], want[ii]) {
						t.Fatalf("%s, in place of rhs: output[%d] = %g, want %g", name, ii, inPlace[ii], want[ii])
					}
				}
			}
		}
	}
}

func TestSIMDUnaryFloat32(t *testing.T) {
	if !archsimd.X86.AVX512() {
		t.Skip("no AVX-512")
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 1, 15, 16, 17, 31, 32, 33, 100, 1000} {
		x := simdTestValues(rng, n, true)
		x = append(x, -1, -0.5)
		got, want := make([]float32, len(x)), make([]float32, len(x))
		simdAbsFloat32(x, got)
		for ii, v := range x {
			want[ii] = float32(math.Abs(float64(v)))
			if !simdSameFloat32(got[ii], want[ii]) {
				t.Fatalf("n=%d: Abs(%g) = %g, want %g", n, v, got[ii], want[ii])
			}
		}
		for ii := range x {
			x[ii] = float32(math.Abs(float64(x[ii]))) * float32(rng.IntN(2)*2-1) // Some negative: NaN.
		}
		simdSqrtFloat32(x, got)
		execSqrtGeneric(x, want)
		for ii, v := range x {
			if !simdSameFloat32(got[ii], want[ii]) {
				t.Fatalf("n=%d: Sqrt(%g) = %g, want %g", n, v, got[ii], want[ii])
			}
		}
		// In place.
		y := append([]float32(nil), x...)
		simdAbsFloat32(y, y)
		for ii, v := range x {
			if !simdSameFloat32(y[ii], float32(math.Abs(float64(v)))) {
				t.Fatalf("n=%d: Abs(%g) in place = %g", n, v, y[ii])
			}
		}
	}
}

func TestSIMDReduceFloat32(t *testing.T) {
	if !archsimd.X86.AVX512() {
		t.Skip("no AVX-512")
	}
	rng := rand.New(rand.NewPCG(5, 6))
	dimChoices := []int{1, 2, 3, 7, 16, 17, 31, 65, 96}
	tested := 0
	for round := 0; tested < 2000; round++ {
		rank := 1 + rng.IntN(4)
		dims := make([]int, rank)
		for axis := range dims {
			dims[axis] = dimChoices[rng.IntN(len(dimChoices))]
		}
		var axes []int
		for axis := range rank {
			if rng.IntN(2) == 0 {
				axes = append(axes, axis)
			}
		}
		if len(axes) == rank && rng.IntN(2) == 0 {
			axes = nil // All axes.
		}
		for _, isMax := range []bool{false, true} {
			outer, reduce, inner, ok := simdReducePlan(isMax, dims, axes)
			if !ok {
				continue
			}
			tested++
			operandShape := shapes.Make(dtypes.Float32, dims...)
			x := simdTestValues(rng, operandShape.Size(), isMax && rng.IntN(2) == 0)
			if rng.IntN(4) == 0 {
				// Only zeros of both signs (max must be +0 if there is one).
				for ii := range x {
					x[ii] = float32(math.Copysign(0, float64(rng.IntN(2)*2-1)))
				}
			}
			reduceAxes := axes
			if reduceAxes == nil {
				for axis := range rank {
					reduceAxes = append(reduceAxes, axis)
				}
			}
			it := NewReduceOutputIterator(dims, reduceAxes)
			want := make([]float32, outer*inner)
			for ii := range want {
				if isMax {
					want[ii] = float32(math.Inf(-1))
				}
			}
			for _, v := range x {
				idx := it.Next()
				if isMax {
					want[idx] = max(want[idx], v)
				} else {
					want[idx] += v
				}
			}
			got := make([]float32, len(want))
			for ii := range got {
				got[ii] = float32(math.NaN())
			}
			simdReduceFloat32(isMax, x, got, outer, reduce, inner)
			name := fmt.Sprintf("round %d, max=%v, %v reduced over %v ([%d, %d, %d])", round, isMax, dims, axes,
				outer, reduce, inner)
			for ii := range want {
				if !simdSameFloat32(got[ii], want[ii]) {
					t.Fatalf("%s: output[%d] = %g, want %g", name, ii, got[ii], want[ii])
				}
			}
		}
	}
}

func TestSIMDReducePlan(t *testing.T) {
	for _, tc := range []struct {
		dims, axes           []int
		isMax                bool
		outer, reduce, inner int
		ok                   bool
	}{
		{[]int{30522, 96}, nil, true, 1, 30522 * 96, 1, true},
		{[]int{16, 81, 96}, []int{2}, false, 16 * 81, 96, 1, true},
		{[]int{16, 81, 96}, []int{0, 1}, false, 1, 16 * 81, 96, true},
		{[]int{16, 81, 96}, []int{0, 1}, true, 0, 0, 0, false},
		{[]int{4, 5, 6, 7}, []int{1, 2}, false, 4, 30, 7, true},
		{[]int{4, 5, 6, 7}, []int{0, 2}, false, 0, 0, 0, false},
		{[]int{4, 1, 6, 7}, []int{0, 2}, false, 1, 24, 7, true},
		{[]int{4, 5}, []int{1}, false, 4, 5, 1, true},
		{[]int{4, 1}, []int{1}, false, 0, 0, 0, false},
		{[]int{4, 0}, []int{1}, false, 0, 0, 0, false},
	} {
		outer, reduce, inner, ok := simdReducePlan(tc.isMax, tc.dims, tc.axes)
		if ok != tc.ok || (ok && (outer != tc.outer || reduce != tc.reduce || inner != tc.inner)) {
			t.Errorf("simdReducePlan(%v, %v, %v) = %d, %d, %d, %v; want %d, %d, %d, %v", tc.isMax, tc.dims, tc.axes,
				outer, reduce, inner, ok, tc.outer, tc.reduce, tc.inner, tc.ok)
		}
	}
}

// BenchmarkSIMDFloat32 times the generic float32 kernels and the AVX-512 ones, alternately, on the shapes of a
// small ViLT's training step (the AdamW update of its [30522, 96] word embeddings, LayerNorm and bias gradients).
func BenchmarkSIMDFloat32(b *testing.B) {
	if !archsimd.X86.AVX512() {
		b.Skip("no AVX-512")
	}
	rng := rand.New(rand.NewPCG(7, 8))
	emb := shapes.Make(dtypes.Float32, 30522, 96)
	act := shapes.Make(dtypes.Float32, 16, 81, 96)
	x, y := simdTestValues(rng, emb.Size(), false), simdTestValues(rng, emb.Size(), false)
	out := make([]float32, emb.Size())
	scalar := shapes.Make(dtypes.Float32)
	c := []float32{0.9}
	buffer := func(flat []float32, shape shapes.Shape) *gobackend.Buffer {
		return &gobackend.Buffer{RawShape: shape, Flat: flat, InUse: true}
	}
	reduceBench := func(isMax bool, shape shapes.Shape, axes []int) (generic, simd func()) {
		in := buffer(x[:shape.Size()], shape)
		outer, reduce, inner, _ := simdReducePlan(isMax, shape.Dimensions, axes)
		outShape := shapes.Make(dtypes.Float32, outer*inner)
		output := buffer(out[:outer*inner], outShape)
		generic = func() {
			it := NewReduceOutputIterator(shape.Dimensions, axes)
			if isMax {
				_ = execReduceMaxGeneric[float32](in, output, it, dtypes.Float32)
			} else {
				_ = execReduceSumGeneric[float32](in, output, it, dtypes.Float32)
			}
		}
		simd = func() { simdReduceFloat32(isMax, in.Flat.([]float32), out, outer, reduce, inner) }
		return
	}
	allAxes := []int{0, 1}
	maxGeneric, maxSIMD := reduceBench(true, emb, allAxes)
	sumRowsGeneric, sumRowsSIMD := reduceBench(false, act, []int{0, 1})
	sumRunsGeneric, sumRunsSIMD := reduceBench(false, act, []int{2})
	for _, c := range []struct {
		name          string
		generic, simd func()
	}{
		{"Mul[30522,96]xScalar",
			func() { execMulNumericGeneric(x, c, out, emb, scalar, emb) },
			func() { simdBinaryFloat32(simdOpMul, x, c, out, emb.Dimensions, nil, emb.Dimensions) }},
		{"Add[30522,96]", func() { execAddNumericGeneric(x, y, out, emb, emb, emb) },
			func() { simdBinaryFloat32(simdOpAdd, x, y, out, emb.Dimensions, emb.Dimensions, emb.Dimensions) }},
		{"Div[16,81,96]/[16,81,1]", func() {
			execDivNumericGeneric(x[:act.Size()], y[:16*81], out[:act.Size()], act, shapes.Make(dtypes.Float32, 16, 81, 1), act)
		}, func() {
			simdBinaryFloat32(simdOpDiv, x[:act.Size()], y[:16*81], out[:act.Size()], act.Dimensions, []int{16, 81, 1}, act.Dimensions)
		}},
		{"Abs[30522,96]", func() { execAbsGeneric(x, out) }, func() { simdAbsFloat32(x, out) }},
		{"Sqrt[30522,96]", func() { execSqrtGeneric(y, out) }, func() { simdSqrtFloat32(y, out) }},
		{"ReduceMax[30522,96]", maxGeneric, maxSIMD},
		{"ReduceSum[16,81,96]/0,1", sumRowsGeneric, sumRowsSIMD},
		{"ReduceSum[16,81,96]/2", sumRunsGeneric, sumRunsSIMD},
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
