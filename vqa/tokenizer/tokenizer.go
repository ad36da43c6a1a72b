// Package tokenizer is the BERT uncased WordPiece tokenizer that ViLT uses,
// built on github.com/sugarme/tokenizer and matching HuggingFace's
// BertTokenizer (transformers 4.30): "[CLS] question [SEP]", truncated and
// padded to a fixed length, with attention mask and token type ids, and the
// matching decode.
package tokenizer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"

	sugar "github.com/sugarme/tokenizer"
	"github.com/sugarme/tokenizer/model"
	"github.com/sugarme/tokenizer/model/wordpiece"
	"github.com/sugarme/tokenizer/pretokenizer"
	"github.com/sugarme/tokenizer/processor"
)

// Options are the tokenizer settings of a HuggingFace tokenizer_config.json.
type Options struct {
	LowerCase            bool  // do_lower_case
	StripAccents         *bool // strip_accents; nil follows LowerCase (HF's None)
	TokenizeChineseChars bool  // tokenize_chinese_chars
	MaxLength            int   // model_max_length: pad/truncate to this many ids
	// Special tokens.
	UnkToken, SepToken, PadToken, ClsToken, MaskToken string
	// MaxInputCharsPerWord longer words become the unknown token.
	MaxInputCharsPerWord int
}

// DefaultOptions returns the settings of dandelin/vilt-b32-finetuned-vqa.
func DefaultOptions() Options {
	return Options{
		LowerCase: true, TokenizeChineseChars: true, MaxLength: 40,
		UnkToken: "[UNK]", SepToken: "[SEP]", PadToken: "[PAD]", ClsToken: "[CLS]", MaskToken: "[MASK]",
		MaxInputCharsPerWord: 100,
	}
}

// Encoding is one tokenised text, MaxLength long.
type Encoding struct {
	InputIDs, AttentionMask, TokenTypeIDs []int32
}

// Tokenizer turns questions into BERT input ids. It is safe for concurrent use.
type Tokenizer struct {
	tk      *sugar.Tokenizer
	words   *sugar.Tokenizer // same pipeline without padding/truncation/specials, for Tokenize
	tokens  []string         // id -> token
	special map[int32]bool
	opts    Options
	padID   int32
	maskID  int32
}

// New builds a tokenizer from a vocabulary (token -> id).
func New(vocab map[string]int, opts Options) (*Tokenizer, error) {
	if opts.MaxLength < 2 {
		return nil, fmt.Errorf("tokenizer: max length %d leaves no room for [CLS] and [SEP]", opts.MaxLength)
	}
	if opts.MaxInputCharsPerWord <= 0 {
		opts.MaxInputCharsPerWord = 100
	}
	size := 0
	for tok, id := range vocab {
		if id < 0 {
			return nil, fmt.Errorf("tokenizer: token %q has negative id %d", tok, id)
		}
		size = max(size, id+1)
	}
	t := &Tokenizer{tokens: make([]string, size), special: map[int32]bool{}, opts: opts}
	for tok, id := range vocab {
		t.tokens[id] = tok
	}
	ids := map[string]int{}
	for _, name := range []string{opts.UnkToken, opts.SepToken, opts.PadToken, opts.ClsToken, opts.MaskToken} {
		id, ok := vocab[name]
		if !ok {
			return nil, fmt.Errorf("tokenizer: special token %q is not in the vocabulary", name)
		}
		ids[name] = id
		t.special[int32(id)] = true
	}
	t.padID = int32(ids[opts.PadToken])
	t.maskID = int32(ids[opts.MaskToken])
	strip := opts.LowerCase
	if opts.StripAccents != nil {
		strip = *opts.StripAccents
	}
	norm := bertNormalizer{lowerCase: opts.LowerCase, stripAccents: strip, chineseChars: opts.TokenizeChineseChars}
	v := make(model.Vocab, len(vocab))
	for k, id := range vocab {
		v[k] = id
	}
	// Both pipelines share one (read-only) WordPiece model.
	wp := wordpiece.NewWordPieceBuilder().Vocab(&v).UnkToken(opts.UnkToken).
		ContinuingSubwordPrefix("##").MaxInputCharsPerWord(opts.MaxInputCharsPerWord).Build()
	build := func() *sugar.Tokenizer {
		tk := sugar.NewTokenizer(wp)
		tk.WithNormalizer(norm)
		tk.WithPreTokenizer(pretokenizer.NewBertPreTokenizer())
		var added []sugar.AddedToken
		for _, name := range []string{opts.UnkToken, opts.SepToken, opts.PadToken, opts.ClsToken, opts.MaskToken} {
			added = append(added, sugar.NewAddedToken(name, true))
		}
		tk.AddSpecialTokens(added)
		return tk
	}
	t.words = build()
	t.tk = build()
	t.tk.WithPostProcessor(processor.NewBertProcessing(
		processor.PostToken{Value: opts.SepToken, Id: ids[opts.SepToken]},
		processor.PostToken{Value: opts.ClsToken, Id: ids[opts.ClsToken]}))
	t.tk.WithTruncation(&sugar.TruncationParams{MaxLength: opts.MaxLength, Strategy: sugar.LongestFirst})
	t.tk.WithPadding(&sugar.PaddingParams{
		Strategy:  *sugar.NewPaddingStrategy(sugar.WithFixed(opts.MaxLength)),
		Direction: sugar.Right, PadId: ids[opts.PadToken], PadToken: opts.PadToken,
	})
	return t, nil
}

// MaxLength is the length of every [Encoding].
func (t *Tokenizer) MaxLength() int { return t.opts.MaxLength }

// MaskID is the id of the mask token ([MASK]), the word masked language
// modelling fills in.
func (t *Tokenizer) MaskID() int32 { return t.maskID }

// IsFraming reports whether id is one of the tokens the tokenizer adds
// around the text: [CLS], [SEP] or [PAD].
func (t *Tokenizer) IsFraming(id int32) bool {
	tok := t.Token(id)
	return tok == t.opts.ClsToken || tok == t.opts.SepToken || tok == t.opts.PadToken
}

// Words groups the positions of ids into whole words: a word is a piece
// that does not start with "##" and the "##" pieces after it. Framing
// tokens ([CLS], [SEP], [PAD]) belong to no word.
func (t *Tokenizer) Words(ids []int32) [][]int {
	var words [][]int
	for pos, id := range ids {
		if t.IsFraming(id) {
			continue
		}
		if len(words) == 0 || !strings.HasPrefix(t.Token(id), "##") {
			words = append(words, nil)
		}
		words[len(words)-1] = append(words[len(words)-1], pos)
	}
	return words
}

// VocabSize is the number of ids (largest id + 1).
func (t *Tokenizer) VocabSize() int { return len(t.tokens) }

// Encode tokenises text as "[CLS] text [SEP]", truncated to MaxLength (the
// first MaxLength-2 word pieces are kept) and padded with [PAD].
func (t *Tokenizer) Encode(text string) (enc Encoding, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("tokenizer: encoding %q: %v", text, r)
		}
	}()
	e, err := t.tk.EncodeSingle(validUTF8(text), true)
	if err != nil {
		return Encoding{}, fmt.Errorf("tokenizer: encoding %q: %w", text, err)
	}
	n := t.opts.MaxLength
	if len(e.Ids) != n || len(e.AttentionMask) != n || len(e.TypeIds) != n {
		return Encoding{}, fmt.Errorf("tokenizer: encoding %q gave %d ids, want %d", text, len(e.Ids), n)
	}
	enc = Encoding{InputIDs: make([]int32, n), AttentionMask: make([]int32, n), TokenTypeIDs: make([]int32, n)}
	for i := range n {
		enc.InputIDs[i] = int32(e.Ids[i])
		enc.AttentionMask[i] = int32(e.AttentionMask[i])
		enc.TokenTypeIDs[i] = int32(e.TypeIds[i])
	}
	return enc, nil
}

// validUTF8 replaces invalid UTF-8 by U+FFFD, which the normaliser then
// drops like HF's _clean_text (sugarme's span bookkeeping assumes valid UTF-8).
func validUTF8(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }

// Tokenize returns the word pieces of text, without special tokens,
// padding or truncation (HF's tokenizer.tokenize).
func (t *Tokenizer) Tokenize(text string) (pieces []string, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("tokenizer: tokenizing %q: %v", text, r)
		}
	}()
	e, err := t.words.EncodeSingle(validUTF8(text), false)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: tokenizing %q: %w", text, err)
	}
	return e.Tokens, nil
}

// Token returns the token of an id, or the unknown token for ids outside
// the vocabulary.
func (t *Tokenizer) Token(id int32) string {
	if id < 0 || int(id) >= len(t.tokens) || t.tokens[id] == "" {
		return t.opts.UnkToken
	}
	return t.tokens[id]
}

// cleanups are HF's clean_up_tokenization replacements, applied in order.
var cleanups = [...][2]string{
	{" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"},
	{" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"},
}

// Decode turns ids back into text like HF's tokenizer.decode with
// clean_up_tokenization_spaces=True: tokens joined by spaces, "##" pieces
// glued on, spaces before punctuation and contractions removed. With
// skipSpecial the special tokens ([CLS], [SEP], [PAD], [UNK], [MASK]) are
// dropped.
func (t *Tokenizer) Decode(ids []int32, skipSpecial bool) string {
	toks := make([]string, 0, len(ids))
	for _, id := range ids {
		if skipSpecial && t.special[id] {
			continue
		}
		toks = append(toks, t.Token(id))
	}
	s := strings.TrimSpace(strings.ReplaceAll(strings.Join(toks, " "), " ##", ""))
	for _, c := range cleanups {
		s = strings.ReplaceAll(s, c[0], c[1])
	}
	return s
}

// ReadVocab reads a vocab.txt: one token per line, the id is the line number.
func ReadVocab(r io.Reader) (map[string]int, error) {
	vocab := map[string]int{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for i := 0; sc.Scan(); i++ {
		vocab[strings.TrimRight(sc.Text(), "\r")] = i
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(vocab) == 0 {
		return nil, errors.New("empty vocabulary")
	}
	return vocab, nil
}

// tokenizerJSON holds the parts of a fast tokenizer.json that BERT uses.
type tokenizerJSON struct {
	Model struct {
		Type                    string         `json:"type"`
		Vocab                   map[string]int `json:"vocab"`
		UnkToken                string         `json:"unk_token"`
		ContinuingSubwordPrefix string         `json:"continuing_subword_prefix"`
		MaxInputCharsPerWord    int            `json:"max_input_chars_per_word"`
	} `json:"model"`
	Normalizer *struct {
		Type               string `json:"type"`
		Lowercase          *bool  `json:"lowercase"`
		StripAccents       *bool  `json:"strip_accents"`
		HandleChineseChars *bool  `json:"handle_chinese_chars"`
	} `json:"normalizer"`
}

// parseTokenizerJSON reads the WordPiece vocabulary and normaliser settings
// of a tokenizer.json into opts.
func parseTokenizerJSON(data []byte, opts *Options) (map[string]int, error) {
	var tj tokenizerJSON
	if err := json.Unmarshal(data, &tj); err != nil {
		return nil, err
	}
	if tj.Model.Type != "WordPiece" && tj.Model.Type != "" { // older files omit the type
		return nil, fmt.Errorf("model.type is %q, want WordPiece", tj.Model.Type)
	}
	if p := tj.Model.ContinuingSubwordPrefix; p != "" && p != "##" {
		return nil, fmt.Errorf("model.continuing_subword_prefix is %q, want ##", p)
	}
	if len(tj.Model.Vocab) == 0 {
		return nil, errors.New("model.vocab is empty")
	}
	if tj.Model.UnkToken != "" {
		opts.UnkToken = tj.Model.UnkToken
	}
	if tj.Model.MaxInputCharsPerWord > 0 {
		opts.MaxInputCharsPerWord = tj.Model.MaxInputCharsPerWord
	}
	if n := tj.Normalizer; n != nil && n.Type == "BertNormalizer" {
		if n.Lowercase != nil {
			opts.LowerCase = *n.Lowercase
		}
		opts.StripAccents = n.StripAccents
		if n.HandleChineseChars != nil {
			opts.TokenizeChineseChars = *n.HandleChineseChars
		}
	}
	return tj.Model.Vocab, nil
}

// tokenizerConfig holds the fields of tokenizer_config.json used here.
type tokenizerConfig struct {
	DoLowerCase          *bool    `json:"do_lower_case"`
	StripAccents         *bool    `json:"strip_accents"`
	TokenizeChineseChars *bool    `json:"tokenize_chinese_chars"`
	ModelMaxLength       *float64 `json:"model_max_length"`
	UnkToken             any      `json:"unk_token"`
	SepToken             any      `json:"sep_token"`
	PadToken             any      `json:"pad_token"`
	ClsToken             any      `json:"cls_token"`
	MaskToken            any      `json:"mask_token"`
}

// applyConfig overrides opts with the fields present in a
// tokenizer_config.json. A model_max_length above 1e6 (HF's "unset") is ignored.
func applyConfig(data []byte, opts *Options) error {
	var c tokenizerConfig
	if err := json.Unmarshal(data, &c); err != nil {
		return err
	}
	if c.DoLowerCase != nil {
		opts.LowerCase = *c.DoLowerCase
	}
	if c.StripAccents != nil {
		opts.StripAccents = c.StripAccents
	}
	if c.TokenizeChineseChars != nil {
		opts.TokenizeChineseChars = *c.TokenizeChineseChars
	}
	if m := c.ModelMaxLength; m != nil && *m >= 2 && *m <= 1e6 {
		opts.MaxLength = int(*m)
	}
	for _, f := range []struct {
		v   any
		dst *string
	}{{c.UnkToken, &opts.UnkToken}, {c.SepToken, &opts.SepToken}, {c.PadToken, &opts.PadToken}, {c.ClsToken, &opts.ClsToken}, {c.MaskToken, &opts.MaskToken}} {
		switch v := f.v.(type) {
		case string:
			*f.dst = v
		case map[string]any: // AddedToken form {"content": "[UNK]", ...}
			if s, ok := v["content"].(string); ok {
				*f.dst = s
			}
		}
	}
	return nil
}

// Load reads a tokenizer from a model folder: vocab.txt (preferred) or
// tokenizer.json, plus tokenizer_config.json when present.
func Load(dir string) (*Tokenizer, error) {
	return load(os.DirFS(dir), ".", dir)
}

// LoadFS is [Load] on the folder dir of fsys (e.g. an embed.FS).
func LoadFS(fsys fs.FS, dir string) (*Tokenizer, error) {
	return load(fsys, dir, dir)
}

func load(fsys fs.FS, dir, shown string) (*Tokenizer, error) {
	opts := DefaultOptions()
	name := func(f string) string { return path.Join(shown, f) }
	var fromJSON map[string]int
	vocabData, vocabErr := fs.ReadFile(fsys, path.Join(dir, "vocab.txt"))
	if vocabErr != nil {
		data, err := fs.ReadFile(fsys, path.Join(dir, "tokenizer.json"))
		if err != nil {
			return nil, fmt.Errorf("tokenizer: %s: neither vocab.txt nor tokenizer.json readable: %v; %v", shown, vocabErr, err)
		}
		if fromJSON, err = parseTokenizerJSON(data, &opts); err != nil {
			return nil, fmt.Errorf("tokenizer: %s: %w", name("tokenizer.json"), err)
		}
	}
	switch data, err := fs.ReadFile(fsys, path.Join(dir, "tokenizer_config.json")); {
	case err == nil:
		if err := applyConfig(data, &opts); err != nil {
			return nil, fmt.Errorf("tokenizer: %s: %w", name("tokenizer_config.json"), err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("tokenizer: %s: %w", name("tokenizer_config.json"), err)
	}
	vocab := fromJSON
	if vocab == nil {
		var err error
		if vocab, err = ReadVocab(bytes.NewReader(vocabData)); err != nil {
			return nil, fmt.Errorf("tokenizer: %s: %w", name("vocab.txt"), err)
		}
	}
	t, err := New(vocab, opts)
	if err != nil {
		return nil, fmt.Errorf("%w (loading %s)", err, shown)
	}
	return t, nil
}
