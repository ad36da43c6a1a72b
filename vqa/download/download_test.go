package download

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vilt-go/workbook/vqa/internal/fslock"
	"github.com/vilt-go/workbook/vqa/internal/httptimeout"
	"github.com/vilt-go/workbook/vqa/internal/smalldisk"
)

// makeZip builds a zip archive holding the given files (name -> content).
func makeZip(t testing.TB, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, data := range files {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// randomBytes returns n pseudo-random bytes (incompressible, so a transfer
// can be cut in the middle).
func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// server serves files by name. It records the Range header of every request,
// can cut the next response after a number of bytes, and can ignore Range.
type server struct {
	files    map[string][]byte
	noRanges bool
	mu       sync.Mutex
	cutAfter int // >0: the next response stops after this many bytes
	// stallAfter >= 0 makes the next response send its headers and this
	// many bytes, then nothing until the client gives up; stallHeaders
	// makes it accept the request and send nothing at all.
	stallAfter   int
	stallHeaders bool
	ranges       []string
	requests     int
	modTime      time.Time
	httptestS    *httptest.Server
}

func newServer(t *testing.T, files map[string][]byte) *server {
	s := &server{files: files, modTime: time.Date(2017, 4, 1, 0, 0, 0, 0, time.UTC), stallAfter: -1}
	s.httptestS = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.httptestS.Close)
	return s
}

func (s *server) url(name string) string { return s.httptestS.URL + "/zips/" + name }

func (s *server) serve(w http.ResponseWriter, r *http.Request) {
	data, ok := s.files[strings.TrimPrefix(r.URL.Path, "/zips/")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	s.mu.Lock()
	s.requests++
	s.ranges = append(s.ranges, r.Header.Get("Range"))
	cut := s.cutAfter
	s.cutAfter = 0
	stallAfter, stallHeaders := s.stallAfter, s.stallHeaders
	s.stallAfter, s.stallHeaders = -1, false
	s.mu.Unlock()
	if stallHeaders {
		<-r.Context().Done() // accepted, and then silence
		return
	}
	if stallAfter >= 0 {
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		w.Header().Set("ETag", `"v1"`)
		w.Write(data[:stallAfter])
		w.(http.Flusher).Flush()
		<-r.Context().Done() // headers and some bytes, then silence
		return
	}
	if cut > 0 {
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		w.Header().Set("ETag", `"v1"`)
		w.Write(data[:cut])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // the connection drops mid-transfer
	}
	if s.noRanges {
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		w.Write(data)
		return
	}
	w.Header().Set("ETag", `"v1"`)
	http.ServeContent(w, r, "", s.modTime, bytes.NewReader(data))
}

func TestFetchWhole(t *testing.T) {
	data := randomBytes(100_000, 1)
	srv := newServer(t, map[string][]byte{"a.zip": data})
	var log bytes.Buffer
	f := &Fetcher{Client: srv.httptestS.Client(), Progress: &log}
	dest := filepath.Join(t.TempDir(), "a.zip")
	if err := f.Fetch(context.Background(), Remote{URL: srv.url("a.zip"), Size: int64(len(data)), SHA256: sha(data)}, dest); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(dest)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("downloaded file differs from the served one (err %v)", err)
	}
	if !strings.Contains(log.String(), "(100%)") || !strings.Contains(log.String(), "ETA") {
		t.Errorf("progress output lacks the 100%% line with rate and ETA:\n%s", log.String())
	}
	if _, err := os.Stat(dest + ".part"); !os.IsNotExist(err) {
		t.Errorf("%s.part left behind", dest)
	}
	// A second fetch finds the file complete and makes no request.
	before := srv.requests
	if err := f.Fetch(context.Background(), Remote{URL: srv.url("a.zip"), SHA256: sha(data)}, dest); err != nil {
		t.Fatal(err)
	}
	if srv.requests != before {
		t.Errorf("a complete file was downloaded again")
	}
}

func TestFetchInterruptedThenResumed(t *testing.T) {
	data := randomBytes(300_000, 2)
	srv := newServer(t, map[string][]byte{"a.zip": data})
	srv.cutAfter = 120_000
	f := &Fetcher{Client: srv.httptestS.Client()}
	dest := filepath.Join(t.TempDir(), "a.zip")
	r := Remote{URL: srv.url("a.zip"), SHA256: sha(data)}
	if err := f.Fetch(context.Background(), r, dest); err == nil {
		t.Fatal("a transfer cut in the middle reported success")
	}
	st, err := os.Stat(dest + ".part")
	if err != nil {
		t.Fatalf("no partial file kept: %v", err)
	}
	have := st.Size()
	if have == 0 || have > 120_000 {
		t.Fatalf("partial file has %d bytes, want 1..120000", have)
	}
	if err := f.Fetch(context.Background(), r, dest); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(dest)
	if !bytes.Equal(got, data) {
		t.Fatal("resumed file differs from the served one")
	}
	if want := fmt.Sprintf("bytes=%d-", have); srv.ranges[len(srv.ranges)-1] != want {
		t.Errorf("resume asked for Range %q, want %q", srv.ranges[len(srv.ranges)-1], want)
	}
}

func TestFetchRetriesByItself(t *testing.T) {
	data := randomBytes(200_000, 3)
	srv := newServer(t, map[string][]byte{"a.zip": data})
	srv.cutAfter = 50_000
	f := &Fetcher{Client: srv.httptestS.Client(), Retries: 2, RetryWait: time.Millisecond}
	dest := filepath.Join(t.TempDir(), "a.zip")
	if err := f.Fetch(context.Background(), Remote{URL: srv.url("a.zip"), SHA256: sha(data)}, dest); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dest); !bytes.Equal(got, data) {
		t.Fatal("file differs after a retried transfer")
	}
	if srv.requests != 2 || !strings.HasPrefix(srv.ranges[1], "bytes=") {
		t.Errorf("want 2 requests, the second a range; got %d: %q", srv.requests, srv.ranges)
	}
}

func TestFetchServerWithoutRanges(t *testing.T) {
	data := randomBytes(50_000, 4)
	srv := newServer(t, map[string][]byte{"a.zip": data})
	srv.noRanges = true
	dest := filepath.Join(t.TempDir(), "a.zip")
	// A stale partial file: the server answers 200 with the whole file, so
	// it must be replaced, not appended to.
	if err := os.WriteFile(dest+".part", []byte("stale bytes"), 0o644); err != nil {
		t.Fatal(err)
	}
	f := &Fetcher{Client: srv.httptestS.Client()}
	if err := f.Fetch(context.Background(), Remote{URL: srv.url("a.zip"), SHA256: sha(data)}, dest); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dest); !bytes.Equal(got, data) {
		t.Fatal("file differs when the server ignores Range")
	}
	if srv.ranges[0] != "bytes=11-" {
		t.Errorf("expected a range request for the stale part, got %q", srv.ranges[0])
	}
}

func TestFetchChecksumMismatch(t *testing.T) {
	data := randomBytes(10_000, 5)
	srv := newServer(t, map[string][]byte{"a.zip": data})
	dest := filepath.Join(t.TempDir(), "a.zip")
	f := &Fetcher{Client: srv.httptestS.Client(), Retries: 3, RetryWait: time.Millisecond}
	err := f.Fetch(context.Background(), Remote{URL: srv.url("a.zip"), SHA256: sha([]byte("other"))}, dest)
	if err == nil || !strings.Contains(err.Error(), "sha256") {
		t.Fatalf("want a sha256 mismatch error, got %v", err)
	}
	for _, p := range []string{dest, dest + ".part"} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s kept after a checksum mismatch", p)
		}
	}
	if srv.requests != 1 {
		t.Errorf("a checksum mismatch was retried (%d requests)", srv.requests)
	}
}

func TestFetchSizeMismatch(t *testing.T) {
	data := randomBytes(10_000, 6)
	srv := newServer(t, map[string][]byte{"a.zip": data})
	f := &Fetcher{Client: srv.httptestS.Client()}
	err := f.Fetch(context.Background(), Remote{URL: srv.url("a.zip"), Size: 9_999}, filepath.Join(t.TempDir(), "a.zip"))
	if err == nil || !strings.Contains(err.Error(), "9999") {
		t.Fatalf("want a size mismatch error, got %v", err)
	}
}

func TestFetchNotFound(t *testing.T) {
	srv := newServer(t, map[string][]byte{})
	f := &Fetcher{Client: srv.httptestS.Client(), Retries: 3, RetryWait: time.Millisecond}
	err := f.Fetch(context.Background(), Remote{URL: srv.url("missing.zip")}, filepath.Join(t.TempDir(), "m.zip"))
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("want an HTTP 404 error, got %v", err)
	}
}

func TestExtractRejectsEscapes(t *testing.T) {
	for _, name := range []string{"../evil.txt", "/abs/evil.txt", "a/../../evil.txt", `..\evil.txt`} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			zipPath := filepath.Join(dir, "bad.zip")
			os.WriteFile(zipPath, makeZip(t, map[string][]byte{"good.txt": []byte("ok"), name: []byte("bad")}), 0o644)
			out := filepath.Join(dir, "out")
			if _, err := Extract(zipPath, out); err == nil || !strings.Contains(err.Error(), "escapes") {
				t.Fatalf("want a path escape error, got %v", err)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("files were written before the bad entry was rejected")
			}
		})
	}
}

func TestExtractRejectsSymlinks(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	h := &zip.FileHeader{Name: "link"}
	h.SetMode(os.ModeSymlink | 0o777)
	w, _ := zw.CreateHeader(h)
	w.Write([]byte("/etc/passwd"))
	zw.Close()
	dir := t.TempDir()
	zipPath := filepath.Join(dir, "link.zip")
	os.WriteFile(zipPath, buf.Bytes(), 0o644)
	_, err := Extract(zipPath, filepath.Join(dir, "out"))
	if err == nil || !strings.Contains(err.Error(), "is a symbolic link") || strings.Contains(err.Error(), "L-") {
		t.Fatalf("symbolic link entry: error %v, want one saying it is a symbolic link (in words, not a mode string)", err)
	}
}

func TestExtractDetectsCorruption(t *testing.T) {
	content := randomBytes(5000, 7)
	z := makeZip(t, map[string][]byte{"f.bin": content})
	i := bytes.Index(z, content[:64])
	z[i+100] ^= 0xff // flip a stored byte: the CRC-32 no longer matches
	dir := t.TempDir()
	zipPath := filepath.Join(dir, "c.zip")
	os.WriteFile(zipPath, z, 0o644)
	if _, err := Extract(zipPath, filepath.Join(dir, "out")); err == nil {
		t.Fatal("a corrupted entry was extracted without error")
	}
	if _, err := os.Stat(filepath.Join(dir, "out", "f.bin")); !os.IsNotExist(err) {
		t.Error("a corrupted entry was left in place")
	}
}

// TestSplitFromMirror downloads a whole split (questions, annotations and
// images) from a local mirror and checks the VQAv2 layout it leaves.
func TestSplitFromMirror(t *testing.T) {
	q := []byte(`{"questions": []}`)
	a := []byte(`{"annotations": []}`)
	img := randomBytes(3000, 8)
	zips := map[string][]byte{
		"v2_Questions_Val_mscoco.zip":   makeZip(t, map[string][]byte{"v2_OpenEnded_mscoco_val2014_questions.json": q}),
		"v2_Annotations_Val_mscoco.zip": makeZip(t, map[string][]byte{"v2_mscoco_val2014_annotations.json": a}),
		"val2014.zip":                   makeZip(t, map[string][]byte{"val2014/": nil, "val2014/COCO_val2014_000000000042.jpg": img}),
	}
	sums := map[string]string{}
	for n, z := range zips {
		sums[n] = sha(z)
	}
	srv := newServer(t, zips)
	root := t.TempDir()
	var log bytes.Buffer
	o := Options{
		VQABaseURL: srv.httptestS.URL + "/zips", COCOBaseURL: srv.httptestS.URL + "/zips/",
		Images: true, Checksums: sums, Log: &log,
		Fetcher: &Fetcher{Client: srv.httptestS.Client()},
	}
	if err := Split(context.Background(), root, "val2014", o); err != nil {
		t.Fatal(err)
	}
	for rel, want := range map[string][]byte{
		"v2_OpenEnded_mscoco_val2014_questions.json": q,
		"v2_mscoco_val2014_annotations.json":         a,
		"val2014/COCO_val2014_000000000042.jpg":      img,
	} {
		got, err := os.ReadFile(filepath.Join(root, rel))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: wrong or missing after Split (err %v)", rel, err)
		}
	}
	if _, err := os.Stat(filepath.Join(root, ".download", "val2014.zip")); !os.IsNotExist(err) {
		t.Error("archive kept without Keep")
	}
	before := srv.requests
	if err := Split(context.Background(), root, "val2014", o); err != nil {
		t.Fatal(err)
	}
	if srv.requests != before {
		t.Errorf("rerunning a finished split downloaded again")
	}
}

func TestArchives(t *testing.T) {
	as, err := Archives("test-dev2015", Options{Images: true})
	if err != nil {
		t.Fatal(err)
	}
	var urls []string
	for _, a := range as {
		urls = append(urls, a.Remote.URL)
	}
	want := []string{DefaultVQABaseURL + "/v2_Questions_Test_mscoco.zip", DefaultCOCOBaseURL + "/test2015.zip"}
	if fmt.Sprint(urls) != fmt.Sprint(want) {
		t.Errorf("test-dev2015 archives = %v, want %v (no annotations for test)", urls, want)
	}
	if _, err := Archives("val", Options{}); err == nil {
		t.Error("unknown split accepted")
	}
}

func TestReadChecksums(t *testing.T) {
	in := "# sums\n" + strings.Repeat("a", 64) + "  val2014.zip\n\n" + strings.Repeat("B", 64) + " *dir/v2_Questions_Val_mscoco.zip\n"
	got, err := ReadChecksums(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if got["val2014.zip"] != strings.Repeat("a", 64) || got["v2_Questions_Val_mscoco.zip"] != strings.Repeat("b", 64) || len(got) != 2 {
		t.Errorf("ReadChecksums = %v", got)
	}
	if _, err := ReadChecksums(strings.NewReader("abc  x.zip\n")); err == nil {
		t.Error("a short digest was accepted")
	}
}

func FuzzReadChecksums(f *testing.F) {
	f.Add(strings.Repeat("a", 64) + "  val2014.zip\n")
	f.Add("# c\n\n" + strings.Repeat("0", 64) + " *x\n")
	f.Add("zz")
	f.Fuzz(func(t *testing.T, s string) {
		sums, err := ReadChecksums(strings.NewReader(s))
		if err != nil {
			return
		}
		for name, sum := range sums {
			if name == "" || !isSHA256(sum) || sum != strings.ToLower(sum) {
				t.Fatalf("bad entry %q -> %q", name, sum)
			}
		}
	})
}

func FuzzParseContentRange(f *testing.F) {
	f.Add("bytes 0-99/100")
	f.Add("bytes */100")
	f.Add("bytes 5-9/*")
	f.Fuzz(func(t *testing.T, s string) {
		start, size, err := parseContentRange(s)
		if err != nil {
			return
		}
		if start < 0 || size < -1 {
			t.Fatalf("%q -> start %d size %d", s, start, size)
		}
	})
}

// short are timeouts for the stalled-server tests: far below the defaults.
var short = httptimeout.Timeouts{Connect: 300 * time.Millisecond, Header: 300 * time.Millisecond, Idle: 300 * time.Millisecond}

// fetchWithin runs f.Fetch and fails the test if it takes longer than 10 s
// (the stalled transfer was never given up).
func fetchWithin(t *testing.T, f *Fetcher, r Remote, dest string) error {
	t.Helper()
	errc := make(chan error, 1)
	go func() { errc <- f.Fetch(context.Background(), r, dest) }()
	select {
	case err := <-errc:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Fetch still waiting on a stalled server after 10 s")
		return nil
	}
}

// TestFetchStallThenResume: the server sends the headers and part of the
// file, then nothing. The idle timeout gives the transfer up with a clear
// error, and the retry resumes from the bytes received.
func TestFetchStallThenResume(t *testing.T) {
	data := randomBytes(200_000, 9)
	srv := newServer(t, map[string][]byte{"a.zip": data})
	srv.stallAfter = 70_000
	var log bytes.Buffer
	f := &Fetcher{Client: srv.httptestS.Client(), Timeouts: short, Retries: 1, RetryWait: time.Millisecond, Progress: &log}
	dest := filepath.Join(t.TempDir(), "a.zip")
	if err := fetchWithin(t, f, Remote{URL: srv.url("a.zip"), SHA256: sha(data)}, dest); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dest); !bytes.Equal(got, data) {
		t.Fatal("file differs after a stalled and resumed transfer")
	}
	if srv.requests != 2 || srv.ranges[1] != "bytes=70000-" {
		t.Errorf("want a second request resuming at byte 70000; got %d requests, ranges %q", srv.requests, srv.ranges)
	}
	if !strings.Contains(log.String(), "stalled") {
		t.Errorf("the log does not say the transfer stalled:\n%s", log.String())
	}
}

// TestFetchAcceptThenSilence: the server accepts the request and never
// answers; without retries Fetch fails after the header timeout, naming it.
func TestFetchAcceptThenSilence(t *testing.T) {
	srv := newServer(t, map[string][]byte{"a.zip": randomBytes(1000, 10)})
	srv.stallHeaders = true
	f := &Fetcher{Client: srv.httptestS.Client(), Timeouts: short}
	err := fetchWithin(t, f, Remote{URL: srv.url("a.zip")}, filepath.Join(t.TempDir(), "a.zip"))
	var te *httptimeout.TimeoutError
	if !errors.As(err, &te) || te.Phase != httptimeout.PhaseHeader || !strings.Contains(err.Error(), "a.zip") {
		t.Fatalf("error %v, want a response-header timeout naming the URL", err)
	}
}

// TestFetchFullDiskRemovesPart: writing the download fails with ENOSPC (the
// .part file points at /dev/full); the partial file is removed and the
// failure is not retried.
func TestFetchFullDiskRemovesPart(t *testing.T) {
	data := randomBytes(50_000, 11)
	srv := newServer(t, map[string][]byte{"a.zip": data})
	dest := filepath.Join(t.TempDir(), "a.zip")
	if err := os.Symlink("/dev/full", dest+".part"); err != nil {
		t.Fatal(err)
	}
	f := &Fetcher{Client: srv.httptestS.Client(), Retries: 3, RetryWait: time.Millisecond}
	err := f.Fetch(context.Background(), Remote{URL: srv.url("a.zip")}, dest)
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "partial file removed") {
		t.Fatalf("error %v, want ENOSPC saying the partial file was removed", err)
	}
	if _, err := os.Lstat(dest + ".part"); !os.IsNotExist(err) {
		t.Errorf("%s.part left behind after a full disk", dest)
	}
	if srv.requests != 1 {
		t.Errorf("a full disk was retried (%d requests)", srv.requests)
	}
}

// TestFetchSmallDisk downloads into a 64 KiB tmpfs: nothing is left behind.
func TestFetchSmallDisk(t *testing.T) {
	dir := smalldisk.New(t, 64<<10)
	data := randomBytes(300_000, 12)
	srv := newServer(t, map[string][]byte{"a.zip": data})
	f := &Fetcher{Client: srv.httptestS.Client()}
	err := f.Fetch(context.Background(), Remote{URL: srv.url("a.zip")}, filepath.Join(dir, "a.zip"))
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("error %v, want ENOSPC", err)
	}
	if es, _ := os.ReadDir(dir); len(es) != 0 {
		t.Errorf("%d files left on the full disk (%v)", len(es), es[0].Name())
	}
}

// mirror serves the val2014 question and annotation archives and returns
// the options pointing at it.
func mirror(t *testing.T) (*server, Options, *bytes.Buffer) {
	zips := map[string][]byte{
		"v2_Questions_Val_mscoco.zip":   makeZip(t, map[string][]byte{"v2_OpenEnded_mscoco_val2014_questions.json": []byte(`{"questions": []}`)}),
		"v2_Annotations_Val_mscoco.zip": makeZip(t, map[string][]byte{"v2_mscoco_val2014_annotations.json": []byte(`{"annotations": []}`)}),
	}
	srv := newServer(t, zips)
	var log bytes.Buffer
	return srv, Options{
		VQABaseURL: srv.httptestS.URL + "/zips", Log: &log,
		Fetcher: &Fetcher{Client: srv.httptestS.Client()},
	}, &log
}

// TestSplitDiscardsCorruptCache: an archive left corrupt in .download by
// an earlier run (no checksum known) is checked, removed with a message,
// and fetched again from the good mirror.
func TestSplitDiscardsCorruptCache(t *testing.T) {
	srv, o, log := mirror(t)
	root := t.TempDir()
	cached := filepath.Join(root, ".download", "v2_Questions_Val_mscoco.zip")
	os.MkdirAll(filepath.Dir(cached), 0o755)
	if err := os.WriteFile(cached, []byte("<html>503 Service Unavailable</html>"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Split(context.Background(), root, "val2014", o); err != nil {
		t.Fatalf("Split with a corrupt cached archive: %v\n%s", err, log)
	}
	if !strings.Contains(log.String(), "v2_Questions_Val_mscoco.zip: the copy in") || !strings.Contains(log.String(), "removing it and downloading again") {
		t.Errorf("the log does not say the cached archive was discarded:\n%s", log)
	}
	if _, err := os.Stat(filepath.Join(root, "v2_OpenEnded_mscoco_val2014_questions.json")); err != nil {
		t.Errorf("questions not unpacked: %v", err)
	}
	if srv.requests != 2 {
		t.Errorf("%d requests, want 2 (both archives)", srv.requests)
	}
}

// TestSplitCorruptPartRefetched: a .part left by an earlier run holds
// wrong bytes; the resumed archive does not unpack, so it is removed and
// fetched once more from scratch.
func TestSplitCorruptPartRefetched(t *testing.T) {
	srv, o, log := mirror(t)
	root := t.TempDir()
	part := filepath.Join(root, ".download", "v2_Annotations_Val_mscoco.zip.part")
	os.MkdirAll(filepath.Dir(part), 0o755)
	if err := os.WriteFile(part, []byte("garbage from another file"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Split(context.Background(), root, "val2014", o); err != nil {
		t.Fatalf("Split: %v\n%s", err, log)
	}
	if !strings.Contains(log.String(), "corrupt") || !strings.Contains(log.String(), "downloading it again") {
		t.Errorf("the log does not report the corrupt archive:\n%s", log)
	}
	if _, err := os.Stat(filepath.Join(root, "v2_mscoco_val2014_annotations.json")); err != nil {
		t.Errorf("annotations not unpacked: %v", err)
	}
	if n := srv.requests; n != 3 {
		t.Errorf("%d requests, want 3 (questions, annotations resumed, annotations again)", n)
	}
}

// TestSplitCorruptFromMirrorRemoved: a mirror serving a broken archive
// fails the run with a clear error, and the broken file is not kept for
// the next run.
func TestSplitCorruptFromMirrorRemoved(t *testing.T) {
	srv, o, _ := mirror(t)
	srv.files["v2_Questions_Val_mscoco.zip"] = []byte("not a zip at all")
	root := t.TempDir()
	err := Split(context.Background(), root, "val2014", o)
	if err == nil || !strings.Contains(err.Error(), "corrupt archive was removed") {
		t.Fatalf("error %v, want one saying the corrupt archive was removed", err)
	}
	if _, err := os.Stat(filepath.Join(root, ".download", "v2_Questions_Val_mscoco.zip")); err == nil {
		t.Error("the corrupt archive stayed in .download")
	}
}

// TestSplitLocked: a second download into the same root fails at once.
func TestSplitLocked(t *testing.T) {
	_, o, _ := mirror(t)
	root := t.TempDir()
	held, err := fslock.Acquire(filepath.Join(root, ".download"), "vqa download of val2014")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release()
	start := time.Now()
	err = Split(context.Background(), root, "val2014", o)
	if !errors.Is(err, fslock.ErrLocked) || !strings.Contains(err.Error(), "vqa download of val2014") {
		t.Fatalf("second download: %v, want ErrLocked naming the first", err)
	}
	if time.Since(start) > time.Second {
		t.Errorf("the second download waited %v instead of failing at once", time.Since(start))
	}
	held.Release()
	if err := Split(context.Background(), root, "val2014", o); err != nil {
		t.Fatalf("after the first one ended: %v", err)
	}
}

// TestFetchInterruptedSaysResume: an interrupted transfer (Ctrl-C) keeps
// its partial file and says that running again resumes it.
func TestFetchInterruptedSaysResume(t *testing.T) {
	data := randomBytes(100_000, 13)
	srv := newServer(t, map[string][]byte{"a.zip": data})
	srv.stallAfter = 30_000
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	dest := filepath.Join(t.TempDir(), "a.zip")
	f := &Fetcher{Client: srv.httptestS.Client(), Retries: 3, RetryWait: time.Millisecond}
	err := f.Fetch(ctx, Remote{URL: srv.url("a.zip")}, dest)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "running again resumes it") {
		t.Fatalf("interrupted: %v, want a cancellation saying that running again resumes", err)
	}
	if st, err := os.Stat(dest + ".part"); err != nil || st.Size() != 30_000 {
		t.Fatalf("partial file after the interruption: %v, want 30000 bytes kept", err)
	}
	if err := f.Fetch(context.Background(), Remote{URL: srv.url("a.zip")}, dest); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dest); !bytes.Equal(got, data) {
		t.Fatal("resumed file differs")
	}
}
