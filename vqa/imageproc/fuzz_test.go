package imageproc

import (
	"bytes"
	"image"
	"image/gif"
	"image/jpeg"
	"testing"

	"golang.org/x/image/bmp"
)

// FuzzProcessImage decodes arbitrary bytes and, when they decode, runs the
// whole image pipeline: it must return an error or a well-formed result,
// never panic. Seeds: small images in every encodable format (large seeds
// make the fuzzer spend its time minimising).
func FuzzProcessImage(f *testing.F) {
	img := testImage(40, 30)
	f.Add(encodePNG(f, img))
	var b bytes.Buffer
	_ = jpeg.Encode(&b, img, &jpeg.Options{Quality: 50})
	f.Add(b.Bytes())
	b.Reset()
	_ = gif.Encode(&b, img, nil)
	f.Add(b.Bytes())
	b.Reset()
	_ = bmp.Encode(&b, image.NewGray(image.Rect(0, 0, 5, 3)))
	f.Add(b.Bytes())
	f.Add(pngHeader(3, 90))
	cfg := DefaultConfig()
	f.Fuzz(func(t *testing.T, data []byte) {
		rgb, err := DecodeBytes(data, WithMaxPixels(1<<20), WithEXIFOrientation(true))
		if err != nil {
			return
		}
		if rgb.Width <= 0 || rgb.Height <= 0 || len(rgb.Pix) != 3*rgb.Width*rgb.Height {
			t.Fatalf("decoded a malformed image %dx%d with %d bytes", rgb.Width, rgb.Height, len(rgb.Pix))
		}
		pix, h, w, err := cfg.Process(rgb)
		if err != nil {
			return
		}
		if h%32 != 0 || w%32 != 0 || h <= 0 || w <= 0 || len(pix) != 3*h*w {
			t.Fatalf("processed to %dx%d with %d values", w, h, len(pix))
		}
		for _, v := range pix {
			if v < -1 || v > 1 {
				t.Fatalf("pixel value %v outside [-1, 1]", v)
			}
		}
	})
}
