package workbook

import (
	"fmt"
	"html"
	"image"
	"image/color"
	"image/draw"
	"math"
	"strings"
)

// Bars is a horizontal bar chart drawn as a static SVG document: one row per
// label, one bar per series in each row.
type Bars struct {
	// Title and XLabel are the texts around the chart.
	Title, XLabel string
	// Labels name the rows, top to bottom.
	Labels []string
	// Series are the bars of each row, drawn with the colours of [PaletteColor];
	// each has one value per label.
	Series []Series
	// Width is the width in pixels (0: 640); the height follows the rows.
	Width int
}

// SVG draws the chart. It fails without labels, or when a series has not
// one value per label, or a value is negative or not finite.
func (c Bars) SVG() (string, error) {
	if len(c.Labels) == 0 || len(c.Series) == 0 {
		return "", fmt.Errorf("bar chart %q: no rows or no series", c.Title)
	}
	top := 0.0
	for _, s := range c.Series {
		if len(s.Y) != len(c.Labels) {
			return "", fmt.Errorf("bar chart %q, series %q: %d values for %d labels", c.Title, s.Name, len(s.Y), len(c.Labels))
		}
		for _, v := range s.Y {
			if !finite(v) || v < 0 {
				return "", fmt.Errorf("bar chart %q, series %q: value %g, want finite and >= 0", c.Title, s.Name, v)
			}
			top = math.Max(top, v)
		}
	}
	ticks := Ticks(0, math.Max(top, 1e-9), 5)
	top = ticks[len(ticks)-1]
	w := c.Width
	if w == 0 {
		w = 640
	}
	labelW := 0
	for _, l := range c.Labels {
		labelW = max(labelW, 7*len([]rune(l)))
	}
	left := min(labelW+12, w/2)
	const barH, gap, head, foot = 12, 6, 48, 40
	rowH := barH*len(c.Series) + gap
	h := head + rowH*len(c.Labels) + foot
	pw := float64(w - left - 24)
	sx := func(v float64) float64 { return float64(left) + v/top*pw }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`, w, h, w, h)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`, w, h)
	fmt.Fprintf(&b, `<text x="%d" y="20" text-anchor="middle" font-size="14">%s</text>`, w/2, html.EscapeString(c.Title))
	for i, s := range c.Series {
		x := left + 150*i
		fmt.Fprintf(&b, `<rect x="%d" y="28" width="12" height="10" fill="%s"/><text x="%d" y="37">%s</text>`, x, PaletteColor(i), x+16, html.EscapeString(s.Name))
	}
	for _, t := range ticks {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>`, sx(t), head, sx(t), h-foot)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`, sx(t), h-foot+16, tickLabel(t))
	}
	for r, l := range c.Labels {
		y := head + r*rowH
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" dominant-baseline="middle">%s</text>`, left-6, y+rowH/2-gap/2, html.EscapeString(l))
		for i, s := range c.Series {
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"><title>%s: %g</title></rect>`,
				left, y+i*barH, sx(s.Y[r])-float64(left), barH-1, PaletteColor(i), html.EscapeString(l), s.Y[r])
		}
	}
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#444"/>`, left, head, left, h-foot)
	fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`, float64(left)+pw/2, h-8, html.EscapeString(c.XLabel))
	b.WriteString(`</svg>`)
	return b.String(), nil
}

// ShowBars shows a bar chart in the notebook (nothing outside one).
func ShowBars(c Bars) error {
	svg, err := c.SVG()
	if err != nil {
		return err
	}
	ShowSVG(svg, c.Title)
	return nil
}

// PatchGrid returns a copy of img with the lines between patch x patch
// pixel patches drawn over it (white, one pixel), the way ViT and ViLT cut
// an image into patches (figure 2 of the article).
func PatchGrid(img image.Image, patch int) (*image.RGBA, error) {
	if patch <= 0 {
		return nil, fmt.Errorf("patch grid: patch size %d, want > 0", patch)
	}
	b := img.Bounds()
	out := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(out, out.Bounds(), img, b.Min, draw.Src)
	white := color.RGBA{255, 255, 255, 255}
	for y := range b.Dy() {
		for x := range b.Dx() {
			if x%patch == 0 || y%patch == 0 {
				out.SetRGBA(x, y, white)
			}
		}
	}
	return out, nil
}

// Patch returns the patch x patch pixels of img at patch row r, column c.
func Patch(img image.Image, patch, r, c int) (*image.RGBA, error) {
	b := img.Bounds()
	rect := image.Rect(c*patch, r*patch, (c+1)*patch, (r+1)*patch).Add(b.Min)
	if patch <= 0 || !rect.In(b) {
		return nil, fmt.Errorf("patch (%d, %d) of size %d is outside the %dx%d image", r, c, patch, b.Dx(), b.Dy())
	}
	out := image.NewRGBA(image.Rect(0, 0, patch, patch))
	draw.Draw(out, out.Bounds(), img, rect.Min, draw.Src)
	return out, nil
}
