package predict

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/vilt-go/workbook/vqa/imageproc"
	"github.com/vilt-go/workbook/vqa/processor"
	"github.com/vilt-go/workbook/vqa/vilt"
)

// Token is one candidate word for a masked position.
type Token struct {
	// Token is the word piece and ID its vocabulary id.
	Token string `json:"token"`
	ID    int32  `json:"token_id"`
	// Score is its softmax probability at the position.
	Score float64 `json:"score"`
}

// Mask is the fill-mask result for one [MASK] of the text.
type Mask struct {
	// Position is the token position (0 is [CLS]).
	Position int `json:"position"`
	// Top holds the k most likely tokens, best first.
	Top []Token `json:"top"`
	// Sequence is the text with this mask filled by the best token.
	Sequence string `json:"sequence"`
}

// FillMask fills every [MASK] of text, read with img, with the k most
// likely word pieces (HF's fill-mask pipeline, with an image): a MaskedLM
// model's softmax over the vocabulary at each masked position.
func (p *Predictor) FillMask(img imageproc.RGB, text string, k int) ([]Mask, error) {
	if err := p.needHead(vilt.MaskedLM, "filling masks"); err != nil {
		return nil, err
	}
	enc, err := p.proc.EncodeRGB(img, text)
	if err != nil {
		return nil, fmt.Errorf("predict: %w", err)
	}
	tok := p.proc.Tokenizer()
	var positions []int
	for i, id := range enc.InputIDs {
		if id == tok.MaskID() {
			positions = append(positions, i)
		}
	}
	if len(positions) == 0 {
		return nil, fmt.Errorf("predict: fill-mask: the text %q has no [MASK] token", text)
	}
	_, out, err := p.runOne(enc)
	if err != nil {
		return nil, err
	}
	vocab := p.model.Config.VocabSize
	var masks []Mask
	for _, pos := range positions {
		probs := softmax(out.rows[0][pos*vocab : (pos+1)*vocab])
		ids := topIndices(probs, k)
		m := Mask{Position: pos}
		for _, id := range ids {
			m.Top = append(m.Top, Token{Token: tok.Token(int32(id)), ID: int32(id), Score: probs[id]})
		}
		filled := slices.Clone(enc.InputIDs)
		filled[pos] = int32(ids[0])
		m.Sequence = p.proc.Decode(filled, true)
		masks = append(masks, m)
	}
	return masks, nil
}

// Scored is one text (or image) with its score against the query.
type Scored struct {
	// Index is the candidate's position in the list given.
	Index int `json:"index"`
	// Text is the candidate text (empty when images are ranked).
	Text string `json:"text,omitempty"`
	// Score is the model's matching score: rank_output's logit for
	// retrieval models, the probability that image and text match for
	// models with the image-text matching head.
	Score float64 `json:"score"`
}

// Scores scores every (image, text) pair of imgs x texts and returns the
// [len(imgs)][len(texts)] matrix: with an ImageAndTextRetrieval model the
// rank_output logit, else with a model that has the image-text matching
// head (ITMHead) the probability of "matched".
func (p *Predictor) Scores(imgs []imageproc.RGB, texts []string) ([][]float64, error) {
	if p.model.Head() != vilt.ImageAndTextRetrieval && !p.model.Config.ITMHead {
		return nil, fmt.Errorf("predict: scoring image-text pairs needs a %s model or one with the image-text matching head, this one is a %s", vilt.ImageAndTextRetrieval, p.model.Head())
	}
	if len(imgs) == 0 || len(texts) == 0 {
		return nil, fmt.Errorf("predict: scoring needs at least one image and one text, got %d and %d", len(imgs), len(texts))
	}
	out := make([][]float64, len(imgs))
	for i, img := range imgs {
		encs := make([]processor.Encoding, len(texts))
		for j, text := range texts {
			enc, err := p.proc.EncodeRGB(img, text)
			if err != nil {
				return nil, fmt.Errorf("predict: text %d: %w", j, err)
			}
			encs[j] = enc
		}
		b, err := processor.Collate(encs)
		if err != nil {
			return nil, fmt.Errorf("predict: %w", err)
		}
		res, err := p.logits(b.Tensors())
		if err != nil {
			return nil, err
		}
		for j := range texts {
			if p.model.Head() == vilt.ImageAndTextRetrieval {
				out[i] = append(out[i], float64(res.rows[j][0]))
			} else {
				out[i] = append(out[i], softmax(res.itm[j])[1])
			}
		}
	}
	return out, nil
}

// Rank returns the candidates sorted by score, best first (the index is the
// candidate's position in scores).
func Rank(scores []float64, texts []string) []Scored {
	out := make([]Scored, len(scores))
	for i, s := range scores {
		out[i] = Scored{Index: i, Score: s}
		if i < len(texts) {
			out[i].Text = texts[i]
		}
	}
	slices.SortStableFunc(out, func(a, b Scored) int { return cmp.Compare(b.Score, a.Score) })
	return out
}

// Verdict is an NLVR2 prediction.
type Verdict struct {
	// Label is the predicted label ("True" or "False" for NLVR2).
	Label string `json:"label"`
	// Probability is the softmax probability of Label.
	Probability float64 `json:"probability"`
}

// Verify says whether sentence is true of the image pair (left, right)
// with an ImagesAndTextClassification (NLVR2) model.
func (p *Predictor) Verify(left, right imageproc.RGB, sentence string) (Verdict, error) {
	if err := p.needHead(vilt.ImagesAndTextClassification, "judging a sentence about two images"); err != nil {
		return Verdict{}, err
	}
	var encs [2]processor.Encoding
	for i, img := range []imageproc.RGB{left, right} {
		enc, err := p.proc.EncodeRGB(img, sentence)
		if err != nil {
			return Verdict{}, fmt.Errorf("predict: image %d: %w", i, err)
		}
		encs[i] = enc
	}
	h, w := max(encs[0].Height, encs[1].Height), max(encs[0].Width, encs[1].Width)
	var batches [2]*processor.Batch
	for i := range encs {
		b, err := processor.CollateTo(encs[i:i+1], h, w)
		if err != nil {
			return Verdict{}, fmt.Errorf("predict: %w", err)
		}
		batches[i] = b
	}
	in, err := processor.PairTensors(batches[0], batches[1])
	if err != nil {
		return Verdict{}, fmt.Errorf("predict: %w", err)
	}
	out, err := p.logits(in)
	if err != nil {
		return Verdict{}, err
	}
	probs := softmax(out.rows[0])
	best := topIndices(probs, 1)[0]
	return Verdict{Label: p.model.Config.ID2Label[best], Probability: probs[best]}, nil
}

// TokenLabel is the predicted label of one text token.
type TokenLabel struct {
	// Token is the word piece, at Position in the encoding.
	Token    string `json:"token"`
	Position int    `json:"position"`
	// Label is the best label and Score its softmax probability.
	Label string  `json:"label"`
	Score float64 `json:"score"`
}

// ClassifyTokens labels every word piece of text (HF's
// token-classification pipeline, with an image) with a
// TokenClassification model; [CLS], [SEP] and padding are left out.
func (p *Predictor) ClassifyTokens(img imageproc.RGB, text string) ([]TokenLabel, error) {
	if err := p.needHead(vilt.TokenClassification, "labelling tokens"); err != nil {
		return nil, err
	}
	enc, err := p.proc.EncodeRGB(img, text)
	if err != nil {
		return nil, fmt.Errorf("predict: %w", err)
	}
	_, out, err := p.runOne(enc)
	if err != nil {
		return nil, err
	}
	n := p.model.Config.NumLabels()
	tok := p.proc.Tokenizer()
	var labels []TokenLabel
	for pos, id := range enc.InputIDs {
		if enc.AttentionMask[pos] == 0 || tok.IsFraming(id) {
			continue
		}
		probs := softmax(out.rows[0][pos*n : (pos+1)*n])
		best := topIndices(probs, 1)[0]
		labels = append(labels, TokenLabel{Token: tok.Token(id), Position: pos, Label: p.model.Config.ID2Label[best], Score: probs[best]})
	}
	return labels, nil
}

// PretrainScores runs a pre-trained model (MaskedLM with the image-text
// matching head) on a batch of encodings and returns, per example, the most
// likely word piece at every text position and the probability that image
// and text match.
func (p *Predictor) PretrainScores(encs []processor.Encoding) (top [][]int32, matched []float64, err error) {
	if err := p.needHead(vilt.MaskedLM, "scoring pre-training"); err != nil {
		return nil, nil, err
	}
	if !p.model.Config.ITMHead {
		return nil, nil, fmt.Errorf("predict: scoring pre-training needs the image-text matching head (itm_head)")
	}
	b, err := processor.Collate(encs)
	if err != nil {
		return nil, nil, fmt.Errorf("predict: %w", err)
	}
	out, err := p.logits(b.Tensors())
	if err != nil {
		return nil, nil, err
	}
	vocab := p.model.Config.VocabSize
	for i, row := range out.rows {
		ids := make([]int32, len(row)/vocab)
		for pos := range ids {
			best := pos * vocab
			for j := best; j < (pos+1)*vocab; j++ {
				if row[j] > row[best] {
					best = j
				}
			}
			ids[pos] = int32(best - pos*vocab)
		}
		top = append(top, ids)
		matched = append(matched, softmax(out.itm[i])[1])
	}
	return top, matched, nil
}

// softmax returns the softmax of logits in float64.
func softmax(logits []float32) []float64 {
	peak := math.Inf(-1)
	for _, v := range logits {
		peak = math.Max(peak, float64(v))
	}
	out := make([]float64, len(logits))
	sum := 0.0
	for i, v := range logits {
		out[i] = math.Exp(float64(v) - peak)
		sum += out[i]
	}
	for i := range out {
		out[i] /= sum
	}
	return out
}

// topIndices returns the indices of the k largest values, largest first
// (at least one).
func topIndices(values []float64, k int) []int {
	ids := make([]int, len(values))
	for i := range ids {
		ids[i] = i
	}
	slices.SortStableFunc(ids, func(a, b int) int { return cmp.Compare(values[b], values[a]) })
	return ids[:max(1, min(k, len(ids)))]
}
