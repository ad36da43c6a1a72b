package vqav2_test

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/vilt-go/workbook/vqa/internal/smalldisk"
	"github.com/vilt-go/workbook/vqa/vqav2"
)

func TestResultsRoundTrip(t *testing.T) {
	preds := map[int64]string{262148000: "down", 1: `say "hi"`, 42: "", 7: "été"}
	path := filepath.Join(t.TempDir(), "results.json")
	if err := vqav2.WriteResults(path, preds); err != nil {
		t.Fatal(err)
	}
	got, err := vqav2.ReadResults(path)
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(got, preds) {
		t.Errorf("read back %v, want %v", got, preds)
	}
}

func TestResultsErrors(t *testing.T) {
	for _, tc := range []struct{ name, content, path, problem string }{
		{"object", `{"question_id": 1, "answer": "a"}`, "results", "want an array"},
		{"missing answer", `[{"question_id": 1}]`, "results[0].answer", "missing"},
		{"missing id", `[{"answer": "a"}]`, "results[0].question_id", "missing"},
		{"number answer", `[{"question_id": 1, "answer": 2}]`, "results[0].answer", "want a string"},
		{"duplicate", `[{"question_id": 1, "answer": "a"}, {"question_id": 1, "answer": "b"}]`, "results[1].question_id", "duplicate question id 1"},
		{"truncated", `[{"question_id": 1, "answer": "a"}`, "results", "invalid JSON"},
		{"trailing", `[] []`, "top level", "after the JSON value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeTemp(t, "results.json", tc.content)
			_, err := vqav2.ReadResults(path)
			var fe *vqav2.FieldError
			if !errors.As(err, &fe) || fe.File != path || fe.Path != tc.path || !strings.Contains(fe.Problem, tc.problem) {
				t.Errorf("error %v; want file %s, path %s, problem containing %q", err, path, tc.path, tc.problem)
			}
		})
	}
}

// TestWriteResultsFullDisk: on a full disk (a 64 KiB tmpfs) the old results
// file stays whole and valid, and no partial file is left beside it.
func TestWriteResultsFullDisk(t *testing.T) {
	dir := smalldisk.New(t, 64<<10)
	path := filepath.Join(dir, "results.json")
	old := map[int64]string{1: "yes"}
	if err := vqav2.WriteResults(path, old); err != nil {
		t.Fatal(err)
	}
	big := map[int64]string{}
	for i := range 20_000 {
		big[int64(i)] = "an answer long enough to fill the disk"
	}
	if err := vqav2.WriteResults(path, big); !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), path) {
		t.Fatalf("writing past a full disk: %v, want ENOSPC naming the file", err)
	}
	got, err := vqav2.ReadResults(path)
	if err != nil || !maps.Equal(got, old) {
		t.Errorf("old results after the failed write: %v, %v; want %v", got, err, old)
	}
	if es, _ := os.ReadDir(dir); len(es) != 1 {
		t.Errorf("%d entries in %s, want only results.json", len(es), dir)
	}
}
