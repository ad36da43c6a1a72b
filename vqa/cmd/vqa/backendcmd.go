package main

import (
	"context"
	"io"

	"github.com/vilt-go/workbook/vqa/backend"
)

func runBackend(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("backend", "Prints the GoMLX backend that the other commands would use and starts it.\n"+
		"Set GOMLX_BACKEND to force one; VQA_XLA_INSTALL=1 installs the PJRT plugins first.", stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	b, err := backend.New(stdout)
	if err != nil {
		return err
	}
	b.Finalize()
	return nil
}
