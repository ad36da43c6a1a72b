//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package corpus

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// lock takes an exclusive advisory lock on the file at path (created if
// needed) without waiting, and returns its release. The operating system
// drops the lock when the process ends, so a killed run leaves none.
func lock(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("corpus: lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("corpus: another run is generating this corpus (it holds the lock %s); wait for it to finish", path)
		}
		return nil, fmt.Errorf("corpus: locking %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}
