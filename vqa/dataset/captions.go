package dataset

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/vilt-go/workbook/vqa/processor"
	"github.com/vilt-go/workbook/vqa/tokenizer"
	"github.com/vilt-go/workbook/vqa/vilt"
	"github.com/vilt-go/workbook/vqa/vqav2"
)

// Captions is an image-text dataset for ViLT's pre-training (figure 3 of
// the article): every caption of a COCO captions file
// (captions_<split>.json) with its image. [NewPretrainLoader] turns it into
// batches for masked language modelling and image-text matching.
type Captions struct {
	// Root and Split are the folder and the split read.
	Root, Split string
	// Records are the captions kept, in file order.
	Records []CaptionRecord

	proc  *processor.Processor
	cache *imageCache // nil unless Options.CacheImages
}

// CaptionRecord is one caption with its image.
type CaptionRecord struct {
	ImageID   int64
	ImagePath string
	Caption   string
}

// LoadCaptions reads split's captions file under root and keeps the first
// o.Limit captions whose image exists (o.SkipMissing skips the others, else
// a missing image is an error naming it). o.CacheImages keeps processed
// images in memory.
func LoadCaptions(root, split string, p *processor.Processor, o Options) (*Captions, error) {
	if p == nil {
		return nil, errors.New("dataset: nil processor")
	}
	path := vqav2.CaptionsPath(root, split)
	file, err := vqav2.ReadCaptions(path)
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	names := make(map[int64]string, len(file.Images))
	for _, im := range file.Images {
		names[im.ID] = im.FileName
	}
	c := &Captions{Root: root, Split: split, proc: p}
	if o.CacheImages {
		c.cache = &imageCache{entries: map[string]*cacheEntry{}}
	}
	for _, cap := range file.Captions {
		if o.Limit > 0 && len(c.Records) == o.Limit {
			break
		}
		img := filepath.Join(root, split, names[cap.ImageID]) // the reader checked every caption's image is listed
		if _, err := os.Stat(img); err != nil {
			if o.SkipMissing && errors.Is(err, os.ErrNotExist) {
				continue
			}
			return nil, fmt.Errorf("dataset: %s: caption %d: image %s: %w (use -skip-missing to skip such captions)", path, cap.ID, img, err)
		}
		c.Records = append(c.Records, CaptionRecord{ImageID: cap.ImageID, ImagePath: img, Caption: cap.Caption})
	}
	if len(c.Records) == 0 {
		return nil, fmt.Errorf("dataset: %s: no caption to load", path)
	}
	return c, nil
}

// Len returns the number of captions.
func (c *Captions) Len() int { return len(c.Records) }

// Processor returns the processor that encodes the examples.
func (c *Captions) Processor() *processor.Processor { return c.proc }

// Encode encodes an image file (processed once when images are cached)
// with a text. The pixel values may be shared with the cache: treat them
// as read-only.
func (c *Captions) Encode(imagePath, text string) (processor.Encoding, error) {
	var enc processor.Encoding
	var err error
	if c.cache != nil {
		enc, err = c.cache.encode(c.proc, imagePath, text)
	} else {
		enc, err = c.proc.EncodeFile(imagePath, text)
	}
	if err != nil {
		return processor.Encoding{}, fmt.Errorf("dataset: image %s: %w", imagePath, err)
	}
	return enc, nil
}

// PretrainOptions set how pre-training examples are made from captions.
type PretrainOptions struct {
	// MaskProb is the fraction of words masked for masked language
	// modelling (BERT and ViLT: 0.15), whole words at a time; a masked
	// word's pieces become [MASK] 80% of the time, a random word piece 10%
	// and stay 10%.
	MaskProb float64
	// MismatchProb is the fraction of examples whose image is replaced by
	// another image's for image-text matching (ViLT: 0.5). Mismatched
	// examples are masked like the others (so that the masking is no clue
	// to the matching) but have no masked-LM target.
	MismatchProb float64
	// Seed makes the masks and the mismatched images of every epoch
	// reproducible (and different from epoch to epoch).
	Seed uint64
	// MaskOnly, if set, restricts the masking to the words it accepts
	// (lower-case, e.g. the colour and shape words, which only the picture
	// can tell): each of them is masked with probability MaskProb, at
	// least one; a caption with none of them is masked as without MaskOnly,
	// so that every caption stays masked.
	MaskOnly func(word string) bool
}

// DefaultPretrainOptions are ViLT's: 15% of words masked, half of the
// pairs mismatched.
func DefaultPretrainOptions() PretrainOptions {
	return PretrainOptions{MaskProb: 0.15, MismatchProb: 0.5}
}

// PretrainExample is one pre-training example: the encoding of an image and
// a caption (masked when the pair matches) with its targets.
type PretrainExample struct {
	processor.Encoding
	// MLMLabels holds, per token, the original id at masked positions and
	// vilt.IgnoreIndex elsewhere.
	MLMLabels []int32
	// Matched is 1 when the image is the caption's, 0 when it is another
	// image (the image-text matching target).
	Matched int32
}

// Pretrain returns caption i as pre-training example of epoch, with whole
// words masked: with probability o.MismatchProb paired with another
// picture (no masked-LM target), else with its own.
func (c *Captions) Pretrain(epoch, i int, o PretrainOptions) (PretrainExample, error) {
	return c.pretrain(epoch, i, o, c.Encode)
}

// pretrain is [Captions.Pretrain] with the picture encoded by encode.
func (c *Captions) pretrain(epoch, i int, o PretrainOptions, encode encodeFunc) (PretrainExample, error) {
	if i < 0 || i >= len(c.Records) {
		return PretrainExample{}, fmt.Errorf("dataset: caption %d out of range [0, %d)", i, len(c.Records))
	}
	r := rand.New(rand.NewPCG(o.Seed, uint64(epoch)<<32|uint64(i)))
	rec := c.Records[i]
	img, matched := rec.ImagePath, int32(1)
	if r.Float64() < o.MismatchProb {
		for range 16 { // a different picture; a dataset of one picture keeps it
			j := r.IntN(len(c.Records))
			if c.Records[j].ImageID != rec.ImageID {
				img, matched = c.Records[j].ImagePath, 0
				break
			}
		}
	}
	enc, err := encode(img, rec.Caption)
	if err != nil {
		return PretrainExample{}, fmt.Errorf("dataset: caption %d: %w", i, err)
	}
	ex := PretrainExample{Encoding: enc, Matched: matched, MLMLabels: make([]int32, len(enc.InputIDs))}
	for k := range ex.MLMLabels {
		ex.MLMLabels[k] = vilt.IgnoreIndex
	}
	// Every caption is masked, so that the masks cannot tell a matched
	// pair from a mismatched one (image-text matching would learn that
	// instead of looking at the picture); only matched pairs are scored.
	ex.InputIDs = maskWords(c.proc.Tokenizer(), enc.InputIDs, ex.MLMLabels, o.MaskProb, o.MaskOnly, r)
	if matched == 0 {
		for k := range ex.MLMLabels {
			ex.MLMLabels[k] = vilt.IgnoreIndex
		}
	}
	return ex, nil
}

// maskWords returns a copy of ids with whole words masked BERT-style (each
// word with probability p, at least one; only the words only accepts when
// there are some and only is set), writing the original ids of the masked
// pieces into labels.
func maskWords(tok *tokenizer.Tokenizer, ids []int32, labels []int32, prob float64, only func(string) bool, r *rand.Rand) []int32 {
	words := tok.Words(ids)
	out := append([]int32(nil), ids...)
	if only != nil {
		var kept [][]int
		for _, pieces := range words {
			w := make([]int32, len(pieces))
			for k, pos := range pieces {
				w[k] = ids[pos]
			}
			if only(strings.ToLower(tok.Decode(w, true))) {
				kept = append(kept, pieces)
			}
		}
		if len(kept) > 0 {
			words = kept
		}
	}
	if len(words) == 0 {
		return out
	}
	chosen := make([]bool, len(words))
	some := false
	for w := range words {
		chosen[w] = r.Float64() < prob
		some = some || chosen[w]
	}
	if !some {
		chosen[r.IntN(len(words))] = true
	}
	for w, pieces := range words {
		if !chosen[w] {
			continue
		}
		for _, pos := range pieces {
			labels[pos] = ids[pos]
			switch x := r.Float64(); {
			case x < 0.8:
				out[pos] = tok.MaskID()
			case x < 0.9:
				out[pos] = randomWordPiece(tok.VocabSize(), tok.IsFraming, tok.MaskID(), r)
			}
		}
	}
	return out
}

// randomWordPiece draws a vocabulary id that is neither a framing token nor
// [MASK].
func randomWordPiece(vocab int, framing func(int32) bool, mask int32, r *rand.Rand) int32 {
	for {
		id := int32(r.IntN(vocab))
		if id != mask && !framing(id) {
			return id
		}
	}
}
