// Package download fetches the official VQAv2 question/annotation archives
// and the COCO image archives for a split and unpacks them into the VQAv2
// folder layout.
//
// Downloads resume: bytes land in "<name>.part" and an interrupted download
// continues from where it stopped with an HTTP Range request (guarded by
// If-Range, so a file that changed on the server starts over). Servers that
// ignore Range are handled by starting again from zero. Every finished file
// is checked against the size the server announced and, when one is known,
// a sha256 checksum, before it is renamed into place.
//
// No transfer waits forever: connecting, the response headers and every
// wait for more bytes are bounded (package httptimeout), and a transfer
// that stalls is resumed like one that broke. A failure to write locally (a
// full disk) removes the partial file and is not retried.
package download

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/vilt-go/workbook/vqa/internal/httptimeout"
)

// Remote is one file to download.
type Remote struct {
	// URL is where the file is fetched from.
	URL string
	// Size is the expected size in bytes, or 0 when unknown (the server's
	// announced size is then checked instead).
	Size int64
	// SHA256 is the expected lower-case hex sha256 of the file, or "" when
	// unknown.
	SHA256 string
}

// Fetcher downloads files with resume, retries and progress reports.
type Fetcher struct {
	// Client makes the HTTP requests (nil: a new client). Unless it comes
	// from httptimeout.Client, its requests get the bounds of Timeouts, so
	// that a stalled server cannot hang a transfer.
	Client *http.Client
	// Timeouts bounds connecting, the wait for the response headers and
	// every wait for more bytes (zero fields: the httptimeout defaults).
	Timeouts httptimeout.Timeouts
	// Header holds extra request headers (e.g. Authorization).
	Header http.Header
	// Progress receives progress lines (bytes, rate, ETA); nil for silence.
	Progress io.Writer
	// Interval is the least time between two progress lines (0: one per
	// buffer written, used by tests).
	Interval time.Duration
	// Retries is how many times a failed transfer is resumed before giving up.
	Retries int
	// RetryWait is the pause before the first retry; it doubles after each.
	RetryWait time.Duration
}

// Fetch downloads r to path. If path already exists and matches r's size and
// checksum it is kept as is. Partial data is kept in path+".part" so that a
// later call (or a retry) resumes it.
func (f *Fetcher) Fetch(ctx context.Context, r Remote, path string) error {
	if ok, err := alreadyThere(path, r); err != nil || ok {
		return err
	}
	wait := f.RetryWait
	var err error
	for attempt := 0; ; attempt++ {
		err = f.transfer(ctx, r, path+".part")
		if err == nil || attempt >= f.Retries || ctx.Err() != nil || errors.Is(err, errPermanent) {
			break
		}
		if f.Progress != nil {
			fmt.Fprintf(f.Progress, "%s: %v; retrying in %v\n", baseName(r.URL), err, wait)
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return fmt.Errorf("downloading %s: %w", r.URL, ctx.Err())
		}
		wait *= 2
	}
	if err != nil {
		var le *localError
		if errors.As(err, &le) {
			// Partial data on a full disk only takes the space needed to
			// free it: remove it.
			os.Remove(path + ".part")
			os.Remove(path + ".part" + validatorSuffix)
			return fmt.Errorf("downloading %s to %s: %w (partial file removed)", r.URL, path, err)
		}
		if _, serr := os.Stat(path + ".part"); serr == nil && !errors.Is(err, errPermanent) {
			return fmt.Errorf("downloading %s to %s: %w (the partial file %s.part is kept: running again resumes it)", r.URL, path, err, path)
		}
		return fmt.Errorf("downloading %s to %s: %w", r.URL, path, err)
	}
	if err := verify(path+".part", r); err != nil {
		// A corrupt file must not be resumed: the next try starts over.
		os.Remove(path + ".part")
		os.Remove(path + ".part" + validatorSuffix)
		return fmt.Errorf("downloading %s: %w", r.URL, err)
	}
	os.Remove(path + ".part" + validatorSuffix)
	if err := os.Rename(path+".part", path); err != nil {
		return fmt.Errorf("downloading %s: %w", r.URL, err)
	}
	return nil
}

// errPermanent marks failures a retry cannot fix (HTTP 4xx, size mismatch).
var errPermanent = errors.New("permanent failure")

// localError is a failure to write the downloaded bytes locally (a full
// disk, a read-only folder): a retry cannot fix it.
type localError struct{ err error }

func (e *localError) Error() string   { return e.err.Error() }
func (e *localError) Unwrap() []error { return []error{e.err, errPermanent} }

// errWriter remembers the error of its writer, to tell local write
// failures from network ones after io.Copy.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(b []byte) (int, error) {
	n, err := e.w.Write(b)
	if err != nil {
		e.err = err
	}
	return n, err
}

// validatorSuffix names the file beside a .part file that keeps the
// server's ETag or Last-Modified, sent back as If-Range on resume.
const validatorSuffix = ".validator"

// transfer appends the missing bytes of r to part, asking the server for a
// range when part already holds some.
func (f *Fetcher) transfer(ctx context.Context, r Remote, part string) error {
	have := int64(0)
	if st, err := os.Stat(part); err == nil {
		have = st.Size()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.URL, nil)
	if err != nil {
		return fmt.Errorf("%w: %v", errPermanent, err)
	}
	for k, vs := range f.Header {
		req.Header[k] = vs
	}
	if have > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", have))
		if v, err := os.ReadFile(part + validatorSuffix); err == nil && len(v) > 0 {
			req.Header.Set("If-Range", string(v))
		}
	}
	resp, err := httptimeout.Bound(f.Client, f.Timeouts).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()

	var total int64 = -1
	flags := os.O_WRONLY | os.O_CREATE
	switch resp.StatusCode {
	case http.StatusOK:
		// Whole file: either a fresh start or a server without Range support.
		flags |= os.O_TRUNC
		have = 0
		total = resp.ContentLength
	case http.StatusPartialContent:
		start, size, err := parseContentRange(resp.Header.Get("Content-Range"))
		if err != nil {
			return err
		}
		if start != have {
			return fmt.Errorf("server resumed at byte %d, asked for %d", start, have)
		}
		flags |= os.O_APPEND
		total = size
	case http.StatusRequestedRangeNotSatisfiable:
		// The part may already be complete: the server says how big the file is.
		if _, size, err := parseContentRange(resp.Header.Get("Content-Range")); err == nil && size == have {
			return nil
		}
		// Otherwise the part is longer than the file: start over.
		if err := os.Remove(part); err != nil {
			return err
		}
		return fmt.Errorf("partial file %s did not fit the remote file; restarting", part)
	default:
		err := fmt.Errorf("HTTP %s", resp.Status)
		if resp.StatusCode >= 400 && resp.StatusCode < 500 {
			err = fmt.Errorf("%w: %v", errPermanent, err)
		}
		return err
	}
	if r.Size > 0 && total >= 0 && total != r.Size {
		return fmt.Errorf("%w: server announces %d bytes, expected %d", errPermanent, total, r.Size)
	}
	if v := validator(resp.Header); v != "" {
		if err := os.WriteFile(part+validatorSuffix, []byte(v), 0o644); err != nil {
			return &localError{err}
		}
	}
	out, err := os.OpenFile(part, flags, 0o644)
	if err != nil {
		return &localError{err}
	}
	p := newProgress(f.Progress, baseName(r.URL), have, total, f.Interval)
	w := &errWriter{w: out}
	_, copyErr := io.Copy(w, io.TeeReader(resp.Body, p))
	closeErr := out.Close()
	p.finish(copyErr == nil)
	if w.err != nil {
		return &localError{w.err}
	}
	if copyErr != nil {
		return copyErr
	}
	if closeErr != nil {
		return &localError{closeErr}
	}
	if total >= 0 && p.done != total {
		return fmt.Errorf("transfer ended at byte %d of %d", p.done, total)
	}
	return nil
}

// validator returns the strong validator for If-Range: the ETag unless it is
// weak, else Last-Modified.
func validator(h http.Header) string {
	if e := h.Get("ETag"); e != "" && !strings.HasPrefix(e, "W/") {
		return e
	}
	return h.Get("Last-Modified")
}

// parseContentRange parses "bytes START-END/SIZE" or "bytes */SIZE" and
// returns START (0 for the second form) and SIZE (-1 when "*").
func parseContentRange(s string) (start, size int64, err error) {
	rest, ok := strings.CutPrefix(s, "bytes ")
	if !ok {
		return 0, 0, fmt.Errorf("Content-Range %q: want \"bytes START-END/SIZE\"", s)
	}
	span, total, ok := strings.Cut(rest, "/")
	if !ok {
		return 0, 0, fmt.Errorf("Content-Range %q: missing \"/SIZE\"", s)
	}
	size = -1
	if total != "*" {
		if size, err = strconv.ParseInt(total, 10, 64); err != nil || size < 0 {
			return 0, 0, fmt.Errorf("Content-Range %q: bad size", s)
		}
	}
	if span == "*" {
		return 0, size, nil
	}
	first, _, ok := strings.Cut(span, "-")
	if start, err = strconv.ParseInt(first, 10, 64); !ok || err != nil || start < 0 {
		return 0, 0, fmt.Errorf("Content-Range %q: bad range", s)
	}
	return start, size, nil
}

// alreadyThere reports whether path exists and matches r.
func alreadyThere(path string, r Remote) (bool, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err := verify(path, r); err != nil {
		return false, fmt.Errorf("%s exists but %w (delete it to download again)", path, err)
	}
	return true, nil
}

// verify checks the size and sha256 of the file at path against r.
func verify(path string, r Remote) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if r.Size > 0 && st.Size() != r.Size {
		return fmt.Errorf("%w: %s has %d bytes, expected %d", errPermanent, path, st.Size(), r.Size)
	}
	if r.SHA256 == "" {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("hashing %s: %w", path, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != strings.ToLower(r.SHA256) {
		return fmt.Errorf("%w: %s has sha256 %s, expected %s", errPermanent, path, got, r.SHA256)
	}
	return nil
}

// baseName returns the last path element of a URL.
func baseName(url string) string {
	if i := strings.LastIndexByte(url, '/'); i >= 0 {
		return url[i+1:]
	}
	return url
}
