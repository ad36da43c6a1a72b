// Package hfweights reads and writes HuggingFace model weights as GoMLX
// tensors keyed by their PyTorch state_dict names: safetensors files
// (read and write) and PyTorch pytorch_model.bin checkpoints (read only,
// through package torchbin).
package hfweights

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/vilt-go/workbook/vqa/hfweights/torchbin"

	"github.com/vilt-go/workbook/vqa/internal/safefile"
)

// legacyTorchMagic starts pre-1.6 torch.save files: PROTO 2, then the pickled
// magic number 0x1950a86a20f9469cfc6c as a LONG1.
var legacyTorchMagic = []byte("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19")

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
	magic := make([]byte, len(legacyTorchMagic))
	if _, err := io.ReadFull(f, magic); err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	switch {
	case bytes.HasPrefix(magic, []byte("PK\x03\x04")):
		return torchbin.Read(path)
	case bytes.Equal(magic, legacyTorchMagic):
		return nil, fmt.Errorf("reading %s: legacy (pre-1.6, non-ZIP) PyTorch checkpoint; re-save it with a recent torch.save or convert it to safetensors", path)
	}
	ts, _, err = ReadSafetensors(f, info.Size())
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return ts, nil
}

// Weight file names in a HuggingFace model folder, in order of preference.
const (
	SafetensorsFile = "model.safetensors"
	PyTorchFile     = "pytorch_model.bin"
)

// ReadDir loads the weights of a HuggingFace model folder, in order of
// preference: model.safetensors, the sharded model.safetensors.index.json,
// pytorch_model.bin, the sharded pytorch_model.bin.index.json. It returns
// the file it read (the index file for sharded checkpoints).
func ReadDir(dir string) (ts map[string]*tensors.Tensor, file string, err error) {
	for _, name := range []string{SafetensorsFile, SafetensorsFile + ".index.json", PyTorchFile, PyTorchFile + ".index.json"} {
		file = filepath.Join(dir, name)
		if _, err := os.Stat(file); err != nil {
			continue
		}
		if strings.HasSuffix(name, ".index.json") {
			ts, err = readSharded(file)
		} else {
			ts, err = Read(file)
		}
		return ts, file, err
	}
	return nil, "", fmt.Errorf("%s holds no %s, %s or their .index.json", dir, SafetensorsFile, PyTorchFile)
}

// readSharded loads every shard named by a HuggingFace weight index
// ({"weight_map": {tensor name: shard file}}) and checks that each shard
// holds exactly the tensors the index assigns to it.
func readSharded(index string) (map[string]*tensors.Tensor, error) {
	raw, err := safefile.ReadFile(index, safefile.MaxMetadataBytes)
	if err != nil {
		return nil, err
	}
	var idx struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(raw, &idx); err != nil {
		return nil, fmt.Errorf("%s: %w", index, err)
	}
	if len(idx.WeightMap) == 0 {
		return nil, fmt.Errorf("%s: empty weight_map", index)
	}
	shards := map[string][]string{}
	for name, shard := range idx.WeightMap {
		if shard != filepath.Base(shard) || shard == "." || shard == ".." {
			return nil, fmt.Errorf("%s: shard %q of %s is not a file name in the index's folder", index, shard, name)
		}
		shards[shard] = append(shards[shard], name)
	}
	out := make(map[string]*tensors.Tensor, len(idx.WeightMap))
	for shard, names := range shards {
		path := filepath.Join(filepath.Dir(index), shard)
		ts, err := Read(path)
		if err != nil {
			return nil, err
		}
		if len(ts) != len(names) {
			return nil, fmt.Errorf("%s holds %d tensors, %s assigns it %d", path, len(ts), index, len(names))
		}
		for _, name := range names {
			t, ok := ts[name]
			if !ok {
				return nil, fmt.Errorf("%s lacks %s, which %s assigns to it", path, name, index)
			}
			out[name] = t
		}
	}
	return out, nil
}
