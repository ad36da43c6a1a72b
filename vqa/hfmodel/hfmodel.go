// Package hfmodel is a ViLT model as a HuggingFace model folder holds it:
// its configuration (which head, which labels) and its weights in a GoMLX
// store. It creates models (from a preset, with HF's random
// initialisation), loads them (a HuggingFace folder or Hub id with
// model.safetensors or pytorch_model.bin, or a training folder of GoMLX
// checkpoints) and exports them back to a folder transformers loads with
// the same class. Training (vqa/train) and inference (vqa/predict, the
// notebooks, the command line) all get their model here; every head of
// [vilt.Head] is supported, chosen by config.json's "architectures".
package hfmodel

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
	if usesLabels(head) {
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

// usesLabels reports whether head classifies into the config's labels.
func usesLabels(h vilt.Head) bool {
	return h == vilt.QuestionAnswering || h == vilt.ImagesAndTextClassification || h == vilt.TokenClassification
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
}

// Load reads a model from a folder or HuggingFace Hub id holding
// config.json and model.safetensors or pytorch_model.bin, or from a
// training folder of vqa/train holding config.json and GoMLX checkpoints
// (the latest is read). See [LoadOptions] for changing the head or labels.
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
		if !changes(cfg, opt) {
			return &Model{Config: cfg, Store: store}, vilt.Report{}, nil
		}
		// Another head or other labels: go on from the checkpoint's weights
		// as from a HuggingFace folder's.
		if ws, err = vilt.StateDict(store, cfg); err != nil {
			return nil, vilt.Report{}, err
		}
		file = filepath.Join(dir, latest)
	} else {
		if ws, file, err = hfweights.ReadDir(dir); err != nil {
			return nil, vilt.Report{}, fmt.Errorf("hfmodel: reading the weights in %s: %w", dir, err)
		}
		if err := toFloat32(ws); err != nil {
			return nil, vilt.Report{}, fmt.Errorf("hfmodel: %s: %w", file, err)
		}
	}
	store := model.NewStore()
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
			return nil, vilt.Report{}, fmt.Errorf("hfmodel: %s holds a %s: the %s asked for (head or labels) needs a newly initialised head, which only training from it may do", dir, firstArchitecture(dir), cfg.Architectures[0])
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

// changes reports whether opt asks for another head, other labels or a
// matching head cfg lacks.
func changes(cfg *vilt.Config, opt LoadOptions) bool {
	return opt.Head != "" && !cfg.HasHead(opt.Head) || opt.Labels != nil && !sameLabels(cfg, opt.Labels) || opt.ITMHead && !cfg.ITMHead
}

// firstArchitecture returns the class named first by dir's config.json, for
// messages.
func firstArchitecture(dir string) string {
	cfg, err := vilt.ReadConfig(filepath.Join(dir, "config.json"))
	if err != nil || len(cfg.Architectures) == 0 {
		return "ViLT model"
	}
	return cfg.Architectures[0]
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
	weights := filepath.Join(dir, "model.safetensors")
	if err := hfweights.WriteSafetensors(weights+".tmp", ws, map[string]string{"format": "pt"}); err != nil {
		return fmt.Errorf("hfmodel: export: %w", err)
	}
	if err := os.Rename(weights+".tmp", weights); err != nil {
		return fmt.Errorf("hfmodel: export: %w", err)
	}
	config := filepath.Join(dir, "config.json")
	if err := m.Config.WriteFile(config + ".tmp"); err != nil {
		return fmt.Errorf("hfmodel: export: %w", err)
	}
	if err := os.Rename(config+".tmp", config); err != nil {
		return fmt.Errorf("hfmodel: export: %w", err)
	}
	return nil
}

// HasCheckpoints reports whether dir is a training folder: it holds GoMLX
// checkpoints.
func HasCheckpoints(dir string) bool {
	names, _ := filepath.Glob(filepath.Join(dir, "checkpoint-*.json"))
	return len(names) > 0
}

// LoadLatest loads the latest checkpoint of the training folder dir into
// the variables of store (which must already exist: model parameters, and
// for resuming the optimizer state) and returns its base name.
func LoadLatest(store *model.Store, dir string) (string, error) {
	// Not Immediate(): in GoMLX v0.28.2 it leaves variables that already
	// exist in the store untouched. Without it, every existing variable is
	// overwritten with its saved value.
	h, err := checkpoint.Build(store).Dir(dir).Done()
	if err != nil {
		return "", fmt.Errorf("hfmodel: loading the latest checkpoint in %s: %w", dir, err)
	}
	names, err := h.ListCheckpoints()
	if err != nil || len(names) == 0 {
		return "", fmt.Errorf("hfmodel: no checkpoint in %s (%v)", dir, err)
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
