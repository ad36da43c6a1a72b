package vilt

import (
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // GoMLX graph-building idiom.
)

// WPAWeight is the weight ViLT's pre-training gives word-patch alignment in
// its loss (masked LM + image-text matching + 0.1 x word-patch alignment).
const WPAWeight = 0.1

// IPOT's settings in ViLT's word-patch alignment: the proximal step β and
// the number of outer iterations (one inner Sinkhorn step each).
const (
	ipotBeta       = 0.5
	ipotIterations = 50
)

// WordPatchAlignment is ViLT's word-patch alignment objective (paper, section
// 3.2): the optimal-transport distance between a pair's words and its
// patches, computed on the encoder's last hidden states, made small for
// matched pairs and large for mismatched ones. out is [Forward]'s output on
// inputs; matched is int [B], 1 for a matched pair and 0 for a mismatched
// one. The words are the text tokens without [CLS] and the final [SEP], the
// patches the image tokens without the image's own [CLS] token (padding left
// out on both sides); the cost of moving word i to patch j is 1 - cos(word
// i, patch j). The transport plan is found by IPOT (Xie et al., "A fast
// proximal point method for computing exact Wasserstein distance", 2019)
// with β = 0.5 and 50 iterations and, like ViLT, no gradient flows through
// the plan, only through the costs. The result is the scalar
// (Σ distance of matched pairs - Σ distance of mismatched pairs) / B.
func WordPatchAlignment(in Inputs, out Outputs, matched *Node) *Node {
	cost, wordMask, patchMask, joint := alignmentCost(in, out)
	plan := ipot(StopGradient(cost), wordMask, patchMask, joint) // no gradient through the plan
	distance := ReduceSum(Mul(cost, plan), 1, 2)                 // [B]

	sign := Sub(MulScalar(ConvertDType(matched, dtypes.Float32), 2), OnesLike(distance)) // +1 matched, -1 not
	return DivScalar(ReduceAllSum(Mul(sign, distance)), float64(distance.Shape().Dim(0)))
}

// alignmentCost returns the cost [B, L, P] of moving word i to patch j,
// 1 - cos(word i, patch j) on the last hidden states, 0 where either is
// left out, with the masks of the words and patches kept and joint, their
// product [B, L, P].
func alignmentCost(in Inputs, out Outputs) (cost, wordMask, patchMask, joint *Node) {
	l := in.InputIDs.Shape().Dim(1)
	hidden := out.LastHiddenState
	t := hidden.Shape().Dim(1)
	words := L2Normalize(Slice(hidden, AxisRange(), AxisRange(0, l)), -1)
	patches := L2Normalize(Slice(hidden, AxisRange(), AxisRange(l, t)), -1)
	wordMask, patchMask = alignmentMasks(in, out, l, t)
	joint = Mul(InsertAxes(wordMask, -1), InsertAxes(patchMask, 1))
	cost = Mul(OneMinus(Einsum("bid,bjd->bij", words, patches)), joint)
	return cost, wordMask, patchMask, joint
}

// alignmentMasks returns float32 masks of the words ([B, L]: real text
// tokens but [CLS] and each text's last real token, its [SEP]) and of the
// patches ([B, T-L]: real image tokens but the image's [CLS] token).
func alignmentMasks(in Inputs, out Outputs, l, t int) (words, patches *Node) {
	g := in.InputIDs.Graph()
	text := ConvertDType(in.AttentionMask, dtypes.Float32) // [B, L]
	positions := Iota(g, text.Shape(), 1)
	length := ReduceSum(text, 1) // [B]
	notFirst := ConvertDType(GreaterThan(positions, ZerosLike(positions)), dtypes.Float32)
	notLast := ConvertDType(LessThan(positions, AddScalar(InsertAxes(length, -1), -1)), dtypes.Float32)
	words = Mul(Mul(text, notFirst), notLast)

	image := ConvertDType(Slice(out.EmbeddingsMask, AxisRange(), AxisRange(l, t)), dtypes.Float32)
	imagePositions := Iota(g, image.Shape(), 1)
	patches = Mul(image, ConvertDType(GreaterThan(imagePositions, ZerosLike(imagePositions)), dtypes.Float32))
	return words, patches
}

// ipot returns the transport plan [B, L, P] between the kept words and
// patches (uniform marginals over each), for cost [B, L, P]: proximal point
// iterations T <- diag(a) (exp(-C/β) ⊙ T) diag(b), with a and b the Sinkhorn
// scalings that restore the marginals.
func ipot(cost, wordMask, patchMask, joint *Node) *Node {
	nWords := MaxScalar(ReduceSum(wordMask, 1), 1)    // [B]
	nPatches := MaxScalar(ReduceSum(patchMask, 1), 1) // [B]
	kernel := Mul(Exp(DivScalar(Neg(cost), ipotBeta)), joint)
	plan := joint
	// Padding gets a huge denominator, so its scaling is ~0.
	wordPad := MulScalar(OneMinus(wordMask), 1e4)
	patchPad := MulScalar(OneMinus(patchMask), 1e4)
	a := Div(wordMask, InsertAxes(nWords, -1)) // [B, L]
	var bScale *Node
	for range ipotIterations {
		q := Mul(kernel, plan)
		// b_j = 1 / (P * Σ_i q_ij a_i), then a_i = 1 / (L * Σ_j q_ij b_j).
		bScale = Reciprocal(Add(Mul(InsertAxes(nPatches, -1), Einsum("bij,bi->bj", q, a)), patchPad))
		a = Reciprocal(Add(Mul(InsertAxes(nWords, -1), Einsum("bij,bj->bi", q, bScale)), wordPad))
		plan = Mul(Mul(InsertAxes(a, -1), q), InsertAxes(bScale, 1))
	}
	return Mul(plan, joint)
}
