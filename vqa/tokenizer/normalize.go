package tokenizer

import (
	"strings"
	"unicode"

	"github.com/sugarme/tokenizer/normalizer"
	"golang.org/x/text/cases"
	"golang.org/x/text/language"
	"golang.org/x/text/unicode/norm"
)

// bertNormalizer is the text clean-up of HuggingFace's slow BasicTokenizer
// (transformers 4.30) as a sugarme normalizer: drop NUL, U+FFFD and
// control/format/unassigned characters, map whitespace to ' ', put spaces
// around CJK ideographs, NFC, lower-case, and strip accents (NFD, drop
// category Mn). sugarme's own BertNormalizer strips accents without
// decomposing first, which turns "café" into [UNK].
type bertNormalizer struct {
	lowerCase, stripAccents, chineseChars bool
}

// Normalize implements normalizer.Normalizer. The result is a fresh
// NormalizedString: offsets refer to the normalised text.
func (b bertNormalizer) Normalize(n *normalizer.NormalizedString) (*normalizer.NormalizedString, error) {
	return normalizer.NewNormalizedFrom(b.apply(n.GetNormalized())), nil
}

func (b bertNormalizer) apply(s string) string {
	var sb strings.Builder
	sb.Grow(len(s) + 8)
	for _, r := range s { // invalid UTF-8 reads as U+FFFD and is dropped
		switch {
		case r == 0 || r == unicode.ReplacementChar || isControl(r):
		case isWhitespace(r):
			sb.WriteByte(' ')
		case b.chineseChars && isCJK(r):
			sb.WriteByte(' ')
			sb.WriteRune(r)
			sb.WriteByte(' ')
		default:
			sb.WriteRune(r)
		}
	}
	s = norm.NFC.String(sb.String())
	if b.lowerCase {
		// Full Unicode lower-casing like Python's str.lower (final sigma,
		// U+0130 -> "i\u0307"), not strings.ToLower's simple mapping.
		s = cases.Lower(language.Und).String(s)
	}
	if b.stripAccents {
		s = stripMn(norm.NFD.String(s))
	}
	return s
}

func stripMn(s string) string {
	var sb strings.Builder
	sb.Grow(len(s))
	for _, r := range s {
		if !unicode.Is(unicode.Mn, r) {
			sb.WriteRune(r)
		}
	}
	return sb.String()
}

// isWhitespace is BERT's _is_whitespace (space, \t, \n, \r, category Zs)
// plus the line/paragraph separators Python's str.split() also splits on.
func isWhitespace(r rune) bool {
	switch r {
	case ' ', '\t', '\n', '\r':
		return true
	}
	return unicode.In(r, unicode.Zs, unicode.Zl, unicode.Zp)
}

// isControl is BERT's _is_control: any category C* (Cc, Cf, Co, Cs and
// unassigned code points) except \t, \n and \r.
func isControl(r rune) bool {
	switch r {
	case '\t', '\n', '\r':
		return false
	}
	if unicode.Is(unicode.C, r) {
		return true
	}
	return !unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Z)
}

// isCJK is BERT's _is_chinese_char: the CJK Unified Ideographs blocks.
func isCJK(r rune) bool {
	return (r >= 0x4E00 && r <= 0x9FFF) || (r >= 0x3400 && r <= 0x4DBF) ||
		(r >= 0x20000 && r <= 0x2A6DF) || (r >= 0x2A700 && r <= 0x2B73F) ||
		(r >= 0x2B740 && r <= 0x2B81F) || (r >= 0x2B820 && r <= 0x2CEAF) ||
		(r >= 0xF900 && r <= 0xFAFF) || (r >= 0x2F800 && r <= 0x2FA1F)
}
