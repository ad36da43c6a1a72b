package vqav2_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/vilt-go/workbook/vqa/internal/testutil"
	"github.com/vilt-go/workbook/vqa/vqav2"
)

// FuzzImageID: no panics; an accepted name ends with its id as 12 digits and
// an extension, and FileName round-trips the id.
func FuzzImageID(f *testing.F) {
	for _, s := range []string{"COCO_val2014_000000262148.jpg", "000000039769.png", "x1234567890123.jpg", ".jpg", "COCO_val2014_00000026214.jpg", "٣٣٣٣٣٣٣٣٣٣٣٣.png"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		id, err := vqav2.ImageID(name)
		if err != nil {
			if !strings.Contains(err.Error(), fmt.Sprintf("%q", name)) {
				t.Errorf("error %q does not name the file", err)
			}
			return
		}
		if id < 0 || id >= 1e12 {
			t.Fatalf("ImageID(%q) = %d, out of range", name, id)
		}
		if !strings.HasSuffix(name, fmt.Sprintf("%012d.jpg", id)) && !strings.HasSuffix(name, fmt.Sprintf("%012d.png", id)) {
			t.Errorf("ImageID(%q) = %d: not the 12 digits before the extension", name, id)
		}
		if back, err := vqav2.ImageID(vqav2.FileName("val2014", id)); err != nil || back != id {
			t.Errorf("FileName round trip of %d: %d, %v", id, back, err)
		}
	})
}

func addSeeds(f *testing.F, seeds ...string) {
	data, err := os.ReadFile(filepath.Join(testutil.SharedData(f, "vqav2"), "sample_val2014_q262148000.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	for _, s := range seeds {
		f.Add([]byte(s))
	}
}

// checkReadError requires a *FieldError that names the file.
func checkReadError(t *testing.T, err error) {
	var fe *vqav2.FieldError
	if !errors.As(err, &fe) || fe.File != "fuzz.json" || fe.Path == "" || fe.Problem == "" {
		t.Fatalf("error %v (%T): want a *FieldError naming fuzz.json", err, err)
	}
}

// FuzzReadQuestions: no panics; errors are *FieldErrors; accepted input is
// valid JSON with unique question ids, and writing the records back in the
// official schema reads back the same.
func FuzzReadQuestions(f *testing.F) {
	addSeeds(f, `{"questions":[]}`, `{"info":{"a":[1,{}]},"questions":[{"image_id":1,"question":"Is it?","question_id":1000}]}`,
		`{"questions":[{"image_id":1,"question_id":2,"question":"a?"},{"image_id":1,"question_id":2,"question":"b?"}]}`,
		`{"questions":[{"image_id":"1"}]}`, `{"questions":[5]}`, `[]`, `{"questions":{}}`)
	f.Fuzz(func(t *testing.T, data []byte) {
		var qs []vqav2.Question
		err := vqav2.ScanQuestions(bytes.NewReader(data), "fuzz.json", func(q vqav2.Question) error {
			qs = append(qs, q)
			return nil
		})
		if err != nil {
			checkReadError(t, err)
			return
		}
		if !json.Valid(data) {
			t.Fatalf("accepted invalid JSON %q", data)
		}
		type rec struct {
			ImageID    int64  `json:"image_id"`
			Question   string `json:"question"`
			QuestionID int64  `json:"question_id"`
		}
		recs := make([]rec, len(qs))
		ids := make(map[int64]bool)
		for i, q := range qs {
			if ids[q.QuestionID] {
				t.Fatalf("duplicate question id %d accepted", q.QuestionID)
			}
			ids[q.QuestionID] = true
			recs[i] = rec{q.ImageID, q.Question, q.QuestionID}
		}
		again := roundTrip(t, map[string]any{"questions": recs}, vqav2.ScanQuestions)
		if len(qs) > 0 && !reflect.DeepEqual(again, qs) {
			t.Errorf("round trip: %+v, want %+v", again, qs)
		}
	})
}

// FuzzReadAnnotations: as FuzzReadQuestions, and every accepted annotation
// has 10 answers, a known answer type and known confidences.
func FuzzReadAnnotations(f *testing.F) {
	ok := annotation("1", `,"answers":`+goodAnswers)
	addSeeds(f, `{"annotations":[]}`, `{"annotations":[`+ok+`]}`, `{"annotations":[`+ok+`,`+ok+`]}`,
		`{"annotations":[`+annotation("1", `,"answers":[1]`)+`]}`, `{"annotations":[`+strings.Replace(ok, `"other"`, `"colour"`, 1)+`]}`)
	f.Fuzz(func(t *testing.T, data []byte) {
		var anns []vqav2.Annotation
		err := vqav2.ScanAnnotations(bytes.NewReader(data), "fuzz.json", func(a vqav2.Annotation) error {
			anns = append(anns, a)
			return nil
		})
		if err != nil {
			checkReadError(t, err)
			return
		}
		if !json.Valid(data) {
			t.Fatalf("accepted invalid JSON %q", data)
		}
		ids := make(map[int64]bool)
		for _, a := range anns {
			if ids[a.QuestionID] {
				t.Fatalf("duplicate question id %d accepted", a.QuestionID)
			}
			ids[a.QuestionID] = true
			if len(a.Answers) != vqav2.AnswersPerQuestion {
				t.Fatalf("%d answers accepted", len(a.Answers))
			}
			switch a.AnswerType {
			case vqav2.AnswerTypeYesNo, vqav2.AnswerTypeNumber, vqav2.AnswerTypeOther:
			default:
				t.Fatalf("answer type %q accepted", a.AnswerType)
			}
			for _, ans := range a.Answers {
				if ans.Confidence != "yes" && ans.Confidence != "maybe" && ans.Confidence != "no" {
					t.Fatalf("confidence %q accepted", ans.Confidence)
				}
			}
		}
		again := roundTrip(t, map[string]any{"annotations": officialAnnotations(anns)}, vqav2.ScanAnnotations)
		if len(anns) > 0 && !reflect.DeepEqual(again, anns) {
			t.Errorf("round trip: %+v, want %+v", again, anns)
		}
	})
}

// roundTrip encodes v and reads it back with scan.
func roundTrip[T any](t *testing.T, v any, scan func(r io.Reader, name string, fn func(T) error) error) []T {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out []T
	if err := scan(bytes.NewReader(data), "again.json", func(x T) error { out = append(out, x); return nil }); err != nil {
		t.Fatalf("reading back %s: %v", data, err)
	}
	return out
}

type officialAnswer struct {
	Answer     string `json:"answer"`
	Confidence string `json:"answer_confidence"`
	ID         int    `json:"answer_id"`
}

type officialAnnotation struct {
	QuestionType         string           `json:"question_type"`
	MultipleChoiceAnswer string           `json:"multiple_choice_answer"`
	Answers              []officialAnswer `json:"answers"`
	ImageID              int64            `json:"image_id"`
	AnswerType           string           `json:"answer_type"`
	QuestionID           int64            `json:"question_id"`
}

// officialAnnotations converts to the official JSON schema.
func officialAnnotations(anns []vqav2.Annotation) []officialAnnotation {
	out := make([]officialAnnotation, len(anns))
	for i, a := range anns {
		o := officialAnnotation{a.QuestionType, a.MultipleChoiceAnswer, nil, a.ImageID, a.AnswerType, a.QuestionID}
		for _, ans := range a.Answers {
			o.Answers = append(o.Answers, officialAnswer{ans.Answer, ans.Confidence, ans.ID})
		}
		out[i] = o
	}
	return out
}

// FuzzReadCaptions: no panics; errors are *FieldErrors naming the file;
// accepted input is valid JSON with unique image and caption ids, sizes
// above 0, non-blank captions of bounded length on listed images, and
// writing it back in COCO's layout reads back the same.
func FuzzReadCaptions(f *testing.F) {
	data, err := os.ReadFile(vqav2.CaptionsPath(filepath.Join(testutil.ModuleRoot(f), "data", "vqav2-mini"), "val2014"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	img := `{"id":1,"file_name":"a.jpg","width":4,"height":3}`
	for _, s := range []string{`{"images":[],"annotations":[]}`,
		`{"info":{"year":2014},"images":[` + img + `],"licenses":[{"id":1}],"annotations":[{"image_id":1,"id":5,"caption":"A cat"}]}`,
		`{"images":[` + img + `,` + img + `],"annotations":[]}`, `{"annotations":[{"image_id":2,"id":1,"caption":"x"}],"images":[]}`,
		`{"images":[{"id":1,"file_name":"a","width":-1,"height":3}],"annotations":[]}`, `{"images":{}}`, `[]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := vqav2.DecodeCaptions(bytes.NewReader(data), "fuzz.json")
		if err != nil {
			checkReadError(t, err)
			return
		}
		if !json.Valid(data) {
			t.Fatalf("accepted invalid JSON %q", data)
		}
		type image struct {
			ID       int64  `json:"id"`
			FileName string `json:"file_name"`
			Width    int    `json:"width"`
			Height   int    `json:"height"`
		}
		type caption struct {
			ImageID int64  `json:"image_id"`
			ID      int64  `json:"id"`
			Caption string `json:"caption"`
		}
		file := struct {
			Images      []image   `json:"images"`
			Annotations []caption `json:"annotations"`
		}{Images: []image{}, Annotations: []caption{}}
		images := make(map[int64]bool)
		for _, img := range c.Images {
			if images[img.ID] || img.FileName == "" || filepath.Base(img.FileName) != img.FileName || strings.Contains(img.FileName, `\`) || img.Width <= 0 || img.Height <= 0 {
				t.Fatalf("accepted image %+v (duplicate id: %v)", img, images[img.ID])
			}
			images[img.ID] = true
			file.Images = append(file.Images, image{img.ID, img.FileName, img.Width, img.Height})
		}
		ids := make(map[int64]bool)
		for _, cp := range c.Captions {
			if ids[cp.ID] || !images[cp.ImageID] || strings.TrimSpace(cp.Caption) == "" || len(cp.Caption) > vqav2.MaxCaptionBytes {
				t.Fatalf("accepted caption %+v (duplicate id: %v)", cp, ids[cp.ID])
			}
			ids[cp.ID] = true
			file.Annotations = append(file.Annotations, caption{cp.ImageID, cp.ID, cp.Caption})
		}
		out, err := json.Marshal(file)
		if err != nil {
			t.Fatal(err)
		}
		again, err := vqav2.DecodeCaptions(bytes.NewReader(out), "again.json")
		if err != nil {
			t.Fatalf("reading back %s: %v", out, err)
		}
		if !reflect.DeepEqual(again, c) {
			t.Errorf("round trip: %+v, want %+v", again, c)
		}
	})
}
