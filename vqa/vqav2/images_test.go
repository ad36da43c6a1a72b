package vqav2_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vilt-go/workbook/vqa/internal/testutil"
	"github.com/vilt-go/workbook/vqa/vqav2"
)

func TestImageID(t *testing.T) {
	for _, tc := range []struct {
		name string
		want int64
	}{
		{"COCO_val2014_000000262148.jpg", 262148}, // the spec's examples
		{"COCO_val2014_000000501080.jpg", 501080},
		{"000000039769.png", 39769},
		{"/content/Val2014/val2014/COCO_val2014_000000000042.jpg", 42},
		{"COCO_train2014_999999999999.jpg", 999999999999},
		{"x1234567890123.jpg", 234567890123}, // the 12 digits right before the extension
	} {
		got, err := vqav2.ImageID(tc.name)
		if err != nil || got != tc.want {
			t.Errorf("ImageID(%q) = %d, %v; want %d", tc.name, got, err, tc.want)
		}
	}
	for _, name := range []string{
		"", "COCO_val2014_00000026214.jpg", "COCO_val2014_000000262148.jpeg", "COCO_val2014_000000262148.JPG",
		"COCO_val2014_000000262148", "COCO_val2014_0000002621a8.jpg", ".jpg", "cat.png", "COCO_val2014_000000262148.jpg.txt",
	} {
		if _, err := vqav2.ImageID(name); err == nil || !strings.Contains(err.Error(), "image file name \""+name+"\"") {
			t.Errorf("ImageID(%q): error %v, want one naming the file", name, err)
		}
	}
}

func TestFileNameAndPaths(t *testing.T) {
	if got, want := vqav2.FileName("val2014", 262148), "COCO_val2014_000000262148.jpg"; got != want {
		t.Errorf("FileName = %q, want %q", got, want)
	}
	root := filepath.Join("data", "vqav2-mini")
	for _, tc := range []struct{ got, want string }{
		{vqav2.QuestionsPath(root, "val2014"), "data/vqav2-mini/v2_OpenEnded_mscoco_val2014_questions.json"},
		{vqav2.AnnotationsPath(root, "train2014"), "data/vqav2-mini/v2_mscoco_train2014_annotations.json"},
		{vqav2.ImageDir(root, "val2014"), "data/vqav2-mini/val2014"},
		{vqav2.ImagePath(root, "val2014", 262148), "data/vqav2-mini/val2014/COCO_val2014_000000262148.jpg"},
	} {
		if tc.got != filepath.FromSlash(tc.want) {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	for _, id := range []int64{0, 1, 39769, 262148, 999999999999} {
		if got, err := vqav2.ImageID(vqav2.FileName("train2014", id)); err != nil || got != id {
			t.Errorf("ImageID(FileName(%d)) = %d, %v", id, got, err)
		}
	}
}

func writeFiles(t *testing.T, dir string, names ...string) {
	t.Helper()
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestScanImages(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, "COCO_val2014_000000262148.jpg", "COCO_val2014_000000501080.jpg", "000000039769.png", ".DS_Store")
	if err := os.Mkdir(filepath.Join(dir, "thumbs"), 0o755); err != nil {
		t.Fatal(err)
	}
	idToFile, fileToID, err := vqav2.ScanImages(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int64]string{
		262148: filepath.Join(dir, "COCO_val2014_000000262148.jpg"),
		501080: filepath.Join(dir, "COCO_val2014_000000501080.jpg"),
		39769:  filepath.Join(dir, "000000039769.png"),
	}
	if len(idToFile) != len(want) || len(fileToID) != len(want) {
		t.Fatalf("got %v and %v, want %v", idToFile, fileToID, want)
	}
	for id, f := range want {
		if idToFile[id] != f || fileToID[f] != id {
			t.Errorf("id %d: idToFile %q, fileToID %d; want %q", id, idToFile[id], fileToID[f], f)
		}
	}
}

// TestScanImagesShared scans the walk-through's two-cats picture folder of
// the shared data, after copying its images alone.
func TestScanImagesShared(t *testing.T) {
	src := testutil.SharedData(t, "coco")
	dir := t.TempDir()
	data, err := os.ReadFile(filepath.Join(src, "000000039769.png"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "000000039769.png"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	idToFile, _, err := vqav2.ScanImages(dir)
	if err != nil || idToFile[39769] == "" {
		t.Fatalf("got %v, %v; want id 39769", idToFile, err)
	}
}

func TestScanImagesErrors(t *testing.T) {
	notes := t.TempDir()
	writeFiles(t, notes, "COCO_val2014_000000262148.jpg", "README.txt")
	dup := t.TempDir()
	writeFiles(t, dup, "COCO_val2014_000000262148.jpg", "COCO_train2014_000000262148.png")
	file := filepath.Join(t.TempDir(), "plain")
	writeFiles(t, filepath.Dir(file), "plain")
	for _, tc := range []struct{ name, dir, want string }{
		{"name without id", notes, `image file name "README.txt"`},
		{"duplicate id", dup, "both have image id 262148"},
		{"missing folder", filepath.Join(notes, "nope"), filepath.Join(notes, "nope")},
		{"not a folder", file, file},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := vqav2.ScanImages(tc.dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}
