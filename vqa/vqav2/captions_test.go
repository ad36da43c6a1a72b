package vqav2

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vilt-go/workbook/vqa/internal/testutil"
)

// TestReadCaptionsCommitted reads the captions of the shipped mini dataset:
// one images record per picture of the split folder, each with captions.
func TestReadCaptionsCommitted(t *testing.T) {
	root := filepath.Join(testutil.ModuleRoot(t), "data", "vqav2-mini")
	for _, split := range []string{"train2014", "val2014"} {
		c, err := ReadCaptions(CaptionsPath(root, split))
		if err != nil {
			t.Fatal(err)
		}
		idToFile, _, err := ScanImages(ImageDir(root, split))
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Images) != len(idToFile) {
			t.Errorf("%s: %d images records, %d pictures", split, len(c.Images), len(idToFile))
		}
		perImage := make(map[int64]int)
		for _, img := range c.Images {
			if filepath.Base(idToFile[img.ID]) != img.FileName {
				t.Errorf("%s: image %d: file_name %q, folder has %q", split, img.ID, img.FileName, idToFile[img.ID])
			}
		}
		for _, cp := range c.Captions {
			perImage[cp.ImageID]++
		}
		if len(perImage) != len(c.Images) {
			t.Errorf("%s: captions for %d of %d images", split, len(perImage), len(c.Images))
		}
		t.Logf("%s: %d images, %d captions", split, len(c.Images), len(c.Captions))
	}
}

// TestDecodeCaptionsErrors checks that each schema violation is a
// *FieldError naming the record and field.
func TestDecodeCaptionsErrors(t *testing.T) {
	const img = `{"id":1,"file_name":"a.jpg","width":4,"height":3}`
	const cap = `{"id":10,"image_id":1,"caption":"A red circle"}`
	file := func(images, annotations string) string {
		return `{"info":{},"images":[` + images + `],"licenses":[],"annotations":[` + annotations + `]}`
	}
	for _, c := range []struct{ name, in, path, problem string }{
		{"no images", `{"annotations":[]}`, "images", "missing"},
		{"no annotations", `{"images":[]}`, "annotations", "missing"},
		{"images twice", `{"images":[],"images":[],"annotations":[]}`, "images", "twice"},
		{"image without id", file(`{"file_name":"a.jpg","width":4,"height":3}`, ""), "images[0].id", "missing"},
		{"string id", file(`{"id":"1","file_name":"a.jpg","width":4,"height":3}`, ""), "images[0].id", "want an integer"},
		{"empty file name", file(`{"id":1,"file_name":"","width":4,"height":3}`, ""), "images[0].file_name", "empty"},
		{"file name with a folder", file(`{"id":1,"file_name":"../a.jpg","width":4,"height":3}`, ""), "images[0].file_name", "without folders"},
		{"file name dot dot", file(`{"id":1,"file_name":"..","width":4,"height":3}`, ""), "images[0].file_name", "without folders"},
		{"zero width", file(`{"id":1,"file_name":"a.jpg","width":0,"height":3}`, ""), "images[0].width", "got 0"},
		{"no height", file(`{"id":1,"file_name":"a.jpg","width":4}`, ""), "images[0].height", "missing"},
		{"duplicate image", file(img+","+img, ""), "images[1].id", "duplicate"},
		{"caption without id", file(img, `{"image_id":1,"caption":"x"}`), "annotations[0].id", "missing"},
		{"blank caption", file(img, `{"id":10,"image_id":1,"caption":"  "}`), "annotations[0].caption", "blank"},
		{"long caption", file(img, `{"id":10,"image_id":1,"caption":"`+strings.Repeat("a", MaxCaptionBytes+1)+`"}`), "annotations[0].caption", "at most"},
		{"duplicate caption", file(img, cap+","+cap), "annotations[1].id", "duplicate"},
		{"unknown image", file(img, `{"id":10,"image_id":2,"caption":"x"}`), "annotations[0].image_id", "not in"},
		{"truncated", file(img, cap)[:60], "images", "invalid JSON"},
		{"trailing data", file(img, cap) + "{}", "top level", "after the JSON value"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := DecodeCaptions(strings.NewReader(c.in), "captions.json")
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v (%T): want a *FieldError", err, err)
			}
			if fe.File != "captions.json" || !strings.HasPrefix(fe.Path, c.path) || !strings.Contains(fe.Problem, c.problem) {
				t.Errorf("error %q: want path %q and a problem mentioning %q", err, c.path, c.problem)
			}
		})
	}
	got, err := DecodeCaptions(strings.NewReader(file(img, cap)), "captions.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Images) != 1 || got.Images[0] != (CaptionImage{ID: 1, FileName: "a.jpg", Width: 4, Height: 3}) ||
		len(got.Captions) != 1 || got.Captions[0] != (Caption{ID: 10, ImageID: 1, Caption: "A red circle"}) {
		t.Errorf("decoded %+v", got)
	}
}

// TestDecodeCaptionsLimit checks that reading stops at the size limit.
func TestDecodeCaptionsLimit(t *testing.T) {
	in := `{"images":[],"annotations":[]}`
	if _, err := decodeCaptions(strings.NewReader(in), "c.json", int64(len(in))); err != nil {
		t.Fatalf("a file of exactly the limit: %v", err)
	}
	_, err := decodeCaptions(strings.NewReader(in+"   "), "c.json", int64(len(in)))
	if err == nil || !strings.Contains(err.Error(), "larger than the limit") {
		t.Errorf("a file over the limit: error %v, want one saying so", err)
	}
}
