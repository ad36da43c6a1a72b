package imageproc

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMatchesPillow decodes every input in testdata/pil and compares it with
// Pillow's Image.open(p).convert("RGB") of the same file (<name>.pil.png,
// made by testdata/make_pil.py): JPEG 4:2:0, 4:2:2, 4:4:4, progressive, odd
// and tiny sizes, grayscale; 16-bit RGB and gray PNGs.
func TestMatchesPillow(t *testing.T) {
	entries, err := os.ReadDir(filepath.Join("testdata", "pil"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		name := e.Name()
		if strings.HasSuffix(name, ".pil.png") {
			continue
		}
		n++
		t.Run(name, func(t *testing.T) {
			file := filepath.Join("testdata", "pil", name)
			got, err := Decode(file)
			if err != nil {
				t.Fatal(err)
			}
			want, err := Decode(strings.TrimSuffix(file, filepath.Ext(file)) + ".pil.png")
			if err != nil {
				t.Fatal(err)
			}
			if got.Width != want.Width || got.Height != want.Height {
				t.Fatalf("decoded %dx%d, Pillow %dx%d", got.Width, got.Height, want.Width, want.Height)
			}
			maxL, same := 0, 0
			for i := range got.Pix {
				d := int(got.Pix[i]) - int(want.Pix[i])
				d = max(d, -d)
				maxL = max(maxL, d)
				if d == 0 {
					same++
				}
			}
			t.Logf("max %d levels, %.1f%% identical", maxL, 100*float64(same)/float64(len(got.Pix)))
			// Every format is bit-exact, JPEGs included (libjpeg-turbo's
			// inverse DCT, upsampling and colour tables).
			if maxL > 0 {
				t.Errorf("decode differs from Pillow by up to %d levels, want identical", maxL)
			}
		})
	}
	if n == 0 {
		t.Fatal("no inputs in testdata/pil")
	}
}
