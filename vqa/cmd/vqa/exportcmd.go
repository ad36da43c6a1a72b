package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/gomlx/compute/dtypes"

	"github.com/vilt-go/workbook/vqa/hfmodel"
	"github.com/vilt-go/workbook/vqa/internal/fslock"
)

func runExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("export", "Writes a model (a training folder, a folder or a Hub id) as a HuggingFace folder:\n"+
		"config.json, model.safetensors and the processor files.", stderr)
	modelRef := fs.String("model", "", "model to export (e.g. the -out folder of vqa train)")
	out := fs.String("out", "", "folder to write")
	imageSize := fs.Int("image-size", 0, "shorter edge written to preprocessor_config.json (0: keep the model's)")
	dtypeName := fs.String("dtype", "float32", "weight type in model.safetensors: float32, float16 or bfloat16 (half the size)")
	force := fs.Bool("force", false, "write into -out even if it is not empty (its config.json, model.safetensors and processor files are replaced)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *modelRef == "" || *out == "" {
		return errors.New("give -model and -out")
	}
	if err := checkOutDir("out", *out, *force); err != nil {
		return err
	}
	lock, err := fslock.Acquire(*out, "vqa export into "+*out)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer lock.Release()
	// Checked again under the lock, against an export that wrote there
	// between the first check and the lock.
	if err := checkOutDir("out", *out, *force); err != nil {
		return err
	}
	m, _, err := hfmodel.Load(*modelRef, hfmodel.LoadOptions{Log: stderr})
	if err != nil {
		return err
	}
	proc, err := loadProcessor(*modelRef, *imageSize)
	if err != nil {
		return err
	}
	dtype, ok := map[string]dtypes.DType{"float32": dtypes.Float32, "float16": dtypes.Float16, "bfloat16": dtypes.BFloat16}[*dtypeName]
	if !ok {
		return fmt.Errorf("-dtype %q: want float32, float16 or bfloat16", *dtypeName)
	}
	if err := m.Export(*out, dtype); err != nil {
		return err
	}
	if err := writeProcessorFiles(*out, *modelRef, proc); err != nil {
		return err
	}
	st, err := os.Stat(filepath.Join(*out, "model.safetensors"))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: config.json, model.safetensors (%d bytes), processor files\n", *out, st.Size())
	return nil
}
