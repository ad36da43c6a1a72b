package imageproc

// Normalize turns an RGB image into channels-first float32 pixel values
// [3, Height, Width]: each byte u becomes float32(float64(u)*RescaleFactor)
// (when DoRescale), then (x - mean) / std in float32 (when DoNormalize),
// exactly as transformers' rescale and normalize compute it.
func (c Config) Normalize(img RGB) []float32 {
	var lut [3][256]float32
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
	plane := img.Width * img.Height
	out := make([]float32, 3*plane)
	r, g, b := out[:plane], out[plane:2*plane], out[2*plane:]
	pix := img.Pix[:3*plane]
	for i := range plane {
		p := pix[3*i : 3*i+3 : 3*i+3]
		r[i] = lut[0][p[0]]
		g[i] = lut[1][p[1]]
		b[i] = lut[2][p[2]]
	}
	return out
}

// Process resizes img to the target size (when DoResize) and normalises it,
// returning pixel values [3, height, width].
func (c Config) Process(img RGB) (pixels []float32, height, width int, err error) {
	if c.DoResize {
		h, w, err := c.TargetSize(img.Height, img.Width)
		if err != nil {
			return nil, 0, 0, err
		}
		if img, err = Resize(img, w, h); err != nil {
			return nil, 0, 0, err
		}
	}
	return c.Normalize(img), img.Height, img.Width, nil
}
