package vqav2_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/vilt-go/workbook/vqa/internal/testutil"
	"github.com/vilt-go/workbook/vqa/vqaeval"
	"github.com/vilt-go/workbook/vqa/vqav2"
)

func configPath(t *testing.T) string {
	return filepath.Join(testutil.ModuleRoot(t), "data", "vilt-b32-finetuned-vqa", "config.json")
}

// TestReadLabelMapViLT reads the 3129 labels of the fine-tuned model and
// checks the anchors the spec lists and the shared id2label.json.
func TestReadLabelMapViLT(t *testing.T) {
	m, err := vqav2.ReadLabelMap(configPath(t))
	if err != nil {
		t.Fatal(err)
	}
	if m.Len() != 3129 || len(m.Label2ID) != 3129 {
		t.Fatalf("%d labels (%d in label2id), want 3129", m.Len(), len(m.Label2ID))
	}
	for id, label := range map[int]string{0: "net", 1: "pitcher", 2: "orange", 3: "yes", 9: "no", 12: "1", 17: "2", 32: "3",
		53: "4", 38: "5", 82: "0", 211: "cat", 267: "down", 81: "table", 11: "skateboard", 2063: "at table", 125: "None"} {
		if m.ID2Label[id] != label || m.Label2ID[label] != id {
			t.Errorf("label %d = %q (label2id %d), want %q", id, m.ID2Label[id], m.Label2ID[label], label)
		}
	}
	data, err := os.ReadFile(filepath.Join(testutil.SharedData(t, "vilt-b32-finetuned-vqa"), "id2label.json"))
	if err != nil {
		t.Fatal(err)
	}
	var shared map[string]string
	if err := json.Unmarshal(data, &shared); err != nil {
		t.Fatal(err)
	}
	if len(shared) != m.Len() {
		t.Errorf("shared id2label has %d labels, config %d", len(shared), m.Len())
	}
	for k, v := range shared {
		if id, _ := strconv.Atoi(k); m.ID2Label[id] != v {
			t.Errorf("label %s: config %q, shared id2label.json %q", k, m.ID2Label[id], v)
		}
	}
}

func decodeJSON(t *testing.T, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v map[string]any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return v
}

// TestWriteConfig: writing the labels into a copy of the real config keeps
// every other key and value, and reads back the same; writing the real
// labels reproduces the original JSON value.
func TestWriteConfig(t *testing.T) {
	orig, err := os.ReadFile(configPath(t))
	if err != nil {
		t.Fatal(err)
	}
	real, err := vqav2.ReadLabelMap(configPath(t))
	if err != nil {
		t.Fatal(err)
	}
	path := writeTemp(t, "config.json", string(orig))
	if err := real.WriteConfig(path); err != nil {
		t.Fatal(err)
	}
	if got, want := decodeJSON(t, path), decodeJSON(t, configPath(t)); !reflect.DeepEqual(got, want) {
		t.Error("rewriting the real labels changed config.json")
	}

	small, err := vqav2.NewLabelMap([]string{"yes", "no", "2", "red, white"})
	if err != nil {
		t.Fatal(err)
	}
	if err := small.WriteConfig(path); err != nil {
		t.Fatal(err)
	}
	got, err := vqav2.ReadLabelMap(path)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.ID2Label, small.ID2Label) || !reflect.DeepEqual(got.Label2ID, small.Label2ID) {
		t.Errorf("read back %+v, want %+v", got, small)
	}
	after, before := decodeJSON(t, path), decodeJSON(t, configPath(t))
	if want := map[string]any{"0": "yes", "1": "no", "2": "2", "3": "red, white"}; !reflect.DeepEqual(after["id2label"], want) {
		t.Errorf("id2label %v, want string keys %v", after["id2label"], want)
	}
	for _, m := range []map[string]any{after, before} {
		delete(m, "id2label")
		delete(m, "label2id")
	}
	if !reflect.DeepEqual(after, before) {
		t.Error("WriteConfig changed keys other than id2label and label2id")
	}

	fresh := filepath.Join(t.TempDir(), "new", "..", "config.json")
	if err := small.WriteConfig(fresh); err != nil {
		t.Fatal(err)
	}
	if m := decodeJSON(t, fresh); len(m) != 2 {
		t.Errorf("new config has keys %v, want id2label and label2id", m)
	}
}

func TestLabelMapErrors(t *testing.T) {
	if _, err := vqav2.NewLabelMap([]string{"a", "b", "a"}); err == nil || !strings.Contains(err.Error(), `labels 0 and 2 are both "a"`) {
		t.Errorf("NewLabelMap duplicate: error %v", err)
	}
	for _, tc := range []struct{ name, content, want string }{
		{"malformed", `{"id2label": {"0": "a",}}`, "want a config object"},
		{"no id2label", `{"hidden_size": 768}`, "id2label: missing or empty"},
		{"int labels", `{"id2label": {"0": 5}}`, "want a config object"},
		{"gap", `{"id2label": {"0": "a", "2": "b"}}`, `id2label: key "2": want a decimal id in 0..1`},
		{"padded key", `{"id2label": {"00": "a"}}`, `id2label: key "00"`},
		{"repeated label", `{"id2label": {"0": "a", "1": "a"}}`, `id2label: label map: labels`},
		{"label2id disagrees", `{"id2label": {"0": "a", "1": "b"}, "label2id": {"a": 1, "b": 0}}`, `label2id: "`},
		{"label2id size", `{"id2label": {"0": "a", "1": "b"}, "label2id": {"a": 0}}`, "label2id: has 1 labels but id2label has 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeTemp(t, "config.json", tc.content)
			_, err := vqav2.ReadLabelMap(path)
			if err == nil || !strings.Contains(err.Error(), path+": ") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want it to name %s and contain %q", err, path, tc.want)
			}
		})
	}
	bad := writeTemp(t, "config.json", `[1]`)
	if err := (vqav2.LabelMap{ID2Label: []string{"a"}}).WriteConfig(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("WriteConfig over a non-object: error %v", err)
	}
}

func mcAnnotations(answers ...string) []vqav2.Annotation {
	anns := make([]vqav2.Annotation, len(answers))
	for i, a := range answers {
		anns[i] = vqav2.Annotation{QuestionID: int64(i), MultipleChoiceAnswer: a}
	}
	return anns
}

// TestBuildVocab: ViLT's rules (normalize_word, min count, first-appearance
// order) and the top-K option.
func TestBuildVocab(t *testing.T) {
	anns := mcAnnotations("net", "Yes", "two", "no", "yes", "2", "yes.", "net", "red, white", "no", "red white", "cat", "2")
	for _, tc := range []struct {
		name           string
		normalize      func(string) string
		minCount, topK int
		want           []string
	}{
		{"vilt min 2", vqaeval.NormalizeViLT, 2, 0, []string{"net", "yes", "2", "no", "red white"}},
		{"vilt min 3", vqaeval.NormalizeViLT, 3, 0, []string{"yes", "2"}},
		{"vilt top 2", vqaeval.NormalizeViLT, 1, 2, []string{"yes", "2"}},
		{"vilt top 3 tie", vqaeval.NormalizeViLT, 1, 3, []string{"net", "yes", "2"}},
		{"vilt top 4", vqaeval.NormalizeViLT, 1, 4, []string{"net", "yes", "2", "no"}},
		{"raw", nil, 2, 0, []string{"net", "no", "2"}},
		{"everything", nil, 0, 0, []string{"net", "Yes", "two", "no", "yes", "2", "yes.", "red, white", "red white", "cat"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := vqav2.BuildVocab(anns, tc.normalize, tc.minCount, tc.topK)
			if !slices.Equal(m.ID2Label, tc.want) {
				t.Errorf("labels %q, want %q", m.ID2Label, tc.want)
			}
			for i, l := range m.ID2Label {
				if m.Label2ID[l] != i {
					t.Errorf("Label2ID[%q] = %d, want %d", l, m.Label2ID[l], i)
				}
			}
		})
	}
}

// TestReadLabelMapRefusesDevice: -labels /dev/zero is refused at once
// instead of reading forever into memory.
func TestReadLabelMapRefusesDevice(t *testing.T) {
	if _, err := vqav2.ReadLabelMap("/dev/zero"); err == nil || !strings.Contains(err.Error(), "/dev/zero is a character device") {
		t.Errorf("ReadLabelMap(/dev/zero): %v, want a refusal naming the device", err)
	}
}
