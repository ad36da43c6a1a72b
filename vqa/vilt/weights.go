package vilt

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// PositionIDsKey is the HF buffer vilt.embeddings.text_embeddings.position_ids
// ([1, max_position_embeddings] int64 0, 1, ...): exported by [StateDict],
// accepted (and checked) by [LoadWeights], never a variable.
const PositionIDsKey = "vilt.embeddings.text_embeddings.position_ids"

// Init says how HF's _init_weights initialises a parameter.
type Init int

const (
	// InitNormal draws N(0, initializer_range^2) (Linear, Conv2d, Embedding weights).
	InitNormal Init = iota
	// InitNormalPad is InitNormal with row 0 (padding_idx) zeroed.
	InitNormalPad
	// InitZeros is for biases, cls_token and position_embeddings.
	InitZeros
	// InitOnes is for LayerNorm weights.
	InitOnes
)

// Param describes one model parameter: its HF state_dict key, its shape
// (the same in GoMLX and PyTorch) and its initialisation.
type Param struct {
	Key  string
	Dims []int
	Init Init
}

// Params is the weight table of cfg's model (the encoder, then the head of
// [Config.Head], then itm_score when ITMHead is set), in HF module order;
// a config without a head gives the bare encoder (ViltModel). It is the one
// place parameter shapes are stated: the graph reads them from the
// variables. Each key maps to the store variable at [VariablePath]: the key
// with "." replaced by "/" (e.g. "/vilt/encoder/layer/0/attention/
// attention/query/weight"); shapes are HF's (Linear weights [out, in], the
// patch Conv2d weight [D, C, P, P]), so loading and exporting copy tensors
// unchanged.
func Params(cfg *Config) []Param {
	d, i := cfg.HiddenSize, cfg.IntermediateSize
	g := cfg.PositionGrid()
	var ps []Param
	add := func(key string, init Init, dims ...int) { ps = append(ps, Param{key, dims, init}) }
	linear := func(prefix string, out, in int) {
		add(prefix+".weight", InitNormal, out, in)
		add(prefix+".bias", InitZeros, out)
	}
	norm := func(prefix string, n int) {
		add(prefix+".weight", InitOnes, n)
		add(prefix+".bias", InitZeros, n)
	}
	e := "vilt.embeddings."
	add(e+"text_embeddings.word_embeddings.weight", InitNormalPad, cfg.VocabSize, d)
	add(e+"text_embeddings.position_embeddings.weight", InitNormal, cfg.MaxPositionEmbeddings, d)
	add(e+"text_embeddings.token_type_embeddings.weight", InitNormal, cfg.TypeVocabSize, d)
	norm(e+"text_embeddings.LayerNorm", d)
	add(e+"cls_token", InitZeros, 1, 1, d)
	add(e+"position_embeddings", InitZeros, 1, 1+g*g, d)
	add(e+"patch_embeddings.projection.weight", InitNormal, d, cfg.NumChannels, cfg.PatchSize, cfg.PatchSize)
	add(e+"patch_embeddings.projection.bias", InitZeros, d)
	add(e+"token_type_embeddings.weight", InitNormal, cfg.ModalityTypeVocabSize, d)
	for l := range cfg.NumHiddenLayers {
		p := fmt.Sprintf("vilt.encoder.layer.%d.", l)
		linear(p+"attention.attention.query", d, d)
		linear(p+"attention.attention.key", d, d)
		linear(p+"attention.attention.value", d, d)
		linear(p+"attention.output.dense", d, d)
		linear(p+"intermediate.dense", i, d)
		linear(p+"output.dense", d, i)
		norm(p+"layernorm_before", d)
		norm(p+"layernorm_after", d)
	}
	norm("vilt.layernorm", d)
	if cfg.hasPooler() {
		linear("vilt.pooler.dense", d, d)
	}
	head, _ := cfg.Head()
	switch head {
	case QuestionAnswering:
		linear("classifier.0", 2*d, d)
		norm("classifier.1", 2*d)
		linear("classifier.3", cfg.NumLabels(), 2*d)
	case MaskedLM:
		add(mlmBiasKey, InitZeros, cfg.VocabSize)
		linear("mlm_score.transform.dense", d, d)
		norm("mlm_score.transform.LayerNorm", d)
		add("mlm_score.decoder.weight", InitNormal, cfg.VocabSize, d)
	case ImageAndTextRetrieval:
		linear("rank_output", 1, d)
	case ImagesAndTextClassification:
		n := cfg.NumImages * d
		linear("classifier.0", n, n)
		norm("classifier.1", n)
		linear("classifier.3", cfg.NumLabels(), n)
	case TokenClassification:
		linear("classifier", cfg.NumLabels(), d)
	}
	if cfg.ITMHead {
		linear("itm_score.fc", 2, d)
	}
	return ps
}

// mlmBiasKey is the MLM decoder's output bias. HF ties
// mlm_score.decoder.bias to it: its state_dict holds both keys (equal), a
// checkpoint may hold either; [StateDict] writes both.
const (
	mlmBiasKey        = "mlm_score.bias"
	mlmDecoderBiasKey = "mlm_score.decoder.bias"
)

// VariablePath is the store path of the variable holding HF key: "/" + key
// with "." replaced by "/".
func VariablePath(key string) string { return "/" + strings.ReplaceAll(key, ".", "/") }

// Report lists the differences between a checkpoint and the model, like
// transformers' output_loading_info (sorted).
type Report struct {
	// Missing are model keys absent from the checkpoint (head parameters,
	// initialised like HF).
	Missing []string
	// Unexpected are checkpoint keys the model does not use.
	Unexpected []string
}

// LoadWeights creates (or overwrites) the store's variables from ws, a
// state_dict keyed by HF names (e.g. from hfweights.Read); the variables hold
// copies, ws is left untouched. Every parameter must be in ws, except,
// when initHead is set, the head's (keys outside "vilt.", as when building
// a QA model from an MLM checkpoint): those are initialised like HF's
// _init_weights (deterministically, seeded by the key) and reported as
// Missing. A missing parameter otherwise is an error naming every missing
// key. Keys of ws the model does not use are reported as Unexpected. A
// checkpoint of the bare ViltModel (keys without the "vilt." prefix) is
// accepted, like HF's base-model prefix handling. A parameter with the
// wrong shape or dtype is an error naming the key, the expected and the
// found shape.
func LoadWeights(store *model.Store, cfg *Config, ws map[string]*tensors.Tensor, initHead bool) (rep Report, err error) {
	defer recoverAs(&err, "loading weights")
	if err := cfg.Validate(); err != nil {
		return rep, err
	}
	ws = addBasePrefix(ws)
	if _, ok := ws[mlmBiasKey]; !ok && cfg.HasHead(MaskedLM) {
		if t, ok := ws[mlmDecoderBiasKey]; ok {
			ws = maps.Clone(ws)
			ws[mlmBiasKey] = t
		}
	}
	params := Params(cfg)
	var missing []string
	for _, p := range params {
		if _, ok := ws[p.Key]; !ok && (!initHead || !isHeadKey(p.Key)) {
			missing = append(missing, p.Key)
		}
	}
	if len(missing) > 0 {
		return rep, fmt.Errorf("vilt: the checkpoint lacks %d of the model's %d parameters: %s", len(missing), len(params), strings.Join(missing, ", "))
	}
	known := make(map[string]bool, len(params))
	for _, p := range params {
		known[p.Key] = true
		t, ok := ws[p.Key]
		if !ok {
			rep.Missing = append(rep.Missing, p.Key)
			t = initTensor(p, cfg.InitializerRange, 0)
		} else if t.DType() != dtypes.Float32 || !slices.Equal(t.Shape().Dimensions, p.Dims) {
			return Report{}, fmt.Errorf("vilt: weight %q: expected float32 %v, found %s %v", p.Key, p.Dims, strings.ToLower(t.DType().String()), t.Shape().Dimensions)
		} else if t, err = copyFloat32(t, p.Dims); err != nil {
			return Report{}, fmt.Errorf("vilt: weight %q: %w", p.Key, err)
		}
		if err := setVariable(store, p.Key, t); err != nil {
			return Report{}, err
		}
	}
	for k, t := range ws {
		switch {
		case known[k]:
		case k == PositionIDsKey:
			if err := checkPositionIDs(t, cfg); err != nil {
				return Report{}, err
			}
		case k == mlmDecoderBiasKey && known[mlmBiasKey]:
			if !sameValues(t, ws[mlmBiasKey]) {
				return Report{}, fmt.Errorf("vilt: %q differs from %q: HF ties the two, a checkpoint must hold equal values", mlmDecoderBiasKey, mlmBiasKey)
			}
		default:
			rep.Unexpected = append(rep.Unexpected, k)
		}
	}
	slices.Sort(rep.Missing)
	slices.Sort(rep.Unexpected)
	return rep, nil
}

// sameValues reports whether two tensors have the same shape, dtype and
// bytes.
func sameValues(a, b *tensors.Tensor) bool {
	if !a.Shape().Equal(b.Shape()) {
		return false
	}
	same := false
	err := a.ConstBytes(func(x []byte) {
		if err := b.ConstBytes(func(y []byte) { same = bytes.Equal(x, y) }); err != nil {
			same = false
		}
	})
	return err == nil && same
}

// InitWeights creates every variable with HF's random initialisation,
// deterministically from seed (for training from scratch and benchmarks).
func InitWeights(store *model.Store, cfg *Config, seed uint64) (err error) {
	defer recoverAs(&err, "initialising weights")
	if err := cfg.Validate(); err != nil {
		return err
	}
	for _, p := range Params(cfg) {
		if err := setVariable(store, p.Key, initTensor(p, cfg.InitializerRange, seed)); err != nil {
			return err
		}
	}
	return nil
}

// StateDict exports the store's ViLT variables with HF names and shapes,
// plus the position_ids buffer (and, for MaskedLM, the tied
// mlm_score.decoder.bias), ready for hfweights.WriteSafetensors: the result
// loads in transformers' class of cfg's head. The tensors are copies.
func StateDict(store *model.Store, cfg *Config) (sd map[string]*tensors.Tensor, err error) {
	defer recoverAs(&err, "exporting weights")
	out := make(map[string]*tensors.Tensor)
	for _, p := range Params(cfg) {
		v := store.GetVariable(VariablePath(p.Key))
		if v == nil {
			return nil, fmt.Errorf("vilt: exporting %q: no variable %s in the store", p.Key, VariablePath(p.Key))
		}
		if !slices.Equal(v.Shape().Dimensions, p.Dims) {
			return nil, fmt.Errorf("vilt: exporting %q: variable has shape %v, expected %v", p.Key, v.Shape().Dimensions, p.Dims)
		}
		t, err := v.Value()
		if err != nil {
			return nil, fmt.Errorf("vilt: exporting %q: %w", p.Key, err)
		}
		if out[p.Key], err = copyFloat32(t, p.Dims); err != nil {
			return nil, fmt.Errorf("vilt: exporting %q: %w", p.Key, err)
		}
	}
	ids := make([]int64, cfg.MaxPositionEmbeddings)
	for i := range ids {
		ids[i] = int64(i)
	}
	out[PositionIDsKey] = tensors.FromFlatDataAndDimensions(ids, 1, len(ids))
	if b, ok := out[mlmBiasKey]; ok {
		if out[mlmDecoderBiasKey], err = copyFloat32(b, b.Shape().Dimensions); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// recoverAs turns a panic (GoMLX's store and tensors panic on misuse) into
// an error returned through err.
func recoverAs(err *error, what string) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("vilt: %s: %v", what, r)
	}
}

// copyFloat32 returns a host copy of the float32 tensor t: the store's
// variables never alias the caller's tensors (executors donate variable
// buffers when they update them).
func copyFloat32(t *tensors.Tensor, dims []int) (*tensors.Tensor, error) {
	data, err := tensors.CopyFlatData[float32](t)
	if err != nil {
		return nil, err
	}
	return tensors.FromFlatDataAndDimensions(data, dims...), nil
}

// addBasePrefix prefixes every key with "vilt." when ws is a bare ViltModel
// state_dict (no key starts with "vilt." and some start with "embeddings.").
func addBasePrefix(ws map[string]*tensors.Tensor) map[string]*tensors.Tensor {
	base := false
	for k := range ws {
		if strings.HasPrefix(k, "vilt.") {
			return ws
		}
		base = base || strings.HasPrefix(k, "embeddings.")
	}
	if !base {
		return ws
	}
	out := make(map[string]*tensors.Tensor, len(ws))
	for k, t := range ws {
		out["vilt."+k] = t
	}
	return out
}

// checkPositionIDs verifies the position_ids buffer is 0, 1, ... .
func checkPositionIDs(t *tensors.Tensor, cfg *Config) error {
	if !slices.Equal(t.Shape().Dimensions, []int{1, cfg.MaxPositionEmbeddings}) || !t.DType().IsInt() {
		return fmt.Errorf("vilt: buffer %q: expected integer [1 %d], found %s %v", PositionIDsKey, cfg.MaxPositionEmbeddings, t.DType(), t.Shape().Dimensions)
	}
	var err error
	t.MustConstFlatData(func(flat any) {
		for i := range cfg.MaxPositionEmbeddings {
			var v int64
			switch f := flat.(type) {
			case []int64:
				v = f[i]
			case []int32:
				v = int64(f[i])
			default:
				err = fmt.Errorf("vilt: buffer %q: unsupported dtype %s", PositionIDsKey, t.DType())
				return
			}
			if v != int64(i) {
				err = fmt.Errorf("vilt: buffer %q: entry %d is %d, expected %d (custom position ids are not supported)", PositionIDsKey, i, v, i)
				return
			}
		}
	})
	return err
}

// setVariable stores t (a float32 tensor with the parameter's shape) in the
// variable for key, creating it if needed.
func setVariable(store *model.Store, key string, t *tensors.Tensor) error {
	path := VariablePath(key)
	if v := store.GetVariable(path); v != nil {
		if !v.Shape().Equal(t.Shape()) {
			return fmt.Errorf("vilt: weight %q: store variable has shape %s, checkpoint has %s", key, v.Shape(), t.Shape())
		}
		if err := v.SetValue(t); err != nil {
			return fmt.Errorf("vilt: setting %q: %w", key, err)
		}
		return nil
	}
	if _, err := store.CreateVariable(path, t); err != nil {
		return fmt.Errorf("vilt: creating variable for %q: %w", key, err)
	}
	return nil
}

// initTensor draws p's initial value like HF's _init_weights with a
// generator seeded by (seed, key), so the result does not depend on the
// order parameters are initialised in.
func initTensor(p Param, std float64, seed uint64) *tensors.Tensor {
	n := 1
	for _, d := range p.Dims {
		n *= d
	}
	data := make([]float32, n)
	switch p.Init {
	case InitOnes:
		for i := range data {
			data[i] = 1
		}
	case InitNormal, InitNormalPad:
		h := fnv.New64a()
		h.Write([]byte(p.Key))
		rng := rand.New(rand.NewPCG(seed, h.Sum64()))
		for i := range data {
			data[i] = float32(rng.NormFloat64() * std)
		}
		if p.Init == InitNormalPad {
			clear(data[:p.Dims[len(p.Dims)-1]])
		}
	}
	return tensors.FromFlatDataAndDimensions(data, p.Dims...)
}
