package tokenizer

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/vilt-go/workbook/data"
	"github.com/vilt-go/workbook/vqa/hfweights"
	"github.com/vilt-go/workbook/vqa/internal/testutil"
)

// fixture is the content of the fixture folder tokenizer/.
type fixture struct {
	questions, decoded, decodedSkip []string
	wordpieces                      [][]string
	lengths                         []int
	ids, mask, types                [][]int64
}

func readJSON(t *testing.T, file string, v any) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}

func rows(t *testing.T, ts map[string]*tensors.Tensor, key string, n int) [][]int64 {
	t.Helper()
	x, ok := ts[key]
	if !ok {
		t.Fatalf("tokens.safetensors: no %s", key)
	}
	flat, err := tensors.CopyFlatData[int64](x)
	if err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	dims := x.Shape().Dimensions
	if len(dims) != 2 || dims[0] != n {
		t.Fatalf("%s has shape %v, want [%d, L]", key, dims, n)
	}
	var out [][]int64
	for i := range n {
		out = append(out, flat[i*dims[1]:(i+1)*dims[1]])
	}
	return out
}

func loadFixture(t *testing.T) fixture {
	dir := filepath.Join(testutil.Fixtures(t, "processor"), "tokenizer")
	var f fixture
	readJSON(t, filepath.Join(dir, "questions.json"), &f.questions)
	readJSON(t, filepath.Join(dir, "decoded.json"), &f.decoded)
	readJSON(t, filepath.Join(dir, "decoded_skip_special.json"), &f.decodedSkip)
	readJSON(t, filepath.Join(dir, "wordpieces.json"), &f.wordpieces)
	readJSON(t, filepath.Join(dir, "untruncated_lengths.json"), &f.lengths)
	ts, err := hfweights.Read(filepath.Join(dir, "tokens.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	n := len(f.questions)
	if n == 0 || len(f.decoded) != n || len(f.decodedSkip) != n || len(f.wordpieces) != n || len(f.lengths) != n {
		t.Fatalf("fixture files disagree on the number of questions (%d)", n)
	}
	f.ids, f.mask, f.types = rows(t, ts, "input_ids", n), rows(t, ts, "attention_mask", n), rows(t, ts, "token_type_ids", n)
	return f
}

func to64(v []int32) []int64 {
	out := make([]int64, len(v))
	for i, x := range v {
		out[i] = int64(x)
	}
	return out
}

func to32(v []int64) []int32 {
	out := make([]int32, len(v))
	for i, x := range v {
		out[i] = int32(x)
	}
	return out
}

// tokenizers loads the tokenizer every supported way: the shared
// bert-base-uncased vocab.txt and tokenizer.json, and the embedded ViLT files.
func tokenizers(t *testing.T) map[string]*Tokenizer {
	bert := testutil.SharedData(t, "bert-base-uncased")
	out := map[string]*Tokenizer{}
	for _, name := range []string{"vocab.txt", "tokenizer.json"} {
		vocabDir := t.TempDir()
		data, err := os.ReadFile(filepath.Join(bert, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(vocabDir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
		tok, err := Load(vocabDir)
		if err != nil {
			t.Fatal(err)
		}
		out["bert-"+name] = tok
	}
	tok, err := LoadFS(data.FS, "vilt-b32-finetuned-vqa")
	if err != nil {
		t.Fatal(err)
	}
	out["embedded"] = tok
	return out
}

func TestFixtures(t *testing.T) {
	f := loadFixture(t)
	for name, tok := range tokenizers(t) {
		t.Run(name, func(t *testing.T) {
			mismatches := 0
			for i, q := range f.questions {
				t.Run(fmt.Sprintf("q%02d", i), func(t *testing.T) {
					enc, err := tok.Encode(q)
					if err != nil {
						t.Fatal(err)
					}
					pieces, err := tok.Tokenize(q)
					if err != nil {
						t.Fatal(err)
					}
					ok := true
					check := func(what string, got, want any) {
						if fmt.Sprint(got) != fmt.Sprint(want) {
							ok = false
							t.Errorf("%q: %s\n got %v\nwant %v", q, what, got, want)
						}
					}
					check("input_ids", to64(enc.InputIDs), f.ids[i])
					check("attention_mask", to64(enc.AttentionMask), f.mask[i])
					check("token_type_ids", to64(enc.TokenTypeIDs), f.types[i])
					check("wordpieces", fmt.Sprintf("%q", pieces), fmt.Sprintf("%q", f.wordpieces[i]))
					check("untruncated length", len(pieces)+2, f.lengths[i])
					ids := to32(f.ids[i])
					check("decode", tok.Decode(ids, false), f.decoded[i])
					check("decode skip special", tok.Decode(ids, true), f.decodedSkip[i])
					if !ok {
						mismatches++
					}
				})
			}
			t.Logf("%d questions, %d mismatches", len(f.questions), mismatches)
		})
	}
}

func TestNormalizer(t *testing.T) {
	n := bertNormalizer{lowerCase: true, stripAccents: true, chineseChars: true}
	for _, c := range []struct{ in, want string }{
		{"Café", "cafe"},
		{"cafe\u0301", "cafe"},         // already decomposed
		{"a\u00a0b\u2028c", "a b c"},   // Zs and Zl become spaces
		{"x\u200by\x00z\ufffd", "xyz"}, // Cf, NUL and U+FFFD are dropped
		{"日本", " 日  本 "},               // CJK ideographs are isolated
		{"\xffok", "ok"},               // invalid UTF-8 is dropped
		{"ÅNGSTRÖM", "angstrom"},       // upper case with accents
		{"\u0130stanbul", "istanbul"},  // dotted capital I
		{"Ǆ", "ǆ"},                     // no decomposition beyond NFD
	} {
		if got := n.apply(c.in); got != c.want {
			t.Errorf("apply(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestSpecialTokensInText(t *testing.T) {
	tok, err := LoadFS(data.FS, "vilt-b32-finetuned-vqa")
	if err != nil {
		t.Fatal(err)
	}
	pieces, err := tok.Tokenize("Is the [MASK] red?")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"is", "the", "[MASK]", "red", "?"}; !slices.Equal(pieces, want) {
		t.Errorf("Tokenize = %q, want %q", pieces, want)
	}
}
