// Package imageproc reproduces HuggingFace's ViltImageProcessor: decoding
// an image file to 8-bit RGB the way PIL's Image.open(...).convert("RGB")
// does, the ViLT target-size rule, Pillow's fixed-point bicubic resize
// (bit-exact) and the rescale + normalise step.
package imageproc

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"path"

	"github.com/vilt-go/workbook/vqa/internal/safefile"
)

// PILBicubic is PIL's resample code for BICUBIC, the only filter implemented.
const PILBicubic = 3

// Config holds the image settings of a HuggingFace preprocessor_config.json.
type Config struct {
	DoResize      bool       // resize to the ViLT target size
	ShortestEdge  int        // target shorter edge (384)
	SizeDivisor   int        // both sides floored to a multiple of this (32)
	Resample      int        // PIL filter code; only PILBicubic is supported
	DoRescale     bool       // multiply the uint8 values by RescaleFactor
	RescaleFactor float64    // 1/255
	DoNormalize   bool       // (x - ImageMean) / ImageStd per channel
	ImageMean     [3]float32 // per-channel mean (0.5)
	ImageStd      [3]float32 // per-channel standard deviation (0.5)
	DoPad         bool       // pad batches to the largest size with a pixel mask
}

// DefaultConfig returns the settings of dandelin/vilt-b32-finetuned-vqa.
func DefaultConfig() Config {
	return Config{
		DoResize: true, ShortestEdge: 384, SizeDivisor: 32, Resample: PILBicubic,
		DoRescale: true, RescaleFactor: 1.0 / 255, DoNormalize: true,
		ImageMean: [3]float32{0.5, 0.5, 0.5}, ImageStd: [3]float32{0.5, 0.5, 0.5}, DoPad: true,
	}
}

// LongerEdgeCap is the largest longer edge the resize allows:
// int(1333/800 * ShortestEdge), 639 for 384.
func (c Config) LongerEdgeCap() int { return int(1333.0 / 800.0 * float64(c.ShortestEdge)) }

// rawConfig mirrors the JSON fields; pointers tell "absent" from "zero".
type rawConfig struct {
	DoResize      *bool           `json:"do_resize"`
	Size          json.RawMessage `json:"size"`
	SizeDivisor   *int            `json:"size_divisor"`
	Resample      *int            `json:"resample"`
	DoRescale     *bool           `json:"do_rescale"`
	RescaleFactor *float64        `json:"rescale_factor"`
	DoNormalize   *bool           `json:"do_normalize"`
	ImageMean     json.RawMessage `json:"image_mean"`
	ImageStd      json.RawMessage `json:"image_std"`
	DoPad         *bool           `json:"do_pad"`
}

// ParseConfig reads a preprocessor_config.json document. Absent fields keep
// the ViltImageProcessor defaults; "size" may be an integer (384) or an
// object ({"shortest_edge": 384}); image_mean/image_std may be a number or
// a list of three. name is used in error messages.
func ParseConfig(name string, data []byte) (Config, error) {
	c := DefaultConfig()
	var r rawConfig
	if err := json.Unmarshal(data, &r); err != nil {
		return c, fmt.Errorf("imageproc: %s: %w", name, err)
	}
	setBool := func(dst *bool, src *bool) {
		if src != nil {
			*dst = *src
		}
	}
	setBool(&c.DoResize, r.DoResize)
	setBool(&c.DoRescale, r.DoRescale)
	setBool(&c.DoNormalize, r.DoNormalize)
	setBool(&c.DoPad, r.DoPad)
	if r.SizeDivisor != nil {
		c.SizeDivisor = *r.SizeDivisor
	}
	if r.Resample != nil {
		c.Resample = *r.Resample
	}
	if r.RescaleFactor != nil {
		c.RescaleFactor = *r.RescaleFactor
	}
	if len(r.Size) > 0 && string(r.Size) != "null" {
		var n int
		var obj map[string]int
		switch {
		case json.Unmarshal(r.Size, &n) == nil:
			c.ShortestEdge = n
		case json.Unmarshal(r.Size, &obj) == nil:
			se, ok := obj["shortest_edge"]
			if !ok {
				return c, fmt.Errorf("imageproc: %s: field size: want an integer or {\"shortest_edge\": n}, got %s", name, r.Size)
			}
			c.ShortestEdge = se
		default:
			return c, fmt.Errorf("imageproc: %s: field size: want an integer or {\"shortest_edge\": n}, got %s", name, r.Size)
		}
	}
	var err error
	if c.ImageMean, err = parseTriple(r.ImageMean, c.ImageMean); err != nil {
		return c, fmt.Errorf("imageproc: %s: field image_mean: %w", name, err)
	}
	if c.ImageStd, err = parseTriple(r.ImageStd, c.ImageStd); err != nil {
		return c, fmt.Errorf("imageproc: %s: field image_std: %w", name, err)
	}
	return c, c.validate(name)
}

func parseTriple(raw json.RawMessage, def [3]float32) ([3]float32, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return def, nil
	}
	var one float32
	if json.Unmarshal(raw, &one) == nil {
		return [3]float32{one, one, one}, nil
	}
	var list []float32
	if err := json.Unmarshal(raw, &list); err != nil || len(list) != 3 {
		return def, fmt.Errorf("want a number or a list of 3 numbers, got %s", raw)
	}
	return [3]float32{list[0], list[1], list[2]}, nil
}

func (c Config) validate(name string) error {
	if c.DoResize {
		if c.ShortestEdge <= 0 {
			return fmt.Errorf("imageproc: %s: size: shortest edge must be > 0, got %d", name, c.ShortestEdge)
		}
		if c.SizeDivisor <= 0 {
			return fmt.Errorf("imageproc: %s: size_divisor must be > 0, got %d", name, c.SizeDivisor)
		}
		if c.Resample != PILBicubic {
			return fmt.Errorf("imageproc: %s: resample %d is not supported (only %d, PIL BICUBIC)", name, c.Resample, PILBicubic)
		}
	}
	if c.DoNormalize {
		for i, s := range c.ImageStd {
			if s == 0 {
				return fmt.Errorf("imageproc: %s: image_std[%d] is 0", name, i)
			}
		}
	}
	return nil
}

// ReadConfig reads a preprocessor_config.json file.
func ReadConfig(file string) (Config, error) {
	data, err := safefile.ReadFile(file, safefile.MaxMetadataBytes)
	if err != nil {
		return DefaultConfig(), fmt.Errorf("imageproc: %w", err)
	}
	return ParseConfig(file, data)
}

// ReadConfigFS reads dir/preprocessor_config.json from fsys.
func ReadConfigFS(fsys fs.FS, dir string) (Config, error) {
	name := path.Join(dir, "preprocessor_config.json")
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return DefaultConfig(), fmt.Errorf("imageproc: %w", err)
	}
	return ParseConfig(name, data)
}
