// Copyright 2023-2026 The GoMLX Authors. SPDX-License-Identifier: Apache-2.0

//go:build amd64 && goexperiment.simd

package fusedops

import (
	"math/rand/v2"
	"simd/archsimd"
	"strconv"
	"testing"

	"github.com/gomlx/compute/internal/gobackend/ops"
)

// BenchmarkSIMDGeluFloat32 times the generic exact GELU (geluChunk, on one chunk: GOMAXPROCS=1 runs them in turn)
// and ops.SIMDGeluFloat32 on the GELU's activations of the workbook's tiny recipe, [16·81, 384] and [32·81, 384].
// Its accuracy is tested in package ops (TestSIMDGeluFloat32), the executor by the backend's FusedGelu tests.
func BenchmarkSIMDGeluFloat32(b *testing.B) {
	if !archsimd.X86.AVX512() {
		b.Skip("no AVX-512")
	}
	rng := rand.New(rand.NewPCG(15, 16))
	for _, rows := range []int{16 * 81, 32 * 81} {
		x := make([]float32, rows*384)
		for ii := range x {
			x[ii] = float32(rng.NormFloat64())
		}
		out := make([]float32, len(x))
		name := "Gelu[" + strconv.Itoa(rows) + ",384]"
		b.Run("generic/"+name, func(b *testing.B) {
			for b.Loop() {
				geluChunk(x, out)
			}
		})
		b.Run("simd/"+name, func(b *testing.B) {
			for b.Loop() {
				ops.SIMDGeluFloat32(x, out)
			}
		})
	}
}
