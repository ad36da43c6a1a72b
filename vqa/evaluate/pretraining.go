package evaluate

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"

	"github.com/vilt-go/workbook/vqa/dataset"
	"github.com/vilt-go/workbook/vqa/minidata"
	"github.com/vilt-go/workbook/vqa/predict"
	"github.com/vilt-go/workbook/vqa/processor"
)

// PretrainReport scores a pre-trained model (masked LM and image-text
// matching) on captions.
type PretrainReport struct {
	// Captions is the number of captions scored.
	Captions int `json:"captions"`
	// Masked counts, per word kind ("color", "shape", "number",
	// "position", "size"), the words masked one at a time (all their
	// pieces) and the words whose every piece the model restored (top-1).
	Masked  map[string]int `json:"masked"`
	Correct map[string]int `json:"correct"`
	// ITMPairs is the number of image-text pairs judged: each caption with
	// its own picture and with another, and ITMCorrect those judged right
	// (matched when the probability is above 0.5).
	ITMPairs   int `json:"itm_pairs"`
	ITMCorrect int `json:"itm_correct"`
}

// MaskedAccuracy returns the percentage of restored words of a kind (0 when
// none was masked).
func (r PretrainReport) MaskedAccuracy(kind string) float64 {
	if r.Masked[kind] == 0 {
		return 0
	}
	return 100 * float64(r.Correct[kind]) / float64(r.Masked[kind])
}

// ITMAccuracy returns the image-text matching accuracy in percent.
func (r PretrainReport) ITMAccuracy() float64 {
	if r.ITMPairs == 0 {
		return 0
	}
	return 100 * float64(r.ITMCorrect) / float64(r.ITMPairs)
}

// WriteText prints the report as a table.
func (r PretrainReport) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "%d captions\nmasked word (top-1)  words  accuracy\n", r.Captions)
	kinds := make([]string, 0, len(r.Masked))
	for k := range r.Masked {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	for _, k := range kinds {
		fmt.Fprintf(w, "  %-18s %6d  %6.2f%%\n", k, r.Masked[k], r.MaskedAccuracy(k))
	}
	_, err := fmt.Fprintf(w, "image-text matching  %6d  %6.2f%% (each caption with its picture and with another)\n", r.ITMPairs, r.ITMAccuracy())
	return err
}

// WriteJSON prints the report as JSON.
func (r PretrainReport) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// pretrainItem is one encoded input of the pre-training evaluation: a
// caption with one content word masked (want holds the original pieces by
// position), or a caption with a picture (matched says whether it is its
// own).
type pretrainItem struct {
	enc     processor.Encoding
	kind    string
	want    map[int]int32
	itm     bool
	matched bool
}

// Pretraining scores a pre-trained model on captions: every colour, shape,
// number, position and size word of every caption masked in turn (with the
// caption's own picture), and every caption paired with its own picture
// and with the picture of the caption half the set away (another
// picture), batched by batch.
func Pretraining(ctx context.Context, pred *predict.Predictor, caps *dataset.Captions, batch int) (PretrainReport, error) {
	rep := PretrainReport{Captions: caps.Len(), Masked: map[string]int{}, Correct: map[string]int{}}
	tok := pred.Processor().Tokenizer()
	var items []pretrainItem
	flush := func() error {
		if len(items) == 0 {
			return nil
		}
		encs := make([]processor.Encoding, len(items))
		for i, it := range items {
			encs[i] = it.enc
		}
		top, matched, err := pred.PretrainScores(encs)
		if err != nil {
			return err
		}
		for i, it := range items {
			if it.itm {
				rep.ITMPairs++
				if (matched[i] > 0.5) == it.matched {
					rep.ITMCorrect++
				}
				continue
			}
			rep.Masked[it.kind]++
			right := true
			for pos, id := range it.want {
				right = right && top[i][pos] == id
			}
			if right {
				rep.Correct[it.kind]++
			}
		}
		items = items[:0]
		return ctx.Err()
	}
	add := func(it pretrainItem) error {
		items = append(items, it)
		if len(items) < batch {
			return nil
		}
		return flush()
	}
	n := caps.Len()
	for i, r := range caps.Records {
		own, err := caps.Encode(r.ImagePath, r.Caption)
		if err != nil {
			return rep, err
		}
		for _, word := range tok.Words(own.InputIDs) {
			pieces := make([]int32, len(word))
			for k, pos := range word {
				pieces[k] = own.InputIDs[pos]
			}
			kind := minidata.KindOf(tok.Decode(pieces, true))
			if kind == minidata.OtherWord {
				continue
			}
			masked := own
			masked.InputIDs = slices.Clone(own.InputIDs)
			want := map[int]int32{}
			for _, pos := range word {
				want[pos] = own.InputIDs[pos]
				masked.InputIDs[pos] = tok.MaskID()
			}
			if err := add(pretrainItem{enc: masked, kind: kind.String(), want: want}); err != nil {
				return rep, err
			}
		}
		if err := add(pretrainItem{enc: own, itm: true, matched: true}); err != nil {
			return rep, err
		}
		other := caps.Records[(i+n/2)%n]
		if other.ImageID == r.ImageID {
			continue
		}
		enc, err := caps.Encode(other.ImagePath, r.Caption)
		if err != nil {
			return rep, err
		}
		if err := add(pretrainItem{enc: enc, itm: true, matched: false}); err != nil {
			return rep, err
		}
	}
	return rep, flush()
}
