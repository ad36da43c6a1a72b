package minidata_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	_ "image/jpeg"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/vilt-go/workbook/vqa/internal/testutil"
	"github.com/vilt-go/workbook/vqa/minidata"
	"github.com/vilt-go/workbook/vqa/vqaeval"
	"github.com/vilt-go/workbook/vqa/vqav2"
)

// committed returns the folder of the shipped dataset.
func committed(t *testing.T) string {
	return filepath.Join(testutil.ModuleRoot(t), "data", "vqav2-mini")
}

// files lists the regular files under dir, as slash paths relative to dir.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		out = append(out, filepath.ToSlash(rel))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// TestRegenerateByteForByte is the `make data` contract: generating with
// the default config reproduces every committed file exactly, and nothing
// else.
func TestRegenerateByteForByte(t *testing.T) {
	if raceEnabled {
		t.Skip("full generation is slow under the race detector; TestGenerateDeterministic covers the concurrency")
	}
	want := committed(t)
	got := t.TempDir()
	if _, err := minidata.Generate(got, minidata.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	gotFiles, wantFiles := files(t, got), files(t, want)
	if !slices.Equal(gotFiles, wantFiles) {
		t.Fatalf("generated %d files, committed %d: the file lists differ (run `make data`)", len(gotFiles), len(wantFiles))
	}
	diffs := 0
	for _, name := range wantFiles {
		a, err := os.ReadFile(filepath.Join(got, name))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(want, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			if diffs++; diffs <= 5 {
				t.Errorf("%s: regenerated file differs from the committed one (%d vs %d bytes)", name, len(a), len(b))
			}
		}
	}
	if diffs > 0 {
		t.Fatalf("%d of %d files differ (run `make data` and check why)", diffs, len(wantFiles))
	}
}

// TestGenerateDeterministic generates a small dataset twice, with its
// pictures rendered concurrently, and expects the same bytes.
func TestGenerateDeterministic(t *testing.T) {
	cfg := minidata.DefaultConfig()
	cfg.Seed, cfg.TrainQuestions, cfg.ValQuestions = 7, 40, 12
	a, b := t.TempDir(), t.TempDir()
	for _, dir := range []string{a, b} {
		if _, err := minidata.Generate(dir, cfg); err != nil {
			t.Fatal(err)
		}
	}
	names := files(t, a)
	if !slices.Equal(names, files(t, b)) {
		t.Fatal("two generations wrote different file lists")
	}
	for _, name := range names {
		x, _ := os.ReadFile(filepath.Join(a, name))
		y, _ := os.ReadFile(filepath.Join(b, name))
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs between two generations", name)
		}
	}
	// A different seed gives different data.
	cfg.Seed = 8
	c := t.TempDir()
	if _, err := minidata.Generate(c, cfg); err != nil {
		t.Fatal(err)
	}
	x, _ := os.ReadFile(filepath.Join(a, minidata.AnnotationsFileName(minidata.Train)))
	y, _ := os.ReadFile(filepath.Join(c, minidata.AnnotationsFileName(minidata.Train)))
	if bytes.Equal(x, y) {
		t.Error("seeds 7 and 8 gave the same annotations")
	}
}

func TestGenerateRejectsBadConfig(t *testing.T) {
	for name, edit := range map[string]func(*minidata.Config){
		"negative questions":   func(c *minidata.Config) { c.TrainQuestions = -1 },
		"min above max":        func(c *minidata.Config) { c.MinQuestionsPerImage = 11 },
		"zero per image":       func(c *minidata.Config) { c.MinQuestionsPerImage = 0 },
		"1000 per image":       func(c *minidata.Config) { c.MaxQuestionsPerImage = 1000 },
		"JPEG quality 0":       func(c *minidata.Config) { c.JPEGQuality = 0 },
		"JPEG quality 101":     func(c *minidata.Config) { c.JPEGQuality = 101 },
		"images and questions": func(c *minidata.Config) { c.TrainImages = 5 },
		"negative images":      func(c *minidata.Config) { c.ValQuestions, c.ValImages = 0, -1 },
		"negative short side":  func(c *minidata.Config) { c.ShortSide = -1 },
	} {
		t.Run(name, func(t *testing.T) {
			cfg := minidata.DefaultConfig()
			edit(&cfg)
			dir := t.TempDir()
			if _, err := minidata.Generate(dir, cfg); err == nil {
				t.Fatal("no error")
			}
			if entries, _ := os.ReadDir(dir); len(entries) > 0 {
				t.Errorf("wrote %d entries despite the error", len(entries))
			}
		})
	}
}

// The schema check below decodes the committed files against the official
// VQAv2 format (shared/docs/vqav2-format.md) independently of the
// generator's own types: every object must have exactly the documented
// keys, with the documented JSON types.

// object decodes raw as a JSON object with exactly the keys want.
func object(raw json.RawMessage, where string, want ...string) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%s: want a JSON object: %w", where, err)
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want = slices.Sorted(slices.Values(want))
	if !slices.Equal(keys, want) {
		return nil, fmt.Errorf("%s: keys %v, want exactly %v", where, keys, want)
	}
	return m, nil
}

// field decodes m[key] strictly into v (a pointer to string, int64 or a
// struct).
func field(m map[string]json.RawMessage, key, where string, v any) error {
	dec := json.NewDecoder(bytes.NewReader(m[key]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s.%s: %w", where, key, err)
	}
	return nil
}

// header checks the info and license blocks and the string fields of a
// file's top level.
func header(t *testing.T, m map[string]json.RawMessage, name, split string, withTask bool) {
	t.Helper()
	info, err := object(m["info"], name+": info", "year", "version", "description", "contributor", "url", "date_created")
	if err != nil {
		t.Fatal(err)
	}
	var year int64
	if err := field(info, "year", name+": info", &year); err != nil {
		t.Error(err)
	}
	for _, k := range []string{"version", "description", "contributor", "url", "date_created"} {
		var s string
		if err := field(info, k, name+": info", &s); err != nil || s == "" {
			t.Errorf("%s: info.%s = %q, %v: want a non-empty string", name, k, s, err)
		}
	}
	lic, err := object(m["license"], name+": license", "name", "url")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"name", "url"} {
		var s string
		if err := field(lic, k, name+": license", &s); err != nil || s == "" {
			t.Errorf("%s: license.%s = %q, %v: want a non-empty string", name, k, s, err)
		}
	}
	want := map[string]string{"data_type": "mscoco", "data_subtype": split}
	if withTask {
		want["task_type"] = "Open-Ended"
	}
	for k, v := range want {
		var s string
		if err := field(m, k, name, &s); err != nil || s != v {
			t.Errorf("%s: %s = %q, %v: want %q", name, k, s, err, v)
		}
	}
}

type question struct {
	ImageID    int64  `json:"image_id"`
	Question   string `json:"question"`
	QuestionID int64  `json:"question_id"`
}

type answer struct {
	Answer           string `json:"answer"`
	AnswerConfidence string `json:"answer_confidence"`
	AnswerID         int64  `json:"answer_id"`
}

type annotation struct {
	QuestionType         string   `json:"question_type"`
	MultipleChoiceAnswer string   `json:"multiple_choice_answer"`
	Answers              []answer `json:"answers"`
	ImageID              int64    `json:"image_id"`
	AnswerType           string   `json:"answer_type"`
	QuestionID           int64    `json:"question_id"`
}

// records checks every record of list (a JSON array of objects with
// exactly keys) and decodes it strictly into a T.
func records[T any](t *testing.T, raw json.RawMessage, where string, keys ...string) []T {
	t.Helper()
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		t.Fatalf("%s: want an array: %v", where, err)
	}
	out := make([]T, len(list))
	for i, r := range list {
		at := fmt.Sprintf("%s[%d]", where, i)
		if _, err := object(r, at, keys...); err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(bytes.NewReader(r))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&out[i]); err != nil {
			t.Fatalf("%s: %v", at, err)
		}
	}
	return out
}

// splitFiles reads and checks one split's two JSON files.
func splitFiles(t *testing.T, root, split string) ([]question, []annotation) {
	t.Helper()
	qName, aName := minidata.QuestionsFileName(split), minidata.AnnotationsFileName(split)
	read := func(name string, keys ...string) map[string]json.RawMessage {
		data, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		m, err := object(data, name, keys...)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	qm := read(qName, "info", "task_type", "data_type", "license", "data_subtype", "questions")
	header(t, qm, qName, split, true)
	am := read(aName, "info", "license", "data_subtype", "annotations", "data_type")
	header(t, am, aName, split, false)
	qs := records[question](t, qm["questions"], qName+": questions", "image_id", "question", "question_id")
	anns := records[annotation](t, am["annotations"], aName+": annotations",
		"question_type", "multiple_choice_answer", "answers", "image_id", "answer_type", "question_id")
	return qs, anns
}

var (
	questionText = regexp.MustCompile(`^[A-Z][a-z]*( [a-z]+,?)* [a-z]+\?$`)
	digits       = regexp.MustCompile(`^[0-9]+$`)
)

// TestCommittedSchema checks the shipped dataset against the official
// format and the conventions of the real files: ids, 10 answers with ids
// 1..10, confidences, answer types, the majority answer, and one COCO-named
// picture per image id.
func TestCommittedSchema(t *testing.T) {
	root := committed(t)
	imageSplit := make(map[int64]string)
	for _, split := range []string{minidata.Train, minidata.Val} {
		t.Run(split, func(t *testing.T) {
			qs, anns := splitFiles(t, root, split)
			if len(qs) == 0 || len(qs) != len(anns) {
				t.Fatalf("%d questions, %d annotations: want the same, non-zero", len(qs), len(anns))
			}
			byQID := make(map[int64]question, len(qs))
			perImage := make(map[int64]int)
			for _, q := range qs {
				if _, dup := byQID[q.QuestionID]; dup {
					t.Errorf("question_id %d: duplicate", q.QuestionID)
				}
				byQID[q.QuestionID] = q
				if q.ImageID <= 0 || q.QuestionID/1000 != q.ImageID {
					t.Errorf("question %d: image_id %d: want question_id = image_id*1000 + k", q.QuestionID, q.ImageID)
				}
				perImage[q.ImageID]++
				if !questionText.MatchString(q.Question) {
					t.Errorf("question %d: %q: want a capitalised, lower-case question ending in \"?\"", q.QuestionID, q.Question)
				}
			}
			for id, n := range perImage {
				if other, ok := imageSplit[id]; ok {
					t.Errorf("image %d is in both %s and %s", id, other, split)
				}
				imageSplit[id] = split
				if n > 999 {
					t.Errorf("image %d: %d questions", id, n)
				}
			}
			for _, a := range anns {
				q, ok := byQID[a.QuestionID]
				switch {
				case !ok:
					t.Errorf("annotation %d: no such question", a.QuestionID)
				case q.ImageID != a.ImageID:
					t.Errorf("annotation %d: image_id %d, question says %d", a.QuestionID, a.ImageID, q.ImageID)
				}
				delete(byQID, a.QuestionID)
				checkAnnotation(t, a)
			}
			checkPictures(t, filepath.Join(root, split), split, perImage)
		})
	}
}

// checkAnnotation checks one annotation record's answers.
func checkAnnotation(t *testing.T, a annotation) {
	t.Helper()
	if !slices.Contains([]string{"yes/no", "number", "other"}, a.AnswerType) {
		t.Errorf("annotation %d: answer_type %q", a.QuestionID, a.AnswerType)
	}
	if len(a.Answers) != 10 {
		t.Fatalf("annotation %d: %d answers, want 10", a.QuestionID, len(a.Answers))
	}
	count := make(map[string]int)
	for i, h := range a.Answers {
		if h.AnswerID != int64(i+1) {
			t.Errorf("annotation %d: answers[%d].answer_id = %d, want %d", a.QuestionID, i, h.AnswerID, i+1)
		}
		if !slices.Contains([]string{"yes", "maybe", "no"}, h.AnswerConfidence) {
			t.Errorf("annotation %d: answer_confidence %q", a.QuestionID, h.AnswerConfidence)
		}
		if h.Answer == "" || h.Answer != strings.ToLower(h.Answer) {
			t.Errorf("annotation %d: answer %q: want non-empty lower case", a.QuestionID, h.Answer)
		}
		count[h.Answer]++
	}
	for ans, n := range count {
		if ans != a.MultipleChoiceAnswer && n >= count[a.MultipleChoiceAnswer] {
			t.Errorf("annotation %d: multiple_choice_answer %q (%d votes) is not the most common answer (%q has %d)",
				a.QuestionID, a.MultipleChoiceAnswer, count[a.MultipleChoiceAnswer], ans, n)
		}
	}
	want := map[string]bool{"yes/no": a.MultipleChoiceAnswer == "yes" || a.MultipleChoiceAnswer == "no",
		"number": digits.MatchString(a.MultipleChoiceAnswer)}
	for typ, isType := range want {
		if isType != (a.AnswerType == typ) {
			t.Errorf("annotation %d: answer_type %q for answer %q", a.QuestionID, a.AnswerType, a.MultipleChoiceAnswer)
		}
	}
}

// checkPictures expects exactly one COCO-named JPEG of a COCO-like size per
// image id in dir.
func checkPictures(t *testing.T, dir, split string, perImage map[int64]int) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(perImage) {
		t.Errorf("%s: %d files for %d images", dir, len(entries), len(perImage))
	}
	name := regexp.MustCompile(`^COCO_` + split + `_[0-9]{12}\.jpg$`)
	for _, e := range entries {
		if !name.MatchString(e.Name()) {
			t.Errorf("%s: file name %q does not follow COCO_%s_%%012d.jpg", dir, e.Name(), split)
		}
	}
	for id := range perImage {
		path := filepath.Join(dir, fmt.Sprintf("COCO_%s_%012d.jpg", split, id))
		f, err := os.Open(path)
		if err != nil {
			t.Error(err)
			continue
		}
		cfg, format, err := image.DecodeConfig(f)
		f.Close()
		if err != nil || format != "jpeg" {
			t.Errorf("%s: format %q, %v: want a JPEG", path, format, err)
			continue
		}
		long, short := max(cfg.Width, cfg.Height), min(cfg.Width, cfg.Height)
		if long < 480 || long > 640 || short < 320 || short > 640 {
			t.Errorf("%s: %dx%d is not a COCO-like size", path, cfg.Width, cfg.Height)
		}
	}
}

// TestQuestionTypes checks each question_type against the official list
// (mscoco_question_types.txt): the longest entry that starts the question,
// or "none of the above".
func TestQuestionTypes(t *testing.T) {
	f, err := os.Open(filepath.Join(testutil.SharedData(t, "vqav2"), "mscoco_question_types.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var types []string
	for sc := bufio.NewScanner(f); sc.Scan(); {
		if line := strings.TrimSpace(sc.Text()); line != "" && line != "none of the above" {
			types = append(types, line)
		}
	}
	if len(types) != 64 {
		t.Fatalf("read %d question types, want 64 plus \"none of the above\"", len(types))
	}
	root := committed(t)
	for _, split := range []string{minidata.Train, minidata.Val} {
		qs, anns := splitFiles(t, root, split)
		text := make(map[int64]string, len(qs))
		for _, q := range qs {
			text[q.QuestionID] = q.Question
		}
		for _, a := range anns {
			words := strings.ToLower(strings.TrimSuffix(text[a.QuestionID], "?")) + " "
			want := "none of the above"
			for _, typ := range types {
				if strings.HasPrefix(words, typ+" ") && (want == "none of the above" || len(typ) > len(want)) {
					want = typ
				}
			}
			if a.QuestionType != want {
				t.Errorf("%s question %d %q: question_type %q, want %q", split, a.QuestionID, text[a.QuestionID], a.QuestionType, want)
			}
		}
	}
}

// TestReadableByVQAv2 reads the committed dataset with the workbook's
// VQAv2 data layer: every question joins its annotation, the image folder
// holds exactly the questions' images, and predicting the multiple-choice
// answer scores high on the official VQA accuracy (the simulated
// annotators disagree, but not too much).
func TestReadableByVQAv2(t *testing.T) {
	root := committed(t)
	for _, split := range []string{minidata.Train, minidata.Val} {
		t.Run(split, func(t *testing.T) {
			qs, err := vqav2.ReadQuestions(vqav2.QuestionsPath(root, split))
			if err != nil {
				t.Fatal(err)
			}
			anns, err := vqav2.ReadAnnotations(vqav2.AnnotationsPath(root, split))
			if err != nil {
				t.Fatal(err)
			}
			examples, rep, err := vqav2.Join(qs, anns)
			if err != nil {
				t.Fatal(err)
			}
			if len(examples) != len(qs) || len(rep.QuestionsWithoutAnnotation)+len(rep.AnnotationsWithoutQuestion) > 0 {
				t.Errorf("joined %d of %d questions; report %+v", len(examples), len(qs), rep)
			}
			idToFile, _, err := vqav2.ScanImages(vqav2.ImageDir(root, split))
			if err != nil {
				t.Fatal(err)
			}
			want := make(map[int64]bool)
			for _, q := range qs {
				want[q.ImageID] = true
				if got := filepath.Base(idToFile[q.ImageID]); got != vqav2.FileName(split, q.ImageID) {
					t.Errorf("question %d: image file %q, want %q", q.QuestionID, got, vqav2.FileName(split, q.ImageID))
				}
			}
			if len(idToFile) != len(want) {
				t.Errorf("%d pictures for %d images", len(idToFile), len(want))
			}
			preds := make(map[int64]string, len(anns))
			for _, a := range anns {
				preds[a.QuestionID] = a.MultipleChoiceAnswer
			}
			sum, err := vqaeval.Evaluate(anns, preds)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("VQA accuracy of the multiple-choice answers: %.2f overall, %v", sum.Overall, sum.PerAnswerType)
			if sum.Overall < 90 {
				t.Errorf("multiple-choice answers score %.2f%% on VQA accuracy: want >= 90%%", sum.Overall)
			}
		})
	}
}

type cocoImage struct {
	License  int64  `json:"license"`
	FileName string `json:"file_name"`
	Height   int64  `json:"height"`
	Width    int64  `json:"width"`
	ID       int64  `json:"id"`
}

type cocoCaption struct {
	ImageID int64  `json:"image_id"`
	ID      int64  `json:"id"`
	Caption string `json:"caption"`
}

// TestCommittedCaptions checks the shipped captions files against COCO's
// captions layout, independently of the generator's types: exactly the
// keys of captions_train2014.json, one images record per picture of the
// split with its file name and true size, CaptionsPerImage captions per
// picture with unique ids, and every caption on a known image.
func TestCommittedCaptions(t *testing.T) {
	root := committed(t)
	for _, split := range []string{minidata.Train, minidata.Val} {
		t.Run(split, func(t *testing.T) {
			name := minidata.CaptionsFileName(split)
			data, err := os.ReadFile(filepath.Join(root, name))
			if err != nil {
				t.Fatal(err)
			}
			m, err := object(data, name, "info", "images", "licenses", "annotations")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := object(m["info"], name+": info", "description", "url", "version", "year", "contributor", "date_created"); err != nil {
				t.Error(err)
			}
			licenses := records[struct {
				URL  string `json:"url"`
				ID   int64  `json:"id"`
				Name string `json:"name"`
			}](t, m["licenses"], name+": licenses", "url", "id", "name")
			licenseIDs := make(map[int64]bool)
			for _, l := range licenses {
				licenseIDs[l.ID] = l.URL != "" && l.Name != ""
			}
			images := records[cocoImage](t, m["images"], name+": images", "license", "file_name", "height", "width", "id")
			caps := records[cocoCaption](t, m["annotations"], name+": annotations", "image_id", "id", "caption")

			qs, _ := splitFiles(t, root, split)
			want := make(map[int64]bool)
			for _, q := range qs {
				want[q.ImageID] = true
			}
			perImage := make(map[int64]int)
			for _, img := range images {
				if !want[img.ID] {
					t.Errorf("images: id %d has no questions in %s", img.ID, split)
				}
				if _, dup := perImage[img.ID]; dup {
					t.Errorf("images: id %d twice", img.ID)
				}
				perImage[img.ID] = 0
				if !licenseIDs[img.License] {
					t.Errorf("images: id %d: license %d is not in licenses", img.ID, img.License)
				}
				if img.FileName != vqav2.FileName(split, img.ID) {
					t.Errorf("images: id %d: file_name %q, want %q", img.ID, img.FileName, vqav2.FileName(split, img.ID))
				}
				f, err := os.Open(filepath.Join(root, split, img.FileName))
				if err != nil {
					t.Error(err)
					continue
				}
				cfg, _, err := image.DecodeConfig(f)
				f.Close()
				if err != nil || int64(cfg.Width) != img.Width || int64(cfg.Height) != img.Height {
					t.Errorf("%s: %dx%d (%v), images record says %dx%d", img.FileName, cfg.Width, cfg.Height, err, img.Width, img.Height)
				}
			}
			if len(perImage) != len(want) {
				t.Errorf("%d images records for %d pictures", len(perImage), len(want))
			}
			ids := make(map[int64]bool)
			for _, c := range caps {
				n, ok := perImage[c.ImageID]
				if !ok {
					t.Errorf("caption %d: image_id %d is not in images", c.ID, c.ImageID)
				}
				perImage[c.ImageID] = n + 1
				if ids[c.ID] {
					t.Errorf("caption id %d twice", c.ID)
				}
				ids[c.ID] = true
				if c.Caption == "" || strings.TrimSpace(c.Caption) != c.Caption {
					t.Errorf("caption %d: %q: want non-empty text without outer spaces", c.ID, c.Caption)
				}
			}
			for id, n := range perImage {
				if n != minidata.CaptionsPerImage {
					t.Errorf("image %d: %d captions, want %d", id, n, minidata.CaptionsPerImage)
				}
			}
		})
	}
}
