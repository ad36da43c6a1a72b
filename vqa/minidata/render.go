package minidata

import (
	"image"
	"math"
	"math/rand/v2"
)

// Floating-point note: every product that feeds a sum is wrapped in an
// explicit float64 conversion. The Go spec lets a compiler fuse x*y+z into
// one FMA instruction (arm64 and GOAMD64=v3 do), which rounds differently;
// the explicit conversion forbids that fusion, so the rendered pixels, and
// hence the JPEG bytes, are the same on every architecture. Built with
// GOAMD64=v3, the package's only fused instructions are exact ones (x*2
// and the 2^-53 scaling inside math/rand/v2), and the byte-for-byte test
// passes.

// render draws the scene on a smooth, textured background: a two-colour
// gradient at a random angle, low-frequency brightness noise, lightly
// shaded objects with anti-aliased edges, and fine luminance grain. All
// randomness comes from r.
// buf is scratch space, grown as needed and returned for reuse.
func render(s Scene, r *rand.Rand, buf []float64) (*image.RGBA, []float64) {
	w, h := s.Width, s.Height
	if cap(buf) < 3*w*h {
		buf = make([]float64, 3*w*h)
	}
	buf = buf[:3*w*h]
	background(buf, w, h, r)
	for _, o := range s.Objects {
		drawObject(buf, w, h, o, r)
	}
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range w * h {
		u := r.Uint64()
		// Triangular grain in [-6, 6], the same on all channels.
		g := float64(int(u&7) + int(u>>3&7) - 7)
		if g < -6 {
			g = -6
		}
		for c := range 3 {
			img.Pix[4*i+c] = toByte(buf[3*i+c] + g)
		}
		img.Pix[4*i+3] = 255
	}
	return img, buf
}

// toByte rounds v to the nearest integer in [0, 255].
func toByte(v float64) uint8 {
	switch {
	case v < 0:
		return 0
	case v >= 254.5:
		return 255
	}
	return uint8(v + 0.5)
}

// lerp returns a + (b-a)*t without fused rounding.
func lerp(a, b, t float64) float64 { return a + float64((b-a)*t) }

// hsv converts hue (degrees), saturation and value in [0, 1] to RGB in
// [0, 255].
func hsv(hue, sat, val float64) [3]float64 {
	hue = math.Mod(hue, 360)
	if hue < 0 {
		hue += 360
	}
	sector := math.Floor(hue / 60)
	f := hue/60 - sector
	p := float64(val * (1 - sat))
	q := float64(val * (1 - float64(sat*f)))
	t := float64(val * (1 - float64(sat*(1-f))))
	var rgb [3]float64
	switch int(sector) {
	case 0:
		rgb = [3]float64{val, t, p}
	case 1:
		rgb = [3]float64{q, val, p}
	case 2:
		rgb = [3]float64{p, val, t}
	case 3:
		rgb = [3]float64{p, q, val}
	case 4:
		rgb = [3]float64{t, p, val}
	default:
		rgb = [3]float64{val, p, q}
	}
	for i := range rgb {
		rgb[i] = float64(rgb[i] * 255)
	}
	return rgb
}

// background fills buf (RGB, row-major, w x h) with a light, muted
// gradient modulated by smooth value noise.
func background(buf []float64, w, h int, r *rand.Rand) {
	hue := float64(r.Float64() * 360)
	c0 := hsv(hue, 0.06+float64(r.Float64()*0.22), 0.72+float64(r.Float64()*0.2))
	c1 := hsv(hue+float64((r.Float64()-0.5)*120), 0.06+float64(r.Float64()*0.22), 0.72+float64(r.Float64()*0.2))
	theta := float64(r.Float64() * 2 * math.Pi)
	ca, sa := math.Cos(theta), math.Sin(theta)
	span := float64(math.Abs(ca)*float64(w)) + float64(math.Abs(sa)*float64(h))
	ca, sa = ca/span, sa/span

	// Value noise on a coarse grid, smoothly interpolated.
	gx, gy := 3+r.IntN(4), 3+r.IntN(3)
	grid := make([]float64, (gx+1)*(gy+1))
	for i := range grid {
		grid[i] = 2*r.Float64() - 1
	}
	const amp = 0.09
	cellX := make([]int, w)
	fracX := make([]float64, w)
	for x := range w {
		cellX[x], fracX[x] = noiseCoord(x, w, gx)
	}
	for y := range h {
		cy, fy := noiseCoord(y, h, gy)
		dy := float64(float64(float64(y)-float64(h)/2) * sa)
		row0, row1 := grid[cy*(gx+1):], grid[(cy+1)*(gx+1):]
		for x := range w {
			cx, fx := cellX[x], fracX[x]
			top := lerp(row0[cx], row0[cx+1], fx)
			bottom := lerp(row1[cx], row1[cx+1], fx)
			shade := 1 + float64(amp*lerp(top, bottom, fy))
			t := 0.5 + float64(float64(float64(x)-float64(w)/2)*ca) + dy
			t = min(max(t, 0), 1)
			i := 3 * (y*w + x)
			for c := range 3 {
				buf[i+c] = float64(lerp(c0[c], c1[c], t) * shade)
			}
		}
	}
}

// noiseCoord maps pixel p of n to a noise cell of cells and the smoothstep
// weight inside it.
func noiseCoord(p, n, cells int) (int, float64) {
	u := (float64(p) + 0.5) / float64(n) * float64(cells)
	c := min(int(u), cells-1)
	f := u - float64(c)
	return c, float64(f*f) * (3 - 2*f)
}

// drawObject composites o onto buf with a jittered fill, a soft linear
// shading across the object, and anti-aliased edges.
func drawObject(buf []float64, w, h int, o Object, r *rand.Rand) {
	var fill [3]float64
	for c := range 3 {
		fill[c] = rgb[o.Color][c] + float64(r.IntN(25)-12)
	}
	lightAngle := float64(r.Float64() * 2 * math.Pi)
	lx, ly := math.Cos(lightAngle), math.Sin(lightAngle)
	cosA, sinA := math.Cos(o.Angle), math.Sin(o.Angle)
	b := o.bound() + 2
	x0, x1 := max(0, int(o.X-b)), min(w-1, int(o.X+b)+1)
	y0, y1 := max(0, int(o.Y-b)), min(h-1, int(o.Y+b)+1)
	for y := y0; y <= y1; y++ {
		dy := float64(y) + 0.5 - o.Y
		for x := x0; x <= x1; x++ {
			dx := float64(x) + 0.5 - o.X
			// Rotate into the object's frame; flip y so "up" is positive.
			px := float64(dx*cosA) + float64(dy*sinA)
			py := float64(dx*sinA) - float64(dy*cosA)
			cover := min(max(0.5-sdf(o, px, py), 0), 1)
			if cover == 0 {
				continue
			}
			shade := 1 + float64(0.08*(float64(dx*lx)+float64(dy*ly))/b)
			i := 3 * (y*w + x)
			for c := range 3 {
				v := min(float64(fill[c]*shade), 255)
				buf[i+c] = lerp(buf[i+c], v, cover)
			}
		}
	}
}

// sdf is the signed distance in pixels from (px, py), in the object's frame
// with y up, to the object's outline: negative inside.
func sdf(o Object, px, py float64) float64 {
	switch o.Shape {
	case Square:
		half := float64(0.85 * o.R)
		qx, qy := math.Abs(px)-half, math.Abs(py)-half
		ox, oy := max(qx, 0), max(qy, 0)
		return math.Sqrt(float64(ox*ox)+float64(oy*oy)) + min(max(qx, qy), 0)
	case Triangle:
		// Equilateral triangle pointing up with circumradius 1.5*R
		// (after Inigo Quilez's sdEquilateralTriangle).
		const k = 1.7320508075688772 // sqrt(3)
		side := float64(float64(1.5*o.R) * (k / 2))
		x := math.Abs(px) - side
		y := py + side/k
		if x+float64(k*y) > 0 {
			x, y = (x-float64(k*y))/2, (float64(-k*x)-y)/2
		}
		x -= min(max(x, -2*side), 0)
		d := math.Sqrt(float64(x*x) + float64(y*y))
		if y > 0 {
			return -d
		}
		return d
	default:
		return math.Sqrt(float64(px*px)+float64(py*py)) - o.R
	}
}
