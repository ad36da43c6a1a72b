package workbook

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/vilt-go/workbook/vqa/imageproc"
)

func TestRoot(t *testing.T) {
	t.Setenv("GONB_DIR", "")
	root, err := Root()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "vqa", "workbook", "paths.go")); err != nil {
		t.Errorf("Root() = %s, which does not hold vqa/workbook: %v", root, err)
	}

	// From a notebook folder: the nearest go.mod of this module wins, others are skipped.
	dir := t.TempDir()
	nb := filepath.Join(dir, "repo", "notebooks", "other")
	if err := os.MkdirAll(nb, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(path, text string) {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(dir, "repo", "go.mod"), "// the workbook\nmodule "+Module+"\n\ngo 1.26\n")
	write(filepath.Join(nb, "go.mod"), "module example.com/other\n")
	t.Setenv("GONB_DIR", nb)
	if got, err := Root(); err != nil || got != filepath.Join(dir, "repo") {
		t.Errorf("Root() from %s = %q, %v; want %q", nb, got, err, filepath.Join(dir, "repo"))
	}

	t.Setenv("GONB_DIR", t.TempDir())
	if got, err := Root(); err == nil {
		t.Errorf("Root() outside the workbook = %q, want an error", got)
	}
}

func TestDataRoot(t *testing.T) {
	t.Setenv("GONB_DIR", "")
	t.Setenv(DataEnv, "")
	dir, err := DataRoot()
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(dir) != "vqav2-mini" {
		t.Errorf("DataRoot() = %s, want the mini dataset", dir)
	}
	other := t.TempDir()
	t.Setenv(DataEnv, other)
	if got, err := DataRoot(); err != nil || got != other {
		t.Errorf("DataRoot() with $%s = %q, %v; want %q", DataEnv, got, err, other)
	}
	t.Setenv(DataEnv, filepath.Join(other, "missing"))
	if got, err := DataRoot(); err == nil {
		t.Errorf("DataRoot() with a missing folder = %q, want an error", got)
	}
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
