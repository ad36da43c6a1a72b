package train

import (
	"errors"
	"fmt"
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
	"github.com/vilt-go/workbook/vqa/vilt"
)

// Model is a ViLT question-answering model: its configuration (with the
// label maps) and a store holding its variables.
type Model struct {
	Config *vilt.Config
	Store  *model.Store
}

// NewFromPreset returns a randomly initialised model of the named size
// (vilt.Preset: "tiny" or "base") answering with labels.
func NewFromPreset(preset string, labels []string, seed uint64) (*Model, error) {
	cfg, err := vilt.Preset(preset)
	if err != nil {
		return nil, err
	}
	return New(cfg, labels, seed)
}

// New returns a randomly initialised model of configuration cfg (a preset,
// possibly resized with [vilt.Config.Resize]) answering with labels, which
// replace cfg's label maps.
func New(cfg *vilt.Config, labels []string, seed uint64) (*Model, error) {
	if len(labels) == 0 {
		return nil, errors.New("train: a new model needs labels")
	}
	cfg.SetLabels(labels)
	store := model.NewStore()
	if err := vilt.InitWeights(store, cfg, seed); err != nil {
		return nil, fmt.Errorf("train: initialising a new model: %w", err)
	}
	return &Model{Config: cfg, Store: store}, nil
}

// Load reads a model from a folder or HuggingFace Hub id holding
// config.json and model.safetensors or pytorch_model.bin (a fine-tuned
// ViltForQuestionAnswering, or a pre-trained checkpoint such as
// dandelin/vilt-b32-mlm), or from a training folder of [Run] holding
// config.json and GoMLX checkpoints (the latest is read).
//
// With labels nil the checkpoint's label maps are kept. With labels given
// and different from the checkpoint's (always the case for an MLM
// checkpoint), the classifier head is newly initialised for them, as
// figure 16 of the walk-through does; the report lists it as missing.
func Load(dirOrID string, labels []string, seed uint64) (*Model, vilt.Report, error) {
	dir, err := resolve(dirOrID)
	if err != nil {
		return nil, vilt.Report{}, err
	}
	cfg, err := vilt.ReadConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, vilt.Report{}, fmt.Errorf("train: %w", err)
	}
	store := model.NewStore()
	if hasCheckpoints(dir) {
		if labels != nil && !sameLabels(cfg, labels) {
			return nil, vilt.Report{}, fmt.Errorf("train: %s is a training folder whose labels differ from the dataset's; export it first", dir)
		}
		if err := vilt.InitWeights(store, cfg, seed); err != nil {
			return nil, vilt.Report{}, err
		}
		if _, err := loadLatest(store, dir); err != nil {
			return nil, vilt.Report{}, err
		}
		return &Model{Config: cfg, Store: store}, vilt.Report{}, nil
	}
	ws, file, err := hfweights.ReadDir(dir)
	if err != nil {
		return nil, vilt.Report{}, fmt.Errorf("train: reading the weights in %s: %w", dir, err)
	}
	if err := toFloat32(ws); err != nil {
		return nil, vilt.Report{}, fmt.Errorf("train: %s: %w", file, err)
	}
	if labels != nil && !sameLabels(cfg, labels) {
		cfg.SetLabels(labels)
		for k := range ws {
			if strings.HasPrefix(k, "classifier.") {
				delete(ws, k)
			}
		}
	}
	rep, err := vilt.LoadWeights(store, cfg, ws)
	if err != nil {
		return nil, rep, fmt.Errorf("train: loading %s: %w", file, err)
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
	return "", fmt.Errorf("train: model %q is neither a folder nor a Hub model with config.json and weights: %w", dirOrID, errors.Join(errs...))
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
// model.safetensors (loadable by transformers' ViltForQuestionAnswering),
// with the weights stored as dtype: Float32, or Float16 / BFloat16 for a
// file half the size ([Load] converts them back to float32).
func (m *Model) Export(dir string, dtype dtypes.DType) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("train: export: %w", err)
	}
	ws, err := vilt.StateDict(m.Store, m.Config)
	if err != nil {
		return fmt.Errorf("train: export: %w", err)
	}
	if dtype != dtypes.Float32 {
		for k, t := range ws {
			if ws[k], err = halve(t, dtype); err != nil {
				return fmt.Errorf("train: export: %s: %w", k, err)
			}
		}
	}
	if err := hfweights.WriteSafetensors(filepath.Join(dir, "model.safetensors"), ws, map[string]string{"format": "pt"}); err != nil {
		return fmt.Errorf("train: export: %w", err)
	}
	if err := m.Config.WriteFile(filepath.Join(dir, "config.json")); err != nil {
		return fmt.Errorf("train: export: %w", err)
	}
	return nil
}

// hasCheckpoints reports whether dir holds GoMLX checkpoints.
func hasCheckpoints(dir string) bool {
	names, _ := filepath.Glob(filepath.Join(dir, "checkpoint-*.json"))
	return len(names) > 0
}

// loadLatest loads the latest checkpoint of dir into the variables of
// store (which must already exist: model parameters, and for resuming the
// optimizer state) and returns its base name.
func loadLatest(store *model.Store, dir string) (string, error) {
	// Not Immediate(): in GoMLX v0.28.2 it leaves variables that already
	// exist in the store untouched. Without it, every existing variable is
	// overwritten with its saved value.
	h, err := checkpoint.Build(store).Dir(dir).Done()
	if err != nil {
		return "", fmt.Errorf("train: loading the latest checkpoint in %s: %w", dir, err)
	}
	names, err := h.ListCheckpoints()
	if err != nil || len(names) == 0 {
		return "", fmt.Errorf("train: no checkpoint in %s (%v)", dir, err)
	}
	return names[len(names)-1], nil
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

// halve converts a float32 tensor to float16 or bfloat16 (other dtypes,
// e.g. the int64 position_ids buffer, are kept).
func halve(t *tensors.Tensor, dtype dtypes.DType) (*tensors.Tensor, error) {
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
