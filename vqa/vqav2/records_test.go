package vqav2_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/vilt-go/workbook/vqa/internal/testutil"
	"github.com/vilt-go/workbook/vqa/vqav2"
)

func sampleFile(t *testing.T) string {
	return filepath.Join(testutil.SharedData(t, "vqav2"), "sample_val2014_q262148000.json")
}

// TestReadSample reads the one real record (its questions and annotations
// share one file) and checks it against the values the format document
// quotes.
func TestReadSample(t *testing.T) {
	qs, err := vqav2.ReadQuestions(sampleFile(t))
	if err != nil {
		t.Fatal(err)
	}
	wantQ := vqav2.Question{ImageID: 262148, QuestionID: 262148000, Question: "Where is he looking?"}
	if len(qs) != 1 || qs[0] != wantQ {
		t.Errorf("questions %+v, want [%+v]", qs, wantQ)
	}
	anns, err := vqav2.ReadAnnotations(sampleFile(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(anns) != 1 {
		t.Fatalf("%d annotations, want 1", len(anns))
	}
	a := anns[0]
	if a.QuestionID != 262148000 || a.ImageID != 262148 || a.QuestionType != "none of the above" ||
		a.AnswerType != vqav2.AnswerTypeOther || a.MultipleChoiceAnswer != "down" {
		t.Errorf("annotation %+v", a)
	}
	want := strings.Fields("down down at_table skateboard down table down down down down")
	if len(a.Answers) != len(want) {
		t.Fatalf("%d answers, want %d", len(a.Answers), len(want))
	}
	for i, ans := range a.Answers {
		w := strings.ReplaceAll(want[i], "_", " ")
		if ans.Answer != w || ans.Confidence != "yes" || ans.ID != i+1 {
			t.Errorf("answers[%d] = %+v, want {%s yes %d}", i, ans, w, i+1)
		}
	}
}

// TestQuestionTypes checks that the sample's question type is in the
// official list of question types.
func TestQuestionTypes(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(testutil.SharedData(t, "vqav2"), "mscoco_question_types.txt"))
	if err != nil {
		t.Fatal(err)
	}
	types := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(types) != 65 {
		t.Errorf("%d question types, want 65", len(types))
	}
	anns, err := vqav2.ReadAnnotations(sampleFile(t))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, ty := range types {
		found = found || ty == anns[0].QuestionType
	}
	if !found {
		t.Errorf("question type %q not in the list", anns[0].QuestionType)
	}
}

const goodAnswers = `[{"answer":"a","answer_confidence":"yes","answer_id":1},{"answer":"a","answer_confidence":"no","answer_id":2},
{"answer":"a","answer_confidence":"maybe","answer_id":3},{"answer":"b","answer_confidence":"yes","answer_id":4},
{"answer":"a","answer_confidence":"yes","answer_id":5},{"answer":"a","answer_confidence":"yes","answer_id":6},
{"answer":"a","answer_confidence":"yes","answer_id":7},{"answer":"a","answer_confidence":"yes","answer_id":8},
{"answer":"a","answer_confidence":"yes","answer_id":9},{"answer":"a","answer_confidence":"yes","answer_id":10}]`

func annotation(qid, fields string) string {
	return `{"question_id":` + qid + `,"image_id":1,"question_type":"what","answer_type":"other","multiple_choice_answer":"a"` + fields + `}`
}

func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestReadErrors feeds files that break the schema and checks that the error
// is a *FieldError naming the file and the field.
func TestReadErrors(t *testing.T) {
	ok := annotation("1", `,"answers":`+goodAnswers)
	for _, tc := range []struct {
		name, kind, content string
		path, problem       string
	}{
		{"truncated", "q", `{"questions":[{"image_id":1,`, "questions[0]", "invalid JSON"},
		{"malformed", "q", `{"questions":[{"image_id":1,,}]}`, "questions[0]", "invalid JSON"},
		{"empty file", "q", ``, "top level", "invalid JSON"},
		{"top level array", "q", `[]`, "top level", "want an object"},
		{"no questions key", "q", `{"info":{"year":2017},"license":{}}`, "questions", "missing"},
		{"questions not array", "q", `{"questions":{}}`, "questions", "want an array"},
		{"record not object", "q", `{"questions":[5]}`, "questions[0]", "want an object"},
		{"missing question_id", "q", `{"questions":[{"image_id":1,"question":"Why?"}]}`, "questions[0].question_id", "missing"},
		{"null question", "q", `{"questions":[{"image_id":1,"question_id":2,"question":null}]}`, "questions[0].question", "missing"},
		{"string id", "q", `{"questions":[{"image_id":"1","question_id":2,"question":"Why?"}]}`, "questions[0].image_id", "want an integer"},
		{"float id", "q", `{"questions":[{"image_id":1.5,"question_id":2,"question":"Why?"}]}`, "questions[0].image_id", "want an integer"},
		{"number question", "q", `{"questions":[{"image_id":1,"question_id":2,"question":7}]}`, "questions[0].question", "want a string"},
		{"duplicate question id", "q", `{"questions":[{"image_id":1,"question_id":2,"question":"a?"},{"image_id":1,"question_id":2,"question":"b?"}]}`, "questions[1].question_id", "duplicate question id 2"},
		{"questions twice", "q", `{"questions":[],"questions":[]}`, "questions", "appears twice"},
		{"trailing data", "q", `{"questions":[]} {}`, "top level", "after the JSON value"},
		{"no annotations key", "a", `{"questions":[]}`, "annotations", "missing"},
		{"missing answers", "a", `{"annotations":[` + annotation("1", "") + `]}`, "annotations[0].answers", "missing"},
		{"null answers", "a", `{"annotations":[` + annotation("1", `,"answers":null`) + `]}`, "annotations[0].answers", "missing, null or empty"},
		{"no answers", "a", `{"annotations":[` + annotation("1", `,"answers":[]`) + `]}`, "annotations[0].answers", "missing, null or empty; want 10 answers"},
		{"answers not array", "a", `{"annotations":[` + annotation("1", `,"answers":"a"`) + `]}`, "annotations[0].answers", "want an array"},
		{"nine answers", "a", `{"annotations":[` + annotation("1", `,"answers":`+strings.Replace(goodAnswers, `,{"answer":"a","answer_confidence":"yes","answer_id":10}`, "", 1)) + `]}`, "annotations[0].answers", "has 9 answers; want 10"},
		{"answer without id", "a", `{"annotations":[` + annotation("1", `,"answers":`+strings.Replace(goodAnswers, `,"answer_id":4`, "", 1)) + `]}`, "annotations[0].answers[3].answer_id", "missing"},
		{"bad confidence", "a", `{"annotations":[` + annotation("1", `,"answers":`+strings.Replace(goodAnswers, `"maybe"`, `"perhaps"`, 1)) + `]}`, "annotations[0].answers[2].answer_confidence", `got "perhaps"`},
		{"bad answer type", "a", `{"annotations":[` + strings.Replace(ok, `"other"`, `"colour"`, 1) + `]}`, "annotations[0].answer_type", `got "colour"`},
		{"missing mc answer", "a", `{"annotations":[` + strings.Replace(ok, `,"multiple_choice_answer":"a"`, "", 1) + `]}`, "annotations[0].multiple_choice_answer", "missing"},
		{"duplicate annotation", "a", `{"annotations":[` + ok + "," + ok + `]}`, "annotations[1].question_id", "duplicate question id 1"},
		{"second record broken", "a", `{"annotations":[` + ok + "," + annotation("2", `,"answers":[1]`) + `]}`, "annotations[1].answers", "want an array of objects"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := writeTemp(t, "bad.json", tc.content)
			var err error
			if tc.kind == "q" {
				_, err = vqav2.ReadQuestions(file)
			} else {
				_, err = vqav2.ReadAnnotations(file)
			}
			t.Log(err)
			var fe *vqav2.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v (%T), want a *FieldError", err, err)
			}
			if fe.File != file || fe.Path != tc.path || !strings.Contains(fe.Problem, tc.problem) {
				t.Errorf("error %q; want file %s, path %s, problem containing %q", err, file, tc.path, tc.problem)
			}
		})
	}
}

func TestReadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v2_mscoco_val2014_annotations.json")
	if _, err := vqav2.ReadAnnotations(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("error %v, want one naming %s", err, path)
	}
}

// TestReadSkipsOtherKeys: info, license and unknown keys and record fields
// are skipped, whatever their position.
func TestReadSkipsOtherKeys(t *testing.T) {
	file := writeTemp(t, "q.json", `{"info":{"year":2017,"nested":[{"a":[1,2,{}]}]},"task_type":"Open-Ended",
"questions":[{"image_id":7,"extra":{"x":[1]},"question":"Is it?","question_id":7001}],"license":{"name":"CC"}}`)
	qs, err := vqav2.ReadQuestions(file)
	if err != nil {
		t.Fatal(err)
	}
	if want := (vqav2.Question{ImageID: 7, QuestionID: 7001, Question: "Is it?"}); len(qs) != 1 || qs[0] != want {
		t.Errorf("got %+v, want [%+v]", qs, want)
	}
}

// TestReadValues: integer limits, escapes and invalid UTF-8 decode as
// encoding/json decodes them into int64 and string.
func TestReadValues(t *testing.T) {
	file := writeTemp(t, "q.json", `{"questions":[
{"image_id":9223372036854775807,"question":"caf\u00e9 \"ok\"?","question_id":-9223372036854775808},
{"image_id":0,"question":"`+"bad \xff byte"+`","question_id":-0},
{"image_id":1,"question":"x","question_id":2,"question":"y","image_id":null,"image_id":3}]}`)
	qs, err := vqav2.ReadQuestions(file)
	if err != nil {
		t.Fatal(err)
	}
	want := []vqav2.Question{
		{ImageID: 9223372036854775807, QuestionID: -9223372036854775808, Question: `café "ok"?`},
		{ImageID: 0, QuestionID: 0, Question: "bad \uFFFD byte"},
		{ImageID: 3, QuestionID: 2, Question: "y"},
	}
	if !reflect.DeepEqual(qs, want) {
		t.Errorf("got %+v, want %+v", qs, want)
	}
	for _, tc := range []struct{ content, path, problem string }{
		{`{"questions":[{"image_id":9223372036854775808,"question":"x","question_id":1}]}`, "questions[0].image_id", "got JSON number 9223372036854775808; want an integer"},
		{`{"questions":[{"image_id":1e3,"question":"x","question_id":1}]}`, "questions[0].image_id", "got JSON number 1e3; want an integer"},
		{`{"questions":[{"image_id":true,"question":"x","question_id":1}]}`, "questions[0].image_id", "got JSON bool; want an integer"},
		{`{"questions":[{"image_id":1,"question":["x"],"question_id":1}]}`, "questions[0].question", "got JSON array; want a string"},
		{`{"questions":[{"image_id":1,"question":"x","question_id":1,"question_id":null}]}`, "questions[0].question_id", "missing"},
	} {
		_, err := vqav2.ReadQuestions(writeTemp(t, "q.json", tc.content))
		var fe *vqav2.FieldError
		if !errors.As(err, &fe) || fe.Path != tc.path || !strings.Contains(fe.Problem, tc.problem) {
			t.Errorf("%s: error %v; want path %s and %q", tc.content, err, tc.path, tc.problem)
		}
	}
}

// TestScanStops: an error returned by the callback stops the scan and comes
// back unchanged.
func TestScanStops(t *testing.T) {
	stop := errors.New("stop")
	n := 0
	err := vqav2.ScanQuestions(strings.NewReader(`{"questions":[{"image_id":1,"question_id":1,"question":"a"},{"image_id":1,"question_id":2,"question":"b"}]}`),
		"mem", func(vqav2.Question) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("err %v after %d records, want stop after 1", err, n)
	}
}
