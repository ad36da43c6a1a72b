package train

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/checkpoint"

	"github.com/vilt-go/workbook/vqa/hfmodel"
	"github.com/vilt-go/workbook/vqa/internal/checksum"
	"github.com/vilt-go/workbook/vqa/internal/fslock"
)

// saver writes GoMLX checkpoints atomically: the handler writes into a
// staging folder, then the data file and then the JSON file (the one
// checkpoint listings look for) are renamed into the training folder. A
// process killed at any moment leaves either the previous checkpoints or
// the new one, never a partial one. Each checkpoint has a checksum file
// (hfmodel.ChecksumSuffix), in place before its JSON file. The saver holds
// the training folder's lock for the run.
type saver struct {
	dir, staging string
	keep         int
	h            *checkpoint.Handler
	lock         *fslock.Lock
}

// stagingDir is the folder, inside the training folder, where checkpoints
// are written before being renamed into place.
const stagingDir = ".staging"

// newSaver returns a saver of store's variables into the training folder
// dir, keeping keep checkpoints, that holds lock (the folder's) until
// [saver.release].
func newSaver(store *model.Store, dir string, keep int, lock *fslock.Lock) (*saver, error) {
	staging := filepath.Join(dir, stagingDir)
	if err := os.RemoveAll(staging); err != nil {
		return nil, fmt.Errorf("train: clearing %s: %w", staging, err)
	}
	if err := os.MkdirAll(staging, 0o755); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	h, err := checkpoint.Build(store).Dir(staging).Keep(-1).WithCompression(checkpoint.BinUncompressed).Done()
	if err != nil {
		return nil, fmt.Errorf("train: checkpoint handler: %w", err)
	}
	return &saver{dir: dir, staging: staging, keep: max(1, keep), h: h, lock: lock}, nil
}

// checkpointName is the base name of the checkpoint after step optimizer
// steps; names sort in step order.
func checkpointName(step int64) string { return fmt.Sprintf("checkpoint-step-%010d", step) }

// save writes a checkpoint of every store variable for step, then keeps
// only the newest s.keep.
func (s *saver) save(step int64) error {
	if err := s.h.Save(); err != nil {
		return fmt.Errorf("train: saving checkpoint: %w", err)
	}
	names, err := s.h.ListCheckpoints()
	if err != nil || len(names) != 1 {
		return fmt.Errorf("train: staging folder %s: want one checkpoint, found %v (%v)", s.staging, names, err)
	}
	base := checkpointName(step)
	sums := make([]checksum.Sum, 0, 2)
	for _, suffix := range []string{checkpoint.BinDataSuffix, checkpoint.JsonNameSuffix} {
		src := filepath.Join(s.staging, names[0]+suffix)
		if err := syncFile(src); err != nil {
			return err
		}
		sum, err := checksum.Of(src)
		if err != nil {
			return fmt.Errorf("train: %w", err)
		}
		sums = append(sums, checksum.Sum{Name: base + suffix, SHA256: sum})
	}
	// The data file and the checksum first, the JSON file last: listings
	// look for the JSON file, so a checkpoint becomes visible whole.
	if err := os.Rename(filepath.Join(s.staging, names[0]+checkpoint.BinDataSuffix), filepath.Join(s.dir, base+checkpoint.BinDataSuffix)); err != nil {
		return fmt.Errorf("train: moving checkpoint into place: %w", err)
	}
	if err := checksum.Write(filepath.Join(s.dir, base+hfmodel.ChecksumSuffix), sums); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	if err := os.Rename(filepath.Join(s.staging, names[0]+checkpoint.JsonNameSuffix), filepath.Join(s.dir, base+checkpoint.JsonNameSuffix)); err != nil {
		return fmt.Errorf("train: moving checkpoint into place: %w", err)
	}
	if err := syncFile(s.dir); err != nil {
		return err
	}
	return s.prune()
}

// prune removes all but the newest s.keep checkpoints.
func (s *saver) prune() error {
	jsons, err := filepath.Glob(filepath.Join(s.dir, "checkpoint-*"+checkpoint.JsonNameSuffix))
	if err != nil {
		return err
	}
	slices.Sort(jsons)
	for _, j := range jsons[:max(0, len(jsons)-s.keep)] {
		base := strings.TrimSuffix(j, checkpoint.JsonNameSuffix)
		if err := os.Remove(j); err != nil {
			return fmt.Errorf("train: pruning checkpoints: %w", err)
		}
		for _, suffix := range []string{checkpoint.BinDataSuffix, hfmodel.ChecksumSuffix} {
			if err := os.Remove(base + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("train: pruning checkpoints: %w", err)
			}
		}
	}
	return nil
}

// syncFile flushes a file or folder to disk.
func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("train: syncing %s: %w", path, err)
	}
	return nil
}

// kept describes, for the message of a stopped run, the checkpoint left in
// the training folder: the newest one whose checksum verifies, or that
// none is.
func (s *saver) kept() string {
	if s == nil {
		return "no checkpoint was saved"
	}
	c, err := hfmodel.LatestGood(s.dir)
	if err != nil {
		return fmt.Sprintf("no intact checkpoint is in %s", s.dir)
	}
	switch {
	case c.Unverified:
		return fmt.Sprintf("the last checkpoint %s in %s is kept; it has no checksum to verify", c.Name, s.dir)
	case len(c.Skipped) > 0:
		return fmt.Sprintf("%s; the last good checkpoint %s in %s is kept", c.Note(), c.Name, s.dir)
	}
	return fmt.Sprintf("the last good checkpoint %s in %s is kept", c.Name, s.dir)
}

// release gives the training folder's lock up (nothing for a nil saver).
func (s *saver) release() {
	if s != nil {
		s.lock.Release()
	}
}
