// Copyright 2023-2026 The GoMLX Authors. SPDX-License-Identifier: Apache-2.0

//go:build amd64 && goexperiment.simd

package matmul

import (
	"fmt"
	"math"
	"math/rand/v2"
	"simd/archsimd"
	"testing"

	"github.com/gomlx/compute/internal/gobackend"
	"github.com/gomlx/compute/internal/gobackend/dot"
)

func TestAVX512PackRowsFloat32(t *testing.T) {
	if !archsimd.X86.AVX512() {
		t.Skip("AVX512 not supported")
	}
	const lhsRows, lhsCols = 100, 300
	lhs := make([]float32, lhsRows*lhsCols)
	for i := range lhs {
		lhs[i] = float32(i + 1)
	}
	for _, kernelRows := range []int{4, 12, 32} {
		for _, copyRows := range []int{1, 4, kernelRows - 1, kernelRows, kernelRows + 5, 3 * kernelRows} {
			for _, contractingCols := range []int{1, 15, 16, 17, 50, 256} {
				for _, start := range [][2]int{{0, 0}, {3, 7}} {
					if copyRows <= 0 || start[0]+copyRows > lhsRows {
						continue
					}
					numStrips := (copyRows + kernelRows - 1) / kernelRows
					size := numStrips * contractingCols * kernelRows
					want := make([]float32, size+1)
					got := make([]float32, size+1)
					for i := range got {
						want[i], got[i] = -1, -1 // Garbage to be overwritten, and a sentinel at the end.
					}
					packLHS(lhs, want, start[0], start[1], lhsCols, copyRows, contractingCols, kernelRows)
					avx512PackRowsFloat32(lhs, got, start[0], start[1], lhsCols, copyRows, contractingCols, kernelRows)
					for i := range want {
						if got[i] != want[i] {
							t.Fatalf("kernelRows=%d, copyRows=%d, contractingCols=%d, start=%v: panel[%d]=%g, wanted %g",
								kernelRows, copyRows, contractingCols, start, i, got[i], want[i])
						}
					}
				}
			}
		}
	}
}

// TestAVX512LargeAsmFloat32 compares the assembly kernel path with a float64 reference on shapes that exercise
// the edges: rows not multiple of 12, columns not multiple of 32, contracting size not multiple of Kc (256),
// more rows than Mc (816), batches, both layouts, sequential and parallel.
func TestAVX512LargeAsmFloat32(t *testing.T) {
	if !archsimd.X86.AVX512() {
		t.Skip("AVX512 not supported")
	}
	backendIface, err := gobackend.New("")
	if err != nil {
		t.Fatal(err)
	}
	backend := backendIface.(*gobackend.Backend)
	defer backend.Finalize()
	rng := rand.New(rand.NewPCG(7, 11))
	shapes := []struct{ batch, m, n, k int }{
		{1, 1, 1, 1},
		{1, 12, 32, 256},
		{1, 13, 33, 257},
		{2, 25, 70, 300},
		{1, 11, 31, 5},
		{3, 40, 64, 512},
		{1, 830, 47, 20},
		{1, 50, 1100, 600},
		{1, 24, 32, 0},
	}
	for _, parallelism := range []int{1, 2} {
		backend.Workers.SetMaxParallelism(parallelism)
		for _, layout := range []dot.Layout{dot.LayoutNonTransposed, dot.LayoutTransposed} {
			for _, s := range shapes {
				t.Run(fmt.Sprintf("workers=%d/%s/%dx%dx%dx%d", parallelism, layout, s.batch, s.m, s.n, s.k), func(t *testing.T) {
					lhs := make([]float32, s.batch*s.m*s.k)
					rhs := make([]float32, s.batch*s.k*s.n)
					for i := range lhs {
						lhs[i] = rng.Float32() - 0.5
					}
					for i := range rhs {
						rhs[i] = rng.Float32() - 0.5
					}
					output := make([]float32, s.batch*s.m*s.n)
					for i := range output {
						output[i] = float32(math.NaN()) // Must be overwritten.
					}
					avx512LargeAsmFloat32(backend, layout, lhs, rhs, s.batch, s.m, s.n, s.k, output)
					for b := range s.batch {
						for i := range s.m {
							for j := range s.n {
								var want float64
								for k := range s.k {
									rhsIdx := b*s.k*s.n + k*s.n + j // [batch, k, n]
									if layout == dot.LayoutTransposed {
										rhsIdx = b*s.n*s.k + j*s.k + k // [batch, n, k]
									}
									want += float64(lhs[b*s.m*s.k+i*s.k+k]) * float64(rhs[rhsIdx])
								}
								got := output[b*s.m*s.n+i*s.n+j]
								if math.Abs(float64(got)-want) > 1e-4*(1+math.Sqrt(float64(s.k))) || math.IsNaN(float64(got)) {
									t.Fatalf("output[%d, %d, %d]=%g, wanted %g", b, i, j, got, want)
								}
							}
						}
					}
				})
			}
		}
	}
	backend.Workers.SetMaxParallelism(-1)
}
