// Package vilt implements the ViLT vision-and-language transformer
// (Kim et al. 2021) as a GoMLX graph with numerical parity to HuggingFace
// transformers' modeling_vilt.py (v4.30): configuration ([Config], its
// [Head] from "architectures"), the encoder ([Encoder]: ViltModel) and
// every head on top of it ([Forward]: question answering, masked LM,
// retrieval, NLVR2, token classification, and dandelin's image-text
// matching), the losses ([Loss], [CrossEntropy], [HeadLoss]) and
// HuggingFace state_dict import/export ([LoadWeights], [StateDict], the
// weight table [Params]).
//
// Variables live in a [model.Store] under paths derived from the HF keys
// ("vilt.pooler.dense.weight" -> "/vilt/pooler/dense/weight", see
// [VariablePath]) with HF's shapes, so GoMLX checkpoints
// (ml/model/checkpoint) and HF exports are both tables. Typical use
// (vqa/hfmodel wraps the loading):
//
//	cfg, _ := vilt.ReadConfig(dir + "/config.json")
//	ws, _ := hfweights.Read(dir + "/model.safetensors")
//	store := model.NewStore()
//	report, _ := vilt.LoadWeights(store, cfg, ws, false)
//	exec, _ := model.NewExec(backend, store, func(scope *model.Scope, ins []*graph.Node) *graph.Node {
//		return vilt.Forward(scope, cfg, vilt.NewInputs(ins), vilt.Options{}).Logits
//	})
//
// When training, mark the graph as training (vqa/train does; otherwise
// Store.SetTraining): the attention softmax and the MLP activation then
// build graphs whose gradients are cheaper.
package vilt

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"

	"github.com/vilt-go/workbook/vqa/internal/safefile"
)

// Config holds every field of HuggingFace's ViltConfig (and the
// PretrainedConfig fields a ViLT config.json carries). JSON names follow
// config.json.
type Config struct {
	Architectures             []string `json:"architectures,omitempty"`
	ModelType                 string   `json:"model_type"`
	VocabSize                 int      `json:"vocab_size"`
	TypeVocabSize             int      `json:"type_vocab_size"`
	ModalityTypeVocabSize     int      `json:"modality_type_vocab_size"`
	MaxPositionEmbeddings     int      `json:"max_position_embeddings"`
	HiddenSize                int      `json:"hidden_size"`
	NumHiddenLayers           int      `json:"num_hidden_layers"`
	NumAttentionHeads         int      `json:"num_attention_heads"`
	IntermediateSize          int      `json:"intermediate_size"`
	HiddenAct                 string   `json:"hidden_act"`
	HiddenDropoutProb         float64  `json:"hidden_dropout_prob"`
	AttentionProbsDropoutProb float64  `json:"attention_probs_dropout_prob"`
	InitializerRange          float64  `json:"initializer_range"`
	LayerNormEps              float64  `json:"layer_norm_eps"`
	ImageSize                 int      `json:"image_size"`
	PatchSize                 int      `json:"patch_size"`
	NumChannels               int      `json:"num_channels"`
	QKVBias                   bool     `json:"qkv_bias"`
	MaxImageLength            int      `json:"max_image_length"`
	TieWordEmbeddings         bool     `json:"tie_word_embeddings"`
	NumImages                 int      `json:"num_images"`
	TorchDType                string   `json:"torch_dtype,omitempty"`
	// ITMHead adds dandelin's image-text matching head (itm_score.fc,
	// Linear(D, 2) on the pooled output) to the model. It is not a
	// HuggingFace field: transformers keeps it as an attribute and ignores
	// the itm_score.* weights.
	ITMHead             bool   `json:"itm_head,omitempty"`
	TransformersVersion string `json:"transformers_version,omitempty"`

	// ID2Label maps a classifier output index to its answer string; its
	// size is the number of labels. In config.json the keys are strings.
	ID2Label map[int]string `json:"-"`
	// Label2ID is the inverse of ID2Label.
	Label2ID map[string]int `json:"-"`
}

// Default returns ViltConfig's defaults (dandelin/vilt-b32-mlm sizes) with
// no labels.
func Default() *Config {
	return &Config{
		ModelType:             "vilt",
		VocabSize:             30522,
		TypeVocabSize:         2,
		ModalityTypeVocabSize: 2,
		MaxPositionEmbeddings: 40,
		HiddenSize:            768,
		NumHiddenLayers:       12,
		NumAttentionHeads:     12,
		IntermediateSize:      3072,
		HiddenAct:             "gelu",
		InitializerRange:      0.02,
		LayerNormEps:          1e-12,
		ImageSize:             384,
		PatchSize:             32,
		NumChannels:           3,
		QKVBias:               true,
		MaxImageLength:        -1,
		NumImages:             -1,
	}
}

// Preset returns a named configuration without labels (set them with
// [Config.SetLabels]):
//   - "base": ViLT-B/32 (hidden 768, 12 layers, 12 heads, MLP 3072, patch 32).
//   - "tiny": hidden 96, 2 layers, 3 heads, MLP 192, patch 32: trains on a
//     few thousand questions in minutes on two CPU cores.
func Preset(name string) (*Config, error) {
	c := Default()
	switch name {
	case "base":
	case "tiny":
		c.HiddenSize, c.NumHiddenLayers, c.NumAttentionHeads, c.IntermediateSize = 96, 2, 3, 192
	default:
		return nil, fmt.Errorf("vilt: unknown preset %q (want \"base\" or \"tiny\")", name)
	}
	c.Architectures = []string{"ViltForQuestionAnswering"}
	return c, nil
}

// Sizes are the fields that set a model's size, for overriding a preset's.
// A zero field keeps the configuration's value.
type Sizes struct {
	Hidden, Layers, Heads, MLP, Patch int
}

// SetSizes sets the model-size fields of c that are non-zero in s
// (hidden_size, num_hidden_layers, num_attention_heads, intermediate_size,
// patch_size) and checks the result.
func (c *Config) SetSizes(s Sizes) error {
	for _, f := range []struct {
		name string
		v    int
		dst  *int
	}{
		{"hidden", s.Hidden, &c.HiddenSize},
		{"layers", s.Layers, &c.NumHiddenLayers},
		{"heads", s.Heads, &c.NumAttentionHeads},
		{"mlp", s.MLP, &c.IntermediateSize},
		{"patch", s.Patch, &c.PatchSize},
	} {
		if f.v < 0 {
			return fmt.Errorf("vilt: model size %s must be > 0, got %d", f.name, f.v)
		}
		if f.v > 0 {
			*f.dst = f.v
		}
	}
	return c.Validate()
}

// SetLabels sets ID2Label from labels (index i is label i) and Label2ID.
func (c *Config) SetLabels(labels []string) {
	c.ID2Label = make(map[int]string, len(labels))
	c.Label2ID = make(map[string]int, len(labels))
	for i, l := range labels {
		c.ID2Label[i] = l
		c.Label2ID[l] = i
	}
}

// NumLabels is the number of classifier outputs (len(ID2Label)).
func (c *Config) NumLabels() int { return len(c.ID2Label) }

// HeadDim is HiddenSize / NumAttentionHeads.
func (c *Config) HeadDim() int { return c.HiddenSize / c.NumAttentionHeads }

// PositionGrid is the side of the image position-embedding grid,
// ImageSize / PatchSize.
func (c *Config) PositionGrid() int { return c.ImageSize / c.PatchSize }

// Validate checks the fields the graph depends on, and that id2label maps
// the ids 0..n-1 to distinct labels.
func (c *Config) Validate() error {
	switch {
	case c.HiddenSize <= 0 || c.NumHiddenLayers <= 0 || c.NumAttentionHeads <= 0 || c.IntermediateSize <= 0:
		return fmt.Errorf("vilt config: hidden_size, num_hidden_layers, num_attention_heads and intermediate_size must be > 0, got %d, %d, %d, %d",
			c.HiddenSize, c.NumHiddenLayers, c.NumAttentionHeads, c.IntermediateSize)
	case c.HiddenSize%c.NumAttentionHeads != 0:
		return fmt.Errorf("vilt config: hidden_size %d is not a multiple of num_attention_heads %d", c.HiddenSize, c.NumAttentionHeads)
	case c.PatchSize <= 0 || c.ImageSize < c.PatchSize:
		return fmt.Errorf("vilt config: need 0 < patch_size <= image_size, got patch_size %d, image_size %d", c.PatchSize, c.ImageSize)
	case c.VocabSize <= 0 || c.TypeVocabSize <= 0 || c.MaxPositionEmbeddings <= 0 || c.NumChannels <= 0:
		return fmt.Errorf("vilt config: vocab_size, type_vocab_size, max_position_embeddings and num_channels must be > 0")
	case c.ModalityTypeVocabSize < 2:
		return fmt.Errorf("vilt config: modality_type_vocab_size must be >= 2, got %d", c.ModalityTypeVocabSize)
	case c.HiddenAct != "gelu":
		return fmt.Errorf("vilt config: hidden_act %q not supported (only \"gelu\")", c.HiddenAct)
	case !c.QKVBias:
		return fmt.Errorf("vilt config: qkv_bias=false not supported")
	case c.MaxImageLength > 0:
		return fmt.Errorf("vilt config: max_image_length %d not supported (only -1: keep every patch)", c.MaxImageLength)
	}
	first := make(map[string]int, len(c.ID2Label))
	for i := range len(c.ID2Label) {
		l, ok := c.ID2Label[i]
		if !ok {
			return fmt.Errorf("vilt config: id2label has %d entries but no id %d", len(c.ID2Label), i)
		}
		if j, dup := first[l]; dup {
			return fmt.Errorf("vilt config: id2label: ids %d and %d are both the answer %q; every label must be distinct", j, i, l)
		}
		first[l] = i
	}
	return nil
}

// ReadConfig reads a HuggingFace ViLT config.json, filling absent fields
// with ViltConfig's defaults.
func ReadConfig(path string) (*Config, error) {
	data, err := safefile.ReadFile(path, safefile.MaxMetadataBytes)
	if err != nil {
		return nil, fmt.Errorf("vilt: reading config: %w", err)
	}
	c, err := ParseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("vilt: %s: %w", path, err)
	}
	return c, nil
}

// labelMaps is the JSON form of the label fields.
type labelMaps struct {
	ID2Label map[string]string `json:"id2label"`
	Label2ID map[string]int    `json:"label2id"`
	// NumLabels is PretrainedConfig's num_labels, which save_pretrained
	// does not write; when present it must be the size of the label maps.
	NumLabels *int `json:"num_labels"`
}

// ParseConfig parses config.json content (see [ReadConfig]).
func ParseConfig(data []byte) (*Config, error) {
	c := Default()
	if err := json.Unmarshal(data, c); err != nil {
		return nil, fmt.Errorf("parsing ViLT config.json: %w", err)
	}
	var lm labelMaps
	if err := json.Unmarshal(data, &lm); err != nil {
		return nil, fmt.Errorf("parsing id2label/label2id: %w", err)
	}
	if len(lm.ID2Label) > 0 {
		c.ID2Label = make(map[int]string, len(lm.ID2Label))
		for k, v := range lm.ID2Label {
			id, err := strconv.Atoi(k)
			if err != nil || id < 0 {
				return nil, fmt.Errorf("id2label key %q: want a non-negative integer", k)
			}
			c.ID2Label[id] = v
		}
	}
	switch {
	case len(lm.Label2ID) > 0 && c.ID2Label == nil:
		c.ID2Label = make(map[int]string, len(lm.Label2ID))
		for l, id := range lm.Label2ID {
			c.ID2Label[id] = l
		}
		c.Label2ID = lm.Label2ID
	case len(lm.Label2ID) > 0:
		c.Label2ID = lm.Label2ID
	case c.ID2Label != nil:
		c.Label2ID = make(map[string]int, len(c.ID2Label))
		for id, l := range c.ID2Label {
			c.Label2ID[l] = id
		}
	}
	if lm.NumLabels != nil && *lm.NumLabels != len(c.ID2Label) {
		return nil, fmt.Errorf("num_labels %d disagrees with id2label/label2id, which hold %d labels", *lm.NumLabels, len(c.ID2Label))
	}
	if len(c.Architectures) == 0 {
		c.Architectures = nil
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// MarshalJSON writes the HuggingFace form: every field plus id2label and
// label2id with string keys, sorted like transformers' save_pretrained.
func (c *Config) MarshalJSON() ([]byte, error) {
	type plain Config // drops the methods, so no recursion
	base, err := json.Marshal((*plain)(c))
	if err != nil {
		return nil, err
	}
	fields := map[string]json.RawMessage{}
	if err := json.Unmarshal(base, &fields); err != nil {
		return nil, err
	}
	if len(c.ID2Label) > 0 {
		id2 := make(map[string]string, len(c.ID2Label))
		for k, v := range c.ID2Label {
			id2[strconv.Itoa(k)] = v
		}
		if fields["id2label"], err = json.Marshal(id2); err != nil {
			return nil, err
		}
		if fields["label2id"], err = json.Marshal(c.Label2ID); err != nil {
			return nil, err
		}
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := []byte{'{'}
	for i, k := range keys {
		if i > 0 {
			out = append(out, ',')
		}
		kj, _ := json.Marshal(k)
		out = append(append(append(out, kj...), ':'), fields[k]...)
	}
	return append(out, '}'), nil
}

// WriteFile writes c as an indented HuggingFace config.json, through a
// temporary file renamed into place.
func (c *Config) WriteFile(path string) error {
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("vilt: encoding config for %s: %w", path, err)
	}
	if err := safefile.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("vilt: writing config: %w", err)
	}
	return nil
}
