package minidata

import (
	"math"
	"math/rand/v2"
)

// Shape is the kind of a scene object.
type Shape int

// The shapes a scene can hold.
const (
	Circle Shape = iota
	Square
	Triangle
	numShapes
)

var shapeNames = [numShapes]string{"circle", "square", "triangle"}

// String returns the shape's answer word ("circle", "square", "triangle").
func (s Shape) String() string { return shapeNames[s] }

// Plural returns the shape's plural noun as used in questions ("circles").
func (s Shape) Plural() string { return shapeNames[s] + "s" }

// Color is the fill colour of a scene object.
type Color int

// The colours a scene object can have.
const (
	Red Color = iota
	Green
	Blue
	Yellow
	Gray
	numColors
)

var colorNames = [numColors]string{"red", "green", "blue", "yellow", "gray"}

// String returns the colour's answer word ("red", ..., "gray").
func (c Color) String() string { return colorNames[c] }

// rgb is the nominal fill of each colour; objects jitter around it.
var rgb = [numColors][3]float64{
	Red:    {205, 35, 35},
	Green:  {35, 155, 55},
	Blue:   {40, 75, 205},
	Yellow: {240, 200, 20},
	Gray:   {115, 115, 115},
}

// Object is one shape in a scene. Coordinates are in pixels, origin at the
// top-left corner, y pointing down.
type Object struct {
	Shape Shape
	Color Color
	// X, Y is the centre (the centroid for a triangle).
	X, Y float64
	// R is the shape's nominal radius: the circle's radius, 1/0.85 of the
	// square's half side, 1/1.5 of the triangle's circumradius, so that the
	// three shapes look about the same size for the same R.
	R float64
	// Angle is the rotation in radians (ignored for circles).
	Angle float64
}

// Area returns the object's area in square pixels.
func (o Object) Area() float64 {
	switch o.Shape {
	case Square:
		side := 2 * 0.85 * o.R
		return float64(side * side)
	case Triangle:
		circum := 1.5 * o.R
		return float64(float64(3*math.Sqrt(3)/4) * float64(circum*circum))
	default:
		return float64(math.Pi * float64(o.R*o.R))
	}
}

// bound returns the radius of a circle around the centre that contains
// the whole object.
func (o Object) bound() float64 {
	switch o.Shape {
	case Square:
		return float64(0.85 * math.Sqrt2 * o.R)
	case Triangle:
		return float64(1.5 * o.R)
	default:
		return o.R
	}
}

// Scene is one synthetic picture: its size and the objects drawn on it.
type Scene struct {
	Width, Height int
	Objects       []Object
}

// cocoSizes are common COCO image sizes, landscape and portrait, with
// weights roughly matching how often they occur.
var cocoSizes = []struct{ w, h, weight int }{
	{640, 480, 8}, {480, 640, 3}, {640, 427, 5}, {427, 640, 2},
	{500, 375, 2}, {375, 500, 1}, {640, 512, 1}, {612, 612, 1},
	{640, 360, 1}, {640, 425, 2}, {425, 640, 1},
}

// objectCountWeights[n-1] is the weight of a scene with n objects.
var objectCountWeights = []int{3, 4, 4, 3, 2}

// pickWeighted returns an index drawn with the given integer weights.
func pickWeighted(r *rand.Rand, weights []int) int {
	total := 0
	for _, w := range weights {
		total += w
	}
	x := r.IntN(total)
	for i, w := range weights {
		if x < w {
			return i
		}
		x -= w
	}
	return len(weights) - 1
}

// newScene draws a scene: a COCO-like size and 1-5 large, clearly
// separated objects.
func newScene(r *rand.Rand) Scene {
	sizeWeights := make([]int, len(cocoSizes))
	for i, s := range cocoSizes {
		sizeWeights[i] = s.weight
	}
	sz := cocoSizes[pickWeighted(r, sizeWeights)]
	s := Scene{Width: sz.w, Height: sz.h}
	n := 1 + pickWeighted(r, objectCountWeights)
	minDim := float64(min(sz.w, sz.h))
	gap := float64(0.04 * minDim)
	// Larger scenes get somewhat smaller objects so that they fit.
	rMin, rMax := float64(0.09*minDim), float64((0.185-float64(0.015*float64(n)))*minDim)
	for range n {
		o := Object{
			Shape: Shape(r.IntN(int(numShapes))),
			Color: Color(r.IntN(int(numColors))),
			R:     rMin + float64(r.Float64()*(rMax-rMin)),
			Angle: float64((r.Float64() - 0.5) * 0.6),
		}
		b := o.bound()
		placed := false
		for range 200 {
			o.X = b + gap + float64(r.Float64()*(float64(sz.w)-2*(b+gap)))
			o.Y = b + gap + float64(r.Float64()*(float64(sz.h)-2*(b+gap)))
			if s.fits(o, gap) {
				placed = true
				break
			}
		}
		if placed {
			s.Objects = append(s.Objects, o)
		}
	}
	return s
}

// fits reports whether o keeps at least gap pixels from every object.
func (s *Scene) fits(o Object, gap float64) bool {
	for _, p := range s.Objects {
		dx, dy := o.X-p.X, o.Y-p.Y
		need := o.bound() + p.bound() + gap
		if float64(dx*dx)+float64(dy*dy) < float64(need*need) {
			return false
		}
	}
	return true
}

// countShape returns how many objects have shape sh.
func (s *Scene) countShape(sh Shape) int {
	n := 0
	for _, o := range s.Objects {
		if o.Shape == sh {
			n++
		}
	}
	return n
}

// countColor returns how many objects have colour c.
func (s *Scene) countColor(c Color) int {
	n := 0
	for _, o := range s.Objects {
		if o.Color == c {
			n++
		}
	}
	return n
}

// has reports whether the scene holds a c-coloured sh.
func (s *Scene) has(c Color, sh Shape) bool {
	for _, o := range s.Objects {
		if o.Color == c && o.Shape == sh {
			return true
		}
	}
	return false
}

// onlyShape returns the single object of shape sh, if there is exactly one.
func (s *Scene) onlyShape(sh Shape) (Object, bool) {
	if s.countShape(sh) != 1 {
		return Object{}, false
	}
	for _, o := range s.Objects {
		if o.Shape == sh {
			return o, true
		}
	}
	return Object{}, false
}

// onlyColor returns the single object of colour c, if there is exactly one.
func (s *Scene) onlyColor(c Color) (Object, bool) {
	if s.countColor(c) != 1 {
		return Object{}, false
	}
	for _, o := range s.Objects {
		if o.Color == c {
			return o, true
		}
	}
	return Object{}, false
}
