// The benchmarks measure process CPU time with getrusage, so they build on
// Unix systems only.

//go:build unix

package vqav2_test

import (
	"bufio"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vilt-go/workbook/vqa/vqav2"
)

// benchSizeEnv names the environment variable that sets the size in MB of
// the generated annotations file; the default, 200 MB, is about the size of
// the real v2_mscoco_train2014_annotations.json.
const benchSizeEnv = "VQA_BENCH_ANNOTATIONS_MB"

// benchFileBytes returns the size of the file to generate.
func benchFileBytes(b *testing.B) int64 {
	mb := 200
	if s := os.Getenv(benchSizeEnv); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			b.Fatalf("%s=%q: want a positive number of MB", benchSizeEnv, s)
		}
		mb = n
	}
	return int64(mb) << 20
}

// writeBenchAnnotations writes an annotations file of about size bytes in
// the official compact form, with VQAv2-like answer statistics, and returns
// its path and exact size.
func writeBenchAnnotations(b *testing.B, size int64) (string, int64) {
	b.Helper()
	path := filepath.Join(b.TempDir(), "v2_mscoco_train2014_annotations.json")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	words := []string{"yes", "no", "2", "1", "white", "red", "blue", "black and white", "tennis", "frisbee", "down",
		"at table", "skateboard", "table", "kitchen", "giraffe", "pizza", "3", "4", "0", "none", "surfing", "left", "right"}
	types := []string{"how many", "is the", "what", "what color is the", "none of the above", "is this", "what is the"}
	aTypes := []string{"yes/no", "number", "other"}
	conf := []string{"yes", "yes", "yes", "maybe", "no"}
	var buf []byte
	buf = append(buf, `{"info":{"description":"generated for the benchmark","version":"2.0","year":2017},"license":{"name":"CC BY 4.0","url":""},"data_subtype":"train2014","annotations":[`...)
	var n int64
	for i := 0; n < size; i++ {
		if i > 0 {
			buf = append(buf, ',')
		}
		img := int64(9 + i/5)
		buf = append(buf, `{"question_type":"`...)
		buf = append(buf, types[rng.IntN(len(types))]...)
		mc := words[rng.IntN(len(words))]
		buf = append(buf, `","multiple_choice_answer":"`...)
		buf = append(buf, mc...)
		buf = append(buf, `","answers":[`...)
		for j := 1; j <= vqav2.AnswersPerQuestion; j++ {
			if j > 1 {
				buf = append(buf, ',')
			}
			ans := mc
			if rng.IntN(3) == 0 {
				ans = words[rng.IntN(len(words))]
				if rng.IntN(4) == 0 { // a rare free-text answer
					ans += " " + strconv.Itoa(rng.IntN(100000))
				}
			}
			buf = append(buf, `{"answer":"`...)
			buf = append(buf, ans...)
			buf = append(buf, `","answer_confidence":"`...)
			buf = append(buf, conf[rng.IntN(len(conf))]...)
			buf = append(buf, `","answer_id":`...)
			buf = strconv.AppendInt(buf, int64(j), 10)
			buf = append(buf, '}')
		}
		buf = append(buf, `],"image_id":`...)
		buf = strconv.AppendInt(buf, img, 10)
		buf = append(buf, `,"answer_type":"`...)
		buf = append(buf, aTypes[rng.IntN(len(aTypes))]...)
		buf = append(buf, `","question_id":`...)
		buf = strconv.AppendInt(buf, img*1000+int64(i%5), 10)
		buf = append(buf, '}')
		n += int64(len(buf))
		if _, err := w.Write(buf); err != nil {
			b.Fatal(err)
		}
		buf = buf[:0]
	}
	tail := `],"data_type":"mscoco"}`
	n += int64(len(tail))
	if _, err := w.WriteString(tail); err != nil {
		b.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return path, n
}

// peakHeap samples the bytes of live and not yet collected heap objects
// every millisecond until stop is called, which returns the largest sample
// above the level at the start.
func peakHeap() (stop func() uint64) {
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 { metrics.Read(sample); return sample[0].Value.Uint64() }
	base := read()
	var peak uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			peak = max(peak, read())
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	})
	return func() uint64 {
		close(done)
		wg.Wait()
		peak = max(peak, read())
		return peak - min(base, peak)
	}
}

// cpuTime returns the CPU time (user and system) this process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchRead runs read over the generated file and reports MB/s (of wall
// time), MB per second of CPU time over all threads, GC included
// (MB/cpu-s: the figure to trust on a shared machine), the peak heap above
// the starting level (peak-heap-MB) and the heap still held by the result
// after a GC (result-MB).
func benchRead(b *testing.B, read func(path string) any) {
	path, size := writeBenchAnnotations(b, benchFileBytes(b))
	b.SetBytes(size)
	b.ReportAllocs()
	stop := peakHeap()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var result any
	cpu0 := cpuTime(b)
	n := 0
	for b.Loop() {
		result = nil
		result = read(path)
		n++
	}
	cpu := cpuTime(b) - cpu0
	peak := stop()
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(result)
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/(1<<20), "result-MB")
	b.ReportMetric(float64(size)/(1<<20), "file-MB")
	b.ReportMetric(float64(size)*float64(n)/1e6/cpu.Seconds(), "MB/cpu-s")
}

// BenchmarkReadAnnotations reads a generated annotations file (200 MB
// unless $VQA_BENCH_ANNOTATIONS_MB says otherwise) into memory with
// the streaming reader.
func BenchmarkReadAnnotations(b *testing.B) {
	benchRead(b, func(path string) any {
		anns, err := vqav2.ReadAnnotations(path)
		if err != nil {
			b.Fatal(err)
		}
		return anns
	})
}

// BenchmarkScanAnnotations streams the file keeping nothing: the memory cost
// of the reader itself.
func BenchmarkScanAnnotations(b *testing.B) {
	benchRead(b, func(path string) any {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		n := 0
		if err := vqav2.ScanAnnotations(f, path, func(vqav2.Annotation) error { n++; return nil }); err != nil {
			b.Fatal(err)
		}
		return n
	})
}

// BenchmarkUnmarshalAnnotations is the baseline: the whole file read into
// memory and decoded with one json.Unmarshal, as json.load does.
func BenchmarkUnmarshalAnnotations(b *testing.B) {
	benchRead(b, func(path string) any {
		data, err := os.ReadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		var v struct {
			Annotations []officialAnnotation `json:"annotations"`
		}
		if err := json.Unmarshal(data, &v); err != nil {
			b.Fatal(err)
		}
		return v.Annotations
	})
}
