package vqaeval

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/vilt-go/workbook/vqa/internal/testutil"
)

// readSpec returns the shared evaluation spec, skipping the test where the
// shared material is absent (failing under $CI, like testutil).
func readSpec(t *testing.T) string {
	t.Helper()
	path := filepath.Join(testutil.ModuleRoot(t), "..", "shared", "docs", "vqa-eval-spec.md")
	data, err := os.ReadFile(path)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("spec missing: %v", err)
		}
		t.Skipf("spec missing: %v", err)
	}
	return string(data)
}

// TestTablesMatchSpec compares the punctuation list, the number map and
// every contraction with the tables of the spec.
func TestTablesMatchSpec(t *testing.T) {
	spec := readSpec(t)

	ordered := make([]string, 21)
	cells := regexp.MustCompile("\\| (\\d+) \\| (`{1,2}) ?(.+?) ?`{1,2} ").FindAllStringSubmatch(spec[:strings.Index(spec, "Not in the list")], -1)
	for _, m := range cells {
		n, _ := strconv.Atoi(m[1])
		if n < 1 || n > len(ordered) || ordered[n-1] != "" {
			t.Fatalf("spec punctuation cell %q", m[0])
		}
		ordered[n-1] = m[3]
	}
	if got, want := punctuation, strings.Join(ordered, ""); len(cells) != 21 || got != want {
		t.Errorf("punctuation %q, spec (%d chars) %q", got, len(cells), want)
	}

	numRows := regexp.MustCompile("(?m)^\\| (\\w+) \\| (\\d+) \\|$").FindAllStringSubmatch(spec, -1)
	if len(numRows) != 12 || len(numbers) != len(numRows) {
		t.Errorf("spec has %d number words, the code %d", len(numRows), len(numbers))
	}
	for _, m := range numRows {
		if numbers[m[1]] != m[2] {
			t.Errorf("number %q -> %q, spec %q", m[1], numbers[m[1]], m[2])
		}
	}

	rows := regexp.MustCompile("(?m)^\\| (\\d+) \\| `([^`]*)` \\| `([^`]*)` \\|$").FindAllStringSubmatch(spec, -1)
	if len(rows) != 120 || len(contractions) != len(rows) {
		t.Errorf("spec has %d contractions, the code %d", len(rows), len(contractions))
	}
	for _, m := range rows {
		if got, ok := contractions[m[2]]; !ok || got != m[3] {
			t.Errorf("contraction %s %q -> %q, spec %q", m[1], m[2], got, m[3])
		}
	}
}
