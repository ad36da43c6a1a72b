package gobackend_test

import (
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/internal/gobackend"
	"github.com/gomlx/compute/shapes"
)

// trainingLikeGraph builds the memory pattern of a training step on fresh backend: k "layers" of vectors of n
// float32, a forward chain a_i = a_{i-1}·p_i, then, built after it as autodiff builds it, a backward chain
// b_{i-1} = b_i·p_i with the "gradients" g_i = b_i·t_i, where t_i = -a_{i-1} (an op whose input is ready in the
// forward pass but whose result is needed only in the backward pass, like the transposed activations of a
// matmul's gradient), and last, as an optimizer builds them, the updated parameters p_i - g_i as outputs (the
// parameters donated). It returns the outputs' values and the backend's peak of buffer bytes in use.
func trainingLikeGraph(t *testing.T, config string, k, n int) (outputs [][]float32, peak int) {
	t.Helper()
	be, err := gobackend.New(config)
	if err != nil {
		t.Fatal(err)
	}
	defer be.Finalize()
	check := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%+v", err)
		}
	}
	builder := be.Builder("training_like")
	fn := builder.Main()
	shape := shapes.Make(dtypes.Float32, n)
	x, err := fn.Parameter("x", shape, nil)
	check(err)
	params := make([]compute.Value, k)
	for i := range params {
		params[i], err = fn.Parameter("p", shape, nil)
		check(err)
	}
	a := []compute.Value{x}
	for i := range k {
		next, err := fn.Mul(a[i], params[i])
		check(err)
		a = append(a, next)
	}
	grads := make([]compute.Value, k)
	b := a[k]
	for i := k - 1; i >= 0; i-- {
		ti, err := fn.Neg(a[i])
		check(err)
		grads[i], err = fn.Mul(b, ti)
		check(err)
		b, err = fn.Mul(b, params[i])
		check(err)
		b, err = fn.Mul(b, a[i])
		check(err)
	}
	outs := []compute.Value{b}
	for i := range k {
		updated, err := fn.Sub(params[i], grads[i])
		check(err)
		outs = append(outs, updated)
	}
	check(fn.Return(outs, nil))
	exec, err := builder.Compile()
	check(err)

	inputs := make([]compute.Buffer, k+1)
	donate := make([]bool, k+1)
	for i := range inputs {
		flat := make([]float32, n)
		for j := range flat {
			flat[j] = 1 + float32((i+j)%7)/64
		}
		inputs[i], err = be.BufferFromFlatData(0, flat, shape)
		check(err)
		donate[i] = true
	}
	results, err := exec.Execute(inputs, donate, 0)
	check(err)
	for _, r := range results {
		flat := make([]float32, n)
		check(r.ToFlatData(flat))
		outputs = append(outputs, flat)
	}
	return outputs, gobackend.PeakBufferBytes(be.(*gobackend.Backend))
}

// TestTrainingLikeMemory checks the parallel executor's peak memory on trainingLikeGraph against the
// sequential one's and against the graph's own need, and that both compute the same values. The graph needs
// the parameters (updated in place) and the forward activations a_i, 2k vectors. The parallel executor used to
// run each t_i as soon as a_{i-1} was ready and hold it to the backward pass (k more), and both executors
// updated the parameters after the whole backward pass with every g_i held (k more).
func TestTrainingLikeMemory(t *testing.T) {
	const k, n = 150, 1 << 14
	vector := n * 4
	parallel, parallelPeak := trainingLikeGraph(t, "ops_parallel", k, n)
	sequential, sequentialPeak := trainingLikeGraph(t, "ops_sequential", k, n)
	for i := range parallel {
		for j := range parallel[i] {
			if parallel[i][j] != sequential[i][j] {
				t.Fatalf("output %d[%d]: parallel %g, sequential %g", i, j, parallel[i][j], sequential[i][j])
			}
		}
	}
	t.Logf("peak buffers: parallel %.1f vectors, sequential %.1f (k=%d)",
		float64(parallelPeak)/float64(vector), float64(sequentialPeak)/float64(vector), k)
	for name, peak := range map[string]int{"parallel": parallelPeak, "sequential": sequentialPeak} {
		if limit := (2*k + k/2) * vector; peak > limit {
			t.Errorf("%s executor: peak %d bytes of buffers, want at most %d (2.5k vectors of %d bytes)",
				name, peak, limit, vector)
		}
	}
}
