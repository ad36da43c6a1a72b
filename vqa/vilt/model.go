package vilt

import (
	"math"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // GoMLX graph-building idiom.
	"github.com/gomlx/gomlx/ml/layers/activation"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/nn"
	"github.com/gomlx/gomlx/support/exceptions"
)

// Inputs are the graph inputs of a batch, as produced by the processor.
type Inputs struct {
	// InputIDs, AttentionMask and TokenTypeIDs are int32 [B, L].
	InputIDs, AttentionMask, TokenTypeIDs *Node
	// PixelValues is float32 [B, NumChannels, H, W] (NCHW), H and W multiples
	// of PatchSize.
	PixelValues *Node
	// PixelMask is int32 [B, H, W]: 1 on the image, 0 on padding.
	PixelMask *Node
}

// Outputs of [ForQuestionAnswering].
//
// The token sequence has T = L + 1 + (H/P)*(W/P) positions: the L text
// tokens, the image CLS token, then every patch of the padded batch grid in
// row-major order (HuggingFace instead keeps only as many patches as the
// example with most valid patches has; masked positions change nothing
// else, see EmbeddingsMask).
type Outputs struct {
	// Logits is float32 [B, NumLabels].
	Logits *Node
	// PoolerOutput is float32 [B, D]: tanh(dense(LastHiddenState[:, 0])).
	PoolerOutput *Node
	// LastHiddenState is float32 [B, T, D], after the final LayerNorm.
	LastHiddenState *Node
	// EmbeddingsMask is int32 [B, T]: 1 for real tokens, 0 for text padding
	// and padded-image patches.
	EmbeddingsMask *Node
	// HiddenStates (if requested) has NumHiddenLayers+1 entries [B, T, D]:
	// the embeddings, then each encoder layer's output (before the final
	// LayerNorm), like HuggingFace's hidden_states.
	HiddenStates []*Node
	// Attentions (if requested) has one [B, heads, T, T] entry per layer:
	// the attention probabilities (exactly 0 at masked keys).
	Attentions []*Node
}

// Options select the optional outputs.
type Options struct {
	HiddenStates, Attentions bool
}

// ForQuestionAnswering builds ViltForQuestionAnswering's forward pass. scope
// is the scope the variables were loaded into (usually the store's root,
// see [LoadWeights]); it must be the scope the executor passes in, or a
// sub-scope of it opened once.
func ForQuestionAnswering(scope *model.Scope, cfg *Config, in Inputs, opt Options) Outputs {
	out := Model(scope.In("vilt"), cfg, in, opt)
	out.Logits = classifier(scope.In("classifier"), cfg, out.PoolerOutput)
	return out
}

// Model is ViltModel (HF key prefix "vilt."): embeddings, encoder, final
// LayerNorm and pooler; Outputs.Logits is left nil.
func Model(scope *model.Scope, cfg *Config, in Inputs, opt Options) Outputs {
	x, mask := embeddings(scope.In("embeddings"), cfg, in)
	var out Outputs
	out.EmbeddingsMask = mask
	x = encoder(scope.In("encoder"), cfg, x, mask, opt, &out)
	ln := scope.In("layernorm")
	out.LastHiddenState = layerNorm(ln, x, cfg.LayerNormEps)
	out.PoolerOutput = pooler(scope.In("pooler"), out.LastHiddenState)
	return out
}

// variable returns the variable name in scope, which must exist with the
// given shape (created by LoadWeights or InitWeights).
func variable(scope *model.Scope, name string, dims ...int) *model.Variable {
	v := scope.GetVariable(name)
	if v == nil {
		exceptions.Panicf("vilt: variable %s/%s does not exist: load or initialise the weights first (LoadWeights / InitWeights)", scope.Scope(), name)
	}
	if want := shapes.Make(dtypes.Float32, dims...); !v.Shape().Equal(want) {
		exceptions.Panicf("vilt: variable %s has shape %s, expected %s", v.Path(), v.Shape(), want)
	}
	return v
}

// param returns the graph value of the variable name in scope.
func param(g *Graph, scope *model.Scope, name string, dims ...int) *Node {
	return variable(scope, name, dims...).NodeValue(g)
}

// linear is torch.nn.Linear, x @ weight^T + bias with weight [out, in],
// optionally followed by an activation (fused by backends that can).
func linear(scope *model.Scope, x *Node, in, out int, act ...activation.Type) *Node {
	g := x.Graph()
	w := param(g, scope, "weight", out, in)
	b := param(g, scope, "bias", out)
	return nn.Dense(x, w, b, compute.DenseLayoutOutputsInput, act...)
}

// layerNorm normalises the last axis with the scope's weight and bias.
func layerNorm(scope *model.Scope, x *Node, eps float64) *Node {
	g := x.Graph()
	d := x.Shape().Dim(-1)
	return nn.LayerNorm(x, []int{-1}, eps, param(g, scope, "weight", d), param(g, scope, "bias", d), nil)
}

// embeddings is ViltEmbeddings: text and image embeddings, each plus its
// modality-type embedding, concatenated, with the concatenated mask.
func embeddings(scope *model.Scope, cfg *Config, in Inputs) (x, mask *Node) {
	g := in.InputIDs.Graph()
	text := textEmbeddings(scope.In("text_embeddings"), cfg, in.InputIDs, in.TokenTypeIDs)
	img, imgMask := imageEmbeddings(scope, cfg, in.PixelValues, in.PixelMask)
	modality := param(g, scope.In("token_type_embeddings"), "weight", cfg.ModalityTypeVocabSize, cfg.HiddenSize)
	text = Add(text, Reshape(Slice(modality, AxisElem(0)), 1, 1, cfg.HiddenSize))
	img = Add(img, Reshape(Slice(modality, AxisElem(1)), 1, 1, cfg.HiddenSize))
	x = Concatenate([]*Node{text, img}, 1)
	mask = Concatenate([]*Node{ConvertDType(in.AttentionMask, dtypes.Int32), imgMask}, 1)
	return x, mask
}

// textEmbeddings is ViLT's TextEmbeddings (BERT style):
// LayerNorm(word + token type + position).
func textEmbeddings(scope *model.Scope, cfg *Config, ids, tokenTypes *Node) *Node {
	g := ids.Graph()
	d := cfg.HiddenSize
	seqLen := ids.Shape().Dim(1)
	if seqLen > cfg.MaxPositionEmbeddings {
		exceptions.Panicf("vilt: %d text tokens exceed max_position_embeddings %d", seqLen, cfg.MaxPositionEmbeddings)
	}
	word := param(g, scope.In("word_embeddings"), "weight", cfg.VocabSize, d)
	types := param(g, scope.In("token_type_embeddings"), "weight", cfg.TypeVocabSize, d)
	pos := param(g, scope.In("position_embeddings"), "weight", cfg.MaxPositionEmbeddings, d)
	x := Add(Gather(word, ExpandAxes(ids, -1)), Gather(types, ExpandAxes(tokenTypes, -1)))
	x = Add(x, ExpandAxes(Slice(pos, AxisRange(0, seqLen)), 0))
	return layerNorm(scope.In("LayerNorm"), x, cfg.LayerNormEps)
}

// imageEmbeddings is ViltEmbeddings.visual_embed with every patch of the
// padded batch grid kept: it returns the image tokens [B, 1+Hp*Wp, D]
// (image CLS first, patches row-major; without the modality embedding) and
// their int32 mask [B, 1+Hp*Wp].
func imageEmbeddings(scope *model.Scope, cfg *Config, pixels, pixelMask *Node) (x, mask *Node) {
	g := pixels.Graph()
	d, p, c := cfg.HiddenSize, cfg.PatchSize, cfg.NumChannels
	dims := pixels.Shape().Dimensions
	b, height, width := dims[0], dims[2], dims[3]
	if dims[1] != c || height%p != 0 || width%p != 0 {
		exceptions.Panicf("vilt: pixel_values shape %v: want [B, %d, H, W] with H and W multiples of patch_size %d", dims, c, p)
	}
	hp, wp := height/p, width/p

	// Patch embedding (Conv2d with kernel = stride = P) as one matmul over
	// the patches flattened in the weight's (channel, row, col) order.
	patches := Reshape(pixels, b, c, hp, p, wp, p)
	patches = TransposeAllAxes(patches, 0, 2, 4, 1, 3, 5)
	patches = Reshape(patches, b, hp*wp, c*p*p)
	proj := scope.In("patch_embeddings").In("projection")
	w := Reshape(param(g, proj, "weight", d, c, p, p), d, c*p*p)
	x = nn.Dense(patches, w, param(g, proj, "bias", d), compute.DenseLayoutOutputsInput)

	// Patch mask: nearest-neighbour downsampling = each patch's top-left pixel.
	patchMask := Reshape(ConvertDType(pixelMask, dtypes.Int32), b, hp, p, wp, p)
	patchMask = Reshape(Slice(patchMask, AxisRange(), AxisRange(), AxisElem(0), AxisRange(), AxisElem(0)), b, hp, wp)
	validRows := ReduceSum(Slice(patchMask, AxisRange(), AxisRange(), AxisElem(0)), 1, 2) // [B]
	validCols := ReduceSum(Slice(patchMask, AxisRange(), AxisElem(0), AxisRange()), 1, 2) // [B]

	grid := cfg.PositionGrid()
	posAll := param(g, scope, "position_embeddings", 1, 1+grid*grid, d)
	pos := positionGrid(Reshape(Slice(posAll, AxisRange(), AxisRange(1, 1+grid*grid)), grid, grid, d), validRows, validCols, hp, wp)
	x = Add(x, Reshape(pos, b, hp*wp, d))

	cls := Add(param(g, scope, "cls_token", 1, 1, d), Slice(posAll, AxisRange(), AxisElem(0)))
	x = Concatenate([]*Node{BroadcastToDims(cls, b, 1, d), x}, 1)
	mask = Concatenate([]*Node{Ones(g, shapes.Make(dtypes.Int32, b, 1)), Reshape(patchMask, b, hp*wp)}, 1)
	return x, mask
}

// positionGrid resizes the [g, g, D] position grid per example to its valid
// rows x cols (bilinear, align_corners=True, like F.interpolate) and
// zero-pads it to [B, hp, wp, D]. The resize is separable, so it is two
// contractions with per-example interpolation matrices.
func positionGrid(grid, validRows, validCols *Node, hp, wp int) *Node {
	rows := alignCornersWeights(validRows, hp, grid.Shape().Dim(0)) // [B, hp, g]
	cols := alignCornersWeights(validCols, wp, grid.Shape().Dim(1)) // [B, wp, g]
	t := Einsum("bip,pqd->biqd", rows, grid)
	return Einsum("bjq,biqd->bijd", cols, t)
}

// alignCornersWeights returns the [B, outMax, in] matrix of 1-D linear
// interpolation weights (align_corners=True) from in source points to
// size[b] output points, with rows >= size[b] zero. It follows PyTorch's
// CPU kernel: scale = (in-1)/(size-1) (0 if size is 1), source = scale*i,
// i0 = min(floor(source), in-1), lambda = clamp(source-i0, 0, 1),
// i1 = i0+1 unless i0 is the last point.
func alignCornersWeights(size *Node, outMax, in int) *Node {
	g := size.Graph()
	b := size.Shape().Dim(0)
	sizeF := ExpandAxes(ConvertDType(size, dtypes.Float32), -1) // [B, 1]
	scale := Where(GreaterThan(sizeF, OnesLike(sizeF)),
		Div(Scalar(g, dtypes.Float32, float32(in-1)), Sub(sizeF, OnesLike(sizeF))),
		ZerosLike(sizeF))
	idx := Iota(g, shapes.Make(dtypes.Float32, b, outMax), 1)
	src := Mul(scale, idx)
	i0 := MinScalar(Floor(src), float32(in-1))
	lambda := ClipScalar(Sub(src, i0), 0, 1)
	i1 := Add(i0, ConvertDType(LessThan(i0, Scalar(g, dtypes.Float32, float32(in-1))), dtypes.Float32))
	valid := ConvertDType(LessThan(idx, sizeF), dtypes.Float32)
	points := Iota(g, shapes.Make(dtypes.Float32, 1, 1, in), 2)
	w0 := Mul(ConvertDType(Equal(points, ExpandAxes(i0, -1)), dtypes.Float32), ExpandAxes(OneMinus(lambda), -1))
	w1 := Mul(ConvertDType(Equal(points, ExpandAxes(i1, -1)), dtypes.Float32), ExpandAxes(lambda, -1))
	return Mul(Add(w0, w1), ExpandAxes(valid, -1))
}

// encoder is ViltEncoder: the layers in order. It appends hidden states and
// attentions to out when opt asks for them.
func encoder(scope *model.Scope, cfg *Config, x, mask *Node, opt Options, out *Outputs) *Node {
	// Additive key mask: (1 - mask) * float32 min, shaped [B, 1, 1, T].
	maskF := ConvertDType(mask, dtypes.Float32)
	addMask := MulScalar(OneMinus(maskF), -math.MaxFloat32)
	addMask = ExpandAxes(addMask, 1, 2)
	layers := scope.In("layer")
	for i := range cfg.NumHiddenLayers {
		if opt.HiddenStates {
			out.HiddenStates = append(out.HiddenStates, x)
		}
		var probs *Node
		x, probs = encoderLayer(layers.In("%d", i), cfg, x, addMask, opt.Attentions)
		if opt.Attentions {
			out.Attentions = append(out.Attentions, probs)
		}
	}
	if opt.HiddenStates {
		out.HiddenStates = append(out.HiddenStates, x)
	}
	return x
}

// encoderLayer is ViltLayer (pre-LN): x + attention(LN(x)), then
// x + MLP(LN(x)). It also returns the attention probabilities when
// wantProbs.
func encoderLayer(scope *model.Scope, cfg *Config, x, addMask *Node, wantProbs bool) (*Node, *Node) {
	attnScope := scope.In("attention")
	h := layerNorm(scope.In("layernorm_before"), x, cfg.LayerNormEps)
	ctx, probs := selfAttention(attnScope.In("attention"), cfg, h, addMask, wantProbs)
	x = Add(linear(attnScope.In("output").In("dense"), ctx, cfg.HiddenSize, cfg.HiddenSize), x)
	h = layerNorm(scope.In("layernorm_after"), x, cfg.LayerNormEps)
	h = intermediate(scope.In("intermediate").In("dense"), cfg, h)
	x = Add(linear(scope.In("output").In("dense"), h, cfg.IntermediateSize, cfg.HiddenSize), x)
	return x, probs
}

// intermediate is ViltIntermediate, GELU(dense(x)). For inference the
// activation is fused into the matmul; when training it is a separate op,
// because the gradient of a fused Dense+GELU is taken through its
// decomposed form, which would compute the matmul a second time.
func intermediate(scope *model.Scope, cfg *Config, x *Node) *Node {
	if scope.IsTraining(x.Graph()) {
		return activation.Gelu(linear(scope, x, cfg.HiddenSize, cfg.IntermediateSize))
	}
	return linear(scope, x, cfg.HiddenSize, cfg.IntermediateSize, activation.TypeGelu)
}

// selfAttention is ViltSelfAttention with the query/key/value projections
// fused into one matmul (their HF-named weights are concatenated in the
// graph, the 1/sqrt(headDim) score scale folded into the query part: exact
// when headDim is a power of 4, like ViLT-B's 64) and a head-major
// [B, heads, T, headDim] layout. It returns the context [B, T, D] and, if
// wantProbs, the probabilities [B, heads, T, T].
func selfAttention(scope *model.Scope, cfg *Config, x, addMask *Node, wantProbs bool) (*Node, *Node) {
	g := x.Graph()
	d, heads, hd := cfg.HiddenSize, cfg.NumAttentionHeads, cfg.HeadDim()
	b, t := x.Shape().Dim(0), x.Shape().Dim(1)
	var ws, bs []*Node
	for _, name := range []string{"query", "key", "value"} {
		s := scope.In("%s", name)
		ws = append(ws, param(g, s, "weight", d, d))
		bs = append(bs, param(g, s, "bias", d))
	}
	scale := 1 / math.Sqrt(float64(hd))
	ws[0], bs[0] = MulScalar(ws[0], scale), MulScalar(bs[0], scale)
	qkv := nn.Dense(x, Concatenate(ws, 0), Concatenate(bs, 0), compute.DenseLayoutOutputsInput) // [B, T, 3D]
	qkv = TransposeAllAxes(Reshape(qkv, b, t, 3, heads, hd), 2, 0, 3, 1, 4)                     // [3, B, H, T, hd]
	q := Reshape(Slice(qkv, AxisElem(0)), b, heads, t, hd)
	k := Reshape(Slice(qkv, AxisElem(1)), b, heads, t, hd)
	v := Reshape(Slice(qkv, AxisElem(2)), b, heads, t, hd)
	scores := DotGeneral(q, []int{3}, []int{0, 1}, k, []int{3}, []int{0, 1}) // [B, H, T, T]
	probs := softmax(scope, Add(scores, addMask))
	ctx := DotGeneral(probs, []int{3}, []int{0, 1}, v, []int{2}, []int{0, 1}) // [B, H, T, hd]
	ctx = Reshape(TransposeAllAxes(ctx, 0, 2, 1, 3), b, t, d)
	if !wantProbs {
		probs = nil
	}
	return ctx, probs
}

// softmax is Softmax over the last axis. When the store is training the
// graph, its gradient is computed from the output, p*(v - sum(v*p)),
// instead of differentiating the decomposed exp/sum/div graph (which makes
// the Go backend recompute every exponential, serially, next to its fused
// softmax).
func softmax(scope *model.Scope, x *Node) *Node {
	p := Softmax(x, -1)
	if !scope.IsTraining(x.Graph()) {
		return p
	}
	p = StopGradient(p)
	withGrad := IdentityWithCustomGradient(x, func(_, v *Node) *Node {
		return Mul(p, Sub(v, ReduceAndKeep(Mul(v, p), ReduceSum, -1)))
	})
	// Value p (x - x is exactly 0 for the finite scores), gradient through withGrad.
	return Add(p, Sub(withGrad, StopGradient(x)))
}

// pooler is ViltPooler: tanh(dense(x[:, 0])).
func pooler(scope *model.Scope, x *Node) *Node {
	d := x.Shape().Dim(-1)
	first := Reshape(Slice(x, AxisRange(), AxisElem(0)), x.Shape().Dim(0), d)
	return Tanh(linear(scope.In("dense"), first, d, d))
}

// classifier is the VQA head: Linear(D, 2D) -> LayerNorm(eps 1e-5) -> GELU
// -> Linear(2D, num_labels), HF keys classifier.{0,1,3}.
func classifier(scope *model.Scope, cfg *Config, pooled *Node) *Node {
	d := cfg.HiddenSize
	h := linear(scope.In("0"), pooled, d, 2*d)
	h = layerNorm(scope.In("1"), h, 1e-5)
	h = activation.Gelu(h)
	return linear(scope.In("3"), h, 2*d, cfg.NumLabels())
}
