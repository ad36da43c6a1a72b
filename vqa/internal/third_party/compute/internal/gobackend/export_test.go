package gobackend

// PeakBufferBytes is the most bytes of buffers a backend had given out at once (bucketed sizes), for the tests.
func PeakBufferBytes(b *Backend) int {
	b.bufferPool.mu.Lock()
	defer b.bufferPool.mu.Unlock()
	return b.bufferPool.peakInUse
}
