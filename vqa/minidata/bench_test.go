package minidata

import (
	"bytes"
	"image"
	"image/jpeg"
	"math/rand/v2"
	"testing"
)

// BenchmarkGenerate measures writing the whole default dataset.
func BenchmarkGenerate(b *testing.B) {
	for b.Loop() {
		if _, err := Generate(b.TempDir(), DefaultConfig()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRenderImage measures drawing and JPEG-encoding one 640x480
// picture with four objects.
func BenchmarkRenderImage(b *testing.B) {
	s := Scene{Width: 640, Height: 480, Objects: []Object{
		{Shape: Circle, Color: Red, X: 120, Y: 120, R: 60},
		{Shape: Square, Color: Blue, X: 480, Y: 120, R: 60, Angle: 0.2},
		{Shape: Triangle, Color: Yellow, X: 120, Y: 360, R: 60, Angle: -0.1},
		{Shape: Circle, Color: Gray, X: 480, Y: 360, R: 60},
	}}
	var buf bytes.Buffer
	var scratch []float64
	for b.Loop() {
		r := rand.New(rand.NewPCG(1, 2))
		var pic *image.RGBA
		pic, scratch = render(s, r, scratch)
		buf.Reset()
		if err := jpeg.Encode(&buf, pic, &jpeg.Options{Quality: DefaultConfig().JPEGQuality}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len()), "jpeg-bytes")
}
