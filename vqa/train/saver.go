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
)

// saver writes GoMLX checkpoints atomically: the handler writes into a
// staging folder, then the data file and then the JSON file (the one
// checkpoint listings look for) are renamed into the training folder. A
// process killed at any moment leaves either the previous checkpoints or
// the new one, never a partial one.
type saver struct {
	dir, staging string
	keep         int
	h            *checkpoint.Handler
}

// stagingDir is the folder, inside the training folder, where checkpoints
// are written before being renamed into place.
const stagingDir = ".staging"

func newSaver(store *model.Store, dir string, keep int) (*saver, error) {
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
	return &saver{dir: dir, staging: staging, keep: max(1, keep), h: h}, nil
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
	for _, suffix := range []string{checkpoint.BinDataSuffix, checkpoint.JsonNameSuffix} {
		src := filepath.Join(s.staging, names[0]+suffix)
		if err := syncFile(src); err != nil {
			return err
		}
		if err := os.Rename(src, filepath.Join(s.dir, base+suffix)); err != nil {
			return fmt.Errorf("train: moving checkpoint into place: %w", err)
		}
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
		if err := os.Remove(base + checkpoint.BinDataSuffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("train: pruning checkpoints: %w", err)
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
