// Package hub resolves a model reference, a local folder or a HuggingFace
// Hub id, to a local folder holding the requested files.
//
// Hub files live in the standard HuggingFace cache shared with Python
// (huggingface_hub): <cache>/models--<org>--<name>/snapshots/<commit>/...,
// with refs/<revision> holding the commit of a branch or pull request and
// blobs/ holding the content. Downloaded files are stored as regular files
// in the snapshot folder (as huggingface_hub does where symbolic links are
// not available), through package download: resumable, and bounded in time
// (connecting, response headers, and every wait for more bytes), so that a
// stalled Hub or mirror gives a clear error instead of a hang. While it
// downloads, a process locks the repository's cache folder (package
// fslock): a second one downloading the same model fails at once. Environment
// variables, as in Python:
//
//   - HF_HUB_CACHE (or HUGGINGFACE_HUB_CACHE): the cache folder; default
//     $HF_HOME/hub, with HF_HOME defaulting to $XDG_CACHE_HOME/huggingface
//     or ~/.cache/huggingface.
//   - HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) = 1/ON/YES/TRUE: never touch
//     the network; serve from the cache or fail.
//   - HF_TOKEN, else the token file $HF_TOKEN_PATH or $HF_HOME/token: the
//     access token for gated or private repositories.
//   - HF_ENDPOINT: the Hub URL (default https://huggingface.co).
//   - HF_HUB_DOWNLOAD_TIMEOUT: seconds (a decimal number) allowed for
//     connecting, for the response headers, and for each wait for more
//     bytes of a file (default: the httptimeout defaults).
package hub

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vilt-go/workbook/vqa/download"
	"github.com/vilt-go/workbook/vqa/internal/fslock"
	"github.com/vilt-go/workbook/vqa/internal/httptimeout"
	"github.com/vilt-go/workbook/vqa/internal/safefile"
)

// DefaultRevision is the branch used when no revision is given.
const DefaultRevision = "main"

// ProbeTimeout bounds the first request to the Hub, so that a machine
// without network fails quickly with a clear error.
const ProbeTimeout = 15 * time.Second

var (
	repoIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*(/[A-Za-z0-9][A-Za-z0-9_.-]*)?$`)
	commitPattern = regexp.MustCompile(`^[0-9a-f]{40}$`)
)

// Resolve returns a local folder holding files (slash-separated paths
// relative to the model root). A dirOrID naming an existing folder is
// returned as is, after checking that every file is there. Otherwise
// dirOrID is a Hub repository id ("org/name") at revision (a branch, tag,
// "refs/pr/N" or commit hash; "" means "main"): the snapshot folder in the
// HuggingFace cache is returned when it already holds every file, else the
// missing files are downloaded into it, unless HF_HUB_OFFLINE is set.
func Resolve(dirOrID, revision string, files ...string) (dir string, err error) {
	defer func() {
		if r := recover(); r != nil {
			dir, err = "", fmt.Errorf("resolving %s: %v", dirOrID, r)
		}
	}()
	for _, f := range files {
		if f == "" || path.IsAbs(f) || strings.Contains(f, "\\") || slices.Contains(strings.Split(f, "/"), "..") {
			return "", fmt.Errorf("resolving %s: file name %q must be a relative slash-separated path inside the model", dirOrID, f)
		}
	}
	if info, err := os.Stat(dirOrID); err == nil {
		if !info.IsDir() {
			return "", fmt.Errorf("%s is a file, want a model folder or a Hub id", dirOrID)
		}
		if missing := missingFiles(dirOrID, files); len(missing) > 0 {
			return "", fmt.Errorf("model folder %s lacks %s", dirOrID, strings.Join(missing, ", "))
		}
		return dirOrID, nil
	}
	if !repoIDPattern.MatchString(dirOrID) || strings.Contains(dirOrID, "..") {
		return "", fmt.Errorf("%s is neither an existing folder nor a Hub id like org/name", dirOrID)
	}
	if len(files) == 0 {
		return "", fmt.Errorf("resolving Hub id %s: name the files to fetch", dirOrID)
	}
	if revision == "" {
		revision = DefaultRevision
	}
	cache := CacheDir()
	repoDir := filepath.Join(cache, "models--"+strings.ReplaceAll(dirOrID, "/", "--"))
	snapshot, cached := cachedSnapshot(repoDir, revision)
	var missing []string
	if cached {
		if missing = missingFiles(snapshot, files); len(missing) == 0 {
			return snapshot, nil
		}
	} else {
		missing = files
	}
	if Offline() {
		where := "no snapshot for this revision"
		if cached {
			where = "snapshot " + snapshot
		}
		return "", fmt.Errorf("%s is no local folder, and HF_HUB_OFFLINE is set while Hub model %s@%s is not fully cached in %s (%s): missing %s",
			dirOrID, dirOrID, revision, cache, where, strings.Join(missing, ", "))
	}
	dir, err = fetch(cache, repoDir, dirOrID, revision, files)
	if err != nil {
		return "", fmt.Errorf("%s is no local folder, and as a Hub model: %w", dirOrID, err)
	}
	return dir, nil
}

// fetch downloads files into the snapshot of the revision's commit and
// records the commit in refs/, as huggingface_hub does.
func fetch(cache, repoDir, id, revision string, files []string) (string, error) {
	endpoint := strings.TrimSuffix(os.Getenv("HF_ENDPOINT"), "/")
	if endpoint == "" {
		endpoint = "https://huggingface.co"
	}
	timeouts, err := Timeouts()
	if err != nil {
		return "", err
	}
	client := httptimeout.Client(timeouts)
	token := Token()
	// Python escapes the revision in API paths ("refs/pr/4" -> "refs%2Fpr%2F4").
	commit, err := probe(client, endpoint, id, url.PathEscape(revision), token)
	if err != nil {
		return "", fmt.Errorf("downloading %s@%s from %s (set HF_HUB_OFFLINE=1 to use only the cache in %s): %w", id, revision, endpoint, cache, err)
	}
	// Two processes must not write the same partial files.
	lock, err := fslock.Acquire(repoDir, "a download of "+id)
	if err != nil {
		return "", fmt.Errorf("downloading %s@%s: %w", id, revision, err)
	}
	defer lock.Release()
	snapshot := filepath.Join(repoDir, "snapshots", commit)
	f := &download.Fetcher{Client: client, Retries: 2, RetryWait: time.Second}
	if token != "" {
		f.Header = http.Header{"Authorization": {"Bearer " + token}}
	}
	for _, name := range missingFiles(snapshot, files) {
		dest := filepath.Join(snapshot, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
			return "", fmt.Errorf("downloading %s from %s@%s: %w", name, id, revision, err)
		}
		var escaped []string
		for _, part := range strings.Split(name, "/") {
			escaped = append(escaped, url.PathEscape(part))
		}
		u := endpoint + "/" + id + "/resolve/" + commit + "/" + strings.Join(escaped, "/")
		if err := f.Fetch(context.Background(), download.Remote{URL: u}, dest); err != nil {
			return "", fmt.Errorf("downloading %s from %s@%s (%s) into %s: %w", name, id, revision, endpoint, cache, err)
		}
	}
	if missing := missingFiles(snapshot, files); len(missing) > 0 {
		return "", fmt.Errorf("downloading %s@%s: %s missing from %s after the download", id, revision, strings.Join(missing, ", "), snapshot)
	}
	if revision != commit {
		ref := filepath.Join(repoDir, "refs", filepath.FromSlash(revision))
		if err := os.MkdirAll(filepath.Dir(ref), 0o755); err != nil {
			return "", fmt.Errorf("recording %s@%s: %w", id, revision, err)
		}
		if err := safefile.WriteFile(ref, []byte(commit), 0o644); err != nil {
			return "", fmt.Errorf("recording %s@%s: %w", id, revision, err)
		}
	}
	return snapshot, nil
}

// Timeouts returns the bounds of every request to the Hub:
// HF_HUB_DOWNLOAD_TIMEOUT seconds for each phase when set, else the
// httptimeout defaults.
func Timeouts() (httptimeout.Timeouts, error) {
	v := strings.TrimSpace(os.Getenv("HF_HUB_DOWNLOAD_TIMEOUT"))
	if v == "" {
		return httptimeout.Timeouts{}, nil
	}
	secs, err := strconv.ParseFloat(v, 64)
	if err != nil || !(secs > 0) || secs > 1e6 {
		return httptimeout.Timeouts{}, fmt.Errorf("HF_HUB_DOWNLOAD_TIMEOUT=%q: want a number of seconds > 0, e.g. 30", v)
	}
	d := time.Duration(secs * float64(time.Second))
	return httptimeout.Timeouts{Connect: d, Header: d, Idle: d}, nil
}

// probe asks the Hub for the revision's info, with at most ProbeTimeout in
// all, turning an unreachable network or an unknown repository into a
// quick clear error, and returns the revision's commit hash.
func probe(client *http.Client, endpoint, id, escRev, token string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), ProbeTimeout)
	defer cancel()
	u := endpoint + "/api/models/" + id + "/revision/" + escRev
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("Hub unreachable: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return "", fmt.Errorf("%s: reading the answer: %w", u, err)
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return "", fmt.Errorf("%s: %s (private or gated repository? set HF_TOKEN)", u, resp.Status)
	case resp.StatusCode == http.StatusNotFound:
		return "", fmt.Errorf("%s: %s (unknown repository or revision)", u, resp.Status)
	case resp.StatusCode != http.StatusOK:
		return "", fmt.Errorf("%s: %s", u, resp.Status)
	}
	var info struct {
		SHA string `json:"sha"`
	}
	if err := json.Unmarshal(body, &info); err != nil || !commitPattern.MatchString(info.SHA) {
		return "", fmt.Errorf("%s: the answer has no valid commit hash in \"sha\" (want 40 hex digits; JSON error: %v)", u, err)
	}
	return info.SHA, nil
}

// cachedSnapshot returns the snapshot folder of revision when the cache
// knows its commit (a commit hash itself, or refs/<revision>).
func cachedSnapshot(repoDir, revision string) (string, bool) {
	commit := revision
	if !commitPattern.MatchString(revision) {
		b, err := safefile.ReadFile(filepath.Join(repoDir, "refs", filepath.FromSlash(revision)), safefile.MaxMetadataBytes)
		if err != nil {
			return "", false
		}
		commit = strings.TrimSpace(string(b))
		if !commitPattern.MatchString(commit) {
			return "", false
		}
	}
	snapshot := filepath.Join(repoDir, "snapshots", commit)
	if info, err := os.Stat(snapshot); err != nil || !info.IsDir() {
		return "", false
	}
	return snapshot, true
}

// missingFiles lists the files that are not regular files under dir
// (symbolic links into blobs/ are followed).
func missingFiles(dir string, files []string) []string {
	var missing []string
	for _, f := range files {
		info, err := os.Stat(filepath.Join(dir, filepath.FromSlash(f)))
		if err != nil || !info.Mode().IsRegular() {
			missing = append(missing, f)
		}
	}
	return missing
}

// CacheDir returns the HuggingFace Hub cache folder, resolved like Python's
// huggingface_hub: HF_HUB_CACHE, HUGGINGFACE_HUB_CACHE, $HF_HOME/hub,
// $XDG_CACHE_HOME/huggingface/hub, ~/.cache/huggingface/hub.
func CacheDir() string {
	for _, env := range []string{"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"} {
		if d := os.Getenv(env); d != "" {
			return expandHome(d)
		}
	}
	return filepath.Join(hfHome(), "hub")
}

// hfHome returns $HF_HOME with Python's defaults.
func hfHome() string {
	if d := os.Getenv("HF_HOME"); d != "" {
		return expandHome(d)
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(expandHome(d), "huggingface")
	}
	return filepath.Join(expandHome("~/.cache"), "huggingface")
}

// expandHome replaces a leading "~" with the home folder.
func expandHome(p string) string {
	if p != "~" && !strings.HasPrefix(p, "~/") {
		return p
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return p
	}
	return filepath.Join(home, strings.TrimPrefix(p, "~"))
}

// Offline reports whether HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) is set
// to a true value (1, ON, YES, TRUE in any case), as in Python.
func Offline() bool {
	for _, env := range []string{"HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"} {
		switch strings.ToUpper(os.Getenv(env)) {
		case "1", "ON", "YES", "TRUE":
			return true
		}
	}
	return false
}

// Token returns the Hub access token: HF_TOKEN, else the content of the
// token file ($HF_TOKEN_PATH, default $HF_HOME/token), else "".
func Token() string {
	if t := strings.TrimSpace(os.Getenv("HF_TOKEN")); t != "" {
		return t
	}
	file := os.Getenv("HF_TOKEN_PATH")
	if file == "" {
		file = filepath.Join(hfHome(), "token")
	}
	b, err := safefile.ReadFile(expandHome(file), safefile.MaxMetadataBytes)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
