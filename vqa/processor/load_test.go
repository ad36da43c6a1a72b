package processor

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vilt-go/workbook/data"
	"github.com/vilt-go/workbook/vqa/imageproc"
	"github.com/vilt-go/workbook/vqa/internal/testutil"
)

// modelFolder copies the embedded processor files, except those in skip,
// into dir.
func modelFolder(t *testing.T, dir string, skip ...string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := fs.ReadDir(data.FS, DefaultDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if slices.Contains(skip, e.Name()) {
			continue
		}
		b, err := fs.ReadFile(data.FS, path.Join(DefaultDir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// sameEncoding fails unless p encodes the COCO cats image and a question
// exactly like the default processor.
func sameEncoding(t *testing.T, p *Processor) {
	t.Helper()
	def, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("../../data/coco/000000039769.png") // tests run in the package folder
	if err != nil {
		t.Fatal(err)
	}
	img, err := imageproc.DecodeBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	const q = "How many cats are there?"
	got, err := p.EncodeRGB(img, q)
	if err != nil {
		t.Fatal(err)
	}
	want, err := def.EncodeRGB(img, q)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.InputIDs, want.InputIDs) || !slices.Equal(got.PixelValues, want.PixelValues) {
		t.Error("encoding differs from the default processor")
	}
}

func TestLoadFolder(t *testing.T) {
	for name, skip := range map[string][]string{
		"vocab.txt":      {"tokenizer.json"},
		"tokenizer.json": {"vocab.txt"},
		"both":           nil,
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			modelFolder(t, dir, skip...)
			p, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			sameEncoding(t, p)
		})
	}
	dir := t.TempDir()
	modelFolder(t, dir, "vocab.txt", "tokenizer.json")
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), dir) {
		t.Errorf("folder without vocabulary: error %v, want one naming %s", err, dir)
	}
	dir = t.TempDir()
	modelFolder(t, dir, "preprocessor_config.json")
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "preprocessor_config.json") {
		t.Errorf("folder without preprocessor_config.json: error %v", err)
	}
}

// TestLoadHubOffline resolves a Hub id from a HuggingFace cache laid out
// like huggingface_hub's, with HF_HUB_OFFLINE set (no network).
func TestLoadHubOffline(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HF_HOME", home)
	t.Setenv("HF_HUB_CACHE", "")
	t.Setenv("HUGGINGFACE_HUB_CACHE", "")
	t.Setenv("HF_HUB_OFFLINE", "1")
	const commit = "0123456789abcdef0123456789abcdef01234567"
	repo := filepath.Join(home, "hub", "models--dandelin--vilt-b32-finetuned-vqa")
	modelFolder(t, filepath.Join(repo, "snapshots", commit), "vocab.txt")
	if err := os.MkdirAll(filepath.Join(repo, "refs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo, "refs", "main"), []byte(commit), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := Load("dandelin/vilt-b32-finetuned-vqa")
	if err != nil {
		t.Fatal(err)
	}
	sameEncoding(t, p)
	if _, err := Load("nobody/no-such-model"); err == nil || !strings.Contains(err.Error(), "nobody/no-such-model") {
		t.Errorf("uncached id offline: error %v, want one naming the id", err)
	}
}

// TestEXIFFixture: the load_image fixture is the plain one rotated by the
// file's EXIF orientation, exactly.
func TestEXIFFixture(t *testing.T) {
	dir, idx := readIndex(t)
	n := 0
	for _, c := range idx.Cases {
		if c.LoadImage == nil {
			continue
		}
		n++
		t.Run(c.Name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(dir, c.Image))
			if err != nil {
				t.Fatal(err)
			}
			o := imageproc.JPEGOrientation(raw)
			if c.ExifOrientation == nil || o != *c.ExifOrientation {
				t.Fatalf("orientation %d, index.json says %v", o, c.ExifOrientation)
			}
			plain := rgbOf(t, readTensors(t, filepath.Join(dir, c.File)), "input_rgb", c.OriginalSizeHW)
			want := rgbOf(t, readTensors(t, filepath.Join(dir, c.LoadImage.File)), "input_rgb", c.LoadImage.OriginalSizeHW)
			if got := imageproc.Orient(plain, o); !slices.Equal(got.Pix, want.Pix) {
				t.Error("Orient(input_rgb) differs from load_image's input_rgb")
			}
		})
	}
	if n == 0 {
		t.Fatal("index.json has no load_image variant")
	}
}

// TestConcurrentEncode encodes from several goroutines with one Processor
// (run under -race to check that it is safe for concurrent use).
func TestConcurrentEncode(t *testing.T) {
	p, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("../../data/coco/000000039769.png") // tests run in the package folder
	if err != nil {
		t.Fatal(err)
	}
	questions := []string{"How many cats are there?", "Is this crème brûlée?", "What is 日本?", ""}
	want := make([]Encoding, len(questions))
	for i, q := range questions {
		if want[i], err = p.EncodeRGB(imageproc.RGB{Pix: make([]uint8, 3*64*48), Width: 64, Height: 48}, q); err != nil {
			t.Fatal(err)
		}
	}
	errs := make(chan error, 8)
	for g := range 8 {
		go func() {
			img, err := imageproc.DecodeBytes(b)
			if err == nil {
				_, err = p.EncodeRGB(img, questions[g%len(questions)])
			}
			for i, q := range questions {
				if err != nil {
					break
				}
				var got Encoding
				got, err = p.EncodeRGB(imageproc.RGB{Pix: make([]uint8, 3*64*48), Width: 64, Height: 48}, q)
				if err == nil && (!slices.Equal(got.InputIDs, want[i].InputIDs) || !slices.Equal(got.PixelValues, want[i].PixelValues)) {
					err = fmt.Errorf("goroutine %d: encoding of %q differs", g, q)
				}
			}
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// TestEncodeFileReusesBuffers encodes the fixture images of every size in
// turn, twice, with one processor (whose pooled scratch images are then
// reused across sizes) and checks each against decoding and processing
// without scratch images.
func TestEncodeFileReusesBuffers(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join(testutil.Fixtures(t, "processor"), "images", "*"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no fixture images (%v)", err)
	}
	p, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	for round := range 2 {
		for _, path := range paths {
			got, err := p.EncodeFile(path, "How many cats are there?")
			if err != nil {
				t.Fatal(err)
			}
			img, err := imageproc.Decode(path)
			if err != nil {
				t.Fatal(err)
			}
			want, h, w, err := p.ImageConfig().Process(img)
			if err != nil {
				t.Fatal(err)
			}
			if got.Height != h || got.Width != w || !slices.Equal(got.PixelValues, want) {
				t.Errorf("round %d, %s: pixel values differ from Decode + Process without scratch images", round, filepath.Base(path))
			}
		}
	}
}
