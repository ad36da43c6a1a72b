package vilt

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train/optimizer"
	"github.com/vilt-go/workbook/vqa/internal/testutil"

	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // GoMLX graph-building idiom.
)

// benchCase mirrors a case of ../shared/bench/torch_vilt_bench.py (same
// names, so `make bench-vilt` can pair them): ViLT-B/32 sizes, 3129
// labels, random weights, 40 text tokens, every token attended.
type benchCase struct {
	name          string
	batch, h, w   int
	trainingSteps bool
}

var benchCases = []benchCase{
	{"fwd_b1_384x384", 1, 384, 384, false},
	{"fwd_b1_384x576", 1, 384, 576, false},
	{"fwd_b4_384x576", 4, 384, 576, false},
	{"train_b4_384x576", 4, 384, 576, true},
}

// BenchmarkViLTB32 times the forward pass and a training step (forward,
// backward, AdamW) of ViLT-B/32 with random weights on the backend chosen
// by backend.New. The first call (graph compilation) is excluded.
func BenchmarkViLTB32(b *testing.B) {
	cfg, err := Preset("base")
	if err != nil {
		b.Fatal(err)
	}
	labels := make([]string, 3129)
	for i := range labels {
		labels[i] = fmt.Sprint(i)
	}
	cfg.SetLabels(labels)
	be := testutil.Backend(b)
	for _, bc := range benchCases {
		b.Run(bc.name, func(b *testing.B) {
			// The previous case's model is garbage now: collect it, as PyTorch
			// frees its model when the script drops it, so that the process's
			// peak memory is this case's.
			runtime.GC()
			store := model.NewStore()
			if err := InitWeights(store, cfg, 1); err != nil {
				b.Fatal(err)
			}
			// torch.optim.AdamW's defaults (the project's own AdamW is in
			// vqa/train, which imports this package).
			opt := optimizer.Adam().LearningRate(5e-5).Betas(0.9, 0.999).Epsilon(1e-8).WeightDecay(0.01).Done()
			exec, err := model.NewExec(be, store, func(scope *model.Scope, ins []*Node) *Node {
				store.SetTraining(ins[0].Graph(), bc.trainingSteps)
				out := Forward(scope, cfg, NewInputs(ins), Options{})
				if !bc.trainingSteps {
					return out.Logits
				}
				loss := Loss(out.Logits, ins[5])
				opt.UpdateGraph(scope, loss.Graph(), loss)
				return loss
			})
			if err != nil {
				b.Fatal(err)
			}
			ins := testutil.RandomBatch(bc.batch, 40, bc.h, bc.w, cfg.VocabSize, cfg.NumLabels())
			run := func() {
				out, err := exec.Call1(ins...)
				if err != nil {
					b.Fatal(err)
				}
				out.FinalizeLocal()
			}
			run() // compile
			b.ResetTimer()
			for b.Loop() {
				run()
			}
		})
	}
}

// BenchmarkDenseB32 times the backend's matmul alone on ViLT-B/32's
// largest projection (tokens x 768 -> 3072, weight [out, in] like every
// ViLT Linear) for the token counts of batch 1 and batch 4 at 384x576, and
// reports GFLOP/s: the ceiling for the whole model on this backend.
func BenchmarkDenseB32(b *testing.B) {
	const k, n = 768, 3072
	be := testutil.Backend(b)
	rng := rand.New(rand.NewPCG(3, 4))
	randn := func(size int) []float32 {
		out := make([]float32, size)
		for i := range out {
			out[i] = float32(rng.NormFloat64())
		}
		return out
	}
	w := tensors.FromFlatDataAndDimensions(randn(n*k), n, k)
	for _, m := range []int{257, 4 * 257} {
		b.Run(fmt.Sprintf("tokens=%d", m), func(b *testing.B) {
			x := tensors.FromFlatDataAndDimensions(randn(m*k), m, k)
			exec, err := NewExec(be, func(x, w *Node) *Node {
				return DotGeneral(x, []int{1}, nil, w, []int{1}, nil)
			})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := exec.Exec(x, w); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				out, err := exec.Exec(x, w)
				if err != nil {
					b.Fatal(err)
				}
				out[0].FinalizeLocal()
			}
			b.ReportMetric(2*float64(m*k*n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
