package download

import (
	"archive/zip"
	"bufio"
	"compress/flate"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/vilt-go/workbook/vqa/internal/fslock"
	"github.com/vilt-go/workbook/vqa/internal/safefile"
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
//
// Split locks root/.download for its duration: a second Split into the same
// root fails at once. An archive left in root/.download by an earlier run
// is checked before it is reused (size and checksum when known, and that it
// opens as a zip); one that fails is removed, with a line in o.Log, and
// downloaded again. An archive that turns out corrupt while unpacking is
// removed too, so that no later run trips over it.
func Split(ctx context.Context, root, split string, o Options) error {
	as, err := Archives(split, o)
	if err != nil {
		return err
	}
	f := o.Fetcher
	if f == nil {
		f = &Fetcher{}
	}
	cache := filepath.Join(root, ".download")
	lock, err := fslock.Acquire(cache, "vqa download of "+split)
	if err != nil {
		return fmt.Errorf("download folder: %w", err)
	}
	defer lock.Release()
	for _, a := range as {
		marker := filepath.Join(cache, a.Name+".extracted")
		if _, err := os.Stat(marker); err == nil {
			logf(o.Log, "%s: already unpacked (%s)", a.Name, marker)
			continue
		}
		files, err := fetchAndExtract(ctx, f, a, cache, root, o.Log)
		if err != nil {
			return err
		}
		if err := safefile.WriteFile(marker, []byte(strings.Join(files, "\n")+"\n"), 0o644); err != nil {
			return fmt.Errorf("marking %s unpacked: %w", a.Name, err)
		}
		logf(o.Log, "%s: %d files unpacked", a.Name, len(files))
		if !o.Keep {
			if err := os.Remove(filepath.Join(cache, a.Name)); err != nil {
				return fmt.Errorf("removing %s: %w", filepath.Join(cache, a.Name), err)
			}
		}
	}
	return nil
}

// fetchAndExtract fetches archive a into cache (checking a copy left by an
// earlier run first) and unpacks it under root. An archive that fails to
// unpack as a zip is removed; when some of its bytes came from an earlier
// run it is downloaded once more from scratch.
func fetchAndExtract(ctx context.Context, f *Fetcher, a Archive, cache, root string, log io.Writer) ([]string, error) {
	zipPath := filepath.Join(cache, a.Name)
	for attempt := 0; ; attempt++ {
		reused := exists(zipPath) || exists(zipPath+".part")
		if exists(zipPath) {
			if err := checkArchive(zipPath, a.Remote); err != nil {
				logf(log, "%s: the copy in %s from an earlier run is unusable (%v); removing it and downloading again", a.Name, cache, err)
				if err := os.Remove(zipPath); err != nil {
					return nil, fmt.Errorf("removing the unusable archive %s: %w", zipPath, err)
				}
				reused = exists(zipPath + ".part")
			}
		}
		logf(log, "%s: fetching %s", a.Name, a.Remote.URL)
		if err := f.Fetch(ctx, a.Remote, zipPath); err != nil {
			return nil, err
		}
		logf(log, "%s: unpacking into %s", a.Name, root)
		files, err := Extract(zipPath, root)
		if err == nil {
			return files, nil
		}
		if !corrupt(err) {
			return nil, err
		}
		if rmErr := os.Remove(zipPath); rmErr != nil {
			return nil, fmt.Errorf("%w (and removing the corrupt archive failed: %v)", err, rmErr)
		}
		if !reused || attempt > 0 {
			return nil, fmt.Errorf("%w; the corrupt archive was removed (the mirror may serve a broken file; give -checksums to catch it before unpacking)", err)
		}
		logf(log, "%s: corrupt (%v), and partly from an earlier run; removed, downloading it again", a.Name, err)
	}
}

// checkArchive checks a cached archive against r (size, sha256 when known)
// and that its zip directory can be read.
func checkArchive(path string, r Remote) error {
	if err := verify(path, r); err != nil {
		return err
	}
	zr, err := zip.OpenReader(path)
	if err != nil {
		return err
	}
	return zr.Close()
}

// corrupt reports whether err says that a zip archive is damaged (as
// opposed to, say, a full disk while unpacking).
func corrupt(err error) bool {
	var flateErr flate.CorruptInputError
	return errors.Is(err, zip.ErrFormat) || errors.Is(err, zip.ErrChecksum) || errors.Is(err, zip.ErrAlgorithm) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &flateErr)
}

// exists reports whether path exists.
func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
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
