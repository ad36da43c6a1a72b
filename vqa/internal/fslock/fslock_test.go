package fslock

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSecondLockFailsAtOnce(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	first, err := Acquire(dir, "vqa test one")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = Acquire(dir, "vqa test two")
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Acquire: %v, want ErrLocked", err)
	}
	if time.Since(start) > time.Second {
		t.Errorf("the second Acquire waited %v instead of failing at once", time.Since(start))
	}
	for _, s := range []string{dir, "vqa test one", fmt.Sprintf("pid %d", os.Getpid())} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not name %q", err, s)
		}
	}
	if err := first.Release(); err != nil {
		t.Fatal(err)
	}
	if err := first.Release(); err != nil {
		t.Errorf("second Release: %v", err)
	}
	again, err := Acquire(dir, "vqa test three")
	if err != nil {
		t.Fatalf("after Release: %v", err)
	}
	again.Release()
}

// TestKilledHolderReleases: a process killed with SIGKILL while holding the
// lock leaves no stale lock.
func TestKilledHolderReleases(t *testing.T) {
	if os.Getenv("FSLOCK_HOLD") != "" {
		if _, err := Acquire(os.Getenv("FSLOCK_HOLD"), "holder"); err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("locked")
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledHolderReleases$")
	cmd.Env = append(os.Environ(), "FSLOCK_HOLD="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, _ := out.Read(buf)
	if !strings.Contains(string(buf[:n]), "locked") {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("holder said %q", buf[:n])
	}
	if _, err := Acquire(dir, "while held"); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), fmt.Sprintf("pid %d", cmd.Process.Pid)) {
		t.Errorf("while another process holds it: %v, want ErrLocked naming pid %d", err, cmd.Process.Pid)
	}
	cmd.Process.Kill()
	cmd.Wait()
	l, err := Acquire(dir, "after kill -9")
	if err != nil {
		t.Fatalf("after the holder was killed: %v", err)
	}
	l.Release()
}
