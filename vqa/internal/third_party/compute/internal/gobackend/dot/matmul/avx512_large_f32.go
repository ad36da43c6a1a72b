// Copyright 2023-2026 The GoMLX Authors. SPDX-License-Identifier: Apache-2.0

//go:build amd64 && goexperiment.simd

package matmul

import (
	"simd/archsimd"
	"sync"
	"unsafe"

	"github.com/gomlx/compute/internal/gobackend"
	"github.com/gomlx/compute/internal/gobackend/dot"
)

// This file holds the Float32-only large (packed) matrix multiplication with an assembly micro-kernel of
// 12 rows x 32 columns (avx512_kernel_f32_amd64.s), used by avx512RouterFloat32 instead of avx512LargeFloat32.
//
// Why assembly: Go's register allocator only uses 15 vector registers (X0-X14, see fpRegMaskAMD64 in
// cmd/compile), and archsimd's MulAdd only maps to VFMADD213PS, which overwrites a multiplicand: the archsimd
// micro-kernel (avx512LargeKernelFloat32) is limited to 4x32 (8 accumulators) and spends about as many
// register moves as FMAs in its inner loop. The assembly kernel keeps 24 accumulators in registers (of the 32
// ZMM registers) and its inner loop is only loads and VFMADD231PS. It also writes (or adds) its tile directly
// to the output, so the intermediate packedOutput panel and its copy (avx512ApplyPackedOutputFloat32) are
// gone, except for the tiles on the edges of the output, which go through a small buffer.

// avx512Kernel12x32Float32 multiplies a packed LHS strip [contractingLen, 12] by a packed RHS strip
// [contractingLen, 32] and writes (or, if accumulate, adds) the [12, 32] result to output, whose rows are
// outputStride bytes apart. Implemented in avx512_kernel_f32_amd64.s.
//
//go:noescape
func avx512Kernel12x32Float32(lhs, rhs, output *float32, contractingLen, outputStride int, accumulate bool)

const (
	avx512AsmKernelRowsFloat32 = 12
	avx512AsmKernelColsFloat32 = 32
)

// AVX512AsmParamsFloat32 are the parameters of the Float32 assembly micro-kernel (12x32).
var AVX512AsmParamsFloat32 = CacheParams{
	LHSL1KernelRows:      avx512AsmKernelRowsFloat32, // Mr: 12 rows x 2 ZMM registers = 24 accumulators.
	RHSL1KernelCols:      avx512AsmKernelColsFloat32, // Nr: 2 ZMM registers of 16 values.
	PanelContractingSize: 256,                        // Kc: the LHS strip (12 x Kc) stays in L1.
	LHSPanelCrossSize:    816,                        // Mc: multiple of LHSL1KernelRows; the packed LHS block (Mc x Kc) stays in L3.
	RHSPanelCrossSize:    512,                        // Nc: the packed RHS panel (Kc x Nc) stays in L2.
}

// avx512LargeAsmFloat32 is avx512LargeFloat32 with the 12x32 assembly micro-kernel: it packs the operands and
// parallelizes if possible.
func avx512LargeAsmFloat32(
	backend *gobackend.Backend,
	layout dot.Layout,
	lhs, rhs []float32,
	batchSize, lhsCrossSize, rhsCrossSize, contractingSize int,
	output []float32,
) {
	params := AVX512AsmParamsFloat32
	maxWorkers := backend.Workers.AdjustedMaxParallelism()

	// Strides for each matrix in the batch.
	lhsBatchStride := lhsCrossSize * contractingSize
	rhsBatchStride := rhsCrossSize * contractingSize
	outputBatchStride := lhsCrossSize * rhsCrossSize

	// runItems gets the packing buffers and runs the work items it is given.
	runItems := func(next func() (workItem, bool)) {
		packedLHSRef, packedLHS, ok := GetBuffer[float32](backend, params.LHSPanelCrossSize*params.PanelContractingSize)
		if !ok {
			return
		}
		defer ReleaseBuffer(packedLHSRef)
		packedRHSRef, packedRHS, ok := GetBuffer[float32](backend, params.PanelContractingSize*params.RHSPanelCrossSize)
		if !ok {
			return
		}
		defer ReleaseBuffer(packedRHSRef)
		for item, ok := next(); ok; item, ok = next() {
			for batchIdx := item.batchStart; batchIdx < item.batchEnd; batchIdx++ {
				avx512LargeAsmMatrixSliceFloat32(
					layout,
					lhs[batchIdx*lhsBatchStride:(batchIdx+1)*lhsBatchStride],
					rhs[batchIdx*rhsBatchStride:(batchIdx+1)*rhsBatchStride],
					output[batchIdx*outputBatchStride:(batchIdx+1)*outputBatchStride],
					rhsCrossSize, contractingSize,
					item.lhsRowStart, item.lhsRowEnd, item.rhsColStart, item.rhsColEnd,
					params,
					packedLHS, packedRHS,
				)
			}
		}
	}

	if maxWorkers <= 1 {
		// No parallelism, do each matrix multiplication in the batch sequentially.
		done := false
		runItems(func() (workItem, bool) {
			if done {
				return workItem{}, false
			}
			done = true
			return workItem{0, batchSize, 0, lhsCrossSize, 0, rhsCrossSize}, true
		})
		return
	}

	// 1. Split work in workItems: in multiples of the micro-kernel sizes, since the panel sizes (Mc=816 in
	// particular) would leave workers idle.
	splitParams := params
	splitParams.LHSPanelCrossSize = params.LHSL1KernelRows
	splitParams.RHSPanelCrossSize = params.RHSL1KernelCols
	workChan := make(chan workItem, max(2000, 2*maxWorkers))
	var wg sync.WaitGroup
	wg.Go(func() {
		feedWorkItems(
			batchSize, lhsCrossSize, rhsCrossSize,
			&splitParams, maxWorkers, workChan)
	})

	// 2. Saturate (fan-out workers) on workItems.
	backend.Workers.Saturate(func() {
		runItems(func() (workItem, bool) {
			item, ok := <-workChan
			return item, ok
		})
	})
	wg.Wait()
}

// avx512LargeAsmMatrixSliceFloat32 computes the rows [rowStart, rowEnd) and columns [colStart, colEnd) of
// the output of one matrix multiplication (no batch dimension): the GotoBLAS loops around the 12x32 assembly
// micro-kernel.
//
// packedLHS and packedRHS must be pre-allocated buffers of LHSPanelCrossSize*PanelContractingSize and
// PanelContractingSize*RHSPanelCrossSize elements.
func avx512LargeAsmMatrixSliceFloat32(
	layout dot.Layout,
	lhsMatrix, rhsMatrix, outputMatrix []float32,
	rhsCrossSize, contractingSize int,
	rowStart, rowEnd, colStart, colEnd int,
	params CacheParams,
	packedLHS, packedRHS []float32,
) {
	const (
		kernelRows = avx512AsmKernelRowsFloat32
		kernelCols = avx512AsmKernelColsFloat32
	)
	if params.LHSL1KernelRows != kernelRows || params.RHSL1KernelCols != kernelCols ||
		params.LHSPanelCrossSize%kernelRows != 0 || params.RHSPanelCrossSize%kernelCols != 0 {
		panic("avx512LargeAsmMatrixSliceFloat32: params must have 12 kernel rows, 32 kernel columns, " +
			"and panel sizes multiple of those")
	}
	if rowStart >= rowEnd || colStart >= colEnd || contractingSize == 0 {
		if contractingSize == 0 {
			// Empty contraction: the output is zero.
			for row := rowStart; row < rowEnd; row++ {
				clear(outputMatrix[row*rhsCrossSize+colStart : row*rhsCrossSize+colEnd])
			}
		}
		return
	}
	outputStrideBytes := rhsCrossSize * 4

	// Tiles on the edges of the output (fewer than kernelRows rows or kernelCols columns) are computed
	// into edgeTile and then copied.
	var edgeTile [kernelRows * kernelCols]float32

	// The loops are ordered so that each operand is packed only once (if the rows fit in LHSPanelCrossSize):
	// the LHS block [Mc, Kc] is packed once for all the columns, and each RHS panel [Kc, Nc] once per LHS block.
	//
	// Loop 3 (ic): Tiling LHS cross axis (M), i.e. the output rows.
	for lhsPanelRowIdx := rowStart; lhsPanelRowIdx < rowEnd; lhsPanelRowIdx += params.LHSPanelCrossSize {
		lhsPanelHeight := min(params.LHSPanelCrossSize, rowEnd-lhsPanelRowIdx)

		// Loop 4 (p): Tiling the contracting axis (K)
		for contractingPanelIdx := 0; contractingPanelIdx < contractingSize; contractingPanelIdx += params.PanelContractingSize {
			contractingPanelWidth := min(params.PanelContractingSize, contractingSize-contractingPanelIdx)
			accumulate := contractingPanelIdx > 0
			avx512PackRowsFloat32(lhsMatrix, packedLHS, lhsPanelRowIdx, contractingPanelIdx, contractingSize,
				lhsPanelHeight, contractingPanelWidth, kernelRows)

			// Loop 5 (jc): Tiling RHS cross axis (N), the output columns.
			for rhsPanelColIdx := colStart; rhsPanelColIdx < colEnd; rhsPanelColIdx += params.RHSPanelCrossSize {
				rhsPanelWidth := min(params.RHSPanelCrossSize, colEnd-rhsPanelColIdx)
				if layout == dot.LayoutNonTransposed {
					avx512PackRHSNonTransposed(rhsMatrix, packedRHS, contractingPanelIdx, rhsPanelColIdx, rhsCrossSize,
						contractingPanelWidth, rhsPanelWidth, kernelCols)
				} else {
					// For LayoutTransposed, the rhs has the same layout as the lhs, so we use packLHS instead.
					avx512PackRowsFloat32(rhsMatrix, packedRHS, rhsPanelColIdx, contractingPanelIdx, contractingSize,
						rhsPanelWidth, contractingPanelWidth, kernelCols)
				}

				// Loop 2 (ir): micro-kernel rows.
				for stripRowIdx := 0; stripRowIdx < lhsPanelHeight; stripRowIdx += kernelRows {
					tileRows := min(kernelRows, lhsPanelHeight-stripRowIdx)
					lhsStrip := &packedLHS[stripRowIdx*contractingPanelWidth]
					outputRowIdx := lhsPanelRowIdx + stripRowIdx

					// Loop 1 (jr): micro-kernel columns.
					for stripColIdx := 0; stripColIdx < rhsPanelWidth; stripColIdx += kernelCols {
						tileCols := min(kernelCols, rhsPanelWidth-stripColIdx)
						rhsStrip := &packedRHS[stripColIdx*contractingPanelWidth]
						outputIdx := outputRowIdx*rhsCrossSize + rhsPanelColIdx + stripColIdx
						if tileRows == kernelRows && tileCols == kernelCols {
							avx512Kernel12x32Float32(lhsStrip, rhsStrip, &outputMatrix[outputIdx],
								contractingPanelWidth, outputStrideBytes, accumulate)
							continue
						}

						// Edge tile: compute into edgeTile, then copy (or add) its valid part.
						avx512Kernel12x32Float32(lhsStrip, rhsStrip, &edgeTile[0],
							contractingPanelWidth, kernelCols*4, false)
						for r := range tileRows {
							outputRow := outputMatrix[outputIdx+r*rhsCrossSize : outputIdx+r*rhsCrossSize+tileCols]
							tileRow := edgeTile[r*kernelCols : r*kernelCols+tileCols]
							if accumulate {
								for i, v := range tileRow {
									outputRow[i] += v
								}
							} else {
								copy(outputRow, tileRow)
							}
						}
					}
				}
			}
		}
	}
}

// avx512PackRowsFloat32 is unsafePackLHS for float32 and kernelRows a multiple of 4 (12 for the LHS of the
// assembly kernel, 32 for its RHS in the transposed layout), with each group of 4 rows by 16 columns
// transposed in registers: it packs the block [copyRows, contractingCols] of lhs starting at
// (lhsRowStart, lhsColStart) into panel, shaped [ceil(copyRows/kernelRows), contractingCols, kernelRows],
// the last strip padded with zeros.
func avx512PackRowsFloat32(
	lhs, panel []float32,
	lhsRowStart, lhsColStart, lhsCols, copyRows, contractingCols, kernelRows int) {
	if kernelRows%4 != 0 {
		panic("avx512PackRowsFloat32: kernelRows must be a multiple of 4")
	}
	fullStripsRows := (copyRows / kernelRows) * kernelRows
	if fullStripsRows > 0 {
		// Bounds checks once: the loops below use pointers.
		_ = lhs[(lhsRowStart+fullStripsRows-1)*lhsCols+lhsColStart+contractingCols-1]
		_ = panel[fullStripsRows*contractingCols-1]
	}
	vecCols := contractingCols &^ 15
	lhsStrideBytes := lhsCols * 4
	recordBytes := kernelRows * 4 // One column of a strip.
	lhsBasePtr := unsafe.Pointer(unsafe.SliceData(lhs))
	stripPtr := unsafe.Pointer(unsafe.SliceData(panel))
	for stripRowIdx := 0; stripRowIdx < fullStripsRows; stripRowIdx += kernelRows {
		for groupRowIdx := 0; groupRowIdx < kernelRows; groupRowIdx += 4 {
			src0 := unsafe.Add(lhsBasePtr, ((lhsRowStart+stripRowIdx+groupRowIdx)*lhsCols+lhsColStart)*4)
			src1 := unsafe.Add(src0, lhsStrideBytes)
			src2 := unsafe.Add(src1, lhsStrideBytes)
			src3 := unsafe.Add(src2, lhsStrideBytes)
			dst := unsafe.Add(stripPtr, groupRowIdx*4)
			col := 0
			for ; col < vecCols; col += 16 {
				v0 := archsimd.LoadUint32x16((*[16]uint32)(src0))
				v1 := archsimd.LoadUint32x16((*[16]uint32)(src1))
				v2 := archsimd.LoadUint32x16((*[16]uint32)(src2))
				v3 := archsimd.LoadUint32x16((*[16]uint32)(src3))
				// t0 holds columns 0-3 (4 rows each), t1 columns 4-7, etc.
				t0, t1, t2, t3 := avx512Transpose4x16x32bits(v0, v1, v2, v3)
				for _, t := range [4]archsimd.Uint32x16{t0, t1, t2, t3} {
					lo, hi := t.GetLo(), t.GetHi()
					lo.GetLo().Store((*[4]uint32)(dst))
					lo.GetHi().Store((*[4]uint32)(unsafe.Add(dst, recordBytes)))
					hi.GetLo().Store((*[4]uint32)(unsafe.Add(dst, 2*recordBytes)))
					hi.GetHi().Store((*[4]uint32)(unsafe.Add(dst, 3*recordBytes)))
					dst = unsafe.Add(dst, 4*recordBytes)
				}
				src0 = unsafe.Add(src0, 64)
				src1 = unsafe.Add(src1, 64)
				src2 = unsafe.Add(src2, 64)
				src3 = unsafe.Add(src3, 64)
			}
			for ; col < contractingCols; col++ {
				*(*float32)(dst) = *(*float32)(src0)
				*(*float32)(unsafe.Add(dst, 4)) = *(*float32)(src1)
				*(*float32)(unsafe.Add(dst, 8)) = *(*float32)(src2)
				*(*float32)(unsafe.Add(dst, 12)) = *(*float32)(src3)
				src0 = unsafe.Add(src0, 4)
				src1 = unsafe.Add(src1, 4)
				src2 = unsafe.Add(src2, 4)
				src3 = unsafe.Add(src3, 4)
				dst = unsafe.Add(dst, recordBytes)
			}
		}
		stripPtr = unsafe.Add(stripPtr, contractingCols*recordBytes)
	}

	// Last strip, with fewer than kernelRows rows, padded with zeros.
	if fullStripsRows < copyRows {
		unsafePackLHS(lhs, panel[fullStripsRows*contractingCols:], lhsRowStart+fullStripsRows, lhsColStart, lhsCols,
			copyRows-fullStripsRows, contractingCols, kernelRows)
	}
}
