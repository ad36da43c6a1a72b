// Copyright 2023-2026 The GoMLX Authors. SPDX-License-Identifier: Apache-2.0

package ops

import (
	"slices"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/internal/gobackend"
	"github.com/gomlx/compute/shapeinference"
	"github.com/gomlx/compute/shapes"
)

func init() {
	gobackend.RegisterTranspose.Register(Transpose, gobackend.PriorityGeneric)
	gobackend.SetNodeExecutor(compute.OpTypeTranspose, gobackend.PriorityGeneric, execTranspose)
}

// Transpose axes of x.
// There must be one value in permutations for each axis in the operand.
// The output will have: output.Shape.Dimension[ii] = operand.Shape.Dimension[permutations[i]].
func Transpose(f *gobackend.Function, operandValue compute.Value, permutations ...int) (compute.Value, error) {
	opType := compute.OpTypeTranspose
	inputs, err := f.VerifyAndCastValues(opType.String(), operandValue)
	if err != nil {
		return nil, err
	}
	operand := inputs[0]

	outputShape, err := shapeinference.Transpose(operand.Shape, permutations)
	if err != nil {
		// This should have been validated during graph build, but we check again just in case.
		return nil, err
	}
	node, _ := f.GetOrCreateNode(opType, outputShape, inputs, permutations)
	return node, nil
}

// TransposeDTypeMap is used to dispatch Transpose to type-specific implementations.
// gobackend:dtypemap execTransposeGeneric ints,uints,floats,half,bool
var TransposeDTypeMap = gobackend.NewDTypeMap("Transpose")

// execTranspose implements Transpose.
// The output will have: output.Shape.Dimension[ii] = operand.Shape.Dimension[permutations[i]].
//
// A permutation that moves no element (the identity, or one that only moves
// axes of size 1) is a reshape: the operand's buffer is reused when owned,
// else copied. Other permutations go through transposeBlocks.
func execTranspose(backend *gobackend.Backend, node *gobackend.Node, inputs []*gobackend.Buffer, inputsOwned []bool) (*gobackend.Buffer, error) {
	operand := inputs[0]
	permutations := node.Data.([]int)
	it := NewTransposeIterator(operand.RawShape, permutations)
	dims, outStrides := mergeTransposeAxes(it.dimensions, it.perAxisStrides)
	if len(dims) <= 1 {
		return reshapeToShape(backend, node.Shape, inputs, inputsOwned)
	}

	// We can't write to the same buffer we read from because it's not done with swaps.
	output, err := backend.GetBuffer(node.Shape)
	if err != nil {
		return nil, err
	}
	dtype := node.Shape.DType
	tmpAny, tmpErr := TransposeDTypeMap.Get(dtype)
	if tmpErr != nil {
		panic(tmpErr)
	}
	transposeFn := tmpAny.(func(operand, output *gobackend.Buffer, dims, outStrides []int))
	transposeFn(operand, output, dims, outStrides)
	return output, nil
}

// mergeTransposeAxes simplifies a transposition given by the operand's
// dimensions and, per operand axis, its stride in the output: it drops
// axes of size 1 and merges neighbouring operand axes that stay
// neighbours, in the same order, in the output. The result describes the
// same element moves with the fewest axes; one axis (or none) means no
// element moves.
func mergeTransposeAxes(dimensions, outStrides []int) (dims, strides []int) {
	for axis, dim := range dimensions {
		if dim == 1 {
			continue
		}
		last := len(dims) - 1
		if last >= 0 && strides[last] == outStrides[axis]*dim {
			dims[last] *= dim
			strides[last] = outStrides[axis]
			continue
		}
		dims = append(dims, dim)
		strides = append(strides, outStrides[axis])
	}
	return dims, strides
}

// transposeTile is the side of the square tiles in which transposeBlocks
// moves a 2D transposition, so that both the reads and the writes of a
// tile stay within a few cache lines per row.
const transposeTile = 16

// transposeBlocks writes the operand in (row-major, dimensions dims) to out,
// each operand axis moving by outStrides[axis] in out (as given by
// mergeTransposeAxes). When the operand's last axis is also contiguous in
// out, it copies runs of that axis; otherwise it transposes, tile by tile,
// the 2D slices made of the operand's last axis and the axis that is
// contiguous in out, for every index of the other axes.
func transposeBlocks[T any](in, out []T, dims, outStrides []int) {
	rank := len(dims)
	inStrides := make([]int, rank)
	stride := 1
	for axis := rank - 1; axis >= 0; axis-- {
		inStrides[axis] = stride
		stride *= dims[axis]
	}
	last := rank - 1
	if outStrides[last] == 1 {
		run := dims[last]
		forEachOffset(dims[:last], inStrides[:last], outStrides[:last], func(inOff, outOff int) {
			copy(out[outOff:outOff+run], in[inOff:inOff+run])
		})
		return
	}
	// The axis contiguous in out: the rows of the 2D slices.
	rowAxis := slices.Index(outStrides, 1)
	rows, cols := dims[rowAxis], dims[last]
	rowInStride, colOutStride := inStrides[rowAxis], outStrides[last]
	outerDims := slices.Delete(slices.Clone(dims[:last]), rowAxis, rowAxis+1)
	outerIn := slices.Delete(slices.Clone(inStrides[:last]), rowAxis, rowAxis+1)
	outerOut := slices.Delete(slices.Clone(outStrides[:last]), rowAxis, rowAxis+1)
	forEachOffset(outerDims, outerIn, outerOut, func(inOff, outOff int) {
		for r0 := 0; r0 < rows; r0 += transposeTile {
			r1 := min(r0+transposeTile, rows)
			for c0 := 0; c0 < cols; c0 += transposeTile {
				c1 := min(c0+transposeTile, cols)
				for c := c0; c < c1; c++ {
					dst := out[outOff+c*colOutStride+r0 : outOff+c*colOutStride+r1]
					src := inOff + r0*rowInStride + c
					for i := range dst {
						dst[i] = in[src+i*rowInStride]
					}
				}
			}
		}
	})
}

// forEachOffset calls fn with the flat offsets, in the operand and in the
// output, of every index of the axes dims (row-major order), given the
// axes' strides in each.
func forEachOffset(dims, inStrides, outStrides []int, fn func(inOff, outOff int)) {
	idx := make([]int, len(dims))
	inOff, outOff := 0, 0
	for {
		fn(inOff, outOff)
		axis := len(dims) - 1
		for ; axis >= 0; axis-- {
			idx[axis]++
			inOff += inStrides[axis]
			outOff += outStrides[axis]
			if idx[axis] < dims[axis] {
				break
			}
			inOff -= inStrides[axis] * dims[axis]
			outOff -= outStrides[axis] * dims[axis]
			idx[axis] = 0
		}
		if axis < 0 {
			return
		}
	}
}

// TransposeIterator creates a dynamic iterator that yields output flat indices
// for the corresponding flat index on the input operand, assuming the operand flat index is moving
// incrementally.
type TransposeIterator struct {
	flatIdx                                int
	perAxisIdx, perAxisStrides, dimensions []int
}

// NewTransposeIterator creates a dynamic iterator that yields output flat indices
// for the corresponding flat index on the input operand, assuming the operand flat index is moving
// incrementally.
func NewTransposeIterator(operand shapes.Shape, permutations []int) *TransposeIterator {
	rank := operand.Rank()

	it := &TransposeIterator{
		perAxisIdx:     make([]int, rank),
		perAxisStrides: make([]int, rank),
		dimensions:     slices.Clone(operand.Dimensions),
	}

	// First, calculate strides on the output.
	stridesOnOutput := make([]int, rank)
	stride := 1
	reversePermutations := make([]int, rank)
	for outputAxis := rank - 1; outputAxis >= 0; outputAxis-- {
		stridesOnOutput[outputAxis] = stride
		operandAxis := permutations[outputAxis]
		stride *= operand.Dimensions[operandAxis]
		reversePermutations[operandAxis] = outputAxis
	}

	// Calculate per operand axis, what is the stride on the output.
	for operandAxis := range rank {
		outputAxis := reversePermutations[operandAxis]
		it.perAxisStrides[operandAxis] = stridesOnOutput[outputAxis]
	}
	return it
}

// Next returns the next flat index in the output.
func (it *TransposeIterator) Next() int {
	// Store current flatIdx first
	nextFlatIdx := it.flatIdx

	// Cache rank to avoid repeated len() calls
	rank := len(it.perAxisIdx)

	// Use local variables for array access to avoid repeated indirection
	perAxisIdx := it.perAxisIdx
	perAxisStrides := it.perAxisStrides
	dimensions := it.dimensions

	// Handle remaining axes only when needed
	for axis := rank - 1; axis >= 0; axis-- {
		perAxisIdx[axis]++
		it.flatIdx += perAxisStrides[axis]
		if perAxisIdx[axis] < dimensions[axis] {
			// We are done.
			return nextFlatIdx
		}
		perAxisIdx[axis] = 0
		it.flatIdx -= perAxisStrides[axis] * dimensions[axis]
	}

	return nextFlatIdx
}

// execTransposeGeneric transposes operand into output along the merged axes
// dims, each moving by outStrides in the output (see mergeTransposeAxes).
func execTransposeGeneric[T gobackend.SupportedTypesConstraints](operand, output *gobackend.Buffer, dims, outStrides []int) {
	transposeBlocks(operand.Flat.([]T), output.Flat.([]T), dims, outStrides)
}
