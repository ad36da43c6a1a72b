// Package corpus makes larger synthetic corpora on demand: thousands of
// scenes of the kind of data/vqav2-mini (package minidata), with their
// questions, answers and captions, in the same VQAv2 + COCO-captions layout,
// so that the dataset loader reads them like the mini dataset. A corpus is
// deterministic from its [Options] and lives in a cache folder outside the
// repository ([DefaultDir]); [Ensure] generates it once and reuses it
// afterwards.
//
// Writing is safe: the corpus is generated in a temporary folder beside its
// final place and renamed into place only when complete, with a marker file
// (corpus.json) written last; a lock keeps two runs from generating the
// same corpus at once; a folder without a valid marker is never reused nor
// replaced, since this package did not make it.
package corpus

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"

	"github.com/vilt-go/workbook/vqa/minidata"
)

// Options select a corpus; everything in it is derived from them.
type Options struct {
	// Seed selects the scenes. It must differ from the seed of
	// data/vqav2-mini, whose val2014 scenes would otherwise reappear.
	Seed uint64 `json:"seed"`
	// TrainScenes and ValScenes are the number of pictures of the
	// train2014 and val2014 splits; a split of 0 is not written.
	TrainScenes int `json:"train_scenes"`
	ValScenes   int `json:"val_scenes"`
	// ShortSide is the shorter side of the pictures in pixels (Pillow's
	// bicubic filter shrinks the drawn COCO-size scene); 0 keeps COCO sizes.
	ShortSide int `json:"short_side"`
	// JPEGQuality is the JPEG quality of the pictures, 1..100.
	JPEGQuality int `json:"jpeg_quality"`
	// Inventory adds to every picture the question "What is in the
	// picture?" (minidata.Config.Inventory).
	Inventory bool `json:"inventory,omitempty"`
}

// DefaultOptions returns a corpus of 5,000 training scenes at 128 pixels,
// the resolution class of the tiny models (they resize to 96).
func DefaultOptions() Options {
	return Options{Seed: 1, TrainScenes: 5000, ShortSide: 128, JPEGQuality: 90}
}

// Name returns the corpus's folder name, which spells out its options:
// "corpus-seed1-train5000-val0-side128-q90" ("sidefull" for COCO sizes,
// "-inventory" at the end with the inventory question).
func (o Options) Name() string {
	side := fmt.Sprint(o.ShortSide)
	if o.ShortSide == 0 {
		side = "full"
	}
	name := fmt.Sprintf("corpus-seed%d-train%d-val%d-side%s-q%d", o.Seed, o.TrainScenes, o.ValScenes, side, o.JPEGQuality)
	if o.Inventory {
		name += "-inventory"
	}
	return name
}

// config checks the options and returns the minidata configuration.
func (o Options) config() (minidata.Config, error) {
	cfg := minidata.DefaultConfig()
	switch {
	case o.Seed == cfg.Seed:
		return cfg, fmt.Errorf("corpus: seed %d is the seed of data/vqav2-mini: want another, so that its val2014 scenes stay unseen", o.Seed)
	case o.TrainScenes < 0 || o.ValScenes < 0 || o.TrainScenes+o.ValScenes == 0:
		return cfg, fmt.Errorf("corpus: %d train and %d val scenes: want >= 0 each and at least one scene", o.TrainScenes, o.ValScenes)
	case o.ShortSide < 0:
		return cfg, fmt.Errorf("corpus: short side %d: want >= 0 (0 keeps COCO sizes)", o.ShortSide)
	case o.JPEGQuality < 1 || o.JPEGQuality > 100:
		return cfg, fmt.Errorf("corpus: JPEG quality %d: want 1..100", o.JPEGQuality)
	}
	cfg.Seed, cfg.JPEGQuality, cfg.ShortSide, cfg.Inventory = o.Seed, o.JPEGQuality, o.ShortSide, o.Inventory
	cfg.TrainQuestions, cfg.ValQuestions = 0, 0
	cfg.TrainImages, cfg.ValImages = o.TrainScenes, o.ValScenes
	return cfg, nil
}

// DefaultDir returns <user cache dir>/vilt-workbook/<o.Name()>, e.g.
// ~/.cache/vilt-workbook/corpus-seed1-train5000-val0-side128-q90 on Linux.
func DefaultDir(o Options) (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("corpus: no user cache folder (give a folder explicitly): %w", err)
	}
	return filepath.Join(cache, "vilt-workbook", o.Name()), nil
}

// MarkerName is the file that marks a complete corpus folder.
const MarkerName = "corpus.json"

// markerGenerator identifies this package in the marker.
const markerGenerator = "github.com/vilt-go/workbook/vqa/corpus"

// marker is the content of corpus.json: what was generated, and the file
// count and size that a reuse checks.
type marker struct {
	Generator string         `json:"generator"`
	Options   Options        `json:"options"`
	Files     int            `json:"files"`
	Bytes     int64          `json:"bytes"`
	Stats     minidata.Stats `json:"stats"`
}

// Result describes the corpus [Ensure] returns.
type Result struct {
	// Dir is the corpus folder, in the VQAv2 layout (dataset.Load reads it).
	Dir string
	// Reused reports that a complete corpus was already there.
	Reused bool
	// Stats counts pictures, questions, captions and bytes per split.
	Stats minidata.Stats
}

// Progress is called after each picture written, with the split, the
// pictures written so far and the split's total.
type Progress func(split string, done, total int)

// Ensure returns the corpus of o in dir, generating it first unless dir
// already holds it complete. With replace, a corpus folder of other options
// or a damaged one (one with this package's marker) is generated anew; a
// folder without the marker is never touched. progress may be nil.
func Ensure(dir string, o Options, replace bool, progress Progress) (Result, error) {
	cfg, err := o.config()
	if err != nil {
		return Result{}, err
	}
	dir = filepath.Clean(dir)
	parent, base := filepath.Dir(dir), filepath.Base(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return Result{}, fmt.Errorf("corpus: %w", err)
	}
	unlock, err := lock(filepath.Join(parent, "."+base+".lock"))
	if err != nil {
		return Result{}, err
	}
	defer unlock()

	// Temporary folders left by an interrupted run are ours: remove them.
	stale, _ := filepath.Glob(filepath.Join(parent, "."+base+".tmp-*"))
	for _, s := range stale {
		if err := os.RemoveAll(s); err != nil {
			return Result{}, fmt.Errorf("corpus: removing an interrupted run's folder: %w", err)
		}
	}

	exists := false
	if _, err := os.Stat(dir); err == nil {
		exists = true
		m, err := readMarker(dir)
		if err != nil {
			return Result{}, fmt.Errorf("corpus: %s exists but is not a complete corpus made by this command (%v); not touching it: remove it yourself or choose another folder", dir, err)
		}
		problem := verify(dir, m, o)
		if problem == nil {
			return Result{Dir: dir, Reused: true, Stats: m.Stats}, nil
		}
		if !replace {
			return Result{}, fmt.Errorf("corpus: %s: %w; replace it to generate it anew", dir, problem)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return Result{}, fmt.Errorf("corpus: %w", err)
	}

	tmp, err := os.MkdirTemp(parent, "."+base+".tmp-")
	if err != nil {
		return Result{}, fmt.Errorf("corpus: %w", err)
	}
	defer os.RemoveAll(tmp) // a no-op once renamed into place
	var opts []minidata.Option
	if progress != nil {
		opts = append(opts, minidata.WithProgress(progress))
	}
	stats, err := minidata.Generate(tmp, cfg, opts...)
	if err != nil {
		return Result{}, fmt.Errorf("corpus: generating %s: %w", dir, err)
	}
	files, size, err := count(tmp)
	if err != nil {
		return Result{}, err
	}
	if err := writeMarker(tmp, marker{Generator: markerGenerator, Options: o, Files: files, Bytes: size, Stats: stats}); err != nil {
		return Result{}, err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return Result{}, fmt.Errorf("corpus: %w", err)
	}
	if !exists {
		if err := os.Rename(tmp, dir); err != nil {
			return Result{}, fmt.Errorf("corpus: %w", err)
		}
		return Result{Dir: dir, Stats: stats}, nil
	}
	// Replacing our own corpus: move it aside, move the new one in, then
	// delete the old one (or put it back if the move failed).
	aside, err := os.MkdirTemp(parent, "."+base+".tmp-")
	if err != nil {
		return Result{}, fmt.Errorf("corpus: %w", err)
	}
	defer os.RemoveAll(aside)
	old := filepath.Join(aside, "old")
	if err := os.Rename(dir, old); err != nil {
		return Result{}, fmt.Errorf("corpus: moving the old corpus aside: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if back := os.Rename(old, dir); back != nil {
			return Result{}, fmt.Errorf("corpus: moving the new corpus into place: %w (and putting the old one back: %v)", err, back)
		}
		return Result{}, fmt.Errorf("corpus: moving the new corpus into place: %w", err)
	}
	return Result{Dir: dir, Stats: stats}, nil
}

// maxMarkerBytes bounds the marker file read.
const maxMarkerBytes = 1 << 16

// readMarker reads and decodes dir's marker file.
func readMarker(dir string) (marker, error) {
	var m marker
	f, err := os.Open(filepath.Join(dir, MarkerName))
	if err != nil {
		return m, fmt.Errorf("no %s: %w", MarkerName, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxMarkerBytes+1))
	if err != nil {
		return m, fmt.Errorf("reading %s: %w", MarkerName, err)
	}
	if len(data) > maxMarkerBytes {
		return m, fmt.Errorf("%s: larger than %d bytes, want a corpus marker", MarkerName, maxMarkerBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return m, fmt.Errorf("%s: %w", MarkerName, err)
	}
	if m.Generator != markerGenerator {
		return m, fmt.Errorf("%s: generator %q, want %q", MarkerName, m.Generator, markerGenerator)
	}
	return m, nil
}

// verify checks that the corpus in dir has options o and still holds the
// files its marker counted.
func verify(dir string, m marker, o Options) error {
	if !reflect.DeepEqual(m.Options, o) {
		return fmt.Errorf("it holds the corpus %s, not %s", m.Options.Name(), o.Name())
	}
	files, size, err := count(dir)
	if err != nil {
		return err
	}
	if files != m.Files || size != m.Bytes {
		return fmt.Errorf("it holds %d files of %d bytes, %s counted %d files of %d bytes: damaged", files, size, MarkerName, m.Files, m.Bytes)
	}
	return nil
}

// count returns the number and total size of the regular files under dir,
// the marker file aside.
func count(dir string) (int, int64, error) {
	files, size := 0, int64(0)
	markerPath := filepath.Join(dir, MarkerName)
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() || path == markerPath {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		files++
		size += info.Size()
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("corpus: counting the files of %s: %w", dir, err)
	}
	return files, size, nil
}

// writeMarker writes dir's marker file through a temporary file.
func writeMarker(dir string, m marker) error {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("corpus: encoding %s: %w", MarkerName, err)
	}
	tmp := filepath.Join(dir, MarkerName+".tmp")
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("corpus: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, MarkerName)); err != nil {
		return fmt.Errorf("corpus: %w", err)
	}
	return nil
}
