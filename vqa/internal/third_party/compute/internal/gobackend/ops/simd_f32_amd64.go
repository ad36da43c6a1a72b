// Copyright 2023-2026 The GoMLX Authors. SPDX-License-Identifier: Apache-2.0

//go:build amd64 && goexperiment.simd

package ops

import (
	"math"
	"simd/archsimd"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/internal/gobackend"
	"github.com/gomlx/compute/support/envutil"
)

// This file holds AVX-512 executors for the float32 element-wise ops and reductions that dominate small models'
// training steps (an AdamW update runs about fifteen of them over every parameter, the word embeddings included):
// Add, Sub, Mul, Div (same shapes, a scalar operand, or any broadcast, in contiguous runs), Abs, Sqrt, ReduceSum
// and ReduceMax (over trailing axes, leading axes, or both around kept ones). They are registered with
// gobackend.PriorityArch above the generic executors and call them back for every other dtype or case.
//
// Results are bitwise the generic ones (IEEE operations on the same operands, in the same order: ReduceSum keeps
// one running sum per output value), except that Abs clears the sign bit, so Abs(-0) is +0 (the generic one
// returns -0).

func init() {
	if !envutil.MustReadBool(envutil.SIMD_AVX512_Env, true) || !archsimd.X86.AVX512() {
		return
	}
	registerSIMDFloat32()
}

// registerSIMDFloat32 registers the float32 AVX-512 executors. The CPU must have AVX-512.
func registerSIMDFloat32() {
	gobackend.SetNodeExecutor(compute.OpTypeAdd, gobackend.PriorityArch, simdBinaryExecutor(simdOpAdd, execAdd))
	gobackend.SetNodeExecutor(compute.OpTypeSub, gobackend.PriorityArch, simdBinaryExecutor(simdOpSub, execSub))
	gobackend.SetNodeExecutor(compute.OpTypeMul, gobackend.PriorityArch, simdBinaryExecutor(simdOpMul, execMul))
	gobackend.SetNodeExecutor(compute.OpTypeDiv, gobackend.PriorityArch, simdBinaryExecutor(simdOpDiv, execDiv))
	gobackend.SetNodeExecutor(compute.OpTypeAbs, gobackend.PriorityArch, simdUnaryExecutor(simdAbsFloat32, false, execAbs))
	gobackend.SetNodeExecutor(compute.OpTypeSqrt, gobackend.PriorityArch, simdUnaryExecutor(simdSqrtFloat32, false, execSqrt))
	// Erf, Exp and Neg: simd_erf_f32_amd64.go (Erf and Exp are approximations, within about 1 ulp, not bitwise).
	gobackend.SetNodeExecutor(compute.OpTypeNeg, gobackend.PriorityArch, simdUnaryExecutor(simdNegFloat32, false, execNeg))
	gobackend.SetNodeExecutor(compute.OpTypeExp, gobackend.PriorityArch, simdUnaryExecutor(simdExpFloat32, true, execExp))
	gobackend.SetNodeExecutor(compute.OpTypeErf, gobackend.PriorityArch, simdUnaryExecutor(simdErfFloat32, true, execErf))
	gobackend.SetNodeExecutor(compute.OpTypeReduceSum, gobackend.PriorityArch, simdReduceExecutor)
	gobackend.SetNodeExecutor(compute.OpTypeReduceMax, gobackend.PriorityArch, simdReduceExecutor)
}

type simdBinaryOp int

const (
	simdOpAdd simdBinaryOp = iota
	simdOpSub
	simdOpMul
	simdOpDiv
)

// simdBinaryExecutor returns the executor of op for float32 operands, which calls generic for anything else.
func simdBinaryExecutor(op simdBinaryOp, generic gobackend.NodeExecutor) gobackend.NodeExecutor {
	return func(backend *gobackend.Backend, node *gobackend.Node, inputs []*gobackend.Buffer, inputsOwned []bool) (*gobackend.Buffer, error) {
		lhsShape, rhsShape, outputShape := inputs[0].RawShape, inputs[1].RawShape, node.Shape
		if lhsShape.DType != dtypes.Float32 || outputShape.IsDynamic() ||
			(lhsShape.Size() != 1 && lhsShape.Rank() != outputShape.Rank()) ||
			(rhsShape.Size() != 1 && rhsShape.Rank() != outputShape.Rank()) {
			return generic(backend, node, inputs, inputsOwned)
		}
		lhs, rhs, output, _, _ := binaryOperandsAndOutputForExecution(backend, node, inputs, inputsOwned, outputShape)
		if output == nil {
			return generic(backend, node, inputs, inputsOwned)
		}
		simdBinaryFloat32(op, lhs.Flat.([]float32), rhs.Flat.([]float32), output.Flat.([]float32),
			lhsShape.Dimensions, rhsShape.Dimensions, outputShape.Dimensions)
		return output, nil
	}
}

// simdBinaryFloat32 computes output = lhs op rhs, broadcasting the operands of size 1 or with axes of dimension 1
// (their other axes match the output's: same rank). output may be lhs or rhs if of the output's size.
func simdBinaryFloat32(op simdBinaryOp, lhs, rhs, output []float32, lhsDims, rhsDims, outputDims []int) {
	size := len(output)
	switch {
	case size == 0:
		return
	case len(lhs) == size && len(rhs) == size:
		simdBinaryVV(op, lhs, rhs, output)
		return
	case len(rhs) == 1 && len(lhs) == size:
		simdBinaryVS(op, lhs, rhs[0], output)
		return
	case len(lhs) == 1 && len(rhs) == size:
		simdBinarySV(op, lhs[0], rhs, output)
		return
	}

	// Broadcast: split the output in contiguous runs (the innermost axes along which each operand is either
	// whole or broadcast), iterating over the outer axes with each operand's strides (0 where broadcast).
	rank := len(outputDims)
	var (
		dimsBuf, lhsStridesBuf, rhsStridesBuf [8]int
		dims                                  = dimsBuf[:0]
		lhsStrides                            = lhsStridesBuf[:0]
		rhsStrides                            = rhsStridesBuf[:0]
	)
	lhsStride, rhsStride := 1, 1
	lhsScalar, rhsScalar := len(lhs) == 1, len(rhs) == 1
	// From the innermost axis, merging the axes of the same broadcast pattern.
	for axis := rank - 1; axis >= 0; axis-- {
		dim := outputDims[axis]
		if dim == 1 {
			continue
		}
		lhsBroadcast := lhsScalar || lhsDims[axis] == 1
		rhsBroadcast := rhsScalar || rhsDims[axis] == 1
		ls, rs := 0, 0
		if !lhsBroadcast {
			ls = lhsStride
			lhsStride *= dim
		}
		if !rhsBroadcast {
			rs = rhsStride
			rhsStride *= dim
		}
		n := len(dims)
		if n > 0 && (lhsStrides[n-1] == 0) == lhsBroadcast && (rhsStrides[n-1] == 0) == rhsBroadcast {
			// Same pattern as the axis after it (stored before): merge.
			dims[n-1] *= dim
			continue
		}
		dims = append(dims, dim)
		lhsStrides = append(lhsStrides, ls)
		rhsStrides = append(rhsStrides, rs)
	}
	// dims[0] is the innermost run.
	runLen := dims[0]
	lhsRun, rhsRun := lhsStrides[0] != 0, rhsStrides[0] != 0
	numOuter := len(dims) - 1
	var idxBuf [8]int
	idx := idxBuf[:numOuter]
	lhsOffset, rhsOffset := 0, 0
	for outOffset := 0; outOffset < size; outOffset += runLen {
		out := output[outOffset : outOffset+runLen]
		switch {
		case lhsRun && rhsRun:
			simdBinaryVV(op, lhs[lhsOffset:lhsOffset+runLen], rhs[rhsOffset:rhsOffset+runLen], out)
		case lhsRun:
			simdBinaryVS(op, lhs[lhsOffset:lhsOffset+runLen], rhs[rhsOffset], out)
		case rhsRun:
			simdBinarySV(op, lhs[lhsOffset], rhs[rhsOffset:rhsOffset+runLen], out)
		default:
			simdBinaryVS(op, lhs[lhsOffset:lhsOffset+1], rhs[rhsOffset], out[:1])
			for ii := 1; ii < runLen; ii++ {
				out[ii] = out[0]
			}
		}
		// Next outer index (odometer over dims[1:]).
		for ii := range numOuter {
			axis := ii + 1
			idx[ii]++
			lhsOffset += lhsStrides[axis]
			rhsOffset += rhsStrides[axis]
			if idx[ii] < dims[axis] {
				break
			}
			lhsOffset -= lhsStrides[axis] * dims[axis]
			rhsOffset -= rhsStrides[axis] * dims[axis]
			idx[ii] = 0
		}
	}
}

// simdBinaryVV computes output[i] = lhs[i] op rhs[i], all of the same length.
func simdBinaryVV(op simdBinaryOp, lhs, rhs, output []float32) {
	n := len(output)
	lhs, rhs = lhs[:n], rhs[:n]
	ii := 0
	switch op {
	case simdOpAdd:
		for ; ii+16 <= n; ii += 16 {
			archsimd.LoadFloat32x16Slice(lhs[ii:]).Add(archsimd.LoadFloat32x16Slice(rhs[ii:])).StoreSlice(output[ii:])
		}
		for ; ii < n; ii++ {
			output[ii] = lhs[ii] + rhs[ii]
		}
	case simdOpSub:
		for ; ii+16 <= n; ii += 16 {
			archsimd.LoadFloat32x16Slice(lhs[ii:]).Sub(archsimd.LoadFloat32x16Slice(rhs[ii:])).StoreSlice(output[ii:])
		}
		for ; ii < n; ii++ {
			output[ii] = lhs[ii] - rhs[ii]
		}
	case simdOpMul:
		for ; ii+16 <= n; ii += 16 {
			archsimd.LoadFloat32x16Slice(lhs[ii:]).Mul(archsimd.LoadFloat32x16Slice(rhs[ii:])).StoreSlice(output[ii:])
		}
		for ; ii < n; ii++ {
			output[ii] = lhs[ii] * rhs[ii]
		}
	case simdOpDiv:
		for ; ii+16 <= n; ii += 16 {
			archsimd.LoadFloat32x16Slice(lhs[ii:]).Div(archsimd.LoadFloat32x16Slice(rhs[ii:])).StoreSlice(output[ii:])
		}
		for ; ii < n; ii++ {
			output[ii] = lhs[ii] / rhs[ii]
		}
	}
}

// simdBinaryVS computes output[i] = lhs[i] op c.
func simdBinaryVS(op simdBinaryOp, lhs []float32, c float32, output []float32) {
	n := len(output)
	lhs = lhs[:n]
	cv := archsimd.BroadcastFloat32x16(c)
	ii := 0
	switch op {
	case simdOpAdd:
		for ; ii+16 <= n; ii += 16 {
			archsimd.LoadFloat32x16Slice(lhs[ii:]).Add(cv).StoreSlice(output[ii:])
		}
		for ; ii < n; ii++ {
			output[ii] = lhs[ii] + c
		}
	case simdOpSub:
		for ; ii+16 <= n; ii += 16 {
			archsimd.LoadFloat32x16Slice(lhs[ii:]).Sub(cv).StoreSlice(output[ii:])
		}
		for ; ii < n; ii++ {
			output[ii] = lhs[ii] - c
		}
	case simdOpMul:
		for ; ii+16 <= n; ii += 16 {
			archsimd.LoadFloat32x16Slice(lhs[ii:]).Mul(cv).StoreSlice(output[ii:])
		}
		for ; ii < n; ii++ {
			output[ii] = lhs[ii] * c
		}
	case simdOpDiv:
		for ; ii+16 <= n; ii += 16 {
			archsimd.LoadFloat32x16Slice(lhs[ii:]).Div(cv).StoreSlice(output[ii:])
		}
		for ; ii < n; ii++ {
			output[ii] = lhs[ii] / c
		}
	}
}

// simdBinarySV computes output[i] = c op rhs[i].
func simdBinarySV(op simdBinaryOp, c float32, rhs []float32, output []float32) {
	n := len(output)
	rhs = rhs[:n]
	cv := archsimd.BroadcastFloat32x16(c)
	ii := 0
	switch op {
	case simdOpAdd:
		for ; ii+16 <= n; ii += 16 {
			cv.Add(archsimd.LoadFloat32x16Slice(rhs[ii:])).StoreSlice(output[ii:])
		}
		for ; ii < n; ii++ {
			output[ii] = c + rhs[ii]
		}
	case simdOpSub:
		for ; ii+16 <= n; ii += 16 {
			cv.Sub(archsimd.LoadFloat32x16Slice(rhs[ii:])).StoreSlice(output[ii:])
		}
		for ; ii < n; ii++ {
			output[ii] = c - rhs[ii]
		}
	case simdOpMul:
		for ; ii+16 <= n; ii += 16 {
			cv.Mul(archsimd.LoadFloat32x16Slice(rhs[ii:])).StoreSlice(output[ii:])
		}
		for ; ii < n; ii++ {
			output[ii] = c * rhs[ii]
		}
	case simdOpDiv:
		for ; ii+16 <= n; ii += 16 {
			cv.Div(archsimd.LoadFloat32x16Slice(rhs[ii:])).StoreSlice(output[ii:])
		}
		for ; ii < n; ii++ {
			output[ii] = c / rhs[ii]
		}
	}
}

// simdUnaryExecutor returns the executor of a unary op with the float32 kernel fn, which calls generic for other
// dtypes. With parallel, fn runs on chunks of the operand through SIMDParallelFloat32 (for kernels costly enough
// per element to gain from it).
func simdUnaryExecutor(fn func(input, output []float32), parallel bool, generic gobackend.NodeExecutor) gobackend.NodeExecutor {
	return func(backend *gobackend.Backend, node *gobackend.Node, inputs []*gobackend.Buffer, inputsOwned []bool) (*gobackend.Buffer, error) {
		if inputs[0].RawShape.DType != dtypes.Float32 {
			return generic(backend, node, inputs, inputsOwned)
		}
		input, output, err := unaryOperandAndOutput(backend, inputs, inputsOwned)
		if err != nil {
			return nil, err
		}
		if parallel {
			SIMDParallelFloat32(backend, input.Flat.([]float32), output.Flat.([]float32), fn)
		} else {
			fn(input.Flat.([]float32), output.Flat.([]float32))
		}
		return output, nil
	}
}

// simdAbsFloat32 computes output[i] = |input[i]| by clearing the sign bit.
func simdAbsFloat32(input, output []float32) {
	n := len(output)
	input = input[:n]
	mask := archsimd.BroadcastUint32x16(0x7fff_ffff)
	ii := 0
	for ; ii+16 <= n; ii += 16 {
		archsimd.LoadFloat32x16Slice(input[ii:]).AsUint32x16().And(mask).AsFloat32x16().StoreSlice(output[ii:])
	}
	for ; ii < n; ii++ {
		x := input[ii]
		if x < 0 || (x == 0 && 1/x < 0) {
			x = -x
		}
		output[ii] = x
	}
}

// simdSqrtFloat32 computes output[i] = sqrt(input[i]) (VSQRTPS is correctly rounded, as the generic
// float32(math.Sqrt(float64(x)))).
func simdSqrtFloat32(input, output []float32) {
	n := len(output)
	input = input[:n]
	ii := 0
	for ; ii+16 <= n; ii += 16 {
		archsimd.LoadFloat32x16Slice(input[ii:]).Sqrt().StoreSlice(output[ii:])
	}
	execSqrtGeneric(input[ii:], output[ii:])
}

// simdReduceExecutor executes ReduceSum and ReduceMax of float32 operands with simdReduceFloat32, or with
// execReduce for the cases it does not handle.
func simdReduceExecutor(backend *gobackend.Backend, node *gobackend.Node, inputs []*gobackend.Buffer, inputsOwned []bool) (*gobackend.Buffer, error) {
	operand := inputs[0]
	if operand.RawShape.DType != dtypes.Float32 || node.Shape.IsDynamic() {
		return execReduce(backend, node, inputs, inputsOwned)
	}
	isMax := node.OpType == compute.OpTypeReduceMax
	outer, reduce, inner, ok := simdReducePlan(isMax, operand.RawShape.Dimensions, node.Data.([]int))
	if !ok {
		return execReduce(backend, node, inputs, inputsOwned)
	}
	output, err := backend.GetBuffer(node.Shape)
	if err != nil {
		return nil, err
	}
	simdReduceFloat32(isMax, operand.Flat.([]float32), output.Flat.([]float32), outer, reduce, inner)
	return output, nil
}

// simdReducePlan views an operand of the given dimensions as [outer, reduce, inner] (reduceAxes, empty for all,
// being the middle one), leaving out the axes of dimension 1. It returns ok=false if the reduced axes are not
// consecutive once these are left out, if nothing is reduced (reduce = 1) or the operand is empty, and for
// ReduceMax (isMax) with inner > 1.
func simdReducePlan(isMax bool, dims, reduceAxes []int) (outer, reduce, inner int, ok bool) {
	reduced := func(axis int) bool {
		if len(reduceAxes) == 0 {
			return true
		}
		for _, a := range reduceAxes {
			if a == axis {
				return true
			}
		}
		return false
	}
	outer, reduce, inner = 1, 1, 1
	state := 0 // 0: outer kept axes, 1: reduced axes, 2: inner kept axes.
	for axis, dim := range dims {
		if dim == 0 {
			return 0, 0, 0, false
		}
		if dim == 1 {
			continue
		}
		if reduced(axis) {
			if state == 2 {
				return 0, 0, 0, false
			}
			state = 1
			reduce *= dim
		} else {
			if state == 0 {
				outer *= dim
			} else {
				state = 2
				inner *= dim
			}
		}
	}
	if reduce == 1 || (isMax && inner > 1) {
		return 0, 0, 0, false
	}
	return outer, reduce, inner, true
}

// simdReduceFloat32 reduces x, [outer, reduce, inner], over its middle axis to out, [outer, inner]: sum, or
// max if isMax (then inner must be 1). Sums add in the generic order (row-major over x).
func simdReduceFloat32(isMax bool, x, out []float32, outer, reduce, inner int) {
	if inner == 1 {
		if isMax {
			for ii := range outer {
				out[ii] = simdMaxFloat32(x[ii*reduce : (ii+1)*reduce])
			}
			return
		}
		// Sums of contiguous runs, each in the generic order (one running sum: vector lanes would add in
		// another order, and round differently), four runs at a time to overlap the additions' latencies.
		ii := 0
		for ; ii+4 <= outer; ii += 4 {
			r0 := x[ii*reduce : (ii+1)*reduce]
			r1 := x[(ii+1)*reduce : (ii+2)*reduce][:len(r0)]
			r2 := x[(ii+2)*reduce : (ii+3)*reduce][:len(r0)]
			r3 := x[(ii+3)*reduce : (ii+4)*reduce][:len(r0)]
			var s0, s1, s2, s3 float32
			for jj, v := range r0 {
				s0 += v
				s1 += r1[jj]
				s2 += r2[jj]
				s3 += r3[jj]
			}
			out[ii], out[ii+1], out[ii+2], out[ii+3] = s0, s1, s2, s3
		}
		for ; ii < outer; ii++ {
			var sum float32
			for _, v := range x[ii*reduce : (ii+1)*reduce] {
				sum += v
			}
			out[ii] = sum
		}
		return
	}
	// Sum of rows: out[o, :] = sum_r x[o, r, :], in the generic order (0 + row 0 + row 1 + ...).
	for o := range outer {
		acc := out[o*inner : (o+1)*inner]
		clear(acc)
		base := o * reduce * inner
		for r := range reduce {
			row := x[base+r*inner : base+(r+1)*inner]
			simdBinaryVV(simdOpAdd, acc, row, acc)
		}
	}
}

// simdMaxFloat32 returns the largest value of x (not empty) as the generic ReduceMax does (Go's max): NaN if any
// is NaN, and +0 rather than -0 if both are there.
func simdMaxFloat32(x []float32) float32 {
	n := len(x)
	ii := 0
	result := float32(math.Inf(-1))
	var nanBits uint16
	if n >= 16 {
		m := archsimd.BroadcastFloat32x16(result)
		m1 := m
		for ; ii+32 <= n; ii += 32 {
			v0 := archsimd.LoadFloat32x16Slice(x[ii:])
			v1 := archsimd.LoadFloat32x16Slice(x[ii+16:])
			m = m.Max(v0)
			m1 = m1.Max(v1)
			nanBits |= v0.IsNaN().Or(v1.IsNaN()).ToBits()
		}
		for ; ii+16 <= n; ii += 16 {
			v0 := archsimd.LoadFloat32x16Slice(x[ii:])
			m = m.Max(v0)
			nanBits |= v0.IsNaN().ToBits()
		}
		var lanes [16]float32
		m.Max(m1).Store(&lanes)
		for _, v := range lanes {
			result = max(result, v)
		}
	}
	for ; ii < n; ii++ {
		result = max(result, x[ii])
	}
	if nanBits != 0 {
		return float32(math.NaN())
	}
	if result == 0 && 1/result < 0 {
		// VMAXPS may have kept a -0 over a +0.
		for _, v := range x {
			if v == 0 && 1/v > 0 {
				return 0
			}
		}
	}
	return result
}
