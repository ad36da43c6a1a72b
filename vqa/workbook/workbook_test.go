package workbook

import (
	"bytes"
	"encoding/xml"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/vilt-go/workbook/vqa/imageproc"
)

// parseSVG checks that svg is well-formed XML and counts its elements by name.
func parseSVG(t *testing.T, svg string) map[string]int {
	t.Helper()
	counts := map[string]int{}
	dec := xml.NewDecoder(strings.NewReader(svg))
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return counts
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v\n%s", err, svg)
		}
		if se, ok := tok.(xml.StartElement); ok {
			counts[se.Name.Local]++
		}
	}
}

func TestPlotSVG(t *testing.T) {
	p := Plot{
		Title: "loss <per> step", XLabel: "step", YLabel: "loss",
		Series: []Series{
			{Name: "train & co", X: []float64{1, 2, 3, 4}, Y: []float64{9, 4, math.NaN(), 1}},
			{Name: "mean", X: []float64{1, 4}, Y: []float64{5, 2}},
		},
	}
	svg, err := p.SVG()
	if err != nil {
		t.Fatal(err)
	}
	n := parseSVG(t, svg)
	if n["svg"] != 1 || n["polyline"] != 2 {
		t.Errorf("want 1 svg and 2 polylines, got %v", n)
	}
	for _, want := range []string{"loss &lt;per&gt; step", "train &amp; co", `width="640" height="360"`} {
		if !strings.Contains(svg, want) {
			t.Errorf("SVG lacks %q", want)
		}
	}
	// The NaN point is skipped: the first line has 3 points.
	first := svg[strings.Index(svg, "<polyline"):]
	first = first[strings.Index(first, `points="`)+8:]
	first = first[:strings.Index(first, `"`)]
	if got := len(strings.Fields(first)); got != 3 {
		t.Errorf("first polyline has %d points (%q), want 3", got, first)
	}
}

func TestPlotLogY(t *testing.T) {
	p := Plot{LogY: true, Series: []Series{{Name: "loss", X: []float64{1, 2, 3, 4}, Y: []float64{2000, 0, 30, 0.5}}}}
	svg, err := p.SVG()
	if err != nil {
		t.Fatal(err)
	}
	parseSVG(t, svg)
	// Decades from 0.1 to 10000 label the axis; the zero is skipped.
	for _, want := range []string{">0.1<", ">1<", ">10<", ">100<", ">1000<", ">1e+04<"} {
		if !strings.Contains(svg, want) {
			t.Errorf("log-scale SVG lacks the tick label %q", want)
		}
	}
	pts := svg[strings.Index(svg, `points="`)+8:]
	if n := len(strings.Fields(pts[:strings.Index(pts, `"`)])); n != 3 {
		t.Errorf("%d points drawn, want 3 (y = 0 skipped)", n)
	}
	if _, err := (Plot{LogY: true, Series: []Series{{X: []float64{1}, Y: []float64{-1}}}}).SVG(); err == nil {
		t.Error("no error for a log plot with no positive value")
	}
}

func TestPlotErrors(t *testing.T) {
	for name, p := range map[string]Plot{
		"no series":       {Title: "empty"},
		"only NaN":        {Series: []Series{{X: []float64{1}, Y: []float64{math.NaN()}}}},
		"length mismatch": {Series: []Series{{Name: "bad", X: []float64{1, 2}, Y: []float64{1}}}},
		"too small":       {Width: 10, Height: 10, Series: []Series{{X: []float64{1}, Y: []float64{1}}}},
	} {
		t.Run(name, func(t *testing.T) {
			if svg, err := p.SVG(); err == nil {
				t.Errorf("no error, got SVG %q", svg)
			}
		})
	}
	// A single point is drawn around itself.
	svg, err := Plot{Series: []Series{{X: []float64{3}, Y: []float64{7}}}}.SVG()
	if err != nil {
		t.Fatalf("single point: %v", err)
	}
	parseSVG(t, svg)
}

func TestTicks(t *testing.T) {
	for _, c := range []struct {
		lo, hi float64
		n      int
		want   []float64
	}{
		{0, 10, 5, []float64{0, 2, 4, 6, 8, 10}},
		{1, 100, 6, []float64{0, 20, 40, 60, 80, 100}},
		{0.12, 0.61, 5, []float64{0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7}},
		{-3, 3, 6, []float64{-3, -2, -1, 0, 1, 2, 3}},
		{5, 5, 5, []float64{5, 5}},
	} {
		got := Ticks(c.lo, c.hi, c.n)
		if len(got) != len(c.want) {
			t.Errorf("Ticks(%g, %g, %d) = %v, want %v", c.lo, c.hi, c.n, got, c.want)
			continue
		}
		for i := range got {
			if math.Abs(got[i]-c.want[i]) > 1e-9 {
				t.Errorf("Ticks(%g, %g, %d) = %v, want %v", c.lo, c.hi, c.n, got, c.want)
				break
			}
		}
	}
}

func TestColormap(t *testing.T) {
	if got := Colormap(0); got != viridis[0] {
		t.Errorf("Colormap(0) = %v, want %v", got, viridis[0])
	}
	if got := Colormap(1); got != viridis[len(viridis)-1] {
		t.Errorf("Colormap(1) = %v, want %v", got, viridis[len(viridis)-1])
	}
	if Colormap(-2) != Colormap(0) || Colormap(7) != Colormap(1) || Colormap(math.NaN()) != Colormap(0) {
		t.Error("Colormap does not clamp out-of-range values and NaN")
	}
	// Half way between the 2nd and 3rd control points.
	a, b, got := viridis[1], viridis[2], Colormap(0.375)
	if want := uint8((int(a.G) + int(b.G) + 1) / 2); got.G != want {
		t.Errorf("Colormap(0.375).G = %d, want %d (between %v and %v)", got.G, want, a, b)
	}
}

func uniform(w, h int, c color.RGBA) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, c.A
	}
	return img
}

func TestHeatmap(t *testing.T) {
	gray := color.RGBA{100, 100, 100, 255}
	img := uniform(40, 20, gray)
	// A 2x4 grid: each cell covers 10x10 pixels.
	weights := []float32{0, 0, 0, 0, 0, 0, 2, 1}
	out, err := Heatmap(img, weights, 2, 4, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	if out.Bounds() != img.Bounds() {
		t.Fatalf("bounds %v, want %v", out.Bounds(), img.Bounds())
	}
	blend := func(heat color.RGBA) color.RGBA {
		f := func(h uint8) uint8 { return uint8(math.Round(0.5*100 + 0.5*float64(h))) }
		return color.RGBA{f(heat.R), f(heat.G), f(heat.B), 255}
	}
	for _, c := range []struct {
		x, y int
		v    float64
	}{{0, 0, 0}, {39, 0, 0}, {25, 15, 1}, {29, 19, 1}, {35, 12, 0.5}, {5, 15, 0}} {
		if got, want := out.RGBAAt(c.x, c.y), blend(Colormap(c.v)); got != want {
			t.Errorf("pixel (%d,%d) = %v, want %v (weight %g of the peak)", c.x, c.y, got, want, c.v)
		}
	}
	// The input is not modified.
	if img.RGBAAt(25, 15) != gray {
		t.Error("Heatmap modified its input image")
	}
}

func TestHeatmapErrors(t *testing.T) {
	img := uniform(4, 4, color.RGBA{A: 255})
	for name, c := range map[string]struct {
		w          []float32
		rows, cols int
		alpha      float64
	}{
		"count":    {[]float32{1, 2, 3}, 2, 2, 0.5},
		"zero":     {nil, 0, 0, 0.5},
		"negative": {[]float32{1, -1, 0, 0}, 2, 2, 0.5},
		"NaN":      {[]float32{1, float32(math.NaN()), 0, 0}, 2, 2, 0.5},
		"alpha":    {[]float32{1, 1, 0, 0}, 2, 2, 1.5},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Heatmap(img, c.w, c.rows, c.cols, c.alpha); err == nil {
				t.Error("no error")
			}
		})
	}
}

func TestGrid(t *testing.T) {
	red, blue := color.RGBA{255, 0, 0, 255}, color.RGBA{0, 0, 255, 255}
	tiles := []Tile{
		{uniform(100, 50, red), "layer 1"},
		{uniform(100, 100, blue), "layer 2"},
		{uniform(10, 5, red), "layer 3"},
	}
	out, err := Grid(tiles, 2, 40)
	if err != nil {
		t.Fatal(err)
	}
	// Cells are 40 wide and 40+16 high (the tallest tile), 4 pixels apart.
	if w, h := out.Bounds().Dx(), out.Bounds().Dy(); w != 84 || h != 2*56+4 {
		t.Errorf("grid is %dx%d, want 84x116", w, h)
	}
	for _, c := range []struct {
		x, y int
		want color.RGBA
	}{{20, 16 + 10, red}, {44 + 20, 16 + 30, blue}, {20, 60 + 16 + 10, red}, {20, 16 + 30, color.RGBA{255, 255, 255, 255}}} {
		if got := out.RGBAAt(c.x, c.y); got != c.want {
			t.Errorf("pixel (%d,%d) = %v, want %v", c.x, c.y, got, c.want)
		}
	}
	// The labels are drawn: some black pixels in the first label strip.
	dark := 0
	for x := range 40 {
		for y := range tileLabelHeight {
			if out.RGBAAt(x, y).R < 128 {
				dark++
			}
		}
	}
	if dark == 0 {
		t.Error("no label drawn above the first tile")
	}
	if _, err := Grid(nil, 2, 40); err == nil {
		t.Error("no error for an empty grid")
	}
	if _, err := Grid([]Tile{{image.NewRGBA(image.Rectangle{}), "empty"}}, 1, 40); err == nil {
		t.Error("no error for an empty tile")
	}
}

func TestPNG(t *testing.T) {
	img := uniform(3, 2, color.RGBA{1, 2, 3, 255})
	data, err := PNG(img)
	if err != nil {
		t.Fatal(err)
	}
	back, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if r, g, b, _ := back.At(2, 1).RGBA(); r>>8 != 1 || g>>8 != 2 || b>>8 != 3 {
		t.Errorf("round trip pixel = %d,%d,%d, want 1,2,3", r>>8, g>>8, b>>8)
	}
	// Outside a notebook, showing does nothing and does not fail.
	if err := ShowImage(img); err != nil {
		t.Error(err)
	}
	ShowSVG("<svg/>", "alt")
}

func TestProgressHTML(t *testing.T) {
	p := NewProgress("training <tiny>", 40)
	got := p.HTML(10, 0.5, 20*time.Second)
	for _, want := range []string{`training &lt;tiny&gt;`, `<progress value="10" max="40">`, `step 10/40`, `loss 0.5`, `20s elapsed`, `1m0s left`} {
		if !strings.Contains(got, want) {
			t.Errorf("HTML(10 of 40 after 20s) = %q, lacks %q", got, want)
		}
	}
	if got := p.HTML(0, 1, 0); !strings.Contains(got, "? left") {
		t.Errorf("HTML before the first step = %q, want an unknown time left", got)
	}
	if got := p.HTML(99, 1, time.Minute); !strings.Contains(got, `value="40"`) || !strings.Contains(got, "0s left") {
		t.Errorf("HTML past the end = %q, want it clamped to 40/40", got)
	}
	p.Update(1, 2) // outside a notebook: nothing happens
}

func TestUnnormalizeRoundTrip(t *testing.T) {
	img := imageproc.NewRGB(5, 3)
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 17)
	}
	cfg := imageproc.DefaultConfig()
	back, err := Unnormalize(cfg.Normalize(img), 3, 5, cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := ImageOf(img)
	for i := range want.Pix {
		if back.Pix[i] != want.Pix[i] {
			t.Fatalf("byte %d: got %d, want %d", i, back.Pix[i], want.Pix[i])
		}
	}
	if want.Pix[3] != 255 || want.Pix[4] != img.Pix[3] {
		t.Errorf("ImageOf layout: got %v, want RGBA of %v", want.Pix[:8], img.Pix[:6])
	}
	if _, err := Unnormalize(make([]float32, 10), 3, 5, cfg); err == nil {
		t.Error("no error for a wrong number of pixel values")
	}
}
