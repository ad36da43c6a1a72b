package workbook

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"math"

	xdraw "golang.org/x/image/draw"
	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// viridis holds control points of matplotlib's viridis colour map, from 0
// (dark purple) to 1 (yellow), evenly spaced.
var viridis = [...]color.RGBA{
	{68, 1, 84, 255}, {59, 82, 139, 255}, {33, 145, 140, 255}, {94, 201, 98, 255}, {253, 231, 37, 255},
}

// Colormap maps v in [0, 1] (clamped; NaN counts as 0) to a viridis colour.
func Colormap(v float64) color.RGBA {
	if math.IsNaN(v) {
		v = 0
	}
	v = math.Max(0, math.Min(1, v))
	f := v * float64(len(viridis)-1)
	i := min(int(f), len(viridis)-2)
	t := f - float64(i)
	a, b := viridis[i], viridis[i+1]
	mix := func(x, y uint8) uint8 { return uint8(math.Round(float64(x) + t*(float64(y)-float64(x)))) }
	return color.RGBA{mix(a.R, b.R), mix(a.G, b.G), mix(a.B, b.B), 255}
}

// Heatmap draws a grid of weights (rows x cols, row-major, e.g. the
// attention to each image patch) over img: each weight is scaled by the
// largest one, coloured with [Colormap] and blended over the pixels of its
// cell with opacity alpha (0: image only, 1: heat map only). The grid is
// stretched over the whole image, cell by cell.
func Heatmap(img image.Image, weights []float32, rows, cols int, alpha float64) (*image.RGBA, error) {
	return HeatmapScaled(img, weights, rows, cols, alpha, 0)
}

// HeatmapScaled is [Heatmap] with the colour scale fixed: weight scale maps to
// the top colour (larger weights are clamped), so that several maps drawn
// with the same scale (for example the largest weight of them all) can be
// compared colour for colour. scale <= 0 uses the map's own largest weight.
func HeatmapScaled(img image.Image, weights []float32, rows, cols int, alpha float64, scale float32) (*image.RGBA, error) {
	if rows <= 0 || cols <= 0 || len(weights) != rows*cols {
		return nil, fmt.Errorf("heat map: %d weights for a %dx%d grid, want rows*cols > 0", len(weights), rows, cols)
	}
	if alpha < 0 || alpha > 1 {
		return nil, fmt.Errorf("heat map: alpha %g, want it in [0, 1]", alpha)
	}
	peak := float32(0)
	for i, w := range weights {
		if w < 0 || math.IsNaN(float64(w)) || math.IsInf(float64(w), 0) {
			return nil, fmt.Errorf("heat map: weight %d is %g, want a finite value >= 0", i, w)
		}
		peak = max(peak, w)
	}
	if scale > 0 {
		peak = scale
	}
	b := img.Bounds()
	out := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(out, out.Bounds(), img, b.Min, draw.Src)
	for y := range b.Dy() {
		r := y * rows / b.Dy()
		for x := range b.Dx() {
			v := 0.0
			if peak > 0 {
				v = float64(weights[r*cols+x*cols/b.Dx()] / peak)
			}
			c, p := Colormap(v), out.RGBAAt(x, y)
			blend := func(img, heat uint8) uint8 {
				return uint8(math.Round((1-alpha)*float64(img) + alpha*float64(heat)))
			}
			out.SetRGBA(x, y, color.RGBA{blend(p.R, c.R), blend(p.G, c.G), blend(p.B, c.B), 255})
		}
	}
	return out, nil
}

// Tile is one labelled image of a [Grid].
type Tile struct {
	Image image.Image
	Label string
}

// tileLabelHeight is the height of the label strip above each tile.
const tileLabelHeight = 16

// Grid lays tiles out in rows of cols, each scaled to width pixels wide
// (keeping its aspect ratio) under its label, on a white background.
func Grid(tiles []Tile, cols, width int) (*image.RGBA, error) {
	if len(tiles) == 0 || cols <= 0 || width <= 0 {
		return nil, fmt.Errorf("image grid: %d tiles, %d columns, width %d: want all > 0", len(tiles), cols, width)
	}
	cellH := 0
	for i, t := range tiles {
		b := t.Image.Bounds()
		if b.Empty() {
			return nil, fmt.Errorf("image grid: tile %d (%q) is empty", i, t.Label)
		}
		cellH = max(cellH, b.Dy()*width/b.Dx())
	}
	cellH += tileLabelHeight
	const gap = 4
	rows := (len(tiles) + cols - 1) / cols
	out := image.NewRGBA(image.Rect(0, 0, cols*(width+gap)-gap, rows*(cellH+gap)-gap))
	draw.Draw(out, out.Bounds(), image.White, image.Point{}, draw.Src)
	face := basicfont.Face7x13
	for i, t := range tiles {
		x, y := (i%cols)*(width+gap), (i/cols)*(cellH+gap)
		d := font.Drawer{Dst: out, Src: image.Black, Face: face, Dot: fixed.P(x+2, y+tileLabelHeight-4)}
		d.DrawString(t.Label)
		b := t.Image.Bounds()
		dst := image.Rect(x, y+tileLabelHeight, x+width, y+tileLabelHeight+b.Dy()*width/b.Dx())
		xdraw.ApproxBiLinear.Scale(out, dst, t.Image, b, draw.Src, nil)
	}
	return out, nil
}
