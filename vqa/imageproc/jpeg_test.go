package imageproc

import (
	"path/filepath"
	"strings"
	"testing"
)

// jpegMaxLevels bounds |Go decode - Pillow decode| per byte on
// testdata/jpeg. With libjpeg-style upsampling and colour tables the only
// difference left is the inverse DCT's rounding; measured max 3 levels on
// the fixture JPEGs and on these files (see the test log).
const jpegMaxLevels = 3

// TestJPEGMatchesPillow decodes every testdata/jpeg/*.jpg and compares it
// with Pillow's decode of the same file (<name>.pil.png, made by
// testdata/make_jpegs.py): 4:2:0, 4:2:2, 4:4:4, progressive, odd and tiny
// sizes, grayscale.
func TestJPEGMatchesPillow(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "jpeg", "*.jpg"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/jpeg/*.jpg (%v)", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".jpg")
		t.Run(name, func(t *testing.T) {
			got, err := Decode(file)
			if err != nil {
				t.Fatal(err)
			}
			want, err := Decode(strings.TrimSuffix(file, ".jpg") + ".pil.png")
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
			if maxL > jpegMaxLevels {
				t.Errorf("decode differs from Pillow by %d levels, want <= %d", maxL, jpegMaxLevels)
			}
		})
	}
}
