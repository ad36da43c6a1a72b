package workbook

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"github.com/gomlx/compute/dtypes"

	"github.com/vilt-go/workbook/data"
	"github.com/vilt-go/workbook/vqa/hfmodel"
	"github.com/vilt-go/workbook/vqa/processor"
	"github.com/vilt-go/workbook/vqa/repo"
	"github.com/vilt-go/workbook/vqa/vilt"
)

// PreTrained is the walk-through's pre-trained checkpoint on the HuggingFace
// Hub: ViltForMaskedLM with the image-text matching head, the starting point
// of fine-tuning (figure 16).
const PreTrained = "dandelin/vilt-b32-mlm"

// ShippedPreTrained is the folder, under the repository root, of the tiny
// pre-trained checkpoint (ViltForMaskedLM with the image-text matching head,
// pre-trained here on the captions of generated scenes, see
// docs/tiny-model.md): the offline stand-in for [PreTrained].
const ShippedPreTrained = "data/vilt-tiny-mlm"

// NLVR2 is dandelin's checkpoint for NLVR2 (is a sentence true of a pair of
// images?), one of the tasks of the article's figure 1.
const NLVR2 = "dandelin/vilt-b32-finetuned-nlvr2"

// SavedModel is the folder, under the repository root, where notebook 06
// saves the model it fine-tuned and where notebook 07 loads it from (runs/
// is ignored by git).
const SavedModel = "runs/notebook-06"

// savedMarker is the file that marks a folder as written by notebook 06:
// SaveModel only ever replaces the contents of such a folder.
const savedMarker = ".written-by-notebook-06"

// RunsEnv is the environment variable naming the folder the notebooks
// write into instead of the repository's runs/ (the tests set it).
const RunsEnv = "VQA_RUNS"

// QuickEnv is the environment variable that shortens the notebooks' training
// runs (set by `make notebooks`).
const QuickEnv = "VQA_QUICK"

// Quick reports whether $VQA_QUICK=1: the notebooks train only a few steps.
func Quick() bool { return os.Getenv(QuickEnv) == "1" }

// Loaded is a model with its processor and where it came from.
type Loaded struct {
	Model     *hfmodel.Model
	Processor *processor.Processor
	// Report lists the weights the checkpoint lacked (newly initialised)
	// and those it had but the model does not use.
	Report vilt.Report
	// Source says in one line which model this is.
	Source string
	// Hub is true when the model came from the HuggingFace Hub (or its
	// cache), false for a local folder.
	Hub bool
}

// LoadHubOr loads the HuggingFace model hubID with opt and, when that fails
// (no network and not in the cache), the folder local (relative to the
// repository root unless absolute) instead, saying so on w in one line: "offline: using …".
// The network error itself is not printed: notebooks are saved with their
// outputs.
func LoadHubOr(w io.Writer, hubID, local string, opt hfmodel.LoadOptions) (Loaded, error) {
	if m, rep, err := hfmodel.Load(hubID, opt); err == nil {
		p, err := processor.Default()
		if err != nil {
			return Loaded{}, err
		}
		return Loaded{Model: m, Processor: p, Report: rep, Source: hubID, Hub: true}, nil
	}
	dir := local
	if !filepath.IsAbs(dir) {
		root, err := repo.Root()
		if err != nil {
			return Loaded{}, err
		}
		dir = filepath.Join(root, local)
	}
	fmt.Fprintf(w, "offline: using %s (%s is neither in the HuggingFace cache nor downloadable)\n", local, hubID)
	l, err := LoadFolder(dir, opt)
	l.Source = local
	return l, err
}

// LoadFolder loads the model folder dir with opt and its processor (the
// folder's own processor files, else the embedded ones).
func LoadFolder(dir string, opt hfmodel.LoadOptions) (Loaded, error) {
	m, rep, err := hfmodel.Load(dir, opt)
	if err != nil {
		return Loaded{}, err
	}
	p, err := folderProcessor(dir)
	if err != nil {
		return Loaded{}, err
	}
	return Loaded{Model: m, Processor: p, Report: rep, Source: dir}, nil
}

// SavedModelDir returns the absolute path of [SavedModel], or of
// SavedModel + "-quick" when [Quick]: the tests' short training runs do not
// replace the model a full run of notebook 06 saved. With $VQA_RUNS set,
// the folder is notebook-06 (or notebook-06-quick) in it instead.
func SavedModelDir() (string, error) {
	dir := os.Getenv(RunsEnv)
	if dir == "" {
		root, err := repo.Root()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(root, "runs")
	}
	dir, err := filepath.Abs(filepath.Join(dir, filepath.Base(SavedModel)))
	if err != nil {
		return "", err
	}
	if Quick() {
		dir += "-quick"
	}
	return dir, nil
}

// HasSavedModel reports whether dir holds a model that notebook 06 saved
// (its marker file and a config.json).
func HasSavedModel(dir string) bool {
	for _, name := range []string{savedMarker, "config.json", "model.safetensors"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return false
		}
	}
	return true
}

// SaveModel saves m as a HuggingFace model folder in dir (config.json,
// model.safetensors in float32, and the processor files with p's image
// size, so that loading it resizes images as training did) and returns the
// fingerprint of the weights ([Fingerprint]). dir must be absent, empty,
// or a folder SaveModel wrote before (it carries a marker file): a folder
// the notebook did not create is never overwritten.
func SaveModel(dir string, m *hfmodel.Model, p *processor.Processor) (string, error) {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return "", err
	case len(entries) > 0:
		if _, err := os.Stat(filepath.Join(dir, savedMarker)); err != nil {
			return "", fmt.Errorf("save model: %s is not empty and was not written by notebook 06 (no %s): not overwriting it", dir, savedMarker)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, savedMarker), []byte("This folder is written by notebook 06 (workbook.SaveModel), which may replace it.\n"), 0o644); err != nil {
		return "", err
	}
	if err := m.Export(dir, dtypes.Float32); err != nil {
		return "", err
	}
	if err := writeProcessorFiles(dir, p); err != nil {
		return "", err
	}
	return Fingerprint(dir)
}

// writeProcessorFiles copies the embedded processor files into dir, with
// preprocessor_config.json's "size" set to p's shorter image edge.
func writeProcessorFiles(dir string, p *processor.Processor) error {
	for _, name := range []string{"preprocessor_config.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"} {
		b, err := fs.ReadFile(data.FS, path.Join(processor.DefaultDir, name))
		if err != nil {
			return err
		}
		if name == "preprocessor_config.json" {
			var cfg map[string]any
			if err := json.Unmarshal(b, &cfg); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			cfg["size"] = p.ImageConfig().ShortestEdge
			if b, err = json.MarshalIndent(cfg, "", "  "); err != nil {
				return err
			}
			b = append(b, '\n')
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Fingerprint identifies the weights of the model folder dir: the first 12
// hex digits of the SHA-256 of its model.safetensors. Two notebooks that
// print the same fingerprint use the same model.
func Fingerprint(dir string) (string, error) {
	f, err := os.Open(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil))[:12], nil
}
