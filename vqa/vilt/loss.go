package vilt

import (
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // GoMLX graph-building idiom.
	"github.com/gomlx/gomlx/ml/train/optimizer"
)

// Loss is the ViltForQuestionAnswering loss: binary cross-entropy with
// logits against the soft VQA scores, averaged over B*num_labels and
// multiplied by num_labels (HF's `bce_with_logits(...) * labels.shape[1]`).
// logits and labels are float32 [B, num_labels]; the result is a scalar.
func Loss(logits, labels *Node) *Node {
	// Stable form: max(x, 0) - x*y + log(1 + exp(-|x|)).
	perLabel := Add(Sub(Max(logits, ZerosLike(logits)), Mul(logits, labels)), Log1p(Exp(Neg(Abs(logits)))))
	return MulScalar(ReduceAllMean(perLabel), float64(logits.Shape().Dim(-1)))
}

// AdamW returns GoMLX's Adam configured as torch.optim.AdamW with its
// defaults: betas (0.9, 0.999), eps 1e-8, decoupled weight decay 0.01 on
// every trainable variable, with learning rate lr. GoMLX's update
// p - lr*(m̂/(sqrt(v̂)+eps) + wd*p) equals torch's p*(1-lr*wd) -
// lr*m̂/(sqrt(v̂)+eps) (checked against the fixtures' 2-step deltas).
func AdamW(lr float64) optimizer.Interface {
	return optimizer.Adam().LearningRate(lr).Betas(0.9, 0.999).Epsilon(1e-8).WeightDecay(0.01).Done()
}

// bucketStep is the granularity of [BucketSize].
const bucketStep = 128

// BucketSize rounds a batch's padded image size up to a multiple of 128
// pixels on each side, so a run compiles a handful of graphs (for
// 384-shorter-edge images: heights and widths of 384, 512 or 640) instead
// of one per image size. It is a multiple of every power-of-two patch size
// up to 128.
func BucketSize(h, w int) (int, int) {
	up := func(x int) int { return max(1, (x+bucketStep-1)/bucketStep) * bucketStep }
	return up(h), up(w)
}
