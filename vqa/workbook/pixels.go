package workbook

import (
	"fmt"
	"image"
	"math"

	"github.com/vilt-go/workbook/vqa/imageproc"
)

// ImageOf returns img as a standard library image, for showing it.
func ImageOf(img imageproc.RGB) *image.RGBA {
	out := image.NewRGBA(image.Rect(0, 0, img.Width, img.Height))
	for i := range img.Width * img.Height {
		copy(out.Pix[4*i:4*i+3], img.Pix[3*i:3*i+3])
		out.Pix[4*i+3] = 255
	}
	return out
}

// Unnormalize turns pixel values [3, height, width] (channels first, as the
// processor makes them) back into an image, undoing cfg's normalization and
// rescaling; values are rounded and clamped to 0..255.
func Unnormalize(pixels []float32, height, width int, cfg imageproc.Config) (*image.RGBA, error) {
	plane := height * width
	if height <= 0 || width <= 0 || len(pixels) != 3*plane {
		return nil, fmt.Errorf("unnormalize: %d pixel values for [3, %d, %d]", len(pixels), height, width)
	}
	out := image.NewRGBA(image.Rect(0, 0, width, height))
	for ch := range 3 {
		for i, v := range pixels[ch*plane : (ch+1)*plane] {
			x := float64(v)
			if cfg.DoNormalize {
				x = x*float64(cfg.ImageStd[ch]) + float64(cfg.ImageMean[ch])
			}
			if cfg.DoRescale {
				x /= cfg.RescaleFactor
			}
			out.Pix[4*i+ch] = uint8(math.Max(0, math.Min(255, math.Round(x))))
		}
	}
	for i := range plane {
		out.Pix[4*i+3] = 255
	}
	return out, nil
}
