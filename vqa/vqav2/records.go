package vqav2

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
)

// AnswersPerQuestion is the number of human answers every annotation holds.
const AnswersPerQuestion = 10

// The three VQAv2 answer types.
const (
	AnswerTypeYesNo  = "yes/no"
	AnswerTypeNumber = "number"
	AnswerTypeOther  = "other"
)

// Question is one record of a questions file.
type Question struct {
	// ImageID is the COCO image id ("image_id").
	ImageID int64
	// QuestionID is the question's unique id ("question_id").
	QuestionID int64
	// Question is the question text ("question").
	Question string
}

// Answer is one human answer of an annotation.
type Answer struct {
	// Answer is the free-text answer, already normalized by the dataset
	// authors ("answer").
	Answer string
	// Confidence is "yes", "maybe" or "no" ("answer_confidence").
	Confidence string
	// ID is the annotator index 1..10 ("answer_id").
	ID int
}

// Annotation is one record of an annotations file.
type Annotation struct {
	// QuestionID joins the annotation to its question ("question_id").
	QuestionID int64
	// ImageID is the COCO image id ("image_id").
	ImageID int64
	// QuestionType is the question's opening words from the fixed list of
	// question types, or "none of the above" ("question_type").
	QuestionType string
	// AnswerType is one of AnswerTypeYesNo, AnswerTypeNumber or
	// AnswerTypeOther ("answer_type").
	AnswerType string
	// MultipleChoiceAnswer is the most common human answer
	// ("multiple_choice_answer").
	MultipleChoiceAnswer string
	// Answers are the AnswersPerQuestion human answers ("answers").
	Answers []Answer
}

// FieldError reports a record of a VQAv2 JSON file that does not follow the
// official schema.
type FieldError struct {
	// File is the file name (or the name given to the reader).
	File string
	// Path locates the value, e.g. "annotations[12].answers[3].answer_id",
	// or names the top-level key.
	Path string
	// Problem says what is wrong and what was expected.
	Problem string
}

// Error implements error.
func (e *FieldError) Error() string {
	return fmt.Sprintf("%s: %s: %s", e.File, e.Path, e.Problem)
}

// rawQuestion and rawAnnotation decode one record; fields that are missing
// (or null) are left unset.
type rawQuestion struct {
	ImageID    intField    `json:"image_id"`
	Question   stringField `json:"question"`
	QuestionID intField    `json:"question_id"`
}

type rawAnswer struct {
	Answer     stringField `json:"answer"`
	Confidence stringField `json:"answer_confidence"`
	ID         intField    `json:"answer_id"`
}

type rawAnnotation struct {
	QuestionID           intField    `json:"question_id"`
	ImageID              intField    `json:"image_id"`
	QuestionType         stringField `json:"question_type"`
	AnswerType           stringField `json:"answer_type"`
	MultipleChoiceAnswer stringField `json:"multiple_choice_answer"`
	Answers              []rawAnswer `json:"answers"`
}

// ReadQuestions reads a questions file (see [ScanQuestions]).
func ReadQuestions(path string) ([]Question, error) {
	var qs []Question
	err := readFile(path, func(r io.Reader) error {
		return ScanQuestions(r, path, func(q Question) error {
			qs = append(qs, q)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return qs, nil
}

// ReadAnnotations reads an annotations file (see [ScanAnnotations]).
func ReadAnnotations(path string) ([]Annotation, error) {
	var anns []Annotation
	err := readFile(path, func(r io.Reader) error {
		return ScanAnnotations(r, path, func(a Annotation) error {
			anns = append(anns, a)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return anns, nil
}

// readFile opens path and passes it to read.
func readFile(path string, read func(io.Reader) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return read(f)
}

// ScanQuestions streams the "questions" array of a questions file from r,
// calling fn for each record in file order; name labels errors. The file is
// decoded record by record, so memory does not grow with the file size
// beyond what fn keeps (and the set of ids seen). Other top-level keys and
// unknown record fields are skipped; field names match case-insensitively,
// as in encoding/json, and the last of repeated fields wins. Every record
// must have an integer "image_id" and "question_id" and a string
// "question"; question ids must be unique. Errors are *[FieldError] values
// naming the record and field, or errors from fn.
func ScanQuestions(r io.Reader, name string, fn func(Question) error) error {
	seen := make(map[int64]struct{})
	return scanArrays(r, name, map[string]eachFunc{"questions": func(dec *json.Decoder, at recordAt) error {
		var raw rawQuestion
		if err := decodeRecord(dec, name, at, &raw); err != nil {
			return err
		}
		missing := func(field string) error {
			return &FieldError{File: name, Path: at.String() + "." + field, Problem: "missing or null; want a value"}
		}
		switch {
		case !raw.ImageID.ok:
			return missing("image_id")
		case !raw.QuestionID.ok:
			return missing("question_id")
		case !raw.Question.ok:
			return missing("question")
		}
		if err := checkUnique(seen, raw.QuestionID.v, name, at); err != nil {
			return err
		}
		return fn(Question{ImageID: raw.ImageID.v, QuestionID: raw.QuestionID.v, Question: raw.Question.v})
	}})
}

// ScanAnnotations streams the "annotations" array of an annotations file from
// r, calling fn for each record in file order; name labels errors. Like
// [ScanQuestions] it is memory-frugal: it keeps the set of ids seen and one
// copy of each distinct answer, confidence and type string, which the
// records share. Every record must have an integer "question_id" and
// "image_id", string "question_type" and "multiple_choice_answer", an
// "answer_type" of "yes/no", "number" or "other", and exactly
// AnswersPerQuestion "answers", each with a string "answer", an
// "answer_confidence" of "yes", "maybe" or "no" and an integer "answer_id";
// question ids must be unique. Errors are as for [ScanQuestions].
func ScanAnnotations(r io.Reader, name string, fn func(Annotation) error) error {
	seen := make(map[int64]struct{})
	intern := make(map[string]string)
	str := func(s string) string {
		if v, ok := intern[s]; ok {
			return v
		}
		intern[s] = s
		return s
	}
	return scanArrays(r, name, map[string]eachFunc{"annotations": func(dec *json.Decoder, at recordAt) error {
		// Room for the answers up front saves the decoder growing the slice.
		raw := rawAnnotation{Answers: make([]rawAnswer, 0, AnswersPerQuestion)}
		if err := decodeRecord(dec, name, at, &raw); err != nil {
			return err
		}
		missing := func(field string) error {
			return &FieldError{File: name, Path: at.String() + "." + field, Problem: "missing or null; want a value"}
		}
		switch {
		case !raw.QuestionID.ok:
			return missing("question_id")
		case !raw.ImageID.ok:
			return missing("image_id")
		case !raw.QuestionType.ok:
			return missing("question_type")
		case !raw.AnswerType.ok:
			return missing("answer_type")
		case !raw.MultipleChoiceAnswer.ok:
			return missing("multiple_choice_answer")
		case len(raw.Answers) == 0:
			return &FieldError{File: name, Path: at.String() + ".answers", Problem: fmt.Sprintf("missing, null or empty; want %d answers", AnswersPerQuestion)}
		}
		switch raw.AnswerType.v {
		case AnswerTypeYesNo, AnswerTypeNumber, AnswerTypeOther:
		default:
			return &FieldError{File: name, Path: at.String() + ".answer_type",
				Problem: fmt.Sprintf("got %q; want %q, %q or %q", raw.AnswerType.v, AnswerTypeYesNo, AnswerTypeNumber, AnswerTypeOther)}
		}
		if n := len(raw.Answers); n != AnswersPerQuestion {
			return &FieldError{File: name, Path: at.String() + ".answers", Problem: fmt.Sprintf("has %d answers; want %d", n, AnswersPerQuestion)}
		}
		answers := make([]Answer, AnswersPerQuestion)
		for i, a := range raw.Answers {
			switch {
			case !a.Answer.ok:
				return missing(fmt.Sprintf("answers[%d].answer", i))
			case !a.Confidence.ok:
				return missing(fmt.Sprintf("answers[%d].answer_confidence", i))
			case !a.ID.ok:
				return missing(fmt.Sprintf("answers[%d].answer_id", i))
			}
			switch a.Confidence.v {
			case "yes", "maybe", "no":
			default:
				return &FieldError{File: name, Path: fmt.Sprintf("%s.answers[%d].answer_confidence", at, i), Problem: fmt.Sprintf(`got %q; want "yes", "maybe" or "no"`, a.Confidence.v)}
			}
			answers[i] = Answer{Answer: str(a.Answer.v), Confidence: str(a.Confidence.v), ID: int(a.ID.v)}
		}
		if err := checkUnique(seen, raw.QuestionID.v, name, at); err != nil {
			return err
		}
		return fn(Annotation{
			QuestionID:           raw.QuestionID.v,
			ImageID:              raw.ImageID.v,
			QuestionType:         str(raw.QuestionType.v),
			AnswerType:           str(raw.AnswerType.v),
			MultipleChoiceAnswer: str(raw.MultipleChoiceAnswer.v),
			Answers:              answers,
		})
	}})
}

// recordAt locates an array element; its path is formatted only for errors.
type recordAt struct {
	label string
	index int
}

// String returns the element's path, "<label>[index]".
func (r recordAt) String() string { return r.label + "[" + strconv.Itoa(r.index) + "]" }

// checkUnique records that the record at has question id qid and fails
// if an earlier record had it too.
func checkUnique(seen map[int64]struct{}, qid int64, name string, at recordAt) error {
	if _, dup := seen[qid]; dup {
		return &FieldError{File: name, Path: at.String() + ".question_id", Problem: fmt.Sprintf("duplicate question id %d", qid)}
	}
	seen[qid] = struct{}{}
	return nil
}

// decodeRecord decodes the next array element into v, turning JSON errors
// into a *FieldError at the record.
func decodeRecord(dec *json.Decoder, name string, at recordAt, v any) error {
	err := dec.Decode(v)
	if err == nil {
		return nil
	}
	path := at.String()
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		p := path
		if typeErr.Field != "" {
			p += "." + typeErr.Field
		}
		want := typeErr.Type.String()
		switch want {
		case "int64", "int":
			want = "an integer"
		case "string":
			want = "a string"
		default:
			if typeErr.Field == "" {
				want = "an object"
			} else if typeErr.Field == "answers" {
				want = "an array of objects"
			}
		}
		return &FieldError{File: name, Path: p, Problem: fmt.Sprintf("got JSON %s; want %s", typeErr.Value, want)}
	}
	return syntaxError(dec, name, path, err)
}

// syntaxError wraps a decoding error with the file, path and byte offset.
func syntaxError(dec *json.Decoder, name, path string, err error) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return &FieldError{File: name, Path: path, Problem: fmt.Sprintf("invalid JSON near byte %d: %v", dec.InputOffset(), err)}
}

// eachFunc decodes the array element that comes next in dec.
type eachFunc func(dec *json.Decoder, at recordAt) error

// scanArrays walks the top-level JSON object of r token by token, finds the
// array under each key of arrays and calls its function for each element;
// it skips the other keys and requires every key exactly once and nothing
// after the object.
func scanArrays(r io.Reader, name string, arrays map[string]eachFunc) error {
	dec := json.NewDecoder(r)
	if err := expectDelim(dec, name, "top level", '{', "an object"); err != nil {
		return err
	}
	found := make(map[string]bool, len(arrays))
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return syntaxError(dec, name, "top level", err)
		}
		k, ok := tok.(string)
		if !ok { // the decoder only returns strings as object keys
			return &FieldError{File: name, Path: "top level", Problem: fmt.Sprintf("got %v; want a key", tok)}
		}
		each, ok := arrays[k]
		if !ok {
			if err := skipValue(dec); err != nil {
				return syntaxError(dec, name, "top level key "+strconv.Quote(k), err)
			}
			continue
		}
		if found[k] {
			return &FieldError{File: name, Path: k, Problem: "appears twice; want one array"}
		}
		found[k] = true
		if err := eachElement(dec, name, k, each); err != nil {
			return err
		}
	}
	if err := expectDelim(dec, name, "top level", '}', "the end of the object"); err != nil {
		return err
	}
	for _, k := range slices.Sorted(maps.Keys(arrays)) {
		if !found[k] {
			return &FieldError{File: name, Path: k, Problem: "missing; want a top-level array"}
		}
	}
	return expectEOF(dec, name)
}

// eachElement reads the array that comes next in dec and calls each for
// every element.
func eachElement(dec *json.Decoder, name, label string, each eachFunc) error {
	if err := expectDelim(dec, name, label, '[', "an array"); err != nil {
		return err
	}
	for i := 0; dec.More(); i++ {
		if err := each(dec, recordAt{label, i}); err != nil {
			return err
		}
	}
	return expectDelim(dec, name, label, ']', "the end of the array")
}

// expectEOF requires that nothing but white space follows the JSON value.
func expectEOF(dec *json.Decoder, name string) error {
	tok, err := dec.Token()
	switch {
	case err == io.EOF:
		return nil
	case err != nil:
		return syntaxError(dec, name, "top level", err)
	}
	return &FieldError{File: name, Path: "top level", Problem: fmt.Sprintf("unexpected %v after the JSON value", tok)}
}

// expectDelim reads the next token and requires it to be delim.
func expectDelim(dec *json.Decoder, name, path string, delim json.Delim, want string) error {
	tok, err := dec.Token()
	if err != nil {
		return syntaxError(dec, name, path, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != delim {
		return &FieldError{File: name, Path: path, Problem: fmt.Sprintf("got %v; want %s", tok, want)}
	}
	return nil
}

// skipValue reads and discards one JSON value token by token, so that a
// large value costs no memory.
func skipValue(dec *json.Decoder) error {
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 {
			return nil
		}
	}
}
