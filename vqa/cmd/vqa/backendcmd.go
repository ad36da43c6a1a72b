package main

import (
	"context"
	"fmt"
	"io"

	"github.com/gomlx/compute"

	"github.com/vilt-go/workbook/vqa/backend"
)

// runBackend starts the backend the other commands would use and prints
// the choice, the backend's description (for XLA: the PJRT plugin's path
// and C API version) and one line per device.
func runBackend(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("backend", "Prints the GoMLX backend that the other commands would use, starts it and describes it\n"+
		"and its devices. Set GOMLX_BACKEND to force one; VQA_XLA_INSTALL=1 installs the PJRT plugins first.", stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	b, err := backend.New(stdout)
	if err != nil {
		return err
	}
	defer b.Finalize()
	fmt.Fprintln(stdout, b.Description())
	for d := range b.NumDevices() {
		fmt.Fprintf(stdout, "device %d: %s\n", d, b.DeviceDescription(compute.DeviceNum(d)))
	}
	return nil
}
