package repo

import (
	"os"
	"path/filepath"
	"testing"
)

func TestRoot(t *testing.T) {
	t.Setenv("GONB_DIR", "")
	root, err := Root()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "vqa", "repo", "repo.go")); err != nil {
		t.Errorf("Root() = %s, which does not hold vqa/repo: %v", root, err)
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
