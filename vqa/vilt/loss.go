package vilt

import (
	"fmt"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // GoMLX graph-building idiom.
)

// IgnoreIndex marks a label position without a target in [CrossEntropy]
// (PyTorch's ignore_index, HF's -100 for unmasked tokens and padding).
const IgnoreIndex = -100

// Loss is the ViltForQuestionAnswering loss: binary cross-entropy with
// logits against the soft VQA scores, averaged over B*num_labels and
// multiplied by num_labels (HF's `bce_with_logits(...) * labels.shape[1]`).
// logits and labels are float32 [B, num_labels]; the result is a scalar.
func Loss(logits, labels *Node) *Node {
	// Stable form: max(x, 0) - x*y + log(1 + exp(-|x|)).
	perLabel := Add(Sub(Max(logits, ZerosLike(logits)), Mul(logits, labels)), Log1p(Exp(Neg(Abs(logits)))))
	return MulScalar(ReduceAllMean(perLabel), float64(logits.Shape().Dim(-1)))
}

// CrossEntropy is torch's cross_entropy with ignore_index -100 and mean
// reduction: logits are float32 [..., C], labels integer [...] class ids
// (or [IgnoreIndex]); the result is the mean of -log softmax(logits)[label]
// over the labelled positions (0 when none is labelled). It is the loss of
// MaskedLM and TokenClassification (labels [B, L]), of
// ImagesAndTextClassification and of image-text matching (labels [B]).
func CrossEntropy(logits, labels *Node) *Node {
	g := logits.Graph()
	classes := logits.Shape().Dim(-1)
	labels = ConvertDType(labels, dtypes.Int32)
	valid := NotEqual(labels, Scalar(g, dtypes.Int32, IgnoreIndex))
	safe := Where(valid, labels, ZerosLike(labels))
	logp := LogSoftmax(logits, -1)
	// The log-probability of each label, gathered from the flattened
	// [N*C] values (cheaper than a one-hot product over all C classes).
	n := logits.Shape().Size() / classes
	rows := MulScalar(Iota(g, shapes.Make(dtypes.Int32, n), 0), float64(classes))
	flat := Add(rows, Reshape(safe, n))
	picked := Reshape(Gather(Reshape(logp, n*classes, 1), Reshape(flat, n, 1)), safe.Shape().Dimensions...)
	validF := ConvertDType(valid, dtypes.Float32)
	total := ReduceAllSum(Mul(picked, validF))
	count := MaxScalar(ReduceAllSum(validF), 1)
	return Neg(Div(total, count))
}

// HeadLoss is the loss of cfg's head on out (see [Forward]) against labels:
// [Loss] for QuestionAnswering (float32 soft scores [B, num_labels]),
// [CrossEntropy] for the others (integer labels), and an error for
// ImageAndTextRetrieval, which HF trains with no loss of its own.
func HeadLoss(cfg *Config, out Outputs, labels *Node) (*Node, error) {
	head, err := cfg.Head()
	if err != nil {
		return nil, err
	}
	switch head {
	case QuestionAnswering:
		return Loss(out.Logits, labels), nil
	case MaskedLM, TokenClassification, ImagesAndTextClassification:
		return CrossEntropy(out.Logits, labels), nil
	}
	return nil, fmt.Errorf("vilt: %s has no loss (HF defines none; train retrieval with image-text matching)", head)
}
