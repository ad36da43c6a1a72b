package workbook

import (
	"fmt"
	"image"
	"math"

	"github.com/vilt-go/workbook/vqa/imageproc"
	"github.com/vilt-go/workbook/vqa/processor"
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

// BatchTiles turns the images of a collated batch back into pixels (padding
// included, see [Unnormalize]), one tile per example labelled "image i".
func BatchTiles(b *processor.Batch, cfg imageproc.Config) ([]Tile, error) {
	plane := 3 * b.Height * b.Width
	if len(b.PixelValues) != b.Size*plane {
		return nil, fmt.Errorf("batch tiles: %d pixel values for %d images of 3x%dx%d", len(b.PixelValues), b.Size, b.Height, b.Width)
	}
	tiles := make([]Tile, b.Size)
	for i := range b.Size {
		img, err := Unnormalize(b.PixelValues[i*plane:(i+1)*plane], b.Height, b.Width, cfg)
		if err != nil {
			return nil, err
		}
		tiles[i] = Tile{Image: img, Label: fmt.Sprintf("image %d", i)}
	}
	return tiles, nil
}

// Share is the total of an attention map: the part of the text [CLS]
// token's attention that goes to the image patches.
func Share(m []float32) float64 {
	sum := 0.0
	for _, v := range m {
		sum += float64(v)
	}
	return sum
}
