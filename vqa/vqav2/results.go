package vqav2

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/vilt-go/workbook/vqa/internal/safefile"
)

// rawResult decodes one record of a results file.
type rawResult struct {
	QuestionID intField    `json:"question_id"`
	Answer     stringField `json:"answer"`
}

// ReadResults reads a results (submission) file, a JSON array of
// {"question_id": int, "answer": str} records, into a map from question id
// to answer (see [ScanResults]).
func ReadResults(path string) (map[int64]string, error) {
	preds := make(map[int64]string)
	err := readFile(path, func(r io.Reader) error {
		return ScanResults(r, path, func(qid int64, answer string) error {
			preds[qid] = answer
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return preds, nil
}

// ScanResults streams a results file from r, calling fn for each record in
// file order; name labels errors. Every record must have an integer
// "question_id" and a string "answer"; question ids must be unique. Errors
// are *[FieldError] values (paths "results[i].field") or errors from fn.
func ScanResults(r io.Reader, name string, fn func(questionID int64, answer string) error) error {
	dec := json.NewDecoder(r)
	seen := make(map[int64]struct{})
	err := eachElement(dec, name, "results", func(dec *json.Decoder, at recordAt) error {
		var raw rawResult
		if err := decodeRecord(dec, name, at, &raw); err != nil {
			return err
		}
		switch {
		case !raw.QuestionID.ok:
			return &FieldError{File: name, Path: at.String() + ".question_id", Problem: "missing or null; want a value"}
		case !raw.Answer.ok:
			return &FieldError{File: name, Path: at.String() + ".answer", Problem: "missing or null; want a value"}
		}
		if err := checkUnique(seen, raw.QuestionID.v, name, at); err != nil {
			return err
		}
		return fn(raw.QuestionID.v, raw.Answer.v)
	})
	if err != nil {
		return err
	}
	return expectEOF(dec, name)
}

// WriteResults writes preds as a results file, one record per line, in
// increasing question id order. The file is replaced whole or not at all
// (written to a temporary file and renamed): on a full disk the old file
// stays as it was.
func WriteResults(path string, preds map[int64]string) error {
	return safefile.Write(path, 0o644, func(w io.Writer) error {
		if _, err := io.WriteString(w, "["); err != nil {
			return err
		}
		for i, qid := range slices.Sorted(maps.Keys(preds)) {
			rec, err := json.Marshal(struct {
				QuestionID int64  `json:"question_id"`
				Answer     string `json:"answer"`
			}{qid, preds[qid]})
			if err != nil {
				return fmt.Errorf("question %d: %w", qid, err)
			}
			sep := ",\n"
			if i == 0 {
				sep = "\n"
			}
			if _, err := io.WriteString(w, sep); err != nil {
				return err
			}
			if _, err := w.Write(rec); err != nil {
				return err
			}
		}
		_, err := io.WriteString(w, "\n]\n")
		return err
	})
}
