package download

import (
	"archive/zip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/vilt-go/workbook/vqa/internal/safefile"
)

// Extract unpacks the zip archive at zipPath under dir and returns the
// relative paths of the files written or already present. Entries whose
// names would land outside dir (absolute paths, "..", drive letters), and
// entries that are not regular files or folders (symbolic links), are
// rejected before anything is written. A file already present with the
// entry's size is left alone, so an interrupted extraction can be rerun.
// Each file is written to a temporary name and renamed when its CRC-32 has
// been checked.
func Extract(zipPath, dir string) ([]string, error) {
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		return nil, fmt.Errorf("opening zip %s: %w", zipPath, err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		if err := checkEntry(f); err != nil {
			return nil, fmt.Errorf("zip %s: %w", zipPath, err)
		}
	}
	var files []string
	for _, f := range zr.File {
		name := filepath.FromSlash(strings.TrimSuffix(f.Name, "/"))
		dest := filepath.Join(dir, name)
		if f.FileInfo().IsDir() {
			if err := os.MkdirAll(dest, 0o755); err != nil {
				return nil, err
			}
			continue
		}
		files = append(files, name)
		if st, err := os.Stat(dest); err == nil && st.Mode().IsRegular() && uint64(st.Size()) == f.UncompressedSize64 {
			continue
		}
		if err := extractFile(f, dest); err != nil {
			return nil, fmt.Errorf("zip %s: entry %s: %w", zipPath, f.Name, err)
		}
	}
	return files, nil
}

// checkEntry rejects entries that would escape the destination folder or
// are not plain files or folders.
func checkEntry(f *zip.File) error {
	name := strings.TrimSuffix(f.Name, "/")
	if name == "" || strings.Contains(name, `\`) || !filepath.IsLocal(filepath.FromSlash(name)) {
		return fmt.Errorf("entry %q: path escapes the destination folder", f.Name)
	}
	if m := f.Mode(); !m.IsRegular() && !m.IsDir() {
		return fmt.Errorf("entry %q is %s, not a regular file or a folder", f.Name, safefile.Kind(m))
	}
	return nil
}

// extractFile writes one entry to dest through a temporary file.
func extractFile(f *zip.File, dest string) error {
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return err
	}
	rc, err := f.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dest), ".extract-*")
	if err != nil {
		return err
	}
	// archive/zip checks the CRC-32 when the last byte has been read.
	_, err = io.Copy(tmp, rc)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), dest)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}
