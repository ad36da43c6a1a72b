package train

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
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

// Point is one optimizer step of the loss curve.
type Point struct {
	Step    int     // optimizer steps done (1-based)
	Epoch   int     // epoch of the step's last batch
	Loss    float64 // mean loss of the step's batches
	LR      float64 // learning rate used
	Seconds float64 // training time since the run (or its first part) started
}

// curveHeader returns the header line of loss.csv.
func curveHeader() []string { return []string{"step", "epoch", "loss", "lr", "seconds"} }

// writeCurve writes points as CSV to path, atomically.
func writeCurve(path string, points []Point) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("train: writing the loss curve: %w", err)
	}
	w := csv.NewWriter(f)
	w.Write(curveHeader())
	for _, p := range points {
		w.Write([]string{strconv.Itoa(p.Step), strconv.Itoa(p.Epoch), strconv.FormatFloat(p.Loss, 'g', -1, 64),
			strconv.FormatFloat(p.LR, 'g', -1, 64), strconv.FormatFloat(p.Seconds, 'f', 3, 64)})
	}
	w.Flush()
	err = errors.Join(w.Error(), f.Close())
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		return fmt.Errorf("train: writing the loss curve %s: %w", path, err)
	}
	return nil
}

// ReadCurve reads a loss.csv written by [Run].
func ReadCurve(path string) ([]Point, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseCurve(f, path)
}

func parseCurve(r io.Reader, name string) ([]Point, error) {
	rows, err := csv.NewReader(r).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("loss curve %s: %w", name, err)
	}
	if len(rows) == 0 || !slices.Equal(rows[0], curveHeader()) {
		return nil, fmt.Errorf("loss curve %s: want the header %s", name, strings.Join(curveHeader(), ","))
	}
	var pts []Point
	for i, row := range rows[1:] {
		var p Point
		var errs [5]error
		p.Step, errs[0] = strconv.Atoi(row[0])
		p.Epoch, errs[1] = strconv.Atoi(row[1])
		p.Loss, errs[2] = strconv.ParseFloat(row[2], 64)
		p.LR, errs[3] = strconv.ParseFloat(row[3], 64)
		p.Seconds, errs[4] = strconv.ParseFloat(row[4], 64)
		if err := errors.Join(errs[:]...); err != nil {
			return nil, fmt.Errorf("loss curve %s: line %d: %w", name, i+2, err)
		}
		pts = append(pts, p)
	}
	return pts, nil
}
