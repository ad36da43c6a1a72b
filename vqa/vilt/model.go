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
	// of PatchSize; [B, NumImages, NumChannels, H, W] for
	// ImagesAndTextClassification.
	PixelValues *Node
	// PixelMask is int32 [B, H, W] ([B, NumImages, H, W]): 1 on the image, 0
	// on padding.
	PixelMask *Node
}

// NewInputs returns the Inputs of graph inputs given in the processor's
// order: input_ids, attention_mask, token_type_ids, pixel_values,
// pixel_mask (further entries, such as labels, are ignored).
func NewInputs(ins []*Node) Inputs {
	if len(ins) < 5 {
		exceptions.Panicf("vilt: %d graph inputs, want at least 5 (input_ids, attention_mask, token_type_ids, pixel_values, pixel_mask)", len(ins))
	}
	return Inputs{InputIDs: ins[0], AttentionMask: ins[1], TokenTypeIDs: ins[2], PixelValues: ins[3], PixelMask: ins[4]}
}

// Outputs of [Forward] and [Encoder].
//
// The token sequence has T = L + 1 + (H/P)*(W/P) positions: the L text
// tokens, the image CLS token, then every patch of the padded batch grid in
// row-major order (HuggingFace instead keeps only as many patches as the
// example with most valid patches has; masked positions change nothing
// else, see EmbeddingsMask).
type Outputs struct {
	// Logits are the head's outputs: [B, num_labels] (QuestionAnswering,
	// ImagesAndTextClassification), [B, L, vocab_size] (MaskedLM), [B, 1]
	// (ImageAndTextRetrieval), [B, L, num_labels] (TokenClassification);
	// nil from [Encoder].
	Logits *Node
	// ITMLogits is [B, 2], the image-text matching head's (not matched,
	// matched) logits when the config has ITMHead, else nil.
	ITMLogits *Node
	// PoolerOutput is float32 [B, D]: tanh(dense(LastHiddenState[:, 0]))
	// ([B, NumImages*D], the images' pooled outputs concatenated, for
	// ImagesAndTextClassification).
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
	// Images holds, for ImagesAndTextClassification, the encoder outputs of
	// each image (the fields above other than Logits and PoolerOutput are
	// then unset).
	Images []Outputs
}

// Options select the optional outputs.
type Options struct {
	HiddenStates, Attentions bool
	// MLMPositions, when set (int32 [B, K]), restricts the MaskedLM head to
	// these text positions: Logits is then [B, K, vocab_size], the scores
	// at the masked tokens only. Training needs no more, and the vocabulary
	// projection of every position is most of a small model's cost.
	MLMPositions *Node
}

// Forward builds the forward pass of cfg's head (see [Head]): the encoder
// under HF key prefix "vilt.", then the head. scope is the scope the
// variables were loaded into (usually the store's root, see
// [LoadWeights]); it must be the scope the executor passes in, or a
// sub-scope of it opened once. When the store marks the graph as training
// (Store.SetTraining), the attention softmax and the MLP activation build
// graphs whose gradients are cheaper.
func Forward(scope *model.Scope, cfg *Config, in Inputs, opt Options) Outputs {
	head, err := cfg.Head()
	if err != nil {
		panic(err)
	}
	checkVariables(scope, cfg)
	if head == ImagesAndTextClassification {
		return imagesAndTextClassification(scope, cfg, in, opt)
	}
	out := Encoder(scope.In("vilt"), cfg, in, 1, opt)
	textLen := in.InputIDs.Shape().Dim(1)
	switch head {
	case QuestionAnswering:
		out.Logits = classifier(scope.In("classifier"), out.PoolerOutput)
	case MaskedLM:
		text := textTokens(out.LastHiddenState, textLen)
		if opt.MLMPositions != nil {
			text = gatherPositions(text, opt.MLMPositions)
		}
		out.Logits = mlmScore(scope.In("mlm_score"), cfg, text)
	case ImageAndTextRetrieval:
		out.Logits = linear(scope.In("rank_output"), out.PoolerOutput)
	case TokenClassification:
		out.Logits = linear(scope.In("classifier"), textTokens(out.LastHiddenState, textLen))
	}
	if cfg.ITMHead {
		out.ITMLogits = linear(scope.In("itm_score").In("fc"), out.PoolerOutput)
	}
	return out
}

// Encoder is ViltModel (HF key prefix "vilt."): embeddings, encoder layers,
// final LayerNorm and pooler (none for TokenClassification, as HF's
// add_pooling_layer=False); Outputs.Logits is left nil. The image tokens
// get modality type imageType (HF's image_token_type_idx: 1, or i+1 for
// image i of NLVR2).
func Encoder(scope *model.Scope, cfg *Config, in Inputs, imageType int, opt Options) Outputs {
	x, mask := embeddings(scope.In("embeddings"), cfg, in, imageType)
	var out Outputs
	out.EmbeddingsMask = mask
	x = encoder(scope.In("encoder"), cfg, x, mask, opt, &out)
	out.LastHiddenState = layerNorm(scope.In("layernorm"), x, cfg.LayerNormEps)
	if cfg.hasPooler() {
		out.PoolerOutput = pooler(scope.In("pooler"), out.LastHiddenState)
	}
	return out
}

// checkVariables panics, naming the first offender, unless every parameter
// of cfg's model exists in scope's store with the shape [Params] gives.
func checkVariables(scope *model.Scope, cfg *Config) {
	for _, p := range Params(cfg) {
		v := scope.Store().GetVariable(model.JoinPath(scope.Scope(), VariablePath(p.Key)))
		if v == nil {
			exceptions.Panicf("vilt: variable for %q does not exist under %s: load or initialise the weights first (LoadWeights / InitWeights)", p.Key, scope.Scope())
		}
		if want := shapes.Make(dtypes.Float32, p.Dims...); !v.Shape().Equal(want) {
			exceptions.Panicf("vilt: variable %s has shape %s, the config wants %s", v.Path(), v.Shape(), want)
		}
	}
}

// param returns the graph value of the variable name in scope (shapes are
// checked once per graph by checkVariables).
func param(g *Graph, scope *model.Scope, name string) *Node {
	v := scope.GetVariable(name)
	if v == nil {
		exceptions.Panicf("vilt: variable %s/%s does not exist: load or initialise the weights first (LoadWeights / InitWeights)", scope.Scope(), name)
	}
	return v.NodeValue(g)
}

// linear is torch.nn.Linear, x @ weight^T + bias with weight [out, in],
// optionally followed by an activation (fused by backends that can).
func linear(scope *model.Scope, x *Node, act ...activation.Type) *Node {
	g := x.Graph()
	return nn.Dense(x, param(g, scope, "weight"), param(g, scope, "bias"), compute.DenseLayoutOutputsInput, act...)
}

// layerNorm normalises the last axis with the scope's weight and bias.
func layerNorm(scope *model.Scope, x *Node, eps float64) *Node {
	g := x.Graph()
	return nn.LayerNorm(x, []int{-1}, eps, param(g, scope, "weight"), param(g, scope, "bias"), nil)
}

// embeddings is ViltEmbeddings: text and image embeddings, each plus its
// modality-type embedding (0 for text, imageType for the image),
// concatenated, with the concatenated mask.
func embeddings(scope *model.Scope, cfg *Config, in Inputs, imageType int) (x, mask *Node) {
	g := in.InputIDs.Graph()
	text := textEmbeddings(scope.In("text_embeddings"), cfg, in.InputIDs, in.TokenTypeIDs)
	img, imgMask := imageEmbeddings(scope, cfg, in.PixelValues, in.PixelMask)
	if imageType < 1 || imageType >= cfg.ModalityTypeVocabSize {
		exceptions.Panicf("vilt: image modality type %d outside [1, modality_type_vocab_size %d)", imageType, cfg.ModalityTypeVocabSize)
	}
	modality := param(g, scope.In("token_type_embeddings"), "weight")
	text = Add(text, Reshape(Slice(modality, AxisElem(0)), 1, 1, cfg.HiddenSize))
	img = Add(img, Reshape(Slice(modality, AxisElem(imageType)), 1, 1, cfg.HiddenSize))
	x = Concatenate([]*Node{text, img}, 1)
	mask = Concatenate([]*Node{ConvertDType(in.AttentionMask, dtypes.Int32), imgMask}, 1)
	return x, mask
}

// textEmbeddings is ViLT's TextEmbeddings (BERT style):
// LayerNorm(word + token type + position).
func textEmbeddings(scope *model.Scope, cfg *Config, ids, tokenTypes *Node) *Node {
	g := ids.Graph()
	seqLen := ids.Shape().Dim(1)
	if seqLen > cfg.MaxPositionEmbeddings {
		exceptions.Panicf("vilt: %d text tokens exceed max_position_embeddings %d", seqLen, cfg.MaxPositionEmbeddings)
	}
	word := param(g, scope.In("word_embeddings"), "weight")
	types := param(g, scope.In("token_type_embeddings"), "weight")
	pos := param(g, scope.In("position_embeddings"), "weight")
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
	w := Reshape(param(g, proj, "weight"), d, c*p*p)
	x = nn.Dense(patches, w, param(g, proj, "bias"), compute.DenseLayoutOutputsInput)

	// Patch mask: nearest-neighbour downsampling = each patch's top-left pixel.
	patchMask := Reshape(ConvertDType(pixelMask, dtypes.Int32), b, hp, p, wp, p)
	patchMask = Reshape(Slice(patchMask, AxisRange(), AxisRange(), AxisElem(0), AxisRange(), AxisElem(0)), b, hp, wp)
	validRows := ReduceSum(Slice(patchMask, AxisRange(), AxisRange(), AxisElem(0)), 1, 2) // [B]
	validCols := ReduceSum(Slice(patchMask, AxisRange(), AxisElem(0), AxisRange()), 1, 2) // [B]

	grid := cfg.PositionGrid()
	posAll := param(g, scope, "position_embeddings")
	pos := positionGrid(Reshape(Slice(posAll, AxisRange(), AxisRange(1, 1+grid*grid)), grid, grid, d), validRows, validCols, hp, wp)
	x = Add(x, Reshape(pos, b, hp*wp, d))

	cls := Add(param(g, scope, "cls_token"), Slice(posAll, AxisRange(), AxisElem(0)))
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
	x = Add(linear(attnScope.In("output").In("dense"), ctx), x)
	h = layerNorm(scope.In("layernorm_after"), x, cfg.LayerNormEps)
	h = intermediate(scope.In("intermediate").In("dense"), h)
	x = Add(linear(scope.In("output").In("dense"), h), x)
	return x, probs
}

// intermediate is ViltIntermediate, GELU(dense(x)). For inference the
// activation is fused into the matmul; when training it is a separate op,
// because the gradient of a fused Dense+GELU is taken through its
// decomposed form, which would compute the matmul a second time.
func intermediate(scope *model.Scope, x *Node) *Node {
	if scope.IsTraining(x.Graph()) {
		return activation.Gelu(linear(scope, x))
	}
	return linear(scope, x, activation.TypeGelu)
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
		ws = append(ws, param(g, s, "weight"))
		bs = append(bs, param(g, s, "bias"))
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
	first := Reshape(Slice(x, AxisRange(), AxisElem(0)), x.Shape().Dim(0), x.Shape().Dim(-1))
	return Tanh(linear(scope.In("dense"), first))
}

// textTokens returns the first textLen positions (the text) of a [B, T, D]
// sequence.
func textTokens(x *Node, textLen int) *Node {
	return Slice(x, AxisRange(), AxisRange(0, textLen))
}

// gatherPositions returns the rows of x [B, L, D] at positions [B, K]:
// [B, K, D].
func gatherPositions(x, positions *Node) *Node {
	g := x.Graph()
	b, l, d := x.Shape().Dim(0), x.Shape().Dim(1), x.Shape().Dim(2)
	k := positions.Shape().Dim(1)
	rows := MulScalar(Iota(g, shapes.Make(dtypes.Int32, b, k), 0), float64(l))
	flat := Add(rows, ConvertDType(positions, dtypes.Int32))
	return Reshape(Gather(Reshape(x, b*l, d), Reshape(flat, b*k, 1)), b, k, d)
}

// classifier is the classification head of QuestionAnswering (on the pooled
// output, D -> 2D -> num_labels) and ImagesAndTextClassification (on the
// concatenated pooled outputs, nD -> nD -> num_labels): Linear ->
// LayerNorm(eps 1e-5) -> GELU -> Linear, HF keys classifier.{0,1,3}.
func classifier(scope *model.Scope, x *Node) *Node {
	h := linear(scope.In("0"), x)
	h = layerNorm(scope.In("1"), h, 1e-5)
	h = activation.Gelu(h)
	return linear(scope.In("3"), h)
}

// mlmScore is ViltMLMHead on the text tokens [B, L, D]: transform (dense,
// GELU, LayerNorm) then the decoder to the vocabulary, decoder.weight
// [vocab, D] without bias, plus mlm_score.bias; returns [B, L, vocab].
func mlmScore(scope *model.Scope, cfg *Config, text *Node) *Node {
	g := text.Graph()
	tr := scope.In("transform")
	h := activation.Gelu(linear(tr.In("dense"), text))
	h = layerNorm(tr.In("LayerNorm"), h, cfg.LayerNormEps)
	return nn.Dense(h, param(g, scope.In("decoder"), "weight"), param(g, scope, "bias"), compute.DenseLayoutOutputsInput)
}

// imagesAndTextClassification is ViltForImagesAndTextClassification
// (NLVR2): the encoder once per image i, with modality type i+1; the
// pooled outputs concatenated (image 0 first) go through the classifier.
func imagesAndTextClassification(scope *model.Scope, cfg *Config, in Inputs, opt Options) Outputs {
	dims := in.PixelValues.Shape().Dimensions
	if len(dims) != 5 || dims[1] != cfg.NumImages || in.PixelMask.Rank() != 4 {
		exceptions.Panicf("vilt: %s wants pixel_values [B, num_images %d, C, H, W] and pixel_mask [B, num_images, H, W], got %v and %v",
			ImagesAndTextClassification, cfg.NumImages, dims, in.PixelMask.Shape().Dimensions)
	}
	var out Outputs
	pooled := make([]*Node, cfg.NumImages)
	for i := range cfg.NumImages {
		one := in
		one.PixelValues = Squeeze(Slice(in.PixelValues, AxisRange(), AxisElem(i)), 1)
		one.PixelMask = Squeeze(Slice(in.PixelMask, AxisRange(), AxisElem(i)), 1)
		enc := Encoder(scope.At("vilt"), cfg, one, i+1, opt) // the same weights for every image
		out.Images = append(out.Images, enc)
		pooled[i] = enc.PoolerOutput
	}
	out.PoolerOutput = Concatenate(pooled, -1)
	out.Logits = classifier(scope.In("classifier"), out.PoolerOutput)
	return out
}
