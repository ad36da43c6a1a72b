// Package checksum records and checks the SHA-256 of files, in a checksum
// file laid out as sha256sum writes it ("<hex>  <name>" a line, names
// relative to the checksum file's folder), so that `sha256sum -c` checks
// it too. Training checkpoints (vqa/train) carry one, and loading them
// (vqa/hfmodel) verifies it: damaged bytes are found before they are used.
package checksum

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/vilt-go/workbook/vqa/internal/safefile"
)

// Sum is one line of a checksum file.
type Sum struct {
	// Name is the file's name, relative to the checksum file's folder.
	Name string
	// SHA256 is the file's SHA-256 in lower-case hex.
	SHA256 string
}

// Of returns the SHA-256 of the file at path in lower-case hex.
func Of(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("checksum: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("checksum: reading %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Write writes the checksum file path listing sums, through a temporary
// file renamed into place (package safefile).
func Write(path string, sums []Sum) error {
	var b bytes.Buffer
	for _, s := range sums {
		if s.Name == "" || strings.ContainsAny(s.Name, "\n\r") || filepath.IsAbs(s.Name) {
			return fmt.Errorf("checksum: writing %s: file name %q: want a name relative to its folder, on one line", path, s.Name)
		}
		if raw, err := hex.DecodeString(s.SHA256); err != nil || len(raw) != sha256.Size {
			return fmt.Errorf("checksum: writing %s: %s: %q is not a SHA-256 in hex", path, s.Name, s.SHA256)
		}
		fmt.Fprintf(&b, "%s  %s\n", s.SHA256, s.Name)
	}
	if err := safefile.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("checksum: %w", err)
	}
	return nil
}

// Read parses the checksum file at path.
func Read(path string) ([]Sum, error) {
	data, err := safefile.ReadFile(path, safefile.MaxMetadataBytes)
	if err != nil {
		return nil, fmt.Errorf("checksum: %w", err)
	}
	var sums []Sum
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		hexSum, name, ok := strings.Cut(sc.Text(), "  ")
		if raw, err := hex.DecodeString(hexSum); !ok || err != nil || len(raw) != sha256.Size || name == "" {
			return nil, fmt.Errorf("checksum: %s line %d: want \"<64 hex digits>  <file name>\", got %q", path, line, sc.Text())
		}
		sums = append(sums, Sum{Name: name, SHA256: strings.ToLower(hexSum)})
	}
	if len(sums) == 0 {
		return nil, fmt.Errorf("checksum: %s lists no file", path)
	}
	return sums, nil
}

// ErrMismatch is wrapped by the error of [Verify] when a file's content
// differs from its recorded checksum.
var ErrMismatch = errors.New("content differs from its recorded SHA-256")

// Verify checks every file the checksum file at path lists against its
// recorded SHA-256. The error names the first file that is missing,
// unreadable or different (then wrapping [ErrMismatch]).
func Verify(path string) error {
	sums, err := Read(path)
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	for _, s := range sums {
		got, err := Of(filepath.Join(dir, s.Name))
		if err != nil {
			return err
		}
		if got != s.SHA256 {
			return fmt.Errorf("checksum: %s: SHA-256 %s, %s records %s: %w", filepath.Join(dir, s.Name), got, path, s.SHA256, ErrMismatch)
		}
	}
	return nil
}
