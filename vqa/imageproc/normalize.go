package imageproc

// normalizer maps each byte of each channel to its normalised value.
type normalizer [3][256]float32

// normalizer returns the lookup table of Normalize: each byte u becomes
// float32(float64(u)*RescaleFactor) (when DoRescale), then (x - mean) / std
// in float32 (when DoNormalize), exactly as transformers' rescale and
// normalize compute it.
func (c Config) normalizer() *normalizer {
	var lut normalizer
	for ch := range 3 {
		for u := range 256 {
			x := float32(u)
			if c.DoRescale {
				x = float32(float64(u) * c.RescaleFactor)
			}
			if c.DoNormalize {
				x = (x - c.ImageMean[ch]) / c.ImageStd[ch]
			}
			lut[ch][u] = x
		}
	}
	return &lut
}

// pixels writes the RGB pixels of pix (3 bytes each) as normalised values
// to the channel planes r, g and b from index at on.
func (lut *normalizer) pixels(pix []uint8, r, g, b []float32, at int) {
	n := len(pix) / 3
	r, g, b = r[at:at+n], g[at:at+n], b[at:at+n]
	for i := range n {
		p := pix[3*i : 3*i+3 : 3*i+3]
		r[i] = lut[0][p[0]]
		g[i] = lut[1][p[1]]
		b[i] = lut[2][p[2]]
	}
}

// Normalize turns an RGB image into channels-first float32 pixel values
// [3, Height, Width]: each byte u becomes float32(float64(u)*RescaleFactor)
// (when DoRescale), then (x - mean) / std in float32 (when DoNormalize),
// exactly as transformers' rescale and normalize compute it.
func (c Config) Normalize(img RGB) []float32 {
	plane := img.Width * img.Height
	out := make([]float32, 3*plane)
	c.normalizer().pixels(img.Pix[:3*plane], out[:plane], out[plane:2*plane], out[2*plane:], 0)
	return out
}

// Process resizes img to the target size (when DoResize) and normalises it,
// returning pixel values [3, height, width]. It is ProcessTo without
// scratch buffers to reuse.
func (c Config) Process(img RGB) (pixels []float32, height, width int, err error) {
	return c.ProcessTo(img, nil)
}

// ProcessTo is Process with its intermediate images in buf (see
// [Buffers]): the same values, fewer allocations. The final vertical pass
// of the resize writes normalised values directly, row by row.
func (c Config) ProcessTo(img RGB, buf *Buffers) (pixels []float32, height, width int, err error) {
	if !c.DoResize {
		return c.Normalize(img), img.Height, img.Width, nil
	}
	h, w, err := c.TargetSize(img.Height, img.Width)
	if err != nil {
		return nil, 0, 0, err
	}
	if err := checkResize(img, w, h); err != nil {
		return nil, 0, 0, err
	}
	if w != img.Width {
		img = horizontal(img, w, buf)
	}
	if h == img.Height {
		return c.Normalize(img), h, w, nil
	}
	lut := c.normalizer()
	plane := w * h
	out := make([]float32, 3*plane)
	r, g, b := out[:plane], out[plane:2*plane], out[2*plane:]
	row := buf.get(rowScratch, 3*w)
	verticalRows(img, h, func(y int, compute func(out []uint8)) {
		compute(row)
		lut.pixels(row, r, g, b, y*w)
	})
	return out, h, w, nil
}
