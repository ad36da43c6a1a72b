package processor

import (
	"slices"
	"testing"
)

func enc(h, w int, fill float32) Encoding {
	e := Encoding{InputIDs: []int32{101, 7, 102}, AttentionMask: []int32{1, 1, 1}, TokenTypeIDs: []int32{0, 0, 0},
		PixelValues: make([]float32, 3*h*w), Height: h, Width: w}
	for i := range e.PixelValues {
		e.PixelValues[i] = fill + float32(i)
	}
	return e
}

// TestCollateTo pads to a fixed size: each image top-left, 0.0 and mask 0
// elsewhere, independently per axis.
func TestCollateTo(t *testing.T) {
	encs := []Encoding{enc(2, 3, 1000), enc(3, 1, -1000)}
	b, err := CollateTo(encs, 4, 5)
	if err != nil {
		t.Fatal(err)
	}
	if b.Size != 2 || b.SeqLen != 3 || b.Height != 4 || b.Width != 5 {
		t.Fatalf("batch %+v", b)
	}
	for i, e := range encs {
		for c := range 3 {
			for y := range 4 {
				for x := range 5 {
					got := b.PixelValues[((i*3+c)*4+y)*5+x]
					mask := b.PixelMask[(i*4+y)*5+x]
					if y < e.Height && x < e.Width {
						if want := e.PixelValues[(c*e.Height+y)*e.Width+x]; got != want || mask != 1 {
							t.Fatalf("image %d (%d,%d,%d): %v mask %d, want %v mask 1", i, c, y, x, got, mask, want)
						}
					} else if got != 0 || mask != 0 {
						t.Fatalf("padding %d (%d,%d,%d): %v mask %d", i, c, y, x, got, mask)
					}
				}
			}
		}
	}
	if !slices.Equal(b.InputIDs, []int32{101, 7, 102, 101, 7, 102}) {
		t.Errorf("input_ids %v", b.InputIDs)
	}
	auto, err := Collate(encs)
	if err != nil {
		t.Fatal(err)
	}
	if auto.Height != 3 || auto.Width != 3 {
		t.Errorf("Collate padded to %dx%d, want 3x3 (max H, max W)", auto.Height, auto.Width)
	}
	short := enc(2, 2, 0)
	short.InputIDs = short.InputIDs[:2]
	for name, c := range map[string]struct {
		encs []Encoding
		h, w int
	}{
		"too small":    {encs, 2, 5},
		"empty":        {nil, 4, 4},
		"text lengths": {[]Encoding{enc(2, 2, 0), short}, 4, 4},
		"pixel count":  {[]Encoding{{InputIDs: []int32{1}, AttentionMask: []int32{1}, TokenTypeIDs: []int32{0}, PixelValues: make([]float32, 5), Height: 2, Width: 2}}, 4, 4},
	} {
		if _, err := CollateTo(c.encs, c.h, c.w); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
