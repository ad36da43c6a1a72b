package workbook

import (
	"fmt"

	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // GoMLX graph-building idiom.
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/vilt-go/workbook/vqa/processor"
	"github.com/vilt-go/workbook/vqa/vilt"
)

// CLSAttention is what the text [CLS] token, whose final state the VQA
// head reads through the pooler, attends to among the image patches.
type CLSAttention struct {
	// Rows and Cols are the patch grid of the image: Height/PatchSize by
	// Width/PatchSize.
	Rows, Cols int
	// Maps[layer][head] holds the attention probability from the text [CLS]
	// token to each patch, row-major (Rows*Cols values). The rest of the
	// head's attention goes to the text tokens and to the image [CLS] token.
	Maps [][][]float32
	// Logits are the model's answer logits for the example [NumLabels].
	Logits []float32
}

// Mean returns the mean of Maps[layer] over the heads.
func (a CLSAttention) Mean(layer int) []float32 {
	heads := a.Maps[layer]
	out := make([]float32, a.Rows*a.Cols)
	for _, h := range heads {
		for i, v := range h {
			out[i] += v / float32(len(heads))
		}
	}
	return out
}

// AttentionToImage runs the model held in store (configured by cfg) on one
// encoded example and returns the attention of the text [CLS] token to the
// image patches in every layer and head, with the logits.
func AttentionToImage(b compute.Backend, store *model.Store, cfg *vilt.Config, enc processor.Encoding) (att CLSAttention, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("attention maps: %v", r)
		}
	}()
	batch, err := processor.Collate([]processor.Encoding{enc})
	if err != nil {
		return att, fmt.Errorf("attention maps: %w", err)
	}
	p := cfg.PatchSize
	rows, cols := batch.Height/p, batch.Width/p
	seq := batch.SeqLen
	exec, err := model.NewExec(b, store, func(scope *model.Scope, ins []*Node) []*Node {
		out := vilt.Forward(scope, cfg, vilt.NewInputs(ins), vilt.Options{Attentions: true})
		// Tokens: seq text tokens, the image [CLS], then the patches row-major.
		maps := make([]*Node, len(out.Attentions))
		for l, a := range out.Attentions { // [1, heads, T, T]
			maps[l] = Reshape(Slice(a, AxisElem(0), AxisRange(), AxisElem(0), AxisRangeToEnd(seq+1)), cfg.NumAttentionHeads, rows*cols)
		}
		return []*Node{out.Logits, Stack(maps, 0)}
	})
	if err != nil {
		return att, fmt.Errorf("attention maps: %w", err)
	}
	defer exec.Finalize()
	in := batch.Tensors()
	logits, maps, err := exec.Call2(in[0], in[1], in[2], in[3], in[4])
	if err != nil {
		return att, fmt.Errorf("attention maps: %w", err)
	}
	defer logits.FinalizeAll()
	defer maps.FinalizeAll()
	att = CLSAttention{Rows: rows, Cols: cols, Logits: tensors.MustCopyFlatData[float32](logits)}
	flat := tensors.MustCopyFlatData[float32](maps)
	n := rows * cols
	for l := range cfg.NumHiddenLayers {
		heads := make([][]float32, cfg.NumAttentionHeads)
		for h := range heads {
			off := (l*cfg.NumAttentionHeads + h) * n
			heads[h] = flat[off : off+n]
		}
		att.Maps = append(att.Maps, heads)
	}
	return att, nil
}

// Peak returns the patch (row, col) with the largest weight of m, a map of
// a's grid.
func (a CLSAttention) Peak(m []float32) (row, col int) {
	best := 0
	for i, v := range m {
		if v > m[best] {
			best = i
		}
	}
	if a.Cols == 0 {
		return 0, 0
	}
	return best / a.Cols, best % a.Cols
}

// Where names the part of the picture a patch of a's grid lies in, by
// thirds: "top left", "centre", "bottom right", ...
func (a CLSAttention) Where(row, col int) string {
	third := func(i, n int) int { return min(3*i/max(n, 1), 2) }
	v := [...]string{"top", "middle", "bottom"}[third(row, a.Rows)]
	h := [...]string{"left", "centre", "right"}[third(col, a.Cols)]
	switch {
	case v == "middle" && h == "centre":
		return "centre"
	case v == "middle":
		return h
	}
	return v + " " + h
}

// MaxWeight returns the largest weight of the maps: the shared colour scale
// of [HeatmapScaled] for maps shown side by side.
func MaxWeight(maps ...[]float32) float32 {
	top := float32(0)
	for _, m := range maps {
		for _, v := range m {
			top = max(top, v)
		}
	}
	return top
}
