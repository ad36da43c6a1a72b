package gobackend

import "testing"

// TestBucketLen checks that a bucket holds the bytes asked for, with at most half more below fineBucketBytes
// and a sixteenth more from it, and that buckets grow with the size.
func TestBucketLen(t *testing.T) {
	previous := 0
	for n := 1; n < 64<<20; n += 1 + n/97 {
		got := bucketLen(n)
		waste := 1.0 / 2
		if n >= fineBucketBytes {
			waste = 1.0 / 16
		}
		if got < n || float64(got) > float64(n)*(1+waste)+2 || got < previous {
			t.Fatalf("bucketLen(%d) = %d (previous bucket %d)", n, got, previous)
		}
		if bucketLen(got) != got {
			t.Fatalf("bucketLen(%d) = %d, not a bucket of its own (%d)", n, got, bucketLen(got))
		}
		previous = got
	}
}

// TestBufferPool checks reuse (the same bucket, else the smallest kept one up to twice as large), the bound
// on the bytes kept, and trim.
func TestBufferPool(t *testing.T) {
	var p bufferPool
	alloc := func(size int) *Buffer {
		if buf := p.get(size); buf != nil {
			return buf
		}
		return &Buffer{RawBytes: make([]byte, size)}
	}
	mb := fineBucketBytes
	first := p.beginExecution()
	a, b, c := alloc(4*mb), alloc(4*mb), alloc(8*mb)
	if p.peakInUse != 16*mb {
		t.Fatalf("peak in use %d, want %d", p.peakInUse, 16*mb)
	}
	for _, buf := range []*Buffer{a, b, c} {
		if !p.put(buf) {
			t.Fatalf("put of %d bytes refused with %d pooled", len(buf.RawBytes), p.pooled)
		}
	}
	if got := p.get(4 * mb); got != b {
		t.Errorf("get(4 MiB) did not return the last 4 MiB buffer released")
	}
	if got := p.get(5 * mb); got != c {
		t.Errorf("get(5 MiB) did not return the 8 MiB buffer")
	}
	if got := p.get(3 * mb); got != a {
		t.Errorf("get(3 MiB) did not return the 4 MiB buffer")
	}
	if got := p.get(mb); got != nil {
		t.Errorf("get(1 MiB) returned a buffer from an empty pool")
	}
	// Kept bytes are bounded by the peak in use (16 MiB, plus the 1 MiB just counted).
	p.put(a)
	p.put(c)
	if p.put(&Buffer{RawBytes: make([]byte, 8*mb)}) {
		t.Errorf("put of 8 MiB kept with %d pooled and a peak of %d", p.pooled, p.peakInUse)
	}
	// A new execution that does not reuse them drops them; a buffer released during it is kept.
	second := p.beginExecution()
	if second <= first {
		t.Fatalf("executions %d then %d", first, second)
	}
	p.put(b)
	if p.trim(second) {
		t.Errorf("trim asked for a collection after %d bytes of new buffers", p.allocated)
	}
	if p.pooled != 4*mb || p.get(4*mb) != b {
		t.Errorf("after trim: %d bytes pooled, want the 4 MiB buffer released during the execution", p.pooled)
	}
	// New buffers past collectAllocatedBytes make the end of an execution collect, once.
	for range collectAllocatedBytes / (8 * mb) {
		alloc(8 * mb)
	}
	if !p.trim(p.beginExecution()) {
		t.Errorf("trim did not ask for a collection after %d bytes of new buffers", collectAllocatedBytes)
	}
	if p.trim(p.beginExecution()) {
		t.Errorf("trim asked for a second collection without new buffers")
	}
}
