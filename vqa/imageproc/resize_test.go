package imageproc

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestWeightedRows checks the dispatching (SIMD where available) kernel
// against the scalar one on random rows, weights that overshoot and
// undershoot (exercising both clamps) and lengths around the vector width.
func TestWeightedRows(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 7, 8, 15, 16, 17, 24, 31, 33, 100, 1536} {
		for taps := 1; taps <= 9; taps++ {
			rows := make([][]uint8, taps)
			for j := range rows {
				rows[j] = make([]uint8, n)
				for i := range rows[j] {
					rows[j][i] = uint8(r.IntN(256))
				}
			}
			w := make([]int32, taps)
			for j := range w {
				w[j] = int32(r.IntN(3<<precision) - 1<<precision)
			}
			got, want := make([]uint8, n), make([]uint8, n)
			weightedRows(got, rows, w)
			weightedRowsScalar(want, rows, w, 0)
			if !slices.Equal(got, want) {
				t.Fatalf("n=%d taps=%d: SIMD and scalar kernels differ", n, taps)
			}
		}
	}
}

// transposed is transpose into a new image.
func transposed(img RGB) RGB { return transpose(NewRGB(img.Height, img.Width), img) }

func TestTranspose(t *testing.T) {
	img := ToRGB(testImage(37, 45))
	tr := transposed(img)
	if tr.Width != 45 || tr.Height != 37 {
		t.Fatalf("transposed size %dx%d", tr.Width, tr.Height)
	}
	if !slices.Equal(Orient(img, 5).Pix, tr.Pix) { // EXIF 5 is the transpose
		t.Error("transpose differs from Orient(img, 5)")
	}
	if !slices.Equal(transposed(tr).Pix, img.Pix) {
		t.Error("transposing twice is not the identity")
	}
}

func BenchmarkResize(b *testing.B) {
	img := ToRGB(testImage(640, 480))
	b.Run("transpose", func(b *testing.B) {
		for b.Loop() {
			transposed(img)
		}
	})
	b.Run("640x480to512x384", func(b *testing.B) {
		for b.Loop() {
			if _, err := Resize(img, 512, 384); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestRow420 checks the dispatching (SIMD where available) 4:2:0 row
// conversion and column sums against the scalar ones on random chroma and
// luma, for widths around the 16-pixel chunks (odd ones included).
func TestRow420(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	randBytes := func(n int) []uint8 {
		b := make([]uint8, n)
		for i := range b {
			b[i] = uint8(r.IntN(256))
		}
		return b
	}
	for w := 5; w <= 70; w++ {
		cw := (w + 1) / 2
		near, far := randBytes(cw+r.IntN(20)), randBytes(cw+r.IntN(20))
		sb, want := make([]int32, cw), make([]int32, cw)
		colSums(near, far, sb)
		colSumsScalar(near, far, want, 0)
		if !slices.Equal(sb, want) {
			t.Fatalf("w=%d: column sums differ", w)
		}
		sr := make([]int32, cw)
		for i := range sr {
			sr[i] = int32(r.IntN(4 * 256))
		}
		yrow := randBytes(w)
		got, exp := make([]uint8, 3*w), make([]uint8, 3*w)
		row420(got, yrow, sb, sr)
		row420Scalar(exp, yrow, sb, sr, 0, w)
		if !slices.Equal(got, exp) {
			t.Fatalf("w=%d: SIMD and scalar rows differ", w)
		}
	}
}

// TestProcessTo checks that ProcessTo, reusing one Buffers across images of
// changing sizes (so stale scratch contents would show), gives Resize +
// Normalize's values bit for bit, for every combination of the passes.
func TestProcessTo(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ShortestEdge = 64 // sizes below: both passes, either, neither
	var buf Buffers
	for _, size := range [][2]int{{128, 96}, {96, 128}, {80, 64}, {64, 80}, {64, 64}, {150, 70}, {128, 96}} {
		for _, resize := range []bool{true, false} {
			c := cfg
			c.DoResize = resize
			img := ToRGB(testImage(size[0], size[1]))
			got, h, w, err := c.ProcessTo(img, &buf)
			if err != nil {
				t.Fatal(err)
			}
			want := img
			if resize {
				th, tw, err := c.TargetSize(img.Height, img.Width)
				if err != nil {
					t.Fatal(err)
				}
				if want, err = Resize(img, tw, th); err != nil {
					t.Fatal(err)
				}
			}
			if h != want.Height || w != want.Width {
				t.Fatalf("%v resize=%v: got %dx%d, want %dx%d", size, resize, w, h, want.Width, want.Height)
			}
			if !slices.Equal(got, c.Normalize(want)) {
				t.Errorf("%v resize=%v: ProcessTo differs from Resize + Normalize", size, resize)
			}
			if nb, _, _, _ := c.Process(img); !slices.Equal(nb, got) {
				t.Errorf("%v resize=%v: Process differs from ProcessTo", size, resize)
			}
		}
	}
}
