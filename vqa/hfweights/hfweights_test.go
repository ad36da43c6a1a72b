package hfweights

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/vilt-go/workbook/vqa/internal/testutil"
)

// caseDirs lists the fixture case folders holding all the given files.
func caseDirs(t *testing.T, files ...string) []string {
	root := testutil.Fixtures(t, "vilt")
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
next:
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		for _, f := range files {
			if _, err := os.Stat(filepath.Join(root, e.Name(), f)); err != nil {
				continue next
			}
		}
		dirs = append(dirs, filepath.Join(root, e.Name()))
	}
	if len(dirs) == 0 {
		t.Fatalf("no fixture case under %s holds %v", root, files)
	}
	return dirs
}

// TestBinMatchesSafetensors: pytorch_model.bin and model.safetensors of a
// case give bit-identical tensors for every key.
func TestBinMatchesSafetensors(t *testing.T) {
	for _, dir := range caseDirs(t, PyTorchFile, SafetensorsFile) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			bin, err := Read(filepath.Join(dir, PyTorchFile))
			if err != nil {
				t.Fatal(err)
			}
			st, err := Read(filepath.Join(dir, SafetensorsFile))
			if err != nil {
				t.Fatal(err)
			}
			sameTensors(t, st, bin)
		})
	}
}

func TestReadDir(t *testing.T) {
	for _, dir := range caseDirs(t, PyTorchFile, SafetensorsFile) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			want, file, err := ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			if filepath.Base(file) != SafetensorsFile {
				t.Errorf("read %s, want %s preferred", file, SafetensorsFile)
			}

			binOnly := t.TempDir()
			if err := os.Symlink(filepath.Join(dir, PyTorchFile), filepath.Join(binOnly, PyTorchFile)); err != nil {
				t.Fatal(err)
			}
			got, file, err := ReadDir(binOnly)
			if err != nil {
				t.Fatal(err)
			}
			if filepath.Base(file) != PyTorchFile {
				t.Errorf("read %s, want %s", file, PyTorchFile)
			}
			sameTensors(t, want, got)

			// Sharded: split into two safetensors shards plus an index.
			sharded := t.TempDir()
			shards := [2]map[string]*tensors.Tensor{{}, {}}
			weightMap := map[string]string{}
			for name, x := range want {
				i := 0
				if strings.HasPrefix(name, "vilt.encoder") {
					i = 1
				}
				shards[i][name] = x
				weightMap[name] = []string{"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}[i]
			}
			for i, shard := range shards {
				name := []string{"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}[i]
				if err := WriteSafetensors(filepath.Join(sharded, name), shard, nil); err != nil {
					t.Fatal(err)
				}
			}
			index, _ := json.Marshal(map[string]any{"metadata": map[string]any{"total_size": 0}, "weight_map": weightMap})
			if err := os.WriteFile(filepath.Join(sharded, SafetensorsFile+".index.json"), index, 0o644); err != nil {
				t.Fatal(err)
			}
			got, _, err = ReadDir(sharded)
			if err != nil {
				t.Fatal(err)
			}
			sameTensors(t, want, got)

			// An index that assigns a tensor to the wrong shard is rejected.
			for name := range weightMap {
				if strings.HasPrefix(name, "vilt.encoder") {
					weightMap[name] = "model-00001-of-00002.safetensors"
					break
				}
			}
			index, _ = json.Marshal(map[string]any{"weight_map": weightMap})
			os.WriteFile(filepath.Join(sharded, SafetensorsFile+".index.json"), index, 0o644)
			if _, _, err := ReadDir(sharded); err == nil {
				t.Error("inconsistent index accepted")
			}
		})
	}
	if _, _, err := ReadDir(t.TempDir()); err == nil || !strings.Contains(err.Error(), SafetensorsFile) {
		t.Errorf("empty folder: error %v, want one naming %s", err, SafetensorsFile)
	}
}

func TestReadFormats(t *testing.T) {
	dir := t.TempDir()
	legacy := filepath.Join(dir, "legacy.bin")
	os.WriteFile(legacy, append(append([]byte{}, legacyTorchMagic...), '.'), 0o644)
	if _, err := Read(legacy); err == nil || !strings.Contains(err.Error(), "legacy") {
		t.Errorf("legacy checkpoint: error %v", err)
	}
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o644)
	if _, err := Read(empty); err == nil || !strings.Contains(err.Error(), empty) {
		t.Errorf("empty file: error %v, want one naming the file", err)
	}
	brokenZip := filepath.Join(dir, "broken.bin")
	os.WriteFile(brokenZip, []byte("PK\x03\x04garbage"), 0o644)
	if _, err := Read(brokenZip); err == nil || !strings.Contains(err.Error(), brokenZip) {
		t.Errorf("broken zip: error %v, want one naming the file", err)
	}
	if _, err := Read(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing file read")
	}
}
