package train

import (
	"fmt"
	"strings"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // GoMLX graph-building idiom.
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/vilt-go/workbook/vqa/vilt"
)

// Optimizer settings: torch.optim.AdamW's defaults plus the ViLT paper's
// options.
type Optimizer struct {
	// LR is the peak learning rate (walk-through: 5e-5).
	LR float64
	// Beta1, Beta2, Eps and WeightDecay are AdamW's (torch defaults 0.9,
	// 0.999, 1e-8, 0.01).
	Beta1, Beta2, Eps, WeightDecay float64
	// NoDecayBiasNorm exempts every 1-D parameter (biases and LayerNorm
	// weights) from weight decay, as ViLT's recipe does.
	NoDecayBiasNorm bool
	// HeadLRMultiplier scales the learning rate of the head (every
	// parameter outside the "vilt." encoder; ViLT uses 10); 0 or 1 means
	// no scaling.
	HeadLRMultiplier float64
	// Warmup ramps the learning rate linearly from 0 to LR over that many
	// steps (>= 1) or that fraction of all steps (< 1; ViLT: 0.1); with
	// Decay it then falls linearly to 0 at the last step (ViLT's schedule).
	Warmup float64
	Decay  bool
}

// HeadScale is the factor applied to the head's learning rate:
// HeadLRMultiplier, or 1 when it is 0 or negative.
func (o Optimizer) HeadScale() float64 {
	if o.HeadLRMultiplier > 0 {
		return o.HeadLRMultiplier
	}
	return 1
}

// DefaultOptimizer returns torch.optim.AdamW's defaults with the
// walk-through's learning rate 5e-5 and a constant schedule.
func DefaultOptimizer() Optimizer {
	return Optimizer{LR: 5e-5, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01}
}

// WarmupSteps returns the number of warm-up steps of a schedule of total
// steps.
func (o Optimizer) WarmupSteps(total int) int {
	if o.Warmup >= 1 {
		return int(o.Warmup)
	}
	return int(o.Warmup * float64(total))
}

// LRAt returns the learning rate of optimizer step step (0-based) out of
// total.
func (o Optimizer) LRAt(step, total int) float64 {
	warmup := o.WarmupSteps(total)
	if warmup > 0 && step < warmup {
		return o.LR * float64(step+1) / float64(warmup)
	}
	if o.Decay && total > warmup {
		return o.LR * max(0, float64(total-step)/float64(total-warmup))
	}
	return o.LR
}

// Paths of the training state variables, saved with the model in every
// checkpoint.
const (
	stepPath    = "/train/step"  // optimizer steps taken (int64)
	batchesPath = "/train/micro" // batches consumed (int64; the name kept for older checkpoints)
	adamScope   = "/adamw"       // first and second moments: /adamw/m/<param>, /adamw/v/<param>
	accScope    = "/accum"       // accumulated gradients: /accum/<param>
)

// state holds the trainable parameters and the optimizer's variables.
type state struct {
	opt     Optimizer
	params  []*model.Variable
	decay   []float64 // weight decay per parameter
	lrMult  []float64 // learning-rate multiplier per parameter
	m, v    []*model.Variable
	acc     []*model.Variable // nil without gradient accumulation
	accum   int
	step    *model.Variable
	batches *model.Variable
	nParams int
}

// newState creates (zeroed) optimizer variables for every parameter of
// cfg's model in store.
func newState(store *model.Store, cfg *vilt.Config, o Optimizer, accum int) (*state, error) {
	s := &state{opt: o, accum: accum}
	zero := func(path string, like *model.Variable) (*model.Variable, error) {
		v, err := store.CreateVariable(path, tensors.FromShape(like.Shape()))
		if err != nil {
			return nil, fmt.Errorf("train: creating %s: %w", path, err)
		}
		v.Trainable = false
		return v, nil
	}
	for _, p := range vilt.Params(cfg) {
		path := vilt.VariablePath(p.Key)
		pv := store.GetVariable(path)
		if pv == nil {
			return nil, fmt.Errorf("train: parameter %s missing from the store", path)
		}
		s.params = append(s.params, pv)
		s.nParams += pv.Shape().Size()
		wd := o.WeightDecay
		if o.NoDecayBiasNorm && pv.Shape().Rank() <= 1 {
			wd = 0
		}
		s.decay = append(s.decay, wd)
		mult := 1.0
		if !strings.HasPrefix(p.Key, "vilt.") {
			mult = o.HeadScale()
		}
		s.lrMult = append(s.lrMult, mult)
		m, err := zero(adamScope+"/m"+path, pv)
		if err != nil {
			return nil, err
		}
		v, err := zero(adamScope+"/v"+path, pv)
		if err != nil {
			return nil, err
		}
		s.m, s.v = append(s.m, m), append(s.v, v)
		if accum > 1 {
			a, err := zero(accScope+path, pv)
			if err != nil {
				return nil, err
			}
			s.acc = append(s.acc, a)
		}
	}
	var err error
	for _, c := range []struct {
		v    **model.Variable
		path string
	}{{&s.step, stepPath}, {&s.batches, batchesPath}} {
		if *c.v, err = store.CreateVariable(c.path, tensors.FromScalar(int64(0))); err != nil {
			return nil, fmt.Errorf("train: creating %s: %w", c.path, err)
		}
		(*c.v).Trainable = false
	}
	for v := range store.IterVariables() {
		if v.Trainable && !isParam(s.params, v) {
			v.Trainable = false // not a parameter of the model's head
		}
	}
	return s, nil
}

func isParam(ps []*model.Variable, v *model.Variable) bool {
	for _, p := range ps {
		if p == v {
			return true
		}
	}
	return false
}

// counters returns the optimizer steps and batches done.
func (s *state) counters() (step, batches int64, err error) {
	for _, c := range []struct {
		v   *model.Variable
		out *int64
	}{{s.step, &step}, {s.batches, &batches}} {
		t, err := c.v.Value()
		if err != nil {
			return 0, 0, err
		}
		*c.out = tensors.ToScalar[int64](t)
	}
	return step, batches, nil
}

// gradients returns d loss / d param for every parameter.
func (s *state) gradients(loss *Node) []*Node {
	g := loss.Graph()
	xs := make([]*Node, len(s.params))
	for i, p := range s.params {
		xs[i] = p.NodeValue(g)
	}
	return Gradient(loss, xs...)
}

// countBatch adds one to the batch counter.
func (s *state) countBatch(g *Graph) {
	s.batches.SetNodeValue(AddScalar(s.batches.NodeValue(g), 1))
}

// accumulate adds grads/accum to the accumulators.
func (s *state) accumulate(grads []*Node) {
	for i, gr := range grads {
		a := s.acc[i].NodeValue(gr.Graph())
		s.acc[i].SetNodeValue(Add(a, MulScalar(gr, 1/float64(s.accum))))
	}
}

// accumulated returns the accumulated gradients and zeroes the
// accumulators.
func (s *state) accumulated(g *Graph) []*Node {
	grads := make([]*Node, len(s.acc))
	for i, a := range s.acc {
		grads[i] = a.NodeValue(g)
		s.acc[i].SetNodeValue(ZerosLike(grads[i]))
	}
	return grads
}

// update applies one AdamW step with learning rate lr (float32 scalar) as
// torch.optim.AdamW computes it:
//
//	m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g²
//	p = p*(1 - lr*wd) - lr * (m/(1-b1^t)) / (sqrt(v/(1-b2^t)) + eps)
//
// with per-parameter weight decay and learning-rate multiplier. It returns
// the sum over the updated parameters of their largest |p|: NaN or
// infinite when the step broke them.
func (s *state) update(g *Graph, grads []*Node, lr *Node) *Node {
	t := AddScalar(s.step.NodeValue(g), 1)
	s.step.SetNodeValue(t)
	tf := ConvertDType(t, dtypes.Float32)
	o := s.opt
	bc1 := OneMinus(Pow(Scalar(g, dtypes.Float32, o.Beta1), tf))
	bc2 := OneMinus(Pow(Scalar(g, dtypes.Float32, o.Beta2), tf))
	var largest *Node
	for i, p := range s.params {
		gr := grads[i]
		m := Add(MulScalar(s.m[i].NodeValue(g), o.Beta1), MulScalar(gr, 1-o.Beta1))
		v := Add(MulScalar(s.v[i].NodeValue(g), o.Beta2), MulScalar(Square(gr), 1-o.Beta2))
		s.m[i].SetNodeValue(m)
		s.v[i].SetNodeValue(v)
		lrI := lr
		if s.lrMult[i] != 1 {
			lrI = MulScalar(lr, s.lrMult[i])
		}
		value := p.NodeValue(g)
		if s.decay[i] != 0 {
			value = Mul(value, OneMinus(MulScalar(lrI, s.decay[i])))
		}
		denom := AddScalar(Sqrt(Div(v, bc2)), o.Eps)
		updated := Sub(value, Div(Mul(lrI, Div(m, bc1)), denom))
		p.SetNodeValue(updated)
		// Max ignores NaN on some backends: add the maxima instead, so that
		// any NaN or Inf shows.
		check := ReduceAllMax(Abs(updated))
		if largest == nil {
			largest = check
		} else {
			largest = Add(largest, check)
		}
	}
	return largest
}
