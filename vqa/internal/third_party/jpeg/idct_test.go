package jpeg

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// TestIdctIslow checks the dispatching inverse DCT (vectorised where the CPU
// allows) against the scalar one on random blocks: dense and sparse, DC
// only, small and typical magnitudes, and coefficients large enough to
// overflow 32-bit arithmetic and wrap in libjpeg's range limit.
func TestIdctIslow(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for i := range 20000 {
		var coef, q block
		limit := []int32{4, 64, 1024, 1 << 15}[i%4]
		density := []int{1, 4, 16, 64}[(i/4)%4]
		for k := range q {
			q[k] = 1 + r.Int32N(32)
		}
		for range density {
			coef[r.IntN(blockSize)] = r.Int32N(2*limit) - limit
		}
		switch {
		case i%7 == 0: // DC only
			coef = block{0: r.Int32N(2048) - 1024}
		case i%101 == 0: // a product of math.MinInt32, whose absolute value is negative
			q[9], coef[9] = 1<<15, -1<<16
		}
		const stride = 13
		got, want := make([]byte, 7*stride+8), make([]byte, 7*stride+8)
		for k := range got {
			got[k], want[k] = byte(k), byte(k) // bytes outside the block stay
		}
		c1, c2 := coef, coef
		idctIslow(&c1, &q, got, stride)
		idctIslowScalar(&c2, &q, want, stride)
		if !bytes.Equal(got, want) {
			t.Fatalf("block %d (limit %d, %d coefficients): vector and scalar results differ\n%v\n%v", i, limit, density, got, want)
		}
	}
}

// BenchmarkIdctIslow times one inverse DCT of a typical block (a few
// low-frequency coefficients).
func BenchmarkIdctIslow(b *testing.B) {
	var coef, q block
	for k := range q {
		q[k] = 2 + int32(k)/4
	}
	coef[0], coef[1], coef[8], coef[9], coef[2], coef[16] = -300, 40, -25, 7, 3, -2
	dst := make([]byte, 64)
	b.Run("dispatch", func(b *testing.B) {
		for b.Loop() {
			idctIslow(&coef, &q, dst, 8)
		}
	})
	b.Run("scalar", func(b *testing.B) {
		for b.Loop() {
			idctIslowScalar(&coef, &q, dst, 8)
		}
	})
}
