// The race detector's pointer checks (checkptr) stop compute's AVX-512 matrix
// packing, upstream code that runs the same way with sequential ops; this
// deadlock test runs in the plain test pass.

//go:build !race

package backend

import (
	"testing"
	"time"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/tensors"

	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // GoMLX graph-building idiom.
)

// TestGoParallelOpsNoDeadlock runs a graph of independent matrix multiplies (large and batched small, both
// fanning out with the worker pool's Saturate) on the Go backend with its ops run as tasks of a 2-worker pool.
// With GoMLX compute v0.1.2's pool it hung at once: both workers held by matrix multiplies each waiting for a
// free worker. The patched copy (vqa/internal/third_party/compute/PATCH.md) runs the work in the waiting op
// instead. A timeout makes a deadlock fail the test rather than hang it.
func TestGoParallelOpsNoDeadlock(t *testing.T) {
	be, err := compute.NewWithConfig("go:ops_parallel,parallelism=2")
	if err != nil {
		t.Fatal(err)
	}
	defer be.Finalize()
	exec, err := NewExec(be, func(x, w, bx, bw *Node) *Node {
		sum := ReduceAllSum(MatMul(x, w))
		for i := range 8 {
			y := MatMul(AddScalar(x, float64(i)), w)                       // 256x256x256: the large kernel
			z := DotGeneral(MulScalar(bx, float64(i)), []int{2}, []int{0}, // 16 x (24x24x24): the small kernel
				bw, []int{1}, []int{0})
			sum = Add(sum, Add(ReduceAllSum(y), ReduceAllSum(z)))
		}
		return sum
	})
	if err != nil {
		t.Fatal(err)
	}
	ones := func(dims ...int) *tensors.Tensor {
		n := 1
		for _, d := range dims {
			n *= d
		}
		flat := make([]float32, n)
		for i := range flat {
			flat[i] = 1.0 / 256
		}
		return tensors.FromFlatDataAndDimensions(flat, dims...)
	}
	x, w, bx, bw := ones(256, 256), ones(256, 256), ones(16, 24, 24), ones(16, 24, 24)
	done := make(chan error, 1)
	go func() {
		for range 20 {
			out, err := exec.Exec(x, w, bx, bw)
			if err != nil {
				done <- err
				return
			}
			out[0].FinalizeLocal()
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("deadlock: the Go backend's parallel executor never finished (goroutines parked in workerspool)")
	}
}
