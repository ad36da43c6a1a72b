package processor

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/vilt-go/workbook/vqa/hfweights"
	"github.com/vilt-go/workbook/vqa/imageproc"
	"github.com/vilt-go/workbook/vqa/internal/testutil"
)

// fixtureCase is one entry of index.json's case lists.
type fixtureCase struct {
	Name            string `json:"name"`
	Image           string `json:"image"`
	File            string `json:"file"`
	OriginalSizeHW  [2]int `json:"original_size_hw"`
	ResizedSizeHW   [2]int `json:"resized_size_hw"`
	ExifOrientation *int   `json:"exif_orientation"`
	LoadImage       *struct {
		File           string `json:"file"`
		OriginalSizeHW [2]int `json:"original_size_hw"`
		ResizedSizeHW  [2]int `json:"resized_size_hw"`
	} `json:"load_image_variant"`
}

// fixtureIndex is the part of index.json the tests use.
type fixtureIndex struct {
	SettingsDefault json.RawMessage `json:"settings_default"`
	Cases           []fixtureCase   `json:"cases"`
	Variant224      struct {
		Settings json.RawMessage `json:"settings"`
		Cases    []fixtureCase   `json:"cases"`
	} `json:"variant224"`
	Batch struct {
		File           string   `json:"file"`
		Images         []string `json:"images"`
		ResizedSizesHW [][2]int `json:"resized_sizes_hw"`
		PaddedSizeHW   [2]int   `json:"padded_size_hw"`
	} `json:"batch"`
}

func readIndex(t *testing.T) (string, fixtureIndex) {
	t.Helper()
	dir := testutil.Fixtures(t, "processor")
	data, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var idx fixtureIndex
	if err := json.Unmarshal(data, &idx); err != nil {
		t.Fatalf("index.json: %v", err)
	}
	if len(idx.Cases) == 0 || len(idx.Variant224.Cases) == 0 || len(idx.Batch.Images) == 0 {
		t.Fatal("index.json lists no cases")
	}
	return dir, idx
}

// config parses a settings block of index.json as a preprocessor_config.json.
func config(t *testing.T, raw json.RawMessage) imageproc.Config {
	t.Helper()
	c, err := imageproc.ParseConfig("index.json settings", raw)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// tensorFile holds one fixture safetensors file.
type tensorFile struct {
	name string
	ts   map[string]*tensors.Tensor
}

func readTensors(t *testing.T, file string) tensorFile {
	t.Helper()
	ts, err := hfweights.Read(file)
	if err != nil {
		t.Fatal(err)
	}
	return tensorFile{filepath.Base(file), ts}
}

func (f tensorFile) has(key string) bool { _, ok := f.ts[key]; return ok }

func flat[T interface{ uint8 | int64 | float32 }](t *testing.T, f tensorFile, key string, shape ...int) []T {
	t.Helper()
	x, ok := f.ts[key]
	if !ok {
		t.Fatalf("%s: no tensor %s", f.name, key)
	}
	if got := x.Shape().Dimensions; !slices.Equal(got, shape) {
		t.Fatalf("%s: %s has shape %v, want %v", f.name, key, got, shape)
	}
	v, err := tensors.CopyFlatData[T](x)
	if err != nil {
		t.Fatalf("%s: %s: %v", f.name, key, err)
	}
	return v
}

// rgbOf reads an [H, W, 3] uint8 tensor as an RGB image.
func rgbOf(t *testing.T, f tensorFile, key string, hw [2]int) imageproc.RGB {
	return imageproc.RGB{Pix: flat[uint8](t, f, key, hw[0], hw[1], 3), Width: hw[1], Height: hw[0]}
}

// wantPixels returns the stored pixel_values, or, where the fixture dropped
// them, normalize(resized_rgb) by the README formula: float32(u8 * (1/255))
// computed in float64, then (x - 0.5) / 0.5 in float32, channels first.
func wantPixels(t *testing.T, f tensorFile, hw [2]int) []float32 {
	h, w := hw[0], hw[1]
	if f.has("pixel_values") {
		return flat[float32](t, f, "pixel_values", 3, h, w)
	}
	rgb := flat[uint8](t, f, "resized_rgb", h, w, 3)
	out := make([]float32, 3*h*w)
	for c := range 3 {
		for i := range h * w {
			x := float32(float64(rgb[3*i+c]) * (1.0 / 255))
			out[c*h*w+i] = (x - 0.5) / 0.5
		}
	}
	return out
}

// wantMask returns the stored pixel_mask, or all ones where it was dropped.
func wantMask(t *testing.T, f tensorFile, hw [2]int) []int64 {
	if f.has("pixel_mask") {
		return flat[int64](t, f, "pixel_mask", hw[0], hw[1])
	}
	ones := make([]int64, hw[0]*hw[1])
	for i := range ones {
		ones[i] = 1
	}
	return ones
}

// diffStats summarises |got - want| over normalised pixel values.
type diffStats struct{ max, mean, p99, p999 float64 }

func stats(got, want []float32) diffStats {
	d := make([]float64, len(got))
	var s diffStats
	for i := range got {
		d[i] = math.Abs(float64(got[i]) - float64(want[i]))
		s.mean += d[i]
	}
	s.mean /= float64(len(d))
	slices.Sort(d)
	s.max = d[len(d)-1]
	s.p99 = d[int(0.99*float64(len(d)-1))]
	s.p999 = d[int(0.999*float64(len(d)-1))]
	return s
}

func (s diffStats) String() string {
	return fmt.Sprintf("max %.5f mean %.5f p99 %.5f p99.9 %.5f", s.max, s.mean, s.p99, s.p999)
}

func countDiff[T comparable](a, b []T) int {
	n := 0
	for i := range a {
		if a[i] != b[i] {
			n++
		}
	}
	return n
}
