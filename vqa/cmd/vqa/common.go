package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/vilt-go/workbook/data"
	"github.com/vilt-go/workbook/vqa/hub"
	"github.com/vilt-go/workbook/vqa/imageproc"
	"github.com/vilt-go/workbook/vqa/internal/fslock"
	"github.com/vilt-go/workbook/vqa/internal/safefile"
	"github.com/vilt-go/workbook/vqa/processor"
	"github.com/vilt-go/workbook/vqa/repo"
)

// dataRoot returns the VQAv2 folder to read: flag value, else $VQA_DATA,
// else the repository's data/vqav2-mini.
func dataRoot(flagValue string) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	return repo.DataRoot()
}

// processorFiles returns the files of a processor folder, copied into
// trained and exported models.
func processorFiles() []string {
	return []string{"preprocessor_config.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"}
}

// processorSource returns the file system and folder holding the processor
// files for a model: the model's own folder (or Hub snapshot) when it has
// them, else the default processor embedded in package data.
func processorSource(modelRef string) (fs.FS, string) {
	if modelRef != "" {
		if dir, err := hub.Resolve(modelRef, "", "preprocessor_config.json", "vocab.txt"); err == nil {
			return os.DirFS(dir), "."
		}
	}
	return data.FS, processor.DefaultDir
}

// loadProcessor loads the processor for modelRef: its own files, else the
// default processor embedded in package data, whose image settings are
// replaced by the model folder's preprocessor_config.json when it has one
// but no tokenizer files (as HF's tiny test checkpoints). imageSize > 0
// overrides the shorter edge images are resized to.
func loadProcessor(modelRef string, imageSize int) (*processor.Processor, error) {
	fsys, dir := processorSource(modelRef)
	p, err := processor.LoadFS(fsys, dir)
	if err != nil {
		return nil, err
	}
	if fsys == data.FS && modelRef != "" {
		if cfgDir, err := hub.Resolve(modelRef, "", "preprocessor_config.json"); err == nil {
			cfg, err := imageproc.ReadConfig(filepath.Join(cfgDir, "preprocessor_config.json"))
			if err != nil {
				return nil, err
			}
			p = processor.New(p.Tokenizer(), cfg)
		}
	}
	return p.WithShortestEdge(imageSize), nil
}

// processorFileData returns the processor files of modelRef's source (name
// -> content), with "size" in preprocessor_config.json set to the
// processor's shorter edge, so that a folder holding them loads with
// processor.Load.
func processorFileData(modelRef string, p *processor.Processor) (map[string][]byte, error) {
	fsys, src := processorSource(modelRef)
	files := make(map[string][]byte, len(processorFiles()))
	for _, name := range processorFiles() {
		b, err := fs.ReadFile(fsys, filepath.ToSlash(filepath.Join(src, name)))
		if err != nil {
			return nil, fmt.Errorf("copying processor files: %w", err)
		}
		if name == "preprocessor_config.json" {
			var cfg map[string]any
			if err := json.Unmarshal(b, &cfg); err != nil {
				return nil, fmt.Errorf("copying processor files: %s: %w", name, err)
			}
			cfg["size"] = p.ImageConfig().ShortestEdge
			if b, err = json.MarshalIndent(cfg, "", "  "); err != nil {
				return nil, fmt.Errorf("copying processor files: %s: %w", name, err)
			}
			b = append(b, '\n')
		}
		files[name] = b
	}
	return files, nil
}

// writeProcessorFiles writes the processor files of modelRef's source
// (see processorFileData) into dir, each through a temporary file.
func writeProcessorFiles(dir, modelRef string, p *processor.Processor) error {
	files, err := processorFileData(modelRef, p)
	if err != nil {
		return err
	}
	for _, name := range processorFiles() {
		if err := safefile.WriteFile(filepath.Join(dir, name), files[name], 0o644); err != nil {
			return fmt.Errorf("copying processor files: %w", err)
		}
	}
	return nil
}

// modelFiles returns the files a model folder may hold (when modelRef is a
// folder), inputs that no output of the run may overwrite.
func modelFiles(modelRef string) []string {
	var files []string
	for _, name := range append(processorFiles(), "config.json", "model.safetensors", "pytorch_model.bin") {
		files = append(files, filepath.Join(modelRef, name))
	}
	return files
}

// checkOutDir refuses, unless force, an output folder that exists and is
// not empty: a command writes only into a folder it creates, so that
// nothing of the user's is overwritten. The lock file of package fslock
// does not count. The error names the flag.
func checkOutDir(flagName, dir string, force bool) error {
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("-%s %s: %w", flagName, dir, err)
	case !st.IsDir():
		return fmt.Errorf("-%s %s: it exists and is %s, not a folder", flagName, dir, safefile.Kind(st.Mode()))
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("-%s %s: %w", flagName, dir, err)
	}
	entries = slices.DeleteFunc(entries, func(e fs.DirEntry) bool { return e.Name() == fslock.FileName })
	if len(entries) == 0 || force {
		return nil
	}
	names := make([]string, 0, 4)
	for _, e := range entries[:min(len(entries), 4)] {
		names = append(names, e.Name())
	}
	if len(entries) > len(names) {
		names = append(names, "...")
	}
	return fmt.Errorf("-%s %s is not empty (%s): refusing to overwrite it; choose a new folder, or pass -force to overwrite its files", flagName, dir, strings.Join(names, ", "))
}
