package vqaeval

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// literalPunctuation is the punctuation step written as the official code
// does it, one replace per character, against which the one-pass version is
// checked.
func literalPunctuation(in string) string {
	out := in
	for _, p := range punctuation {
		ps := string(p)
		if hasDigitCommaDigit(in) || strings.Contains(in, ps+" ") || strings.Contains(in, " "+ps) {
			out = strings.ReplaceAll(out, ps, "")
		} else {
			out = strings.ReplaceAll(out, ps, " ")
		}
	}
	return stripPeriods(out)
}

// FuzzNormalize checks that normalization never panics, that the punctuation
// step agrees with its literal transcription, that the output is lowercase
// words joined by single spaces, with no punctuation from the official list
// and no articles; and that a prediction equal to 10 identical human answers
// always scores 1.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"100,978", "red, white", "1,000-2,000", "3.5", "ok.", "The Two dogs!", "dont", "ΟΔΟΣ", "İ", "a\x1cb", "\xff,1", strings.Repeat("a.", 40)} {
		f.Add(s, "cat")
	}
	f.Fuzz(func(t *testing.T, s, other string) {
		if !utf8.ValidString(s) || !utf8.ValidString(other) {
			t.Skip("JSON strings are valid UTF-8")
		}
		if got, want := processPunctuation(s), literalPunctuation(s); got != want {
			t.Errorf("processPunctuation(%q) = %q; the literal transcription gives %q", s, got, want)
		}
		out := Normalize(s)
		if strings.ContainsAny(out, punctuation) {
			t.Errorf("Normalize(%q) = %q keeps punctuation", s, out)
		}
		words := strings.Split(out, " ")
		if out != "" && (slices.Contains(words, "") || strings.IndexFunc(out, func(r rune) bool { return r != ' ' && isPySpace(r) }) >= 0) {
			t.Errorf("Normalize(%q) = %q: want words joined by single spaces", s, out)
		}
		for _, w := range words {
			if articles[w] {
				t.Errorf("Normalize(%q) = %q keeps the article %q", s, out, w)
			}
		}
		if pyLower(out) != out {
			t.Errorf("Normalize(%q) = %q is not lowercase", s, out)
		}
		if v := NormalizeViLT(s); strings.Contains(v, ",") {
			t.Errorf("NormalizeViLT(%q) = %q keeps a comma", s, v)
		}
		if acc := Accuracy(s, slices.Repeat([]string{s}, 10)); acc != 1 {
			t.Errorf("Accuracy(%q, 10 x itself) = %v, want 1", s, acc)
		}
		if acc := Accuracy(s, []string{other, s, s, other, "x", "y", s, "z", other, s}); acc < 0 || acc > 1 {
			t.Errorf("Accuracy = %v, out of [0, 1]", acc)
		}
	})
}
