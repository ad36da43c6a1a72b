package processor

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/vilt-go/workbook/vqa/imageproc"
	"github.com/vilt-go/workbook/vqa/internal/testutil"
)

// benchPath is the 640x480 JPEG of the HF perf anchor (fixture README).
func benchPath(b *testing.B) string {
	return filepath.Join(testutil.Fixtures(b, "processor"), "images", "photo_640x480.jpg")
}

// benchJPEG is the contents of benchPath.
func benchJPEG(b *testing.B) []byte {
	data, err := os.ReadFile(benchPath(b))
	if err != nil {
		b.Fatal(err)
	}
	return data
}

// BenchmarkEncodeJPEG is EncodeFile of a 640x480 JPEG on one goroutine:
// read, decode, process (resize to 384x512, normalise) and tokenise, what
// the training data loader does per example and what bench_pil.py times.
func BenchmarkEncodeJPEG(b *testing.B) {
	path := benchPath(b)
	p, err := Default()
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := p.EncodeFile(path, "How many cats are there?"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
}

// BenchmarkEncodeJPEGParallel is BenchmarkEncodeJPEG on all cores.
func BenchmarkEncodeJPEGParallel(b *testing.B) {
	path := benchPath(b)
	p, err := Default()
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := p.EncodeFile(path, "How many cats are there?"); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
}

// BenchmarkStages times each stage of BenchmarkEncodeJPEG alone.
func BenchmarkStages(b *testing.B) {
	data := benchJPEG(b)
	p, err := Default()
	if err != nil {
		b.Fatal(err)
	}
	img, err := imageproc.DecodeBytes(data)
	if err != nil {
		b.Fatal(err)
	}
	cfg := p.ImageConfig()
	b.Run("decode", func(b *testing.B) {
		for b.Loop() {
			if _, err := imageproc.DecodeBytes(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("resize", func(b *testing.B) {
		for b.Loop() {
			if _, err := imageproc.Resize(img, 512, 384); err != nil {
				b.Fatal(err)
			}
		}
	})
	small, _ := imageproc.Resize(img, 512, 384)
	b.Run("normalize", func(b *testing.B) {
		for b.Loop() {
			cfg.Normalize(small)
		}
	})
	// What Encode runs: the resize's last pass normalising as it goes,
	// scratch images reused.
	var buf imageproc.Buffers
	b.Run("resize+normalize", func(b *testing.B) {
		for b.Loop() {
			if _, _, _, err := cfg.ProcessTo(img, &buf); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("tokenize", func(b *testing.B) {
		for b.Loop() {
			if _, err := p.Tokenizer().Encode("How many cats are there?"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
