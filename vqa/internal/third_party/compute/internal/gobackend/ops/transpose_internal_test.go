// Copyright 2023-2026 The GoMLX Authors. SPDX-License-Identifier: Apache-2.0

package ops

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
)

// TestTransposeBlocks checks the merged, tiled transposition against the
// element-by-element TransposeIterator on random shapes and permutations,
// sizes around the tile size included.
func TestTransposeBlocks(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	sizes := []int{1, 2, 3, 5, transposeTile - 1, transposeTile, transposeTile + 1, 33}
	for trial := range 2000 {
		rank := 1 + rng.IntN(5)
		dims := make([]int, rank)
		for i := range dims {
			dims[i] = sizes[rng.IntN(len(sizes))]
		}
		shape := shapes.Make(dtypes.Int32, dims...)
		if shape.Size() > 1<<16 {
			continue
		}
		perm := rng.Perm(rank)
		in := make([]int32, shape.Size())
		for i := range in {
			in[i] = int32(i)
		}
		want := make([]int32, len(in))
		it := NewTransposeIterator(shape, perm)
		for _, v := range in {
			want[it.Next()] = v
		}
		it = NewTransposeIterator(shape, perm)
		mergedDims, strides := mergeTransposeAxes(it.dimensions, it.perAxisStrides)
		got := make([]int32, len(in))
		if len(mergedDims) <= 1 {
			copy(got, in)
		} else {
			transposeBlocks(in, got, mergedDims, strides)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("trial %d: transpose of %v by %v (merged %v, strides %v) differs from the iterator's", trial, dims, perm, mergedDims, strides)
		}
	}
}

// BenchmarkTranspose times the transpositions that dominate a ViLT-B/32
// training step (shapes from its graph).
func BenchmarkTranspose(b *testing.B) {
	for _, c := range []struct {
		name string
		dims []int
		perm []int
	}{
		{"932x3072/1,0", []int{932, 3072}, []int{1, 0}},
		{"48x257x257/0,2,1", []int{48, 257, 257}, []int{0, 2, 1}},
		{"4x257x3x12x64/2,0,3,1,4", []int{4, 257, 3, 12, 64}, []int{2, 0, 3, 1, 4}},
	} {
		shape := shapes.Make(dtypes.Float32, c.dims...)
		in := make([]float32, shape.Size())
		out := make([]float32, shape.Size())
		b.Run("iterator/"+c.name, func(b *testing.B) {
			for b.Loop() {
				it := NewTransposeIterator(shape, c.perm)
				for _, v := range in {
					out[it.Next()] = v
				}
			}
		})
		b.Run("blocks/"+c.name, func(b *testing.B) {
			for b.Loop() {
				it := NewTransposeIterator(shape, c.perm)
				dims, strides := mergeTransposeAxes(it.dimensions, it.perAxisStrides)
				transposeBlocks(in, out, dims, strides)
			}
		})
	}
}
