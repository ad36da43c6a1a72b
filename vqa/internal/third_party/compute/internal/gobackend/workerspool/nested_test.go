package workerspool

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// nestedTimeout bounds each reproducer: with the v0.1.2 pool they deadlock for good, and the timeout turns
// that into a failure instead of a hung test binary.
const nestedTimeout = 10 * time.Second

// fillPoolWithOps starts one "op" per worker of a pool of 2, each a pool task (as the parallel executor
// runs graph nodes), and has every op call fanOut only once all ops hold their slot: the pool is then full
// when each op fans out into it. It fails the test if the ops do not all return within nestedTimeout.
func fillPoolWithOps(t *testing.T, fanOut func(pool *Pool)) {
	t.Helper()
	pool := New()
	pool.SetMaxParallelism(2)
	var allStarted, done sync.WaitGroup
	allStarted.Add(2)
	done.Add(2)
	for range 2 {
		if !pool.StartIfAvailable(func() {
			defer done.Done()
			allStarted.Done()
			allStarted.Wait()
			fanOut(pool)
		}) {
			t.Fatal("an empty pool of 2 refused a task")
		}
	}
	finished := make(chan struct{})
	go func() { done.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(nestedTimeout):
		t.Fatalf("deadlock: ops fanning out from inside a full pool never returned (%v)", nestedTimeout)
	}
}

// TestNestedSaturate: ops that hold every slot each call Saturate (a matrix multiply). In v0.1.2 each waited
// for a free slot while holding its own, forever; now each runs its task itself.
func TestNestedSaturate(t *testing.T) {
	var ran atomic.Int32
	fillPoolWithOps(t, func(pool *Pool) {
		pool.Saturate(func() { ran.Add(1) })
	})
	if ran.Load() < 2 {
		t.Fatalf("Saturate ran its task %d times for 2 ops, want at least 2", ran.Load())
	}
}

// TestNestedWaitToStart: ops that hold every slot each split their work into chunks with WaitToStart and wait
// for them (FusedGelu, Erf, a closure's nested executor). In v0.1.2 WaitToStart waited for a free slot.
func TestNestedWaitToStart(t *testing.T) {
	var ran atomic.Int32
	fillPoolWithOps(t, func(pool *Pool) {
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			pool.WaitToStart(func() { defer wg.Done(); ran.Add(1) })
		}
		wg.Wait()
	})
	if ran.Load() != 8 {
		t.Fatalf("%d chunks ran, want 8", ran.Load())
	}
}

// TestExecutorLikeNesting mimics the parallel executor: a loop dispatching independent ops with WaitToStart,
// each op fanning out with Saturate (matrix multiplies) or chunked WaitToStart (element-wise ops), with random
// work sizes, on small pools. Every chunk must run exactly once and every round must finish.
func TestExecutorLikeNesting(t *testing.T) {
	rounds := 300
	if testing.Short() {
		rounds = 50
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range rounds {
		pool := New()
		pool.SetMaxParallelism(1 + round%4)
		numOps := 1 + rng.IntN(8)
		chunksPerOp := make([]int, numOps)
		for i := range chunksPerOp {
			chunksPerOp[i] = 1 + rng.IntN(16)
		}
		var ran atomic.Int64
		finished := make(chan struct{})
		go func() {
			defer close(finished)
			var ops sync.WaitGroup
			for opIdx, numChunks := range chunksPerOp {
				ops.Add(1)
				pool.WaitToStart(func() {
					defer ops.Done()
					if opIdx%2 == 0 {
						work := make(chan int, numChunks)
						for i := range numChunks {
							work <- i
						}
						close(work)
						pool.Saturate(func() {
							for range work {
								ran.Add(1)
								time.Sleep(time.Duration(rand.IntN(20)) * time.Microsecond)
							}
						})
					} else {
						var chunks sync.WaitGroup
						for range numChunks {
							chunks.Add(1)
							pool.WaitToStart(func() { defer chunks.Done(); ran.Add(1) })
						}
						chunks.Wait()
					}
				})
			}
			ops.Wait()
		}()
		select {
		case <-finished:
		case <-time.After(nestedTimeout):
			t.Fatalf("round %d: deadlock (parallelism %d, ops %v)", round, pool.MaxParallelism(), chunksPerOp)
		}
		want := 0
		for _, n := range chunksPerOp {
			want += n
		}
		if int(ran.Load()) != want {
			t.Fatalf("round %d: %d chunks ran, want %d", round, ran.Load(), want)
		}
	}
}
