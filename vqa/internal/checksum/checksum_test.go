package checksum

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// writeSums writes files a and b into a new folder with their checksum
// file and returns the checksum file's path.
func writeSums(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	var sums []Sum
	for name, content := range map[string]string{"a.bin": "weights", "b.json": `{"x": 1}`} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		h, err := Of(p)
		if err != nil {
			t.Fatal(err)
		}
		sums = append(sums, Sum{Name: name, SHA256: h})
	}
	path := filepath.Join(dir, "c.sha256")
	if err := Write(path, sums); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestVerify(t *testing.T) {
	path := writeSums(t)
	if err := Verify(path); err != nil {
		t.Fatalf("intact files: %v", err)
	}
	if sha, err := exec.LookPath("sha256sum"); err == nil {
		cmd := exec.Command(sha, "-c", filepath.Base(path))
		cmd.Dir = filepath.Dir(path)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("sha256sum -c does not accept the checksum file: %v\n%s", err, out)
		}
	}
	bin := filepath.Join(filepath.Dir(path), "a.bin")
	if err := os.WriteFile(bin, []byte("weighus"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := Verify(path)
	if !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), bin) {
		t.Errorf("one byte changed: %v, want ErrMismatch naming %s", err, bin)
	}
	os.Remove(bin)
	if err := Verify(path); err == nil || !strings.Contains(err.Error(), "a.bin") {
		t.Errorf("missing file: %v, want an error naming it", err)
	}
}

func TestReadRejectsGarbage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.sha256")
	for _, content := range []string{"", "not a checksum\n", "abcd  x\n"} {
		os.WriteFile(path, []byte(content), 0o644)
		if _, err := Read(path); err == nil {
			t.Errorf("Read(%q) accepted it", content)
		}
	}
	if err := Write(path, []Sum{{Name: "/abs", SHA256: strings.Repeat("0", 64)}}); err == nil {
		t.Error("Write accepted an absolute name")
	}
}
