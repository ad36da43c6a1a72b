package vilt

import (
	"fmt"
	"slices"
	"strings"
)

// Head names a ViLT model class of HuggingFace transformers: the encoder
// ([Encoder]) with one task head on top. Its value is the class name, as
// config.json's "architectures" lists it.
type Head string

// The heads of HuggingFace's modeling_vilt.py.
const (
	// QuestionAnswering is VQA: classifier Linear(D, 2D) -> LayerNorm ->
	// GELU -> Linear(2D, num_labels) on the pooled output; soft-score
	// targets, binary cross-entropy ([Loss]).
	QuestionAnswering Head = "ViltForQuestionAnswering"
	// MaskedLM is masked language modelling: mlm_score (transform, then a
	// decoder to the word vocabulary) on the text positions; cross-entropy
	// over the labelled positions ([CrossEntropy]).
	MaskedLM Head = "ViltForMaskedLM"
	// ImageAndTextRetrieval scores an (image, text) pair: rank_output
	// Linear(D, 1) on the pooled output.
	ImageAndTextRetrieval Head = "ViltForImageAndTextRetrieval"
	// ImagesAndTextClassification is NLVR2: the encoder runs once per image
	// (image i with modality type i+1), the pooled outputs are concatenated
	// and classified (Linear(nD, nD) -> LayerNorm -> GELU -> Linear(nD,
	// num_labels)); cross-entropy.
	ImagesAndTextClassification Head = "ViltForImagesAndTextClassification"
	// TokenClassification labels every text token: Linear(D, num_labels) on
	// the text positions; cross-entropy.
	TokenClassification Head = "ViltForTokenClassification"
)

// Heads lists every head, in the order of the documentation.
func Heads() []Head {
	return []Head{QuestionAnswering, MaskedLM, ImageAndTextRetrieval, ImagesAndTextClassification, TokenClassification}
}

// ParseHead returns the head named by an HF class name.
func ParseHead(name string) (Head, error) {
	for _, h := range Heads() {
		if string(h) == name {
			return h, nil
		}
	}
	names := make([]string, 0, len(Heads()))
	for _, h := range Heads() {
		names = append(names, string(h))
	}
	return "", fmt.Errorf("vilt: unknown ViLT class %q (want one of %s)", name, strings.Join(names, ", "))
}

// Head returns the model's head, the first entry of "architectures" that
// names one (HF's AutoModel picks the class the same way). A config
// without architectures, like that of a bare ViltModel, is an error.
func (c *Config) Head() (Head, error) {
	for _, a := range c.Architectures {
		if h, err := ParseHead(a); err == nil {
			return h, nil
		}
	}
	if len(c.Architectures) == 0 {
		return "", fmt.Errorf("vilt config: no \"architectures\" entry names the head (want one of the ViltFor... classes)")
	}
	return "", fmt.Errorf("vilt config: architectures %q name no ViLT head", c.Architectures)
}

// SetHead makes h the model's head (architectures = [h]) and adapts the
// fields the head needs: NLVR2 uses num_images 2 and a modality type per
// image.
func (c *Config) SetHead(h Head) {
	c.Architectures = []string{string(h)}
	if h == ImagesAndTextClassification {
		if c.NumImages < 1 {
			c.NumImages = 2
		}
		c.ModalityTypeVocabSize = max(c.ModalityTypeVocabSize, c.NumImages+1)
	}
}

// HasHead reports whether h is the model's head.
func (c *Config) HasHead(h Head) bool {
	got, err := c.Head()
	return err == nil && got == h
}

// NumOutputs is the size of the last axis of the head's logits: the word
// vocabulary for MaskedLM, 1 for retrieval, else the number of labels.
func (c *Config) NumOutputs() int {
	h, _ := c.Head()
	switch h {
	case MaskedLM:
		return c.VocabSize
	case ImageAndTextRetrieval:
		return 1
	}
	return c.NumLabels()
}

// isHeadKey reports whether an HF key belongs to a head (anything outside
// the encoder's "vilt." prefix).
func isHeadKey(key string) bool { return !strings.HasPrefix(key, "vilt.") }

// UsesLabels reports whether the head classifies into the config's labels
// (QA, NLVR2, token classification).
func (h Head) UsesLabels() bool {
	return slices.Contains([]Head{QuestionAnswering, ImagesAndTextClassification, TokenClassification}, h)
}

// hasPooler reports whether the encoder has its pooler: every head but
// TokenClassification (HF builds it with add_pooling_layer=False).
func (c *Config) hasPooler() bool { return !c.HasHead(TokenClassification) }
