// Package hfweights reads and writes HuggingFace model weights as GoMLX
// tensors keyed by their PyTorch state_dict names: safetensors files
// (read and write) and PyTorch pytorch_model.bin checkpoints (read only,
// through package torchbin).
package hfweights

import (
	"bytes"
	"fmt"
	"io"
	"os"

	"github.com/gomlx/gomlx/core/tensors"
)

// Read loads every tensor of a weights file, choosing the format by content:
// a ZIP archive is a PyTorch checkpoint, anything else must be safetensors.
func Read(path string) (ts map[string]*tensors.Tensor, err error) {
	defer func() {
		if r := recover(); r != nil {
			ts, err = nil, fmt.Errorf("reading %s: %v", path, r)
		}
	}()
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	magic := make([]byte, 4)
	if _, err := io.ReadFull(f, magic); err != nil && err != io.ErrUnexpectedEOF {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if bytes.Equal(magic, []byte("PK\x03\x04")) {
		return nil, fmt.Errorf("reading %s: PyTorch checkpoints are not supported yet", path)
	}
	ts, _, err = ReadSafetensors(f, info.Size())
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return ts, nil
}
