package processor

import (
	"math"
	"path/filepath"
	"slices"
	"testing"

	"github.com/vilt-go/workbook/vqa/imageproc"
)

// variants lists every fixture case with its settings and file.
type variant struct {
	name   string
	cfg    imageproc.Config
	c      fixtureCase
	file   string
	exif   bool // decode with EXIF orientation applied (load_image)
	hw0    [2]int
	hwWant [2]int
}

func variants(t *testing.T) (string, []variant) {
	dir, idx := readIndex(t)
	def, v224 := config(t, idx.SettingsDefault), config(t, idx.Variant224.Settings)
	var out []variant
	for _, c := range idx.Cases {
		out = append(out, variant{c.Name, def, c, c.File, false, c.OriginalSizeHW, c.ResizedSizeHW})
		if li := c.LoadImage; li != nil {
			out = append(out, variant{c.Name + ".load_image", def, c, li.File, true, li.OriginalSizeHW, li.ResizedSizeHW})
		}
	}
	for _, c := range idx.Variant224.Cases {
		out = append(out, variant{"variant224/" + c.Name, v224, c, c.File, false, c.OriginalSizeHW, c.ResizedSizeHW})
	}
	return dir, out
}

// TestResizeParity feeds each fixture's input_rgb (PIL's decode) through
// the target-size rule, resize and normalisation: all bit-exact.
func TestResizeParity(t *testing.T) {
	dir, vs := variants(t)
	for _, v := range vs {
		t.Run(v.name, func(t *testing.T) {
			f := readTensors(t, filepath.Join(dir, v.file))
			h, w, err := v.cfg.TargetSize(v.hw0[0], v.hw0[1])
			if err != nil {
				t.Fatal(err)
			}
			if [2]int{h, w} != v.hwWant {
				t.Fatalf("TargetSize(%v) = %dx%d, want %v", v.hw0, h, w, v.hwWant)
			}
			if got := flat[int64](t, f, "resized_size", 2); got[0] != int64(h) || got[1] != int64(w) {
				t.Fatalf("resized_size %v disagrees with index.json %v", got, v.hwWant)
			}
			in := rgbOf(t, f, "input_rgb", v.hw0)
			resized, err := imageproc.Resize(in, w, h)
			if err != nil {
				t.Fatal(err)
			}
			want := rgbOf(t, f, "resized_rgb", v.hwWant)
			if n := countDiff(resized.Pix, want.Pix); n != 0 {
				t.Errorf("resize: %d of %d bytes differ from PIL", n, len(want.Pix))
			}
			pix := v.cfg.Normalize(resized)
			wantPix := wantPixels(t, f, v.hwWant)
			if n := countDiff(floatBits(pix), floatBits(wantPix)); n != 0 {
				t.Errorf("pixel_values: %d of %d differ (%v)", n, len(pix), stats(pix, wantPix))
			}
			b, err := Collate([]Encoding{{InputIDs: []int32{0}, AttentionMask: []int32{0}, TokenTypeIDs: []int32{0}, PixelValues: pix, Height: h, Width: w}})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(to64(b.PixelMask), wantMask(t, f, v.hwWant)) {
				t.Error("pixel_mask differs")
			}
		})
	}
}

func floatBits(v []float32) []uint32 {
	out := make([]uint32, len(v))
	for i, x := range v {
		out[i] = math.Float32bits(x)
	}
	return out
}

func to64(v []int32) []int64 {
	out := make([]int64, len(v))
	for i, x := range v {
		out[i] = int64(x)
	}
	return out
}

// TestDecodeParity runs the whole processor on each fixture's image file:
// PNG bit-exact, JPEG within the measured bounds.
func TestDecodeParity(t *testing.T) {
	dir, vs := variants(t)
	proc, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		t.Run(v.name, func(t *testing.T) {
			f := readTensors(t, filepath.Join(dir, v.file))
			path := filepath.Join(dir, v.c.Image)
			img, err := imageproc.Decode(path, imageproc.WithEXIFOrientation(v.exif))
			if err != nil {
				t.Fatal(err)
			}
			if [2]int{img.Height, img.Width} != v.hw0 {
				t.Fatalf("decoded %dx%d, want %v (H, W)", img.Width, img.Height, v.hw0)
			}
			p := New(proc.Tokenizer(), v.cfg, imageproc.WithEXIFOrientation(v.exif))
			enc, err := p.EncodeFile(path, "What is this?")
			if err != nil {
				t.Fatal(err)
			}
			if [2]int{enc.Height, enc.Width} != v.hwWant {
				t.Fatalf("encoded %dx%d, want %v (H, W)", enc.Width, enc.Height, v.hwWant)
			}
			inRGB := flat[uint8](t, f, "input_rgb", v.hw0[0], v.hw0[1], 3)
			want := wantPixels(t, f, v.hwWant)
			s := stats(enc.PixelValues, want)
			// JPEGs too: imageproc decodes them with libjpeg-turbo's inverse
			// DCT, upsampling and colour tables, so every case is bit-exact.
			if n := countDiff(img.Pix, inRGB); n != 0 {
				t.Errorf("decode: %d of %d bytes differ from PIL", n, len(inRGB))
			}
			if n := countDiff(floatBits(enc.PixelValues), floatBits(want)); n != 0 {
				t.Errorf("pixel_values: %d of %d differ (%v)", n, len(want), s)
			}
		})
	}
}

// TestBatch collates the batch fixture's images: padding and mask exact.
func TestBatch(t *testing.T) {
	dir, idx := readIndex(t)
	proc, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	f := readTensors(t, filepath.Join(dir, idx.Batch.File))
	n := len(idx.Batch.Images)
	var encs []Encoding
	for i, name := range idx.Batch.Images {
		enc, err := proc.EncodeFile(filepath.Join(dir, name), "How many cats are there?")
		if err != nil {
			t.Fatal(err)
		}
		if got := [2]int{enc.Height, enc.Width}; got != idx.Batch.ResizedSizesHW[i] {
			t.Errorf("%s: resized to %v, want %v", name, got, idx.Batch.ResizedSizesHW[i])
		}
		encs = append(encs, enc)
	}
	b, err := Collate(encs)
	if err != nil {
		t.Fatal(err)
	}
	ph, pw := idx.Batch.PaddedSizeHW[0], idx.Batch.PaddedSizeHW[1]
	if b.Size != n || b.Height != ph || b.Width != pw || b.SeqLen != 40 {
		t.Fatalf("batch %d x %dx%d, seq %d; want %d x %dx%d, seq 40", b.Size, b.Width, b.Height, b.SeqLen, n, pw, ph)
	}
	sizes := flat[int64](t, f, "resized_sizes", n, 2)
	for i := range n {
		if sizes[2*i] != int64(encs[i].Height) || sizes[2*i+1] != int64(encs[i].Width) {
			t.Errorf("image %d: resized_sizes %v, got %dx%d", i, sizes[2*i:2*i+2], encs[i].Height, encs[i].Width)
		}
	}
	want := flat[float32](t, f, "pixel_values", n, 3, ph, pw)
	if d := countDiff(floatBits(b.PixelValues), floatBits(want)); d != 0 {
		t.Errorf("pixel_values: %d of %d differ (%v)", d, len(want), stats(b.PixelValues, want))
	}
	if !slices.Equal(to64(b.PixelMask), flat[int64](t, f, "pixel_mask", n, ph, pw)) {
		t.Error("pixel_mask differs")
	}
	for i := range n {
		if !slices.Equal(b.InputIDs[i*40:(i+1)*40], encs[i].InputIDs) {
			t.Errorf("input_ids row %d not stacked", i)
		}
	}
}
