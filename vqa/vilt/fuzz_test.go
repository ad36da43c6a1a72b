package vilt

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzParseConfig checks ParseConfig never panics and that every config it
// accepts survives a write/parse round trip unchanged. Seeds: the fixture
// configs (when present) and a few hand-written edge cases.
func FuzzParseConfig(f *testing.F) {
	if paths, err := filepath.Glob(filepath.Join(fixtureRootOrEmpty(), "*", "config.json")); err == nil {
		for _, p := range paths {
			if data, err := os.ReadFile(p); err == nil && len(data) < 8<<10 {
				f.Add(data)
			}
		}
	}
	for _, s := range []string{
		`{}`,
		`{"hidden_size": 64, "num_attention_heads": 4, "id2label": {"0": "yes", "1": "no"}}`,
		`{"id2label": {"0": "a"}, "label2id": {"a": 0, "b": 1}}`,
		`{"num_hidden_layers": -1}`,
		`{"id2label": {"-1": "x"}}`,
		`[1, 2]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data)
		if err != nil {
			return
		}
		out, err := json.Marshal(c)
		if err != nil {
			t.Fatalf("marshal accepted config: %v", err)
		}
		c2, err := ParseConfig(out)
		if err != nil {
			t.Fatalf("re-parsing %s: %v", out, err)
		}
		if !reflect.DeepEqual(c, c2) {
			t.Fatalf("round trip changed the config:\n%+v\n%+v", c, c2)
		}
	})
}

// fixtureRootOrEmpty is the fixture folder for fuzz seeds ("" when unknown:
// fuzzing must not depend on it).
func fixtureRootOrEmpty() string {
	if root := os.Getenv("VQA_FIXTURES"); root != "" {
		return filepath.Join(root, "vilt")
	}
	return filepath.Join("..", "..", "..", "shared", "fixtures", "vilt")
}
