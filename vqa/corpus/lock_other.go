//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package corpus

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// lock creates the file at path, which must not exist, and returns its
// removal. A run killed before the removal leaves the file behind: the
// error says so.
func lock(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("corpus: another run is generating this corpus (lock file %s); if none is, remove that file", path)
	}
	if err != nil {
		return nil, fmt.Errorf("corpus: lock file: %w", err)
	}
	f.Close()
	return func() { os.Remove(path) }, nil
}
