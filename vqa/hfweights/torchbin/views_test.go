package torchbin_test

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/vilt-go/workbook/vqa/hfweights"
	"github.com/vilt-go/workbook/vqa/hfweights/torchbin"
)

// TestTorchViews reads testdata/views.bin, written by real torch.save (see
// testdata/gen.py) with storage offsets, strides, tied storages and every
// storage dtype, and compares each tensor with the contiguous copy torch
// wrote to views.safetensors.
func TestTorchViews(t *testing.T) {
	got, err := torchbin.Read(filepath.Join("testdata", "views.bin"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := hfweights.Read(filepath.Join("testdata", "views.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("read %d tensors, want %d", len(got), len(want))
	}
	for name, w := range want {
		t.Run(name, func(t *testing.T) {
			g, ok := got[name]
			if !ok {
				t.Fatal("missing")
			}
			if !g.Shape().Equal(w.Shape()) {
				t.Fatalf("shape %s, want %s", g.Shape(), w.Shape())
			}
			var gb, wb []byte
			g.ConstBytes(func(b []byte) { gb = bytes.Clone(b) })
			w.ConstBytes(func(b []byte) { wb = bytes.Clone(b) })
			if !bytes.Equal(gb, wb) {
				t.Fatalf("data %v, want %v", g, w)
			}
		})
	}
}
