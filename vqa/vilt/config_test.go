package vilt

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestConfigRoundTrip reads every fixture config.json (QA and MLM), writes
// it back and checks the JSON is unchanged and re-reads identically.
func TestConfigRoundTrip(t *testing.T) {
	root := fixtureRoot(t)
	paths, err := filepath.Glob(filepath.Join(root, "*", "config.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no config.json under %s (%v)", root, err)
	}
	for _, path := range paths {
		t.Run(filepath.Base(filepath.Dir(path)), func(t *testing.T) {
			c, err := ReadConfig(path)
			if err != nil {
				t.Fatal(err)
			}
			if c.ModelType != "vilt" || c.HiddenSize <= 0 {
				t.Errorf("parsed %+v", c)
			}
			out := filepath.Join(t.TempDir(), "config.json")
			if err := c.WriteFile(out); err != nil {
				t.Fatal(err)
			}
			assertSameJSON(t, path, out)
			c2, err := ReadConfig(out)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c, c2) {
				t.Errorf("re-read config differs")
			}
		})
	}
}

func TestConfigLabels(t *testing.T) {
	c, err := ReadConfig(filepath.Join(fixtureRoot(t), "tiny48p16", "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if c.NumLabels() != 10 || c.ID2Label[4] != "yes" || c.Label2ID["white"] != 9 {
		t.Errorf("labels: %v / %v", c.ID2Label, c.Label2ID)
	}
}

func TestConfigErrors(t *testing.T) {
	for name, js := range map[string]string{
		"bad json":      `{"hidden_size": }`,
		"bad label key": `{"id2label": {"x": "yes"}}`,
		"label gap":     `{"id2label": {"0": "yes", "2": "no"}}`,
		"heads":         `{"hidden_size": 10, "num_attention_heads": 3}`,
		"activation":    `{"hidden_act": "relu"}`,
		"patch":         `{"patch_size": 0}`,
	} {
		if _, err := ParseConfig([]byte(js)); err == nil {
			t.Errorf("%s: no error for %s", name, js)
		}
	}
}

// TestConfigLabelConsistency checks that a num_labels disagreeing with the
// label maps, and a label given to two ids, are errors naming them, and
// that an agreeing num_labels is accepted.
func TestConfigLabelConsistency(t *testing.T) {
	for js, want := range map[string][]string{
		`{"num_labels": 3, "id2label": {"0": "yes", "1": "no"}}`:  {"num_labels 3", "2 labels"},
		`{"num_labels": 1, "label2id": {"yes": 0, "no": 1}}`:      {"num_labels 1", "2 labels"},
		`{"id2label": {"0": "yes", "1": "no", "2": "yes"}}`:       {"ids 0 and 2", `"yes"`},
		`{"num_labels": 2, "id2label": {"0": "two", "1": "two"}}`: {"ids 0 and 1", `"two"`},
	} {
		_, err := ParseConfig([]byte(js))
		for _, w := range want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("ParseConfig(%s): %v, want an error naming %s", js, err, w)
			}
		}
	}
	c, err := ParseConfig([]byte(`{"num_labels": 2, "id2label": {"0": "yes", "1": "no"}}`))
	if err != nil || c.NumLabels() != 2 {
		t.Errorf("agreeing num_labels: %v labels, %v", c, err)
	}
}

func TestPreset(t *testing.T) {
	for _, name := range []string{"base", "tiny"} {
		c, err := Preset(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	base, _ := Preset("base")
	if base.HiddenSize != 768 || base.NumHiddenLayers != 12 || base.NumAttentionHeads != 12 || base.IntermediateSize != 3072 || base.PatchSize != 32 {
		t.Errorf("base is not ViLT-B/32: %+v", base)
	}
	if _, err := Preset("huge"); err == nil {
		t.Error("no error for an unknown preset")
	}
}

// TestSetSizes checks that SetSizes overrides exactly the non-zero sizes and
// rejects sizes that make no model.
func TestSetSizes(t *testing.T) {
	c, err := Preset("tiny")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetSizes(Sizes{Layers: 4, Patch: 16}); err != nil {
		t.Fatal(err)
	}
	got := [5]int{c.HiddenSize, c.NumHiddenLayers, c.NumAttentionHeads, c.IntermediateSize, c.PatchSize}
	if want := [5]int{96, 4, 3, 192, 16}; got != want {
		t.Errorf("tiny resized to 4 layers, patch 16: (hidden, layers, heads, mlp, patch) = %v, want %v", got, want)
	}
	for _, bad := range []Sizes{{Heads: 5}, {Hidden: -1}, {Patch: 1000}} {
		c, _ := Preset("tiny")
		if err := c.SetSizes(bad); err == nil {
			t.Errorf("SetSizes(%+v) accepted", bad)
		}
	}
}
