package tokenizer

import (
	"testing"

	"github.com/vilt-go/workbook/data"
)

// FuzzTokenize encodes arbitrary strings: every encoding must be MaxLength
// long, start with [CLS], hold one [SEP] right after the real tokens, be
// padded with [PAD] where the attention mask is 0, and decode without panic.
func FuzzTokenize(f *testing.F) {
	for _, s := range []string{"", "How many cats are there?", "Is this crème brûlée?", "这是什么颜色？",
		"Is it ❤️ shaped?", "[CLS] x [SEP] [MASK]", "a\u00a0b\u2028c\x00\ufffd", "\xff\xfe", "ΣΑΣ İstanbul ß ﬁ"} {
		f.Add(s)
	}
	tok, err := LoadFS(data.FS, "vilt-b32-finetuned-vqa")
	if err != nil {
		f.Fatal(err)
	}
	cls, sep, pad := int32(101), int32(102), int32(0)
	f.Fuzz(func(t *testing.T, s string) {
		enc, err := tok.Encode(s)
		if err != nil {
			t.Fatal(err)
		}
		n := tok.MaxLength()
		if len(enc.InputIDs) != n || len(enc.AttentionMask) != n || len(enc.TokenTypeIDs) != n {
			t.Fatalf("lengths %d/%d/%d, want %d", len(enc.InputIDs), len(enc.AttentionMask), len(enc.TokenTypeIDs), n)
		}
		if enc.InputIDs[0] != cls {
			t.Fatalf("first id %d, want [CLS]", enc.InputIDs[0])
		}
		real := 0
		for i, m := range enc.AttentionMask {
			id := enc.InputIDs[i]
			if id < 0 || int(id) >= tok.VocabSize() || enc.TokenTypeIDs[i] != 0 {
				t.Fatalf("position %d: id %d, type %d", i, id, enc.TokenTypeIDs[i])
			}
			switch {
			case m == 1 && i == real:
				real++
			case m == 0 && id != pad:
				t.Fatalf("position %d: masked id %d is not [PAD]", i, id)
			case m != 0:
				t.Fatalf("attention mask %v is not ones then zeros", enc.AttentionMask)
			}
		}
		if real < 2 || enc.InputIDs[real-1] != sep {
			t.Fatalf("last real id %d, want [SEP]", enc.InputIDs[real-1])
		}
		pieces, err := tok.Tokenize(s)
		if err != nil {
			t.Fatal(err)
		}
		if want := min(len(pieces)+2, n); real != want {
			t.Fatalf("%d real ids for %d word pieces", real, len(pieces))
		}
		_ = tok.Decode(enc.InputIDs, false)
		_ = tok.Decode(enc.InputIDs, true)
	})
}
