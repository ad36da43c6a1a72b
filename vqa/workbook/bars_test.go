package workbook

import (
	"image"
	"image/color"
	"strings"
	"testing"

	"github.com/vilt-go/workbook/vqa/processor"
)

func TestBars(t *testing.T) {
	c := Bars{Title: "accuracy <per type>", XLabel: "%", Labels: []string{"how many", "what color is the"},
		Series: []Series{{Name: "model", Y: []float64{52.8, 58.4}}, {Name: "baseline", Y: []float64{0, 0}}}}
	svg, err := c.SVG()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(svg, "<svg") || !strings.Contains(svg, "accuracy &lt;per type&gt;") || strings.Count(svg, "<rect") != 1+2+4 {
		t.Errorf("svg: want the escaped title, a background, 2 legend boxes and 4 bars:\n%s", svg)
	}
	for _, bad := range []Bars{
		{Labels: []string{"a"}},
		{Labels: []string{"a", "b"}, Series: []Series{{Y: []float64{1}}}},
		{Labels: []string{"a"}, Series: []Series{{Y: []float64{-1}}}},
	} {
		if _, err := bad.SVG(); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
}

func TestPatchGrid(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 64, 32))
	g, err := PatchGrid(img, 16)
	if err != nil {
		t.Fatal(err)
	}
	white := color.RGBA{255, 255, 255, 255}
	if g.RGBAAt(16, 5) != white || g.RGBAAt(5, 16) != white || g.RGBAAt(5, 5) == white {
		t.Error("grid lines not at multiples of 16")
	}
	p, err := Patch(g, 16, 1, 3)
	if err != nil || p.Bounds().Dx() != 16 {
		t.Errorf("Patch(1, 3): %v, %v", p.Bounds(), err)
	}
	if _, err := Patch(g, 16, 2, 0); err == nil {
		t.Error("Patch outside the image: no error")
	}
	if _, err := PatchGrid(img, 0); err == nil {
		t.Error("patch size 0: no error")
	}
}

func TestHeatmapScaled(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 2, 1))
	own, err := HeatmapScaled(img, []float32{0.1, 0.2}, 1, 2, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	shared, err := HeatmapScaled(img, []float32{0.1, 0.2}, 1, 2, 1, 0.4)
	if err != nil {
		t.Fatal(err)
	}
	if own.RGBAAt(1, 0) != Colormap(1) || shared.RGBAAt(1, 0) != Colormap(0.5) {
		t.Errorf("own scale %v (want %v), shared scale %v (want %v)", own.RGBAAt(1, 0), Colormap(1), shared.RGBAAt(1, 0), Colormap(0.5))
	}
}

func TestAttentionPeak(t *testing.T) {
	a := CLSAttention{Rows: 3, Cols: 3}
	r, c := a.Peak([]float32{0, 0, 0, 0, 0, 0, 0.1, 0.5, 0.2})
	if r != 2 || c != 1 || a.Where(r, c) != "bottom centre" || a.Where(1, 0) != "left" || a.Where(1, 1) != "centre" {
		t.Errorf("peak (%d, %d) %q", r, c, a.Where(r, c))
	}
	if m := MaxWeight([]float32{0.1, 0.3}, []float32{0.2}); m != 0.3 {
		t.Errorf("MaxWeight = %g, want 0.3", m)
	}
}

func TestChecked(t *testing.T) {
	if got := HumanCounts([]string{"left", "right", "left", "on left", "left"}); got != "left x3, on left x1, right x1" {
		t.Errorf("HumanCounts = %q", got)
	}
	cs := []Checked{{Answer: "left", Accuracy: 1}, {Answer: "right", Accuracy: 0.6}, {Answer: "up"}}
	if w := Wrong(cs); len(w) != 2 || w[0].Answer != "right" {
		t.Errorf("Wrong = %+v", w)
	}
	if cs[0].Mark() != "✓ right" || cs[1].Mark() != "✗ wrong (VQA accuracy 60%)" || cs[2].Mark() != "✗ wrong" {
		t.Errorf("marks %q %q %q", cs[0].Mark(), cs[1].Mark(), cs[2].Mark())
	}
}

func TestBatchTiles(t *testing.T) {
	p, err := processor.Default()
	if err != nil {
		t.Fatal(err)
	}
	b := &processor.Batch{Size: 2, Height: 2, Width: 3, PixelValues: make([]float32, 2*3*2*3)}
	tiles, err := BatchTiles(b, p.ImageConfig())
	if err != nil || len(tiles) != 2 || tiles[1].Label != "image 1" || tiles[0].Image.Bounds().Dx() != 3 {
		t.Fatalf("tiles %+v, %v", tiles, err)
	}
	b.PixelValues = b.PixelValues[1:]
	if _, err := BatchTiles(b, p.ImageConfig()); err == nil {
		t.Error("short pixel values: no error")
	}
	if s := Share([]float32{0.25, 0.5}); s != 0.75 {
		t.Errorf("Share = %g", s)
	}
}
