package vqaeval

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// punctuation is the official list of the 21 characters handled by the
// punctuation step, in the official order.
const punctuation = ";/[]\"{}()=+\\_-><@`,?!"

// numbers maps number words to digits (only zero to ten, and "none").
var numbers = map[string]string{
	"none": "0", "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4",
	"five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10",
}

// articles are the words dropped by the digit/article step.
var articles = map[string]bool{"a": true, "an": true, "the": true}

// maxPeriodDeletions caps the period deletions per string: the official
// code passes re.UNICODE (32) where re.sub takes its count.
const maxPeriodDeletions = 32

// Normalize applies the official answer normalization of the VQA evaluation
// code: the punctuation step (processPunctuation) and then the digit, article
// and contraction step (processDigitArticle). It does not do the newline,
// tab and whitespace trimming that [Accuracy] does first.
func Normalize(answer string) string {
	return processDigitArticle(processPunctuation(answer))
}

// NormalizeViLT is ViLT's normalize_word (vilt/utils/glossary.py), used to
// build its answer vocabulary: [Normalize] followed by deleting every
// remaining comma.
func NormalizeViLT(answer string) string {
	return strings.ReplaceAll(Normalize(answer), ",", "")
}

// processPunctuation deletes or blanks each punctuation character: deleted if
// the input has it next to a space, or has a digit, comma, digit anywhere;
// replaced by a space otherwise. Then every period not followed by a digit is
// deleted (at most maxPeriodDeletions of them). One pass does what the
// official code does with a replace per character, as no replacement can
// create or remove another punctuation character.
func processPunctuation(in string) string {
	if !strings.ContainsAny(in, punctuation) {
		return stripPeriods(in)
	}
	deleteAll := hasDigitCommaDigit(in)
	var nextToSpace [128]bool // by punctuation byte: appears next to a space
	for i := 0; i < len(in); i++ {
		if c := in[i]; c < utf8.RuneSelf && strings.IndexByte(punctuation, c) >= 0 &&
			((i > 0 && in[i-1] == ' ') || (i+1 < len(in) && in[i+1] == ' ')) {
			nextToSpace[c] = true
		}
	}
	var b strings.Builder
	b.Grow(len(in))
	for i := 0; i < len(in); i++ {
		c := in[i]
		switch {
		case c >= utf8.RuneSelf || strings.IndexByte(punctuation, c) < 0:
			b.WriteByte(c)
		case !deleteAll && !nextToSpace[c]:
			b.WriteByte(' ')
		}
	}
	return stripPeriods(b.String())
}

// hasDigitCommaDigit reports whether s matches the regular expression
// (\d)(\,)(\d), where \d is a Unicode decimal digit as in Python 3.
func hasDigitCommaDigit(s string) bool {
	rs := []rune(s)
	for i := 0; i+2 < len(rs); i++ {
		if rs[i+1] == ',' && unicode.IsDigit(rs[i]) && unicode.IsDigit(rs[i+2]) {
			return true
		}
	}
	return false
}

// stripPeriods deletes the first maxPeriodDeletions periods that are not
// followed by a Unicode decimal digit: the official (?!<=\d)(\.)(?!\d).
func stripPeriods(s string) string {
	if !strings.Contains(s, ".") {
		return s
	}
	rs := []rune(s)
	out := make([]rune, 0, len(rs))
	deleted := 0
	for i, r := range rs {
		if r == '.' && deleted < maxPeriodDeletions && (i+1 == len(rs) || !unicode.IsDigit(rs[i+1])) {
			deleted++
			continue
		}
		out = append(out, r)
	}
	return string(out)
}

// processDigitArticle lowercases, splits on whitespace, maps number words to
// digits, drops articles, expands contractions and joins with single spaces.
func processDigitArticle(in string) string {
	words := strings.FieldsFunc(pyLower(in), isPySpace)
	out := words[:0]
	for _, w := range words {
		if d, ok := numbers[w]; ok {
			w = d
		}
		if !articles[w] {
			out = append(out, w)
		}
	}
	for i, w := range out {
		if c, ok := contractions[w]; ok {
			out[i] = c
		}
	}
	return strings.Join(out, " ")
}

// isPySpace reports whether Python's str.isspace holds for r: Go's
// unicode.IsSpace plus the separators U+001C..U+001F.
func isPySpace(r rune) bool {
	return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
}

// pyLower is Python's str.lower: the simple lowercase mapping, except the
// full mapping of U+0130 and the Final_Sigma rule for U+03A3.
func pyLower(s string) string {
	rs := []rune(s)
	var b strings.Builder
	b.Grow(len(s))
	for i, r := range rs {
		switch r {
		case '\u0130':
			b.WriteString("i\u0307")
		case '\u03a3':
			if finalSigma(rs, i) {
				b.WriteRune('\u03c2')
			} else {
				b.WriteRune('\u03c3')
			}
		default:
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// finalSigma reports whether the capital sigma at rs[i] ends a word, as
// CPython's handle_capital_sigma decides: a cased letter before it and none
// after it, skipping case-ignorable characters.
func finalSigma(rs []rune, i int) bool {
	j := i - 1
	for j >= 0 && isCaseIgnorable(rs[j]) {
		j--
	}
	if j < 0 || !isCased(rs[j]) {
		return false
	}
	j = i + 1
	for j < len(rs) && isCaseIgnorable(rs[j]) {
		j++
	}
	return j == len(rs) || !isCased(rs[j])
}

// isCased is the Unicode Cased property.
func isCased(r rune) bool {
	return unicode.IsLower(r) || unicode.IsUpper(r) || unicode.IsTitle(r) ||
		unicode.Is(unicode.Other_Lowercase, r) || unicode.Is(unicode.Other_Uppercase, r)
}

// isCaseIgnorable is the Unicode Case_Ignorable property: categories Mn, Me,
// Cf, Lm, Sk and the Word_Break classes MidLetter, MidNumLet and
// Single_Quote.
func isCaseIgnorable(r rune) bool {
	switch r {
	case '\'', '.', ':', '\u00b7', '\u0387', '\u055f', '\u05f4', '\u2018', '\u2019',
		'\u2024', '\u2027', '\ufe13', '\ufe52', '\ufe55', '\uff07', '\uff0e', '\uff1a':
		return true
	}
	return unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf, unicode.Lm, unicode.Sk)
}

// contractions maps written forms to contractions, copied entry by entry
// from the official code (keys with capitals can never match, as there).
var contractions = map[string]string{
	"aint":          "ain't",
	"arent":         "aren't",
	"cant":          "can't",
	"couldve":       "could've",
	"couldnt":       "couldn't",
	"couldn'tve":    "couldn't've",
	"couldnt've":    "couldn't've",
	"didnt":         "didn't",
	"doesnt":        "doesn't",
	"dont":          "don't",
	"hadnt":         "hadn't",
	"hadnt've":      "hadn't've",
	"hadn'tve":      "hadn't've",
	"hasnt":         "hasn't",
	"havent":        "haven't",
	"hed":           "he'd",
	"hed've":        "he'd've",
	"he'dve":        "he'd've",
	"hes":           "he's",
	"howd":          "how'd",
	"howll":         "how'll",
	"hows":          "how's",
	"Id've":         "I'd've",
	"I'dve":         "I'd've",
	"Im":            "I'm",
	"Ive":           "I've",
	"isnt":          "isn't",
	"itd":           "it'd",
	"itd've":        "it'd've",
	"it'dve":        "it'd've",
	"itll":          "it'll",
	"let's":         "let's",
	"maam":          "ma'am",
	"mightnt":       "mightn't",
	"mightnt've":    "mightn't've",
	"mightn'tve":    "mightn't've",
	"mightve":       "might've",
	"mustnt":        "mustn't",
	"mustve":        "must've",
	"neednt":        "needn't",
	"notve":         "not've",
	"oclock":        "o'clock",
	"oughtnt":       "oughtn't",
	"ow's'at":       "'ow's'at",
	"'ows'at":       "'ow's'at",
	"'ow'sat":       "'ow's'at",
	"shant":         "shan't",
	"shed've":       "she'd've",
	"she'dve":       "she'd've",
	"she's":         "she's",
	"shouldve":      "should've",
	"shouldnt":      "shouldn't",
	"shouldnt've":   "shouldn't've",
	"shouldn'tve":   "shouldn't've",
	"somebody'd":    "somebodyd",
	"somebodyd've":  "somebody'd've",
	"somebody'dve":  "somebody'd've",
	"somebodyll":    "somebody'll",
	"somebodys":     "somebody's",
	"someoned":      "someone'd",
	"someoned've":   "someone'd've",
	"someone'dve":   "someone'd've",
	"someonell":     "someone'll",
	"someones":      "someone's",
	"somethingd":    "something'd",
	"somethingd've": "something'd've",
	"something'dve": "something'd've",
	"somethingll":   "something'll",
	"thats":         "that's",
	"thered":        "there'd",
	"thered've":     "there'd've",
	"there'dve":     "there'd've",
	"therere":       "there're",
	"theres":        "there's",
	"theyd":         "they'd",
	"theyd've":      "they'd've",
	"they'dve":      "they'd've",
	"theyll":        "they'll",
	"theyre":        "they're",
	"theyve":        "they've",
	"twas":          "'twas",
	"wasnt":         "wasn't",
	"wed've":        "we'd've",
	"we'dve":        "we'd've",
	"weve":          "we've",
	"werent":        "weren't",
	"whatll":        "what'll",
	"whatre":        "what're",
	"whats":         "what's",
	"whatve":        "what've",
	"whens":         "when's",
	"whered":        "where'd",
	"wheres":        "where's",
	"whereve":       "where've",
	"whod":          "who'd",
	"whod've":       "who'd've",
	"who'dve":       "who'd've",
	"wholl":         "who'll",
	"whos":          "who's",
	"whove":         "who've",
	"whyll":         "why'll",
	"whyre":         "why're",
	"whys":          "why's",
	"wont":          "won't",
	"wouldve":       "would've",
	"wouldnt":       "wouldn't",
	"wouldnt've":    "wouldn't've",
	"wouldn'tve":    "wouldn't've",
	"yall":          "y'all",
	"yall'll":       "y'all'll",
	"y'allll":       "y'all'll",
	"yall'd've":     "y'all'd've",
	"y'alld've":     "y'all'd've",
	"y'all'dve":     "y'all'd've",
	"youd":          "you'd",
	"youd've":       "you'd've",
	"you'dve":       "you'd've",
	"youll":         "you'll",
	"youre":         "you're",
	"youve":         "you've",
}
