package testutil

import (
	"math/rand/v2"

	"github.com/gomlx/gomlx/core/tensors"
)

// RandomBatch returns the six ViltForQuestionAnswering inputs of a batch
// for benchmarks, in the model's order: input_ids (uniform over vocab),
// attention_mask (all 1), token_type_ids (all 0), pixel_values (standard
// normal, [batch, 3, height, width]), pixel_mask (all 1) and soft targets
// (uniform in [0, 1), [batch, labels]). The same arguments give the same
// values; they are ready to pass to an executor's Call.
func RandomBatch(batch, textLen, height, width, vocab, labels int) []any {
	r := rand.New(rand.NewPCG(1, 2))
	ids, ones := make([]int32, batch*textLen), make([]int32, batch*textLen)
	for i := range ids {
		ids[i], ones[i] = r.Int32N(int32(vocab)), 1
	}
	pixels := make([]float32, batch*3*height*width)
	for i := range pixels {
		pixels[i] = float32(r.NormFloat64())
	}
	mask := make([]int32, batch*height*width)
	for i := range mask {
		mask[i] = 1
	}
	targets := make([]float32, batch*labels)
	for i := range targets {
		targets[i] = r.Float32()
	}
	return []any{
		tensors.FromFlatDataAndDimensions(ids, batch, textLen),
		tensors.FromFlatDataAndDimensions(ones, batch, textLen),
		tensors.FromFlatDataAndDimensions(make([]int32, batch*textLen), batch, textLen),
		tensors.FromFlatDataAndDimensions(pixels, batch, 3, height, width),
		tensors.FromFlatDataAndDimensions(mask, batch, height, width),
		tensors.FromFlatDataAndDimensions(targets, batch, labels),
	}
}
