package workbook

import (
	"errors"
	"fmt"
	"html"
	"math"
	"strconv"
	"strings"
)

// Series is one line of a [Plot]: the points (X[i], Y[i]).
type Series struct {
	// Name is shown in the legend.
	Name string
	// X and Y are the coordinates; they must have the same length.
	X, Y []float64
}

// Plot is a line plot drawn as a static SVG document.
type Plot struct {
	// Title, XLabel and YLabel are the texts around the axes.
	Title, XLabel, YLabel string
	// Series are the lines, drawn in order with the colours of [PaletteColor].
	Series []Series
	// Width and Height are the size in pixels; zero means 640 x 360.
	Width, Height int
	// LogY draws the y axis on a log10 scale; points with y <= 0 are then
	// skipped.
	LogY bool
}

// PaletteColor returns the colour of the i-th line or bar of a chart: six
// colours, used in turn.
func PaletteColor(i int) string {
	palette := [...]string{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"}
	return palette[i%len(palette)]
}

// Plot margins in pixels: left, right, top, bottom.
const marginL, marginR, marginT, marginB = 64, 16, 32, 44

// SVG draws the plot. It fails if there is no point to draw, or if a
// series' X and Y lengths differ. Points that are not finite (or, with
// LogY, not positive) are skipped.
func (p Plot) SVG() (string, error) {
	w, h := p.Width, p.Height
	if w == 0 && h == 0 {
		w, h = 640, 360
	}
	if w <= marginL+marginR || h <= marginT+marginB {
		return "", fmt.Errorf("plot %q: size %dx%d is too small", p.Title, w, h)
	}
	x0, x1, y0, y1, err := p.extent()
	if err != nil {
		return "", err
	}
	xt, yt := Ticks(x0, x1, 6), Ticks(y0, y1, 5)
	if p.LogY {
		yt = []float64{math.Floor(y0)}
		for yt[len(yt)-1] < y1 {
			yt = append(yt, yt[len(yt)-1]+1)
		}
	}
	x0, x1 = math.Min(x0, xt[0]), math.Max(x1, xt[len(xt)-1])
	y0, y1 = math.Min(y0, yt[0]), math.Max(y1, yt[len(yt)-1])
	pw, ph := float64(w-marginL-marginR), float64(h-marginT-marginB)
	sx := func(x float64) float64 { return marginL + (x-x0)/(x1-x0)*pw }
	sy := func(y float64) float64 { return marginT + (1-(y-y0)/(y1-y0))*ph }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`, w, h, w, h)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`, w, h)
	fmt.Fprintf(&b, `<text x="%d" y="20" text-anchor="middle" font-size="14">%s</text>`, w/2, html.EscapeString(p.Title))
	for _, x := range xt {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>`, sx(x), marginT, sx(x), h-marginB)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`, sx(x), h-marginB+16, tickLabel(x))
	}
	for _, y := range yt {
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>`, marginL, sy(y), w-marginR, sy(y))
		label := tickLabel(y)
		if p.LogY {
			label = tickLabel(math.Pow(10, y))
		}
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" dominant-baseline="middle">%s</text>`, marginL-6, sy(y), label)
	}
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.0f" height="%.0f" fill="none" stroke="#444"/>`, marginL, marginT, pw, ph)
	fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`, marginL+pw/2, h-8, html.EscapeString(p.XLabel))
	fmt.Fprintf(&b, `<text transform="translate(16 %.1f) rotate(-90)" text-anchor="middle">%s</text>`, marginT+ph/2, html.EscapeString(p.YLabel))
	for i, s := range p.Series {
		color := PaletteColor(i)
		var pts []string
		for j := range s.X {
			if y, ok := p.y(s.Y[j]); ok && finite(s.X[j]) {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", sx(s.X[j]), sy(y)))
			}
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"/>`, color, strings.Join(pts, " "))
		ly := marginT + 14 + 16*i
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"/>`, w-marginR-150, ly, w-marginR-130, ly, color)
		fmt.Fprintf(&b, `<text x="%d" y="%d" dominant-baseline="middle">%s</text>`, w-marginR-124, ly, html.EscapeString(s.Name))
	}
	b.WriteString(`</svg>`)
	return b.String(), nil
}

// y returns the plotted value of y (its log10 with LogY) and whether it
// can be drawn.
func (p Plot) y(y float64) (float64, bool) {
	if p.LogY {
		if y <= 0 {
			return 0, false
		}
		y = math.Log10(y)
	}
	return y, finite(y)
}

// extent returns the range of the points drawn (y in plotted units),
// widened when it is empty.
func (p Plot) extent() (x0, x1, y0, y1 float64, err error) {
	x0, y0 = math.Inf(1), math.Inf(1)
	x1, y1 = math.Inf(-1), math.Inf(-1)
	for _, s := range p.Series {
		if len(s.X) != len(s.Y) {
			return 0, 0, 0, 0, fmt.Errorf("plot %q, series %q: %d x values but %d y values", p.Title, s.Name, len(s.X), len(s.Y))
		}
		for j := range s.X {
			if y, ok := p.y(s.Y[j]); ok && finite(s.X[j]) {
				x0, x1 = math.Min(x0, s.X[j]), math.Max(x1, s.X[j])
				y0, y1 = math.Min(y0, y), math.Max(y1, y)
			}
		}
	}
	if x0 > x1 {
		return 0, 0, 0, 0, errors.New("plot " + strconv.Quote(p.Title) + ": no finite point to draw")
	}
	if x0 == x1 {
		x0, x1 = x0-1, x1+1
	}
	if y0 == y1 {
		y0, y1 = y0-1, y1+1
	}
	return x0, x1, y0, y1, nil
}

// Ticks returns about n "nice" tick values (1, 2 or 5 times a power of 10)
// covering [lo, hi]: the first is <= lo and the last >= hi. If the range
// is empty or not finite, it returns lo and hi.
func Ticks(lo, hi float64, n int) []float64 {
	if !(hi > lo) || !finite(lo) || !finite(hi) {
		return []float64{lo, hi}
	}
	raw := (hi - lo) / float64(max(n, 1))
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{2, 5, 10} {
		if step >= raw {
			break
		}
		step = m * mag
	}
	var ts []float64
	for i := math.Floor(lo / step); ; i++ {
		t := i * step
		ts = append(ts, t)
		if t >= hi {
			return ts
		}
	}
}

// tickLabel formats a tick value compactly ("0.25", "1e+04").
func tickLabel(v float64) string {
	if math.Abs(v) < 1e-12 {
		return "0"
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
