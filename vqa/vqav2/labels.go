package vqav2

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"

	"github.com/vilt-go/workbook/data"
	"github.com/vilt-go/workbook/vqa/internal/safefile"
)

// LabelMap is an answer vocabulary: label id <-> answer string.
type LabelMap struct {
	// ID2Label holds the answer of each label id 0..n-1.
	ID2Label []string
	// Label2ID is the inverse of ID2Label.
	Label2ID map[string]int
}

// NewLabelMap returns the LabelMap whose label id i is labels[i]; it fails
// if an answer repeats.
func NewLabelMap(labels []string) (LabelMap, error) {
	m := LabelMap{ID2Label: slices.Clone(labels), Label2ID: make(map[string]int, len(labels))}
	for i, l := range labels {
		if j, dup := m.Label2ID[l]; dup {
			return LabelMap{}, fmt.Errorf("label map: labels %d and %d are both %q", j, i, l)
		}
		m.Label2ID[l] = i
	}
	return m, nil
}

// Len returns the number of labels.
func (m LabelMap) Len() int { return len(m.ID2Label) }

// configLabels is the label part of a HuggingFace config.json.
type configLabels struct {
	ID2Label map[string]string `json:"id2label"`
	Label2ID map[string]int    `json:"label2id"`
}

// MaxConfigBytes bounds a config.json read whole (dandelin's, with 3129
// labels, has about 200 KB).
const MaxConfigBytes = safefile.MaxMetadataBytes

// ReadLabelMap reads the label maps of a HuggingFace config.json
// ("id2label" with string keys "0".."n-1", and optionally "label2id", which
// must then be its exact inverse).
func ReadLabelMap(configJSON string) (LabelMap, error) {
	data, err := safefile.ReadFile(configJSON, MaxConfigBytes)
	if err != nil {
		return LabelMap{}, err
	}
	m, err := parseLabelMap(data)
	if err != nil {
		return LabelMap{}, fmt.Errorf("%s: %w", configJSON, err)
	}
	return m, nil
}

// ArticleLabels returns the label map of the walk-through: the 3129
// answers of dandelin/vilt-b32-finetuned-vqa (its config.json's id2label),
// embedded in package data.
func ArticleLabels() (LabelMap, error) {
	b, err := fs.ReadFile(data.FS, "vilt-b32-finetuned-vqa/config.json")
	if err != nil {
		return LabelMap{}, fmt.Errorf("vqav2: the embedded label map: %w", err)
	}
	m, err := parseLabelMap(b)
	if err != nil {
		return LabelMap{}, fmt.Errorf("vqav2: the embedded label map: %w", err)
	}
	return m, nil
}

func parseLabelMap(data []byte) (LabelMap, error) {
	var c configLabels
	if err := json.Unmarshal(data, &c); err != nil {
		return LabelMap{}, fmt.Errorf("want a config object with \"id2label\" (string keys) and \"label2id\": %w", err)
	}
	if len(c.ID2Label) == 0 {
		return LabelMap{}, errors.New("id2label: missing or empty")
	}
	labels := make([]string, len(c.ID2Label))
	set := make([]bool, len(c.ID2Label))
	for k, v := range c.ID2Label {
		id, err := strconv.Atoi(k)
		if err != nil || id < 0 || id >= len(labels) || strconv.Itoa(id) != k {
			return LabelMap{}, fmt.Errorf("id2label: key %q: want a decimal id in 0..%d", k, len(labels)-1)
		}
		labels[id], set[id] = v, true
	}
	if i := slices.Index(set, false); i >= 0 {
		return LabelMap{}, fmt.Errorf("id2label: id %d missing; want ids 0..%d", i, len(labels)-1)
	}
	m, err := NewLabelMap(labels)
	if err != nil {
		return LabelMap{}, fmt.Errorf("id2label: %w", err)
	}
	if c.Label2ID == nil {
		return m, nil
	}
	if len(c.Label2ID) != len(labels) {
		return LabelMap{}, fmt.Errorf("label2id: has %d labels but id2label has %d", len(c.Label2ID), len(labels))
	}
	for l, id := range c.Label2ID {
		if want, ok := m.Label2ID[l]; !ok || want != id {
			return LabelMap{}, fmt.Errorf("label2id: %q -> %d disagrees with id2label", l, id)
		}
	}
	return m, nil
}

// WriteConfig writes the label maps into the HuggingFace config.json at
// path, in its form ("id2label": {"0": "net", ...}, "label2id": {"net": 0,
// ...}): an existing file keeps its other keys (numbers are kept as written);
// a missing file is created with just the two maps. Keys are sorted and
// indented by two spaces, as transformers writes them. The file is replaced
// whole or not at all (a temporary file renamed into place).
func (m LabelMap) WriteConfig(path string) error {
	cfg := make(map[string]any)
	data, err := safefile.ReadFile(path, MaxConfigBytes)
	switch {
	case err == nil:
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		if err := dec.Decode(&cfg); err != nil {
			return fmt.Errorf("%s: want a JSON object: %w", path, err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	id2label := make(map[string]string, len(m.ID2Label))
	label2id := make(map[string]int, len(m.ID2Label))
	for i, l := range m.ID2Label {
		id2label[strconv.Itoa(i)] = l
		label2id[l] = i
	}
	if len(label2id) != len(m.ID2Label) {
		return fmt.Errorf("%s: label map has repeated labels", path)
	}
	cfg["id2label"], cfg["label2id"] = id2label, label2id
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(cfg); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return safefile.WriteFile(path, buf.Bytes(), 0o644)
}

// BuildVocab builds an answer vocabulary from the multiple_choice_answer of
// anns as ViLT's write_vqa.py does: each answer is passed through normalize
// (ViLT uses its normalize_word, vqaeval.NormalizeViLT; nil keeps answers as
// they are), answers given fewer than minCount times are dropped, and label
// ids follow the order of first appearance. If topK > 0 only the topK most
// frequent answers are kept (ties go to the earlier first appearance), still
// in order of first appearance. ViLT's 3129 labels are minCount 9, topK 0
// over train2014 then val2014.
func BuildVocab(anns []Annotation, normalize func(string) string, minCount, topK int) LabelMap {
	counts := make(map[string]int)
	var order []string
	for _, a := range anns {
		ans := a.MultipleChoiceAnswer
		if normalize != nil {
			ans = normalize(ans)
		}
		if counts[ans] == 0 {
			order = append(order, ans)
		}
		counts[ans]++
	}
	kept := slices.DeleteFunc(order, func(a string) bool { return counts[a] < minCount })
	if topK > 0 && len(kept) > topK {
		byCount := slices.Clone(kept)
		slices.SortStableFunc(byCount, func(a, b string) int { return counts[b] - counts[a] })
		top := make(map[string]bool, topK)
		for _, a := range byCount[:topK] {
			top[a] = true
		}
		kept = slices.DeleteFunc(kept, func(a string) bool { return !top[a] })
	}
	m, _ := NewLabelMap(kept) // kept holds distinct answers, so this cannot fail
	return m
}
