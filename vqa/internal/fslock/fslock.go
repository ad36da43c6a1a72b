// Package fslock keeps two processes from working in the same folder at
// once. [Acquire] takes an exclusive advisory lock (flock) on the file
// ".lock" inside the folder and fails at once, without waiting, when
// another process holds it; the error names the folder and the holder (its
// process id and what it is doing). The operating system releases the lock
// when the holder ends, however it ends (kill -9 included), so a crash
// never leaves a stale lock behind. The ".lock" file itself stays in the
// folder: removing it would let two processes lock two different files.
package fslock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gofrs/flock"
)

// FileName is the name of the lock file inside a locked folder.
const FileName = ".lock"

// ErrLocked is wrapped by the error of [Acquire] when another process holds
// the lock.
var ErrLocked = errors.New("locked by another process")

// Lock is a held lock on a folder. Release it when done.
type Lock struct {
	fl *flock.Flock
}

// Acquire locks dir, creating it if needed, for purpose (a few words such
// as "vqa download into data/vqav2", shown to a second process that finds
// it locked). It returns at once: an error wrapping [ErrLocked] when another
// process (or another Lock of this process) holds dir.
func Acquire(dir, purpose string) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("locking %s: %w", dir, err)
	}
	path := filepath.Join(dir, FileName)
	fl := flock.New(path)
	ok, err := fl.TryLock()
	if err != nil {
		return nil, fmt.Errorf("locking %s (lock file %s): %w", dir, path, err)
	}
	if !ok {
		holder := "another process"
		if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) > 0 {
			holder = strings.TrimSpace(string(b))
		}
		return nil, fmt.Errorf("%s is in use by %s (lock file %s): wait for it to finish or stop it, then run again: %w", dir, holder, path, ErrLocked)
	}
	// Tell a second process who holds the lock; the lock is advisory, so
	// writing through another descriptor is fine.
	if err := os.WriteFile(path, fmt.Appendf(nil, "%s (pid %d)\n", purpose, os.Getpid()), 0o644); err != nil {
		fl.Unlock()
		return nil, fmt.Errorf("locking %s: writing %s: %w", dir, path, err)
	}
	return &Lock{fl: fl}, nil
}

// Release gives the lock up. It is safe to call more than once.
func (l *Lock) Release() error {
	if l == nil || !l.fl.Locked() {
		return nil
	}
	// Forget the holder before unlocking, so the next reader never names a
	// process that has gone.
	os.Truncate(l.fl.Path(), 0)
	if err := l.fl.Unlock(); err != nil {
		return fmt.Errorf("unlocking %s: %w", l.fl.Path(), err)
	}
	return nil
}
