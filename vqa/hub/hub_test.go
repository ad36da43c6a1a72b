package hub

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vilt-go/workbook/vqa/internal/fslock"
)

const (
	commitMain = "0123456789abcdef0123456789abcdef01234567"
	commitPR   = "89abcdef0123456789abcdef0123456789abcdef"
)

// write creates a file with its folders.
func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// isolate points every HuggingFace variable at a fresh folder and returns
// the cache folder.
func isolate(t *testing.T) string {
	home := t.TempDir()
	t.Setenv("HF_HOME", home)
	for _, env := range []string{"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_TOKEN", "HF_TOKEN_PATH", "HF_ENDPOINT"} {
		t.Setenv(env, "")
	}
	return filepath.Join(home, "hub")
}

func TestLocalFolder(t *testing.T) {
	isolate(t)
	dir := t.TempDir()
	write(t, filepath.Join(dir, "config.json"), "{}")
	write(t, filepath.Join(dir, "sub", "vocab.txt"), "x")
	got, err := Resolve(dir, "", "config.json", "sub/vocab.txt")
	if err != nil || got != dir {
		t.Fatalf("Resolve(%s) = %q, %v", dir, got, err)
	}
	_, err = Resolve(dir, "", "config.json", "model.safetensors", "pytorch_model.bin")
	if err == nil || !strings.Contains(err.Error(), "model.safetensors, pytorch_model.bin") {
		t.Fatalf("missing files: error %v, want both names", err)
	}
	if _, err := Resolve(filepath.Join(dir, "config.json"), ""); err == nil {
		t.Error("a file accepted as a model folder")
	}
	if _, err := Resolve(filepath.Join(dir, "nope", "x"), ""); err == nil || !strings.Contains(err.Error(), "neither") {
		t.Errorf("missing folder: error %v", err)
	}
	if _, err := Resolve(dir, "", "../escape"); err == nil {
		t.Error("a file outside the model accepted")
	}
}

// fakeCache lays out models--org--name the way huggingface_hub does:
// blobs, snapshots linking to them, refs for main and refs/pr/4.
func fakeCache(t *testing.T, cache string) string {
	repo := filepath.Join(cache, "models--org--name")
	write(t, filepath.Join(repo, "blobs", "aaa"), `{"model_type":"vilt"}`)
	write(t, filepath.Join(repo, "blobs", "bbb"), "weights")
	for _, c := range []string{commitMain, commitPR} {
		if err := os.MkdirAll(filepath.Join(repo, "snapshots", c), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("../../blobs/aaa", filepath.Join(repo, "snapshots", c, "config.json")); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("../../blobs/bbb", filepath.Join(repo, "snapshots", commitPR, "model.safetensors")); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(repo, "refs", "main"), commitMain)
	write(t, filepath.Join(repo, "refs", "refs", "pr", "4"), commitPR)
	return repo
}

// forbiddenHub fails the test on any request.
func forbiddenHub(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("offline resolve hit the network: %s %s", r.Method, r.URL)
		http.Error(w, "offline", http.StatusTeapot)
	}))
	t.Cleanup(srv.Close)
	t.Setenv("HF_ENDPOINT", srv.URL)
}

func TestOfflineCache(t *testing.T) {
	cache := isolate(t)
	repo := fakeCache(t, cache)
	forbiddenHub(t)
	t.Setenv("HF_HUB_OFFLINE", "1")
	cases := []struct {
		revision string
		files    []string
		want     string
	}{
		{"", []string{"config.json"}, commitMain},
		{"main", []string{"config.json"}, commitMain},
		{"refs/pr/4", []string{"config.json", "model.safetensors"}, commitPR},
		{commitPR, []string{"model.safetensors"}, commitPR},
	}
	for _, c := range cases {
		got, err := Resolve("org/name", c.revision, c.files...)
		if err != nil {
			t.Fatalf("revision %q: %v", c.revision, err)
		}
		if want := filepath.Join(repo, "snapshots", c.want); got != want {
			t.Fatalf("revision %q: %s, want %s", c.revision, got, want)
		}
		b, err := os.ReadFile(filepath.Join(got, c.files[0]))
		if err != nil || len(b) == 0 {
			t.Fatalf("revision %q: reading %s: %v", c.revision, c.files[0], err)
		}
	}
	_, err := Resolve("org/name", "main", "config.json", "model.safetensors")
	if err == nil || !strings.Contains(err.Error(), "HF_HUB_OFFLINE") || !strings.Contains(err.Error(), "missing model.safetensors") {
		t.Errorf("file missing offline: error %v", err)
	}
	if _, err := Resolve("org/name", "refs/pr/5", "config.json"); err == nil || !strings.Contains(err.Error(), "no snapshot") {
		t.Errorf("unknown revision offline: error %v", err)
	}
	if _, err := Resolve("org/other", "", "config.json"); err == nil {
		t.Error("uncached repository resolved offline")
	}

	// HF_HUB_CACHE takes precedence over HF_HOME.
	t.Setenv("HF_HOME", t.TempDir())
	t.Setenv("HF_HUB_CACHE", cache)
	if _, err := Resolve("org/name", "", "config.json"); err != nil {
		t.Errorf("with HF_HUB_CACHE: %v", err)
	}
}

// fakeHub serves one repository revision like huggingface.co, requiring a
// bearer token.
func fakeHub(t *testing.T, token string, files map[string]string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
			return
		}
		switch p := r.URL.EscapedPath(); {
		case p == "/api/models/org/name/revision/refs%2Fpr%2F4":
			var siblings []map[string]string
			for name := range files {
				siblings = append(siblings, map[string]string{"rfilename": name})
			}
			json.NewEncoder(w).Encode(map[string]any{"id": "org/name", "sha": commitPR, "siblings": siblings})
		case strings.HasPrefix(p, "/org/name/resolve/"+commitPR+"/"):
			name := strings.TrimPrefix(p, "/org/name/resolve/"+commitPR+"/")
			content, ok := files[name]
			if !ok {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("ETag", `"etag-`+strings.ReplaceAll(name, "/", "-")+`"`)
			w.Header().Set("X-Repo-Commit", commitPR)
			w.Write([]byte(content))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestDownload(t *testing.T) {
	cache := isolate(t)
	files := map[string]string{"config.json": `{"a":1}`, "model.safetensors": "weights", "sub/x.txt": "x"}
	srv := fakeHub(t, "secret", files)
	t.Setenv("HF_ENDPOINT", srv.URL)
	t.Setenv("HF_TOKEN", "secret")

	dir, err := Resolve("org/name", "refs/pr/4", "config.json", "model.safetensors", "sub/x.txt")
	if err != nil {
		t.Fatal(err)
	}
	repo := filepath.Join(cache, "models--org--name")
	if want := filepath.Join(repo, "snapshots", commitPR); dir != want {
		t.Fatalf("dir %s, want %s", dir, want)
	}
	for name, content := range files {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || string(b) != content {
			t.Errorf("%s: %q, %v; want %q", name, b, err, content)
		}
	}
	ref, err := os.ReadFile(filepath.Join(repo, "refs", "refs", "pr", "4"))
	if err != nil || string(ref) != commitPR {
		t.Errorf("refs/refs/pr/4 = %q, %v; want %s", ref, err, commitPR)
	}

	// The downloaded snapshot now serves offline, with the Hub gone.
	srv.Close()
	t.Setenv("HF_HUB_OFFLINE", "true")
	if again, err := Resolve("org/name", "refs/pr/4", "model.safetensors"); err != nil || again != dir {
		t.Errorf("offline after download: %q, %v", again, err)
	}
}

func TestDownloadErrors(t *testing.T) {
	isolate(t)
	srv := fakeHub(t, "secret", map[string]string{"config.json": "{}"})
	t.Setenv("HF_ENDPOINT", srv.URL)

	if _, err := Resolve("org/name", "refs/pr/4", "config.json"); err == nil || !strings.Contains(err.Error(), "HF_TOKEN") {
		t.Errorf("without token: error %v, want a hint about HF_TOKEN", err)
	}
	t.Setenv("HF_TOKEN", "secret")
	if _, err := Resolve("org/name", "main", "config.json"); err == nil || !strings.Contains(err.Error(), "unknown repository or revision") {
		t.Errorf("unknown revision: error %v", err)
	}
	if _, err := Resolve("org/name", "refs/pr/4", "nope.bin"); err == nil {
		t.Error("a file the Hub lacks was resolved")
	}
}

func TestNoNetwork(t *testing.T) {
	isolate(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	t.Setenv("HF_ENDPOINT", "http://"+addr)
	_, err = Resolve("dandelin/vilt-b32-mlm", "refs/pr/4", "model.safetensors")
	if err == nil || !strings.Contains(err.Error(), "unreachable") || !strings.Contains(err.Error(), "HF_HUB_OFFLINE=1") {
		t.Fatalf("error %v, want an unreachable Hub with a hint about HF_HUB_OFFLINE", err)
	}
}

func TestToken(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HF_HOME", home)
	t.Setenv("HF_TOKEN_PATH", "")
	t.Setenv("HF_TOKEN", "")
	if got := Token(); got != "" {
		t.Errorf("no token: %q", got)
	}
	write(t, filepath.Join(home, "token"), "from-file\n")
	if got := Token(); got != "from-file" {
		t.Errorf("token file: %q", got)
	}
	t.Setenv("HF_TOKEN", "from-env")
	if got := Token(); got != "from-env" {
		t.Errorf("HF_TOKEN: %q", got)
	}
}

// stallingHub answers the revision probe like huggingface.co, then serves
// model.safetensors by sending its headers and half of it, and stalling
// until the client gives up; later requests get the file (resumed with a
// Range when asked). With silent, no file request ever gets an answer. It
// returns the number of file requests so far.
func stallingHub(t *testing.T, content string, silent bool) func() int {
	var mu sync.Mutex
	requests := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch p := r.URL.EscapedPath(); p {
		case "/api/models/org/name/revision/main":
			json.NewEncoder(w).Encode(map[string]any{"id": "org/name", "sha": commitMain})
		case "/org/name/resolve/" + commitMain + "/model.safetensors":
			mu.Lock()
			requests++
			first := requests == 1
			mu.Unlock()
			if silent {
				<-r.Context().Done()
				return
			}
			if first {
				w.Header().Set("Content-Length", fmt.Sprint(len(content)))
				w.Header().Set("ETag", `"v1"`)
				w.Write([]byte(content[:len(content)/2]))
				w.(http.Flusher).Flush()
				<-r.Context().Done()
				return
			}
			w.Header().Set("ETag", `"v1"`)
			http.ServeContent(w, r, "", time.Time{}, strings.NewReader(content))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	t.Setenv("HF_ENDPOINT", srv.URL)
	return func() int { mu.Lock(); defer mu.Unlock(); return requests }
}

// resolveWithin runs Resolve and fails the test if it hangs.
func resolveWithin(t *testing.T, files ...string) (string, error) {
	t.Helper()
	type result struct {
		dir string
		err error
	}
	c := make(chan result, 1)
	go func() { d, err := Resolve("org/name", "main", files...); c <- result{d, err} }()
	select {
	case r := <-c:
		return r.dir, r.err
	case <-time.After(20 * time.Second):
		t.Fatal("Resolve still waiting on a stalled Hub after 20 s")
		return "", nil
	}
}

// TestDownloadStallResumes: the Hub sends half a file and stalls; with
// HF_HUB_DOWNLOAD_TIMEOUT the transfer is given up and resumed.
func TestDownloadStallResumes(t *testing.T) {
	isolate(t)
	content := strings.Repeat("weights!", 10_000)
	requests := stallingHub(t, content, false)
	t.Setenv("HF_HUB_DOWNLOAD_TIMEOUT", "0.3")
	dir, err := resolveWithin(t, "model.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "model.safetensors")); err != nil || string(b) != content {
		t.Fatalf("downloaded %d bytes (%v), want %d", len(b), err, len(content))
	}
	if n := requests(); n != 2 {
		t.Errorf("%d file requests, want 2 (the stalled one and its resumption)", n)
	}
}

// TestDownloadSilentHubFails: the Hub accepts the file requests and never
// answers; Resolve fails with an error naming the timeout and the file.
func TestDownloadSilentHubFails(t *testing.T) {
	isolate(t)
	stallingHub(t, "x", true)
	t.Setenv("HF_HUB_DOWNLOAD_TIMEOUT", "0.3")
	_, err := resolveWithin(t, "model.safetensors")
	if err == nil || !strings.Contains(err.Error(), "sent no response headers within 300ms") || !strings.Contains(err.Error(), "model.safetensors") {
		t.Fatalf("error %v, want a response-header timeout naming the file", err)
	}
	t.Setenv("HF_HUB_DOWNLOAD_TIMEOUT", "soon")
	if _, err := Resolve("org/name", "main", "config.json"); err == nil || !strings.Contains(err.Error(), "HF_HUB_DOWNLOAD_TIMEOUT") {
		t.Errorf("a bad HF_HUB_DOWNLOAD_TIMEOUT: error %v", err)
	}
}

// TestDownloadLocked: while another process downloads the same model into
// the cache, Resolve fails at once instead of writing the same files.
func TestDownloadLocked(t *testing.T) {
	cache := isolate(t)
	srv := fakeHub(t, "secret", map[string]string{"config.json": "{}"})
	t.Setenv("HF_ENDPOINT", srv.URL)
	t.Setenv("HF_TOKEN", "secret")
	held, err := fslock.Acquire(filepath.Join(cache, "models--org--name"), "a download of org/name")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Resolve("org/name", "refs/pr/4", "config.json")
	if !errors.Is(err, fslock.ErrLocked) || !strings.Contains(err.Error(), "in use by a download of org/name") {
		t.Fatalf("while locked: %v, want ErrLocked naming the other download", err)
	}
	held.Release()
	if _, err := Resolve("org/name", "refs/pr/4", "config.json"); err != nil {
		t.Fatalf("after the other download ended: %v", err)
	}
}
