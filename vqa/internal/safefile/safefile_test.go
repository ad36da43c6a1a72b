package safefile

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/vilt-go/workbook/vqa/internal/smalldisk"
)

// onlyFiles fails the test unless dir holds exactly the given names (no
// temporary files left behind).
func onlyFiles(t *testing.T, dir string, names ...string) {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range es {
		if e.Name() != "lost+found" {
			got = append(got, e.Name())
		}
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Errorf("%s holds %q, want %q", dir, got, names)
	}
}

// TestFailingWriterKeepsOldFile: a write that fails half-way (a full disk,
// simulated by a writer returning ENOSPC) leaves the old file whole and no
// temporary file.
func TestFailingWriterKeepsOldFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "results.json")
	old := []byte(`[{"question_id": 1, "answer": "yes"}]`)
	if err := os.WriteFile(path, old, 0o640); err != nil {
		t.Fatal(err)
	}
	err := Write(path, 0o644, func(w io.Writer) error {
		w.Write(bytes.Repeat([]byte("x"), 10_000))
		return syscall.ENOSPC
	})
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), path) {
		t.Fatalf("error %v, want ENOSPC naming %s", err, path)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, old) {
		t.Errorf("old file changed to %d bytes", len(got))
	}
	onlyFiles(t, dir, "results.json")
}

// TestFullDisk fills a small tmpfs: the old file survives whole.
func TestFullDisk(t *testing.T) {
	dir := smalldisk.New(t, 64<<10)
	path := filepath.Join(dir, "results.json")
	old := []byte("old content\n")
	if err := os.WriteFile(path, old, 0o644); err != nil {
		t.Fatal(err)
	}
	err := WriteFile(path, bytes.Repeat([]byte("y"), 1<<20), 0o644)
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("writing 1 MiB into 64 KiB: %v, want ENOSPC", err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, old) {
		t.Errorf("old file changed to %d bytes", len(got))
	}
	onlyFiles(t, dir, "results.json")
}

func TestWriteReplacesKeepingModeAndLinks(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "real.json")
	if err := os.WriteFile(target, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.json")
	if err := os.Symlink("real.json", link); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(link, []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(target); string(got) != "new" {
		t.Errorf("link target holds %q, want new", got)
	}
	if st, err := os.Lstat(link); err != nil || st.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the symbolic link was replaced: %v", err)
	}
	if st, _ := os.Stat(target); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want the old file's 0600", st.Mode().Perm())
	}
	fresh := filepath.Join(dir, "fresh.json")
	if err := WriteFile(fresh, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(fresh); st.Mode().Perm() != 0o644 {
		t.Errorf("new file mode %v, want 0644", st.Mode().Perm())
	}
}

// TestRefusesNonRegular: a folder or a device is never replaced.
func TestRefusesNonRegular(t *testing.T) {
	dir := t.TempDir()
	for path, kind := range map[string]string{dir: "a folder", os.DevNull: "a character device"} {
		err := WriteFile(path, []byte("x"), 0o644)
		if err == nil || !strings.Contains(err.Error(), kind) {
			t.Errorf("%s: error %v, want one saying it is %s", path, err, kind)
		}
	}
	if st, err := os.Stat(os.DevNull); err != nil || st.Mode()&os.ModeCharDevice == 0 {
		t.Fatalf("%s is no longer a device: %v", os.DevNull, err)
	}
}

func TestNotInput(t *testing.T) {
	dir := t.TempDir()
	ann := filepath.Join(dir, "annotations.json")
	if err := os.WriteFile(ann, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "alias.json")
	if err := os.Symlink(ann, link); err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{ann, link, filepath.Join(dir, ".", "annotations.json")} {
		if err := NotInput(out, "", "missing.json", ann); err == nil || !strings.Contains(err.Error(), "input of this run") {
			t.Errorf("NotInput(%s): %v, want a refusal", out, err)
		}
	}
	if err := NotInput(filepath.Join(dir, "results.json"), ann); err != nil {
		t.Errorf("a new file: %v", err)
	}
}

func TestKind(t *testing.T) {
	if got := Kind(os.ModeSymlink | 0o777); got != "a symbolic link" {
		t.Errorf("Kind(symlink) = %q", got)
	}
}

func TestReadFileBounds(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.json")
	if err := os.WriteFile(path, []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := ReadFile(path, 10); err != nil || string(b) != "0123456789" {
		t.Errorf("a file at the limit: %q, %v", b, err)
	}
	for p, want := range map[string]string{path: "more than the 9 allowed", "/dev/zero": "is a character device, not a regular file", dir: "is a folder"} {
		if _, err := ReadFile(p, 9); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ReadFile(%s): %v, want %q", p, err, want)
		}
	}
	if _, err := ReadFile(filepath.Join(dir, "missing"), 9); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a missing file: %v, want ErrNotExist", err)
	}
}
