// Copyright 2023-2026 The GoMLX Authors. SPDX-License-Identifier: Apache-2.0

//go:build amd64 && goexperiment.simd

package matmul

import (
	"fmt"
	"math/rand/v2"
	"simd/archsimd"
	"testing"

	"github.com/gomlx/compute/internal/gobackend"
	"github.com/gomlx/compute/internal/gobackend/dot"
)

// avx512BenchShapes are the float32 matrix multiplications of a ViLT-B/32 training step (800 tokens per batch,
// hidden size 768, MLP size 3072), forward and backward, in the layouts DotGeneral normalizes them to.
var avx512BenchShapes = []struct {
	layout  dot.Layout
	m, n, k int
}{
	{dot.LayoutNonTransposed, 800, 768, 768},   // Attention projections: [800,768] x [768,768].
	{dot.LayoutNonTransposed, 800, 3072, 768},  // MLP up: [800,768] x [768,3072].
	{dot.LayoutNonTransposed, 800, 768, 3072},  // MLP down: [800,3072] x [3072,768].
	{dot.LayoutNonTransposed, 768, 3072, 800},  // Weight gradient: [768,800] x [800,3072].
	{dot.LayoutTransposed, 800, 768, 3072},     // Input gradient: [800,3072] x [768,3072]^T.
	{dot.LayoutTransposed, 800, 3072, 768},     // Input gradient: [800,768] x [3072,768]^T.
	{dot.LayoutNonTransposed, 1000, 1000, 300}, // Odd sizes: rows, cols and K not multiples of the blocks.
}

// BenchmarkAVX512LargeFloat32 measures the large (packed) AVX512 float32 kernels, the archsimd 4x32 one of
// v0.1.2 and the assembly 12x32 one, on one matrix multiplication.
// Run it with GOMAXPROCS=1 to measure the single-core kernel (the multi-core path splits the work in the pool);
// it reports GFLOP/s = 2*M*N*K / time.
func BenchmarkAVX512LargeFloat32(b *testing.B) {
	if !archsimd.X86.AVX512() {
		b.Skip("AVX512 not supported")
	}
	backendIface, err := gobackend.New("")
	if err != nil {
		b.Fatal(err)
	}
	backend := backendIface.(*gobackend.Backend)
	defer backend.Finalize()
	rng := rand.New(rand.NewPCG(1, 2))
	kernels := []struct {
		name string
		fn   func(*gobackend.Backend, dot.Layout, []float32, []float32, int, int, int, int, []float32)
	}{
		{"archsimd4x32", avx512LargeFloat32}, // The v0.1.2 kernel, kept for comparison.
		{"asm12x32", avx512LargeAsmFloat32},  // The kernel used by avx512RouterFloat32.
	}
	for _, s := range avx512BenchShapes {
		lhs := make([]float32, s.m*s.k)
		rhs := make([]float32, s.k*s.n)
		out := make([]float32, s.m*s.n)
		for i := range lhs {
			lhs[i] = rng.Float32() - 0.5
		}
		for i := range rhs {
			rhs[i] = rng.Float32() - 0.5
		}
		for _, kernel := range kernels {
			name := fmt.Sprintf("%s/%dx%dx%d/%s", s.layout, s.m, s.n, s.k, kernel.name)
			b.Run(name, func(b *testing.B) {
				kernel.fn(backend, s.layout, lhs, rhs, 1, s.m, s.n, s.k, out) // Warm-up.
				b.ResetTimer()
				for b.Loop() {
					kernel.fn(backend, s.layout, lhs, rhs, 1, s.m, s.n, s.k, out)
				}
				b.ReportMetric(2*float64(s.m)*float64(s.n)*float64(s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
