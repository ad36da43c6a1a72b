// Package hfmodel is a ViLT model as a HuggingFace model folder holds it:
// its configuration (which head, which labels) and its weights in a GoMLX
// store. It creates models (from a preset, with HF's random
// initialisation), loads them (a HuggingFace folder or Hub id with
// model.safetensors or pytorch_model.bin, or a training folder of GoMLX
// checkpoints, each checked against its SHA-256 checksum file) and exports
// them back to a folder transformers loads with
// the same class. Training (vqa/train) and inference (vqa/predict, the
// notebooks, the command line) all get their model here; every head of
// [vilt.Head] is supported, chosen by config.json's "architectures".
package hfmodel

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/dtypes/bfloat16"
	"github.com/gomlx/compute/dtypes/float16"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/checkpoint"

	"github.com/vilt-go/workbook/vqa/hfweights"
	"github.com/vilt-go/workbook/vqa/hub"
	"github.com/vilt-go/workbook/vqa/internal/checksum"
	"github.com/vilt-go/workbook/vqa/vilt"

	"github.com/vilt-go/workbook/vqa/internal/safefile"
)

// Model is a ViLT model: its configuration (head, sizes, label maps) and a
// store holding its variables under the HF key paths of [vilt.Params].
type Model struct {
	Config *vilt.Config
	Store  *model.Store
}

// NewFromPreset returns a randomly initialised question-answering model of
// the named size (vilt.Preset: "tiny" or "base") answering with labels.
func NewFromPreset(preset string, labels []string, seed uint64) (*Model, error) {
	cfg, err := vilt.Preset(preset)
	if err != nil {
		return nil, err
	}
	return New(cfg, labels, seed)
}

// New returns a randomly initialised model of configuration cfg (a preset,
// possibly resized with [vilt.Config.SetSizes], with its head set) whose
// label maps become labels, for the heads that classify into labels
// (QA, NLVR2, token classification; ignored for the others).
func New(cfg *vilt.Config, labels []string, seed uint64) (*Model, error) {
	head, err := cfg.Head()
	if err != nil {
		return nil, fmt.Errorf("hfmodel: %w", err)
	}
	if head.UsesLabels() {
		if len(labels) == 0 {
			return nil, fmt.Errorf("hfmodel: a new %s needs labels", head)
		}
		cfg.SetLabels(labels)
	}
	store := model.NewStore()
	if err := vilt.InitWeights(store, cfg, seed); err != nil {
		return nil, fmt.Errorf("hfmodel: initialising a new model: %w", err)
	}
	return &Model{Config: cfg, Store: store}, nil
}

// LoadOptions say what model to build from a checkpoint.
type LoadOptions struct {
	// Head is the head to build ("": the checkpoint's own).
	Head vilt.Head
	// Labels replace the checkpoint's label maps (nil: keep them).
	Labels []string
	// NewHead allows a head the checkpoint lacks, or whose labels differ
	// from Labels, to be initialised like HF (fine-tuning a pre-trained
	// checkpoint such as dandelin/vilt-b32-mlm, figure 16 of the
	// walk-through); the report lists it as missing. Without it such a
	// load is an error naming the missing tensors: a model never answers
	// with weights nobody trained.
	NewHead bool
	// ITMHead adds the image-text matching head (itm_score); a checkpoint
	// without it needs NewHead. When Head changes the head, the matching
	// head is kept only if ITMHead asks for it.
	ITMHead bool
	// Seed seeds the initialisation of a new head.
	Seed uint64
	// Log receives notes about the load, such as a damaged checkpoint of a
	// training folder passed over for the previous one (nil: discarded).
	Log io.Writer
}

// Load reads a model from a folder or HuggingFace Hub id holding
// config.json and model.safetensors or pytorch_model.bin, or from a
// training folder of vqa/train holding config.json and GoMLX checkpoints
// (the weights of the newest whose checksum verifies, see [LoadLatest],
// without its optimizer state and step; a damaged newer one is named in a
// note to opt.Log). See [LoadOptions] for changing the head or labels.
func Load(dirOrID string, opt LoadOptions) (*Model, vilt.Report, error) {
	dir, err := resolve(dirOrID)
	if err != nil {
		return nil, vilt.Report{}, err
	}
	cfg, err := vilt.ReadConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, vilt.Report{}, fmt.Errorf("hfmodel: %w", err)
	}
	if _, err := cfg.Head(); err != nil {
		return nil, vilt.Report{}, fmt.Errorf("hfmodel: %s: %w", dir, err)
	}
	var ws map[string]*tensors.Tensor
	file := filepath.Join(dir, "model.safetensors")
	if HasCheckpoints(dir) {
		store := model.NewStore()
		if err := vilt.InitWeights(store, cfg, opt.Seed); err != nil {
			return nil, vilt.Report{}, err
		}
		latest, err := LoadLatest(store, dir)
		if err != nil {
			return nil, vilt.Report{}, err
		}
		if note := latest.Note(); note != "" && opt.Log != nil {
			fmt.Fprintf(opt.Log, "hfmodel: %s\n", note)
		}
		// Only the weights go on, as from a HuggingFace folder's: a checkpoint
		// also holds its run's optimizer state and step, which a new run
		// started from it must not inherit (resuming is vqa/train's own).
		if ws, err = vilt.StateDict(store, cfg); err != nil {
			return nil, vilt.Report{}, err
		}
		file = filepath.Join(dir, latest.Name)
	} else {
		if ws, file, err = hfweights.ReadDir(dir); err != nil {
			return nil, vilt.Report{}, fmt.Errorf("hfmodel: reading the weights in %s: %w", dir, err)
		}
		if err := toFloat32(ws); err != nil {
			return nil, vilt.Report{}, fmt.Errorf("hfmodel: %s: %w", file, err)
		}
	}
	store := model.NewStore()
	held := cfg.Architectures[0] // what the checkpoint holds, before any change
	newHead := false
	if opt.Head != "" && !cfg.HasHead(opt.Head) {
		cfg.SetHead(opt.Head)
		cfg.ITMHead = false // a pre-training head stays behind, unless asked for below
		newHead = true
	}
	if opt.Labels != nil && !sameLabels(cfg, opt.Labels) {
		cfg.SetLabels(opt.Labels)
		newHead = true
	}
	if opt.ITMHead && !cfg.ITMHead {
		cfg.ITMHead = true
	}
	if newHead {
		if !opt.NewHead {
			return nil, vilt.Report{}, fmt.Errorf("hfmodel: %s holds a %s: the %s asked for (head or labels) needs a newly initialised head, which only training from it may do", dir, held, cfg.Architectures[0])
		}
		for _, p := range vilt.Params(cfg) {
			if !strings.HasPrefix(p.Key, "vilt.") && !strings.HasPrefix(p.Key, "itm_score.") {
				delete(ws, p.Key) // the new head is initialised, even where the old one had the same names
			}
		}
	}
	rep, err := vilt.LoadWeights(store, cfg, ws, opt.NewHead)
	if err != nil {
		return nil, rep, fmt.Errorf("hfmodel: loading %s: %w", file, err)
	}
	return &Model{Config: cfg, Store: store}, rep, nil
}

// resolve returns a local folder for a folder path or Hub id, with
// config.json and one of the weight files.
func resolve(dirOrID string) (string, error) {
	if st, err := os.Stat(dirOrID); err == nil && st.IsDir() {
		return dirOrID, nil
	}
	var errs []error
	for _, weights := range []string{"model.safetensors", "pytorch_model.bin"} {
		dir, err := hub.Resolve(dirOrID, "", "config.json", weights)
		if err == nil {
			return dir, nil
		}
		errs = append(errs, err)
	}
	return "", fmt.Errorf("hfmodel: model %q is neither a folder nor a Hub model with config.json and weights: %w", dirOrID, errors.Join(errs...))
}

// sameLabels reports whether cfg's id2label is exactly labels.
func sameLabels(cfg *vilt.Config, labels []string) bool {
	if cfg.NumLabels() != len(labels) {
		return false
	}
	for i, l := range labels {
		if cfg.ID2Label[i] != l {
			return false
		}
	}
	return true
}

// Head returns the model's head.
func (m *Model) Head() vilt.Head {
	h, _ := m.Config.Head() // checked when the model was made
	return h
}

// Labels returns the model's answers in label-id order.
func (m *Model) Labels() []string {
	out := make([]string, m.Config.NumLabels())
	for _, i := range slices.Sorted(maps.Keys(m.Config.ID2Label)) {
		if i >= 0 && i < len(out) {
			out[i] = m.Config.ID2Label[i]
		}
	}
	return out
}

// Export writes the model as a HuggingFace folder: config.json and
// model.safetensors (loadable by transformers' class of the model's head),
// with the weights stored as dtype: Float32, or Float16 / BFloat16 for a
// file half the size ([Load] converts them back to float32). Each file is
// written to a temporary name and renamed into place.
func (m *Model) Export(dir string, dtype dtypes.DType) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("hfmodel: export: %w", err)
	}
	ws, err := vilt.StateDict(m.Store, m.Config)
	if err != nil {
		return fmt.Errorf("hfmodel: export: %w", err)
	}
	if dtype != dtypes.Float32 {
		for k, t := range ws {
			if ws[k], err = toHalfPrecision(t, dtype); err != nil {
				return fmt.Errorf("hfmodel: export: %s: %w", k, err)
			}
		}
	}
	// Both writers go through a temporary file renamed into place.
	if err := hfweights.WriteSafetensors(filepath.Join(dir, "model.safetensors"), ws, map[string]string{"format": "pt"}); err != nil {
		return fmt.Errorf("hfmodel: export: %w", err)
	}
	if err := m.Config.WriteFile(filepath.Join(dir, "config.json")); err != nil {
		return fmt.Errorf("hfmodel: export: %w", err)
	}
	return nil
}

// HasCheckpoints reports whether dir is a training folder: it holds GoMLX
// checkpoints.
func HasCheckpoints(dir string) bool {
	names, _ := filepath.Glob(filepath.Join(dir, "checkpoint-*"+checkpoint.JsonNameSuffix))
	return len(names) > 0
}

// ChecksumSuffix ends the name of a checkpoint's checksum file: the SHA-256
// of its data and JSON files (package checksum's format, which sha256sum -c
// reads), written by vqa/train before the JSON file that makes the
// checkpoint visible.
const ChecksumSuffix = ".sha256"

// Checkpoint says which checkpoint of a training folder [LoadLatest] or
// [LatestGood] chose, and why.
type Checkpoint struct {
	// Name is the checkpoint's base name (e.g. "checkpoint-step-0000000100").
	Name string
	// Unverified is set when no checkpoint of the folder has a checksum
	// file (a folder written before checkpoints had one): the newest is
	// used as it is.
	Unverified bool
	// Skipped are the newer checkpoints passed over because they do not
	// verify (missing or different checksum), newest first.
	Skipped []Damaged
}

// Damaged is a checkpoint that does not verify.
type Damaged struct {
	// Name is the checkpoint's base name.
	Name string
	// Err names the checkpoint and says what is wrong.
	Err error
}

// Note returns "" when the newest checkpoint was used and verified, else a
// sentence naming the damaged checkpoints passed over and the one used
// instead, or saying that it could not be verified.
func (c Checkpoint) Note() string {
	if c.Unverified {
		return fmt.Sprintf("checkpoint %s has no checksum file (written before checkpoints had one): used unverified", c.Name)
	}
	if len(c.Skipped) == 0 {
		return ""
	}
	return fmt.Sprintf("%v; using the previous intact checkpoint %s instead", damagedError(c.Skipped), c.Name)
}

// damagedError joins the errors of ds.
func damagedError(ds []Damaged) error {
	errs := make([]error, len(ds))
	for i, d := range ds {
		errs[i] = d.Err
	}
	return errors.Join(errs...)
}

// LatestGood returns the newest checkpoint of the training folder dir whose
// data and JSON files match its checksum file, with the newer ones passed
// over. It fails when none verifies, naming each checkpoint and its fault.
// In a folder where no checkpoint has a checksum file (written before they
// had one) it returns the newest, marked Unverified.
func LatestGood(dir string) (Checkpoint, error) {
	jsons, err := filepath.Glob(filepath.Join(dir, "checkpoint-*"+checkpoint.JsonNameSuffix))
	if err != nil || len(jsons) == 0 {
		return Checkpoint{}, fmt.Errorf("hfmodel: no checkpoint (checkpoint-*%s) in %s", checkpoint.JsonNameSuffix, dir)
	}
	slices.Sort(jsons)
	if sums, _ := filepath.Glob(filepath.Join(dir, "checkpoint-*"+ChecksumSuffix)); len(sums) == 0 {
		return Checkpoint{Name: strings.TrimSuffix(filepath.Base(jsons[len(jsons)-1]), checkpoint.JsonNameSuffix), Unverified: true}, nil
	}
	var c Checkpoint
	for _, j := range slices.Backward(jsons) {
		name := strings.TrimSuffix(filepath.Base(j), checkpoint.JsonNameSuffix)
		if err := verifyCheckpoint(dir, name); err != nil {
			c.Skipped = append(c.Skipped, Damaged{Name: name, Err: err})
			continue
		}
		c.Name = name
		return c, nil
	}
	return Checkpoint{}, fmt.Errorf("hfmodel: no checkpoint in %s is intact: %w", dir, damagedError(c.Skipped))
}

// verifyCheckpoint checks that the checksum file of checkpoint name lists
// its data and JSON files with the SHA-256 they have.
func verifyCheckpoint(dir, name string) error {
	sumPath := filepath.Join(dir, name+ChecksumSuffix)
	if _, err := os.Stat(sumPath); err != nil {
		return fmt.Errorf("checkpoint %s has no checksum file %s, unlike others of its folder: %w", name, sumPath, err)
	}
	sums, err := checksum.Read(sumPath)
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", name, err)
	}
	want := []string{name + checkpoint.BinDataSuffix, name + checkpoint.JsonNameSuffix}
	var got []string
	for _, s := range sums {
		got = append(got, s.Name)
	}
	slices.Sort(got)
	if slices.Sort(want); !slices.Equal(got, want) {
		return fmt.Errorf("checkpoint %s: %s lists %v, want %v", name, sumPath, got, want)
	}
	if err := checksum.Verify(sumPath); err != nil {
		return fmt.Errorf("checkpoint %s is damaged: %w", name, err)
	}
	return nil
}

// LoadLatest loads the newest intact checkpoint of the training folder dir
// (see [LatestGood]: a damaged newer one is passed over, and the returned
// Checkpoint says so) into the variables of store. Every variable of store
// (model parameters, and for resuming the optimizer state) must already
// exist and be in the checkpoint with the same shape: the error names those
// missing or of another shape, and then store is left untouched.
func LoadLatest(store *model.Store, dir string) (Checkpoint, error) {
	c, err := LatestGood(dir)
	if err != nil {
		return Checkpoint{}, err
	}
	if err := checkVariables(store, filepath.Join(dir, c.Name+checkpoint.JsonNameSuffix)); err != nil {
		return Checkpoint{}, err
	}
	// GoMLX loads the newest checkpoint of a folder: give it a folder
	// holding only the chosen one (links, so nothing is copied and dir may
	// be read-only).
	tmp, err := os.MkdirTemp("", "vqa-checkpoint-*")
	if err != nil {
		return Checkpoint{}, fmt.Errorf("hfmodel: loading %s: %w", c.Name, err)
	}
	defer os.RemoveAll(tmp)
	for _, suffix := range []string{checkpoint.BinDataSuffix, checkpoint.JsonNameSuffix} {
		src, err := filepath.Abs(filepath.Join(dir, c.Name+suffix))
		if err == nil {
			err = os.Symlink(src, filepath.Join(tmp, c.Name+suffix))
		}
		if err != nil {
			return Checkpoint{}, fmt.Errorf("hfmodel: loading %s: %w", c.Name, err)
		}
	}
	// Not Immediate(): in GoMLX v0.28.2 it leaves variables that already
	// exist in the store untouched. Without it, every existing variable is
	// overwritten with its saved value.
	if _, err := checkpoint.Build(store).Dir(tmp).Done(); err != nil {
		return Checkpoint{}, fmt.Errorf("hfmodel: loading checkpoint %s of %s: %w", c.Name, dir, err)
	}
	return c, nil
}

// checkVariables checks that the checkpoint JSON file at path holds every
// variable of store with its shape.
func checkVariables(store *model.Store, path string) error {
	data, err := safefile.ReadFile(path, safefile.MaxMetadataBytes)
	if err != nil {
		return fmt.Errorf("hfmodel: %w", err)
	}
	var saved struct {
		Variables []struct {
			ParameterName string
			Dimensions    []int
		}
	}
	if err := json.Unmarshal(data, &saved); err != nil {
		return fmt.Errorf("hfmodel: %s: want a GoMLX checkpoint JSON file with \"Variables\": %w", path, err)
	}
	dims := make(map[string][]int, len(saved.Variables))
	for _, v := range saved.Variables {
		dims[strings.TrimPrefix(v.ParameterName, "var:")] = v.Dimensions
	}
	var missing, reshaped []string
	for v := range store.IterVariables() {
		d, ok := dims[v.Path()]
		switch {
		case !ok:
			missing = append(missing, v.Path())
		case !slices.Equal(d, v.Shape().Dimensions):
			reshaped = append(reshaped, fmt.Sprintf("%s: saved %v, model %v", v.Path(), d, v.Shape().Dimensions))
		}
	}
	if len(missing) == 0 && len(reshaped) == 0 {
		return nil
	}
	slices.Sort(missing)
	slices.Sort(reshaped)
	var errs []error
	if len(missing) > 0 {
		errs = append(errs, fmt.Errorf("missing %d variables: %s", len(missing), strings.Join(missing, ", ")))
	}
	if len(reshaped) > 0 {
		errs = append(errs, fmt.Errorf("%d variables of another shape: %s", len(reshaped), strings.Join(reshaped, "; ")))
	}
	return fmt.Errorf("hfmodel: checkpoint %s does not fit the model of its folder's config.json: %w", path, errors.Join(errs...))
}

// toFloat32 converts the float16 and bfloat16 tensors of ws to float32.
func toFloat32(ws map[string]*tensors.Tensor) error {
	for k, t := range ws {
		var out []float32
		var err error
		switch t.DType() {
		case dtypes.Float16:
			err = t.ConstFlatData(func(flat any) {
				for _, x := range flat.([]float16.Float16) {
					out = append(out, x.Float32())
				}
			})
		case dtypes.BFloat16:
			err = t.ConstFlatData(func(flat any) {
				for _, x := range flat.([]bfloat16.BFloat16) {
					out = append(out, x.Float32())
				}
			})
		default:
			continue
		}
		if err != nil {
			return fmt.Errorf("converting %s to float32: %w", k, err)
		}
		ws[k] = tensors.FromFlatDataAndDimensions(out, t.Shape().Dimensions...)
	}
	return nil
}

// toHalfPrecision converts a float32 tensor to float16 or bfloat16 (other
// dtypes, e.g. the int64 position_ids buffer, are kept).
func toHalfPrecision(t *tensors.Tensor, dtype dtypes.DType) (*tensors.Tensor, error) {
	if t.DType() != dtypes.Float32 {
		return t, nil
	}
	var out *tensors.Tensor
	err := t.ConstFlatData(func(flat any) {
		xs := flat.([]float32)
		switch dtype {
		case dtypes.Float16:
			out = tensors.FromFlatDataAndDimensions(float16.FromFloat32s(xs...), t.Shape().Dimensions...)
		case dtypes.BFloat16:
			hs := make([]bfloat16.BFloat16, len(xs))
			for i, x := range xs {
				hs[i] = bfloat16.FromFloat32(x)
			}
			out = tensors.FromFlatDataAndDimensions(hs, t.Shape().Dimensions...)
		}
	})
	if err == nil && out == nil {
		err = fmt.Errorf("dtype %s: want float32, float16 or bfloat16", dtype)
	}
	return out, err
}
