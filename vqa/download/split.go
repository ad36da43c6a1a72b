package download

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// Official base URLs of the VQAv2 and COCO archives.
const (
	// DefaultVQABaseURL holds v2_Questions_*_mscoco.zip and v2_Annotations_*_mscoco.zip.
	DefaultVQABaseURL = "https://s3.amazonaws.com/cvmlp/vqa/mscoco/vqa"
	// DefaultCOCOBaseURL holds train2014.zip, val2014.zip and test2015.zip.
	DefaultCOCOBaseURL = "http://images.cocodataset.org/zips"
)

// Archive is one zip file of a split.
type Archive struct {
	// Name is the archive's file name, e.g. "v2_Questions_Val_mscoco.zip".
	Name string
	// Remote is where it comes from and what it must match.
	Remote Remote
}

// Options configures [Split].
type Options struct {
	// VQABaseURL and COCOBaseURL replace the official locations (e.g. a
	// local mirror); empty means the defaults.
	VQABaseURL, COCOBaseURL string
	// Images also fetches the split's COCO image archive (several GB).
	Images bool
	// Checksums maps archive names to expected sha256 hex digests.
	Checksums map[string]string
	// Keep leaves the zip files in <root>/.download after extraction.
	Keep bool
	// Fetcher does the transfers.
	Fetcher *Fetcher
	// Log receives one line per step; nil for silence.
	Log io.Writer
}

// Archives lists the archives holding split's questions, annotations (not
// for the test splits) and, with o.Images, COCO images.
func Archives(split string, o Options) ([]Archive, error) {
	var part, images string
	switch split {
	case "train2014":
		part, images = "Train", "train2014"
	case "val2014":
		part, images = "Val", "val2014"
	case "test2015", "test-dev2015":
		part, images = "Test", "test2015"
	default:
		return nil, fmt.Errorf("split %q: want train2014, val2014, test2015 or test-dev2015", split)
	}
	vqa, coco := strings.TrimSuffix(o.VQABaseURL, "/"), strings.TrimSuffix(o.COCOBaseURL, "/")
	if vqa == "" {
		vqa = DefaultVQABaseURL
	}
	if coco == "" {
		coco = DefaultCOCOBaseURL
	}
	names := []string{"v2_Questions_" + part + "_mscoco.zip"}
	if part != "Test" {
		names = append(names, "v2_Annotations_"+part+"_mscoco.zip")
	}
	var as []Archive
	for _, n := range names {
		as = append(as, Archive{Name: n, Remote: Remote{URL: vqa + "/" + n, SHA256: o.Checksums[n]}})
	}
	if o.Images {
		n := images + ".zip"
		as = append(as, Archive{Name: n, Remote: Remote{URL: coco + "/" + n, SHA256: o.Checksums[n]}})
	}
	return as, nil
}

// Split downloads split's archives into root/.download and unpacks them
// under root, giving the VQAv2 layout (question and annotation JSON files
// in root, images in root/<images subtype>/). An archive already unpacked
// (marked by root/.download/<name>.extracted) is skipped, so Split can be
// rerun after an interruption and resumes where it stopped.
func Split(ctx context.Context, root, split string, o Options) error {
	as, err := Archives(split, o)
	if err != nil {
		return err
	}
	f := o.Fetcher
	if f == nil {
		f = &Fetcher{Client: http.DefaultClient}
	}
	cache := filepath.Join(root, ".download")
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return fmt.Errorf("creating download folder: %w", err)
	}
	for _, a := range as {
		marker := filepath.Join(cache, a.Name+".extracted")
		if _, err := os.Stat(marker); err == nil {
			logf(o.Log, "%s: already unpacked (%s)", a.Name, marker)
			continue
		}
		zipPath := filepath.Join(cache, a.Name)
		logf(o.Log, "%s: fetching %s", a.Name, a.Remote.URL)
		if err := f.Fetch(ctx, a.Remote, zipPath); err != nil {
			return err
		}
		logf(o.Log, "%s: unpacking into %s", a.Name, root)
		files, err := Extract(zipPath, root)
		if err != nil {
			return err
		}
		if err := os.WriteFile(marker, []byte(strings.Join(files, "\n")+"\n"), 0o644); err != nil {
			return fmt.Errorf("marking %s unpacked: %w", a.Name, err)
		}
		logf(o.Log, "%s: %d files unpacked", a.Name, len(files))
		if !o.Keep {
			if err := os.Remove(zipPath); err != nil {
				return fmt.Errorf("removing %s: %w", zipPath, err)
			}
		}
	}
	return nil
}

// ReadChecksums parses sha256sum output ("<64 hex>  <name>" per line,
// optionally "*<name>" for binary mode; blank lines and # comments ignored)
// into a map from file name to digest.
func ReadChecksums(r io.Reader) (map[string]string, error) {
	sums := map[string]string{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		sum, name, ok := strings.Cut(line, " ")
		name = strings.TrimPrefix(strings.TrimSpace(name), "*")
		if !ok || name == "" || !isSHA256(sum) {
			return nil, fmt.Errorf("checksums line %d: want \"<64 hex digits>  <file name>\", got %q", n, line)
		}
		sums[filepath.Base(name)] = strings.ToLower(sum)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading checksums: %w", err)
	}
	return sums, nil
}

// isSHA256 reports whether s is 64 hex digits.
func isSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
			return false
		}
	}
	return true
}

func logf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format+"\n", args...)
	}
}
