package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vilt-go/workbook/vqa/evaluate"
	"github.com/vilt-go/workbook/vqa/internal/fslock"
	"github.com/vilt-go/workbook/vqa/internal/testutil"
	"github.com/vilt-go/workbook/vqa/vqav2"
)

// The reliability tests: hostile inputs, stalled servers, inputs that must
// not be overwritten, through the command line. No panic or stack trace
// may reach the user.

// noTrace fails the test when stderr shows a panic or a stack trace.
func noTrace(t *testing.T, stderr string) {
	t.Helper()
	for _, s := range []string{"panic", "goroutine ", "runtime.", ".go:"} {
		if strings.Contains(stderr, s) {
			t.Errorf("stderr shows %q (a panic or stack trace):\n%s", s, stderr)
		}
	}
}

// copyMini copies the mini dataset's val2014 questions and annotations to
// a new folder and links its images. With damage, the image of the first
// question is replaced by garbage and the next other image is left out. It
// returns the folder and, among the first n questions, how many have the
// broken and the missing image.
func copyMini(t *testing.T, n int, damage bool) (root string, broken, missing int) {
	t.Helper()
	src := filepath.Join(testutil.ModuleRoot(t), "data", "vqav2-mini")
	root = t.TempDir()
	for _, f := range []string{vqav2.QuestionsPath("", "val2014"), vqav2.AnnotationsPath("", "val2014")} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	qs, err := vqav2.ReadQuestions(vqav2.QuestionsPath(root, "val2014"))
	if err != nil {
		t.Fatal(err)
	}
	brokenID, missingID := qs[0].ImageID, int64(-1)
	if !damage {
		brokenID = -1
	}
	for _, q := range qs {
		if !damage {
			break
		}
		if q.ImageID != brokenID {
			missingID = q.ImageID
			break
		}
	}
	for _, q := range qs[:n] {
		switch q.ImageID {
		case brokenID:
			broken++
		case missingID:
			missing++
		}
	}
	if err := os.MkdirAll(vqav2.ImageDir(root, "val2014"), 0o755); err != nil {
		t.Fatal(err)
	}
	es, err := os.ReadDir(vqav2.ImageDir(src, "val2014"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		dst := filepath.Join(vqav2.ImageDir(root, "val2014"), e.Name())
		switch e.Name() {
		case filepath.Base(vqav2.ImagePath(root, "val2014", missingID)):
		case filepath.Base(vqav2.ImagePath(root, "val2014", brokenID)):
			if err := os.WriteFile(dst, []byte("\xff\xd8 not a jpeg"), 0o644); err != nil {
				t.Fatal(err)
			}
		default:
			if err := os.Symlink(filepath.Join(vqav2.ImageDir(src, "val2014"), e.Name()), dst); err != nil {
				t.Fatal(err)
			}
		}
	}
	return root, broken, missing
}

func tinyModel(t *testing.T) string {
	return filepath.Join(testutil.ModuleRoot(t), "data", defaultModel)
}

// TestEvalSkipBrokenAndMissing: eval -skip-broken -skip-missing scores the
// remaining questions and reports how many were skipped.
func TestEvalSkipBrokenAndMissing(t *testing.T) {
	const n = 30
	root, broken, missing := copyMini(t, n, true)
	if broken == 0 || missing == 0 || n-broken-missing < 5 {
		t.Fatalf("%d broken and %d missing of %d questions: the test needs some of each and some left", broken, missing, n)
	}
	args := []string{"eval", "-model", tinyModel(t), "-data", root, "-split", "val2014", "-limit", fmt.Sprint(n), "-image-size", "64"}
	code, stdout, stderr := runCLI(t, append(args, "-skip-broken", "-skip-missing", "-json")...)
	if code != 0 {
		t.Fatalf("eval -skip-broken -skip-missing: code %d\n%s", code, stderr)
	}
	noTrace(t, stderr)
	var rep evaluate.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.N != n-broken-missing || rep.Skipped != broken+missing {
		t.Errorf("scored %d, skipped %d; want %d and %d", rep.N, rep.Skipped, n-broken-missing, broken+missing)
	}
	code, stdout, _ = runCLI(t, append(args, "-skip-broken", "-skip-missing")...)
	if want := "skipped: image missing or broken"; code != 0 || !strings.Contains(stdout, want) {
		t.Errorf("text report: code %d, lacks %q:\n%s", code, want, stdout)
	}
	// predict -split writes the answers it has and says how many it skipped.
	results := filepath.Join(t.TempDir(), "results.json")
	code, stdout, stderr = runCLI(t, "predict", "-model", tinyModel(t), "-data", root, "-split", "val2014", "-limit", fmt.Sprint(n),
		"-image-size", "64", "-skip-broken", "-skip-missing", "-results", results)
	if want := fmt.Sprintf("%d answers written to %s (%d questions skipped: image missing or broken)", n-broken-missing, results, broken+missing); code != 0 || !strings.Contains(stdout, want) {
		t.Errorf("predict -split -skip-broken -skip-missing: code %d, stdout %q, want %q\n%s", code, stdout, want, stderr)
	}
	// Without the flags, each problem is an error naming its flag.
	code, _, stderr = runCLI(t, append(args, "-skip-broken")...)
	if code != 1 || !strings.Contains(stderr, "-skip-missing") {
		t.Errorf("missing image without -skip-missing: code %d, stderr %q", code, stderr)
	}
	noTrace(t, stderr)
}

// TestEvalRefusesOverwritingInputs: -write-results naming the annotations
// (or a link to them) is refused before anything runs, and they stay.
func TestEvalRefusesOverwritingInputs(t *testing.T) {
	root, _, _ := copyMini(t, 1, false)
	ann := vqav2.AnnotationsPath(root, "val2014")
	before, err := os.ReadFile(ann)
	if err != nil {
		t.Fatal(err)
	}
	alias := filepath.Join(t.TempDir(), "results.json")
	if err := os.Symlink(ann, alias); err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{ann, alias, vqav2.QuestionsPath(root, "val2014")} {
		code, _, stderr := runCLI(t, "eval", "-model", tinyModel(t), "-data", root, "-split", "val2014", "-limit", "4", "-image-size", "64", "-write-results", out)
		if code != 1 || !strings.Contains(stderr, "input of this run") {
			t.Errorf("-write-results %s: code %d, stderr %q; want a refusal", out, code, stderr)
		}
	}
	if after, _ := os.ReadFile(ann); !bytes.Equal(after, before) {
		t.Fatal("the annotations file was overwritten")
	}
	code, _, stderr := runCLI(t, "predict", "-model", tinyModel(t), "-data", root, "-split", "val2014", "-limit", "4", "-image-size", "64", "-results", vqav2.QuestionsPath(root, "val2014"))
	if code != 1 || !strings.Contains(stderr, "input of this run") {
		t.Errorf("predict -results <questions file>: code %d, stderr %q; want a refusal", code, stderr)
	}
}

// TestPredictHostileInputs: a device as image and a blank question fail
// with a clear message, before the model is loaded.
func TestPredictHostileInputs(t *testing.T) {
	cat := filepath.Join(testutil.ModuleRoot(t), "data", "coco", "000000039769.png")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-image", "/dev/zero", "-question", "what is it?"}, "/dev/zero is a character device, not a regular file"},
		{[]string{"-image", t.TempDir(), "-question", "what is it?"}, "is a folder, not a regular file"},
		{[]string{"-image", cat, "-question", "   "}, "-question: the question is empty (or only spaces)"},
	} {
		code, _, stderr := runCLI(t, append([]string{"predict"}, c.args...)...)
		if code != 1 || !strings.Contains(stderr, c.want) {
			t.Errorf("predict %q: code %d, stderr %q; want %q", c.args, code, stderr, c.want)
		}
		noTrace(t, stderr)
	}
}

// silentServer accepts connections on 127.0.0.1 and never answers; it
// returns its base URL.
func silentServer(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { close(done); l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				go io.Copy(io.Discard, c)
				<-done
			}()
		}
	}()
	return "http://" + l.Addr().String()
}

// runWithin runs the command line and fails the test when it hangs.
func runWithin(t *testing.T, limit time.Duration, args ...string) (int, string, string) {
	t.Helper()
	type result struct {
		code           int
		stdout, stderr string
	}
	c := make(chan result, 1)
	go func() {
		code, out, errs := runCLI(t, args...)
		c <- result{code, out, errs}
	}()
	select {
	case r := <-c:
		return r.code, r.stdout, r.stderr
	case <-time.After(limit):
		t.Fatalf("vqa %s still running after %v", strings.Join(args, " "), limit)
		return 0, "", ""
	}
}

// TestStalledServers: an image URL or a download mirror that accepts the
// connection and says nothing gives a timeout error, not a hang.
func TestStalledServers(t *testing.T) {
	url := silentServer(t)
	code, _, stderr := runWithin(t, 20*time.Second, "predict", "-image", url+"/cat.png", "-question", "what?", "-timeout", "300ms")
	if code != 1 || !strings.Contains(stderr, "sent no response headers within 300ms") {
		t.Errorf("predict from a silent server: code %d, stderr %q", code, stderr)
	}
	noTrace(t, stderr)
	code, _, stderr = runWithin(t, 20*time.Second, "download", "-root", t.TempDir(), "-vqa-url", url, "-timeout", "300ms", "-retries", "1")
	if code != 1 || !strings.Contains(stderr, "sent no response headers within 300ms") {
		t.Errorf("download from a silent mirror: code %d, stderr %q", code, stderr)
	}
	noTrace(t, stderr)
}

// TestDownloadLocked: a second download into the same root fails at once.
func TestDownloadLocked(t *testing.T) {
	root := t.TempDir()
	held, err := fslock.Acquire(filepath.Join(root, ".download"), "vqa download of val2014")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release()
	code, _, stderr := runWithin(t, 5*time.Second, "download", "-root", root, "-vqa-url", silentServer(t))
	if code != 1 || !strings.Contains(stderr, "is in use by vqa download of val2014") {
		t.Errorf("second download: code %d, stderr %q", code, stderr)
	}
}

// TestPanicBecomesError: a command that panics gives an error line, not a
// stack trace.
func TestPanicBecomesError(t *testing.T) {
	var stderr bytes.Buffer
	err := runCommand(context.Background(), func(context.Context, []string, io.Writer, io.Writer) error {
		var m map[string]int
		m["x"] = 1 // a nil-map write: a runtime panic
		return nil
	}, nil, io.Discard, &stderr)
	if err == nil || !strings.Contains(err.Error(), "internal error") || !strings.Contains(err.Error(), "nil map") {
		t.Errorf("panicking command: error %v, want an internal error naming the panic", err)
	}
	noTrace(t, stderr.String())
}
