// Package smalldisk gives tests a tiny file system to fill, to check what a
// writer leaves behind on a full disk.
package smalldisk

import (
	"os"
	"os/exec"
	"strconv"
	"testing"
)

// New returns a fresh folder on a tmpfs of size bytes (rounded up to
// whole pages), unmounted when the test ends, to run a writer into a full
// disk. Mounting needs root (or CAP_SYS_ADMIN): elsewhere the test is
// skipped, and the failing-writer tests cover the same code.
func New(t testing.TB, size int) string {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+strconv.Itoa(size), "tmpfs", dir).CombinedOutput()
	if err != nil {
		t.Skipf("cannot mount a small tmpfs to fill (%v: %s); the failing-writer tests cover this", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("unmounting the test tmpfs %s: %v: %s", dir, err, out)
		}
	})
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
