// Package predict answers questions about images with a ViLT model
// (figures 20-25 of the walk-through): one image (a file or an http(s)
// URL) and a question give the encoding and logits shapes and the top-k
// answers with their sigmoid scores; a batch mode answers a whole dataset
// and writes the official VQA results format.
package predict

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strings"

	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // GoMLX graph-building idiom.
	"github.com/gomlx/gomlx/ml/model"

	"github.com/vilt-go/workbook/vqa/dataset"
	"github.com/vilt-go/workbook/vqa/imageproc"
	"github.com/vilt-go/workbook/vqa/internal/httptimeout"
	"github.com/vilt-go/workbook/vqa/processor"
	"github.com/vilt-go/workbook/vqa/train"
	"github.com/vilt-go/workbook/vqa/vilt"
)

// Predictor runs a model's forward pass. It is not safe for concurrent use.
type Predictor struct {
	model *train.Model
	proc  *processor.Processor
	exec  *model.Exec
}

// New returns a predictor for m, encoding inputs with p.
func New(b compute.Backend, m *train.Model, p *processor.Processor) (*Predictor, error) {
	exec, err := model.NewExec(b, m.Store, func(scope *model.Scope, ins []*Node) *Node {
		return vilt.ForQuestionAnswering(scope, m.Config, vilt.Inputs{
			InputIDs: ins[0], AttentionMask: ins[1], TokenTypeIDs: ins[2], PixelValues: ins[3], PixelMask: ins[4],
		}, vilt.Options{}).Logits
	})
	if err != nil {
		return nil, fmt.Errorf("predict: %w", err)
	}
	return &Predictor{model: m, proc: p, exec: exec}, nil
}

// Close frees the compiled graphs.
func (p *Predictor) Close() { p.exec.Finalize() }

// Answer is one candidate answer.
type Answer struct {
	// Label is the answer text and ID its label id.
	Label string `json:"answer"`
	ID    int    `json:"label_id"`
	// Score is sigmoid(logit), in [0, 1].
	Score float64 `json:"score"`
}

// Prediction is the result for one (image, question) pair.
type Prediction struct {
	// Shapes are the encoding's tensor shapes as the walk-through prints
	// them (batch of 1): input_ids, token_type_ids, attention_mask,
	// pixel_values, pixel_mask.
	Shapes map[string][]int `json:"shapes"`
	// LogitsShape is [1, num_labels].
	LogitsShape []int `json:"logits_shape"`
	// Top holds the k best answers, best first.
	Top []Answer `json:"top"`
}

// Predict answers question about img with the k best answers. An empty
// question (or one of only spaces) is refused, and so is a model that
// produces NaN scores.
func (p *Predictor) Predict(img imageproc.RGB, question string, k int) (Prediction, error) {
	if err := CheckQuestion(question); err != nil {
		return Prediction{}, fmt.Errorf("predict: %w", err)
	}
	enc, err := p.proc.EncodeRGB(img, question)
	if err != nil {
		return Prediction{}, fmt.Errorf("predict: %w", err)
	}
	b, err := processor.Collate([]processor.Encoding{enc})
	if err != nil {
		return Prediction{}, fmt.Errorf("predict: %w", err)
	}
	logits, err := p.logits(&dataset.Batch{Batch: b, Targets: make([]float32, p.model.Config.NumLabels())})
	if err != nil {
		return Prediction{}, err
	}
	if err := checkScores(logits[0]); err != nil {
		return Prediction{}, err
	}
	n := len(enc.InputIDs)
	return Prediction{
		Shapes: map[string][]int{
			"input_ids": {1, n}, "token_type_ids": {1, n}, "attention_mask": {1, n},
			"pixel_values": {1, 3, b.Height, b.Width}, "pixel_mask": {1, b.Height, b.Width},
		},
		LogitsShape: []int{1, len(logits[0])},
		Top:         p.top(logits[0], k),
	}, nil
}

// logits runs the model on a batch and returns one row of logits per
// example. GoMLX panics are returned as errors.
func (p *Predictor) logits(b *dataset.Batch) (rows [][]float32, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("predict: %v", r)
		}
	}()
	in, labels := b.Tensors()
	defer func() {
		for _, t := range append(in, labels...) {
			t.FinalizeAll()
		}
	}()
	out, err := p.exec.Call1(in[0], in[1], in[2], in[3], in[4])
	if err != nil {
		return nil, fmt.Errorf("predict: %w", err)
	}
	defer out.FinalizeAll()
	n := p.model.Config.NumLabels()
	out.ConstFlatData(func(flat any) {
		all := flat.([]float32)
		for i := range b.Size {
			rows = append(rows, slices.Clone(all[i*n:(i+1)*n]))
		}
	})
	return rows, nil
}

// CheckQuestion refuses a question that is empty or only spaces, as
// [Predictor.Predict] does (callers can check before loading a model).
func CheckQuestion(question string) error {
	if strings.TrimSpace(question) == "" {
		return errors.New("the question is empty (or only spaces): ask something about the image")
	}
	return nil
}

// checkScores returns an error when a row of logits holds a NaN: the
// model's weights are broken, and no answer can be trusted.
func checkScores(logits []float32) error {
	n := 0
	for _, v := range logits {
		if math.IsNaN(float64(v)) {
			n++
		}
	}
	if n > 0 {
		return fmt.Errorf("predict: the model produced NaN for %d of its %d answer scores: its weights are broken (NaN or infinite values; retrain or reload it)", n, len(logits))
	}
	return nil
}

// top returns the k highest-scoring answers of one row of logits.
func (p *Predictor) top(logits []float32, k int) []Answer {
	ids := make([]int, len(logits))
	for i := range ids {
		ids[i] = i
	}
	slices.SortStableFunc(ids, func(a, b int) int { return cmp.Compare(logits[b], logits[a]) })
	k = max(1, min(k, len(ids)))
	out := make([]Answer, k)
	for i, id := range ids[:k] {
		out[i] = Answer{Label: p.model.Config.ID2Label[id], ID: id, Score: 1 / (1 + math.Exp(-float64(logits[id])))}
	}
	return out
}

// Dataset answers every question of ds (the best answer of each), batching
// with the given loader options (no shuffling), and returns answers by
// question id.
func (p *Predictor) Dataset(ctx context.Context, ds *dataset.Dataset, o dataset.LoaderOptions) (map[int64]string, error) {
	o.Shuffle, o.DropLast = false, false
	l, err := dataset.NewLoader(ds, o)
	if err != nil {
		return nil, err
	}
	answers := make(map[int64]string, ds.Len())
	for b, err := range l.Epoch(ctx, 0, 0) {
		if err != nil {
			return nil, err
		}
		rows, err := p.logits(b)
		if err != nil {
			return nil, err
		}
		for i, row := range rows {
			qid := ds.Records[b.Indices[i]].QuestionID
			if err := checkScores(row); err != nil {
				return nil, fmt.Errorf("question %d: %w", qid, err)
			}
			answers[qid] = p.top(row, 1)[0].Label
		}
	}
	return answers, nil
}

// LoadImage reads an image from a file path or an http(s) URL (as figure
// 20 does with requests.get) and decodes it to RGB. Both are bounded by
// imageproc.MaxFileBytes, and a path must name a regular file. A URL is
// fetched with client (nil: a new one); unless client comes from
// httptimeout.Client, its request gets the default bounds on connecting, the
// response headers and each wait for more bytes, so that a server that
// stalls gives an error instead of a hang.
func LoadImage(ctx context.Context, client *http.Client, pathOrURL string) (imageproc.RGB, error) {
	if !strings.HasPrefix(pathOrURL, "http://") && !strings.HasPrefix(pathOrURL, "https://") {
		return imageproc.Decode(pathOrURL)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, pathOrURL, nil)
	if err != nil {
		return imageproc.RGB{}, fmt.Errorf("predict: image URL %q: %w", pathOrURL, err)
	}
	resp, err := httptimeout.Bound(client, httptimeout.Timeouts{}).Do(req)
	if err != nil {
		return imageproc.RGB{}, fmt.Errorf("predict: fetching %s: %w", pathOrURL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return imageproc.RGB{}, fmt.Errorf("predict: fetching %s: HTTP %s", pathOrURL, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, imageproc.MaxFileBytes+1))
	if err != nil {
		return imageproc.RGB{}, fmt.Errorf("predict: fetching %s: %w", pathOrURL, err)
	}
	if len(data) > imageproc.MaxFileBytes {
		return imageproc.RGB{}, fmt.Errorf("predict: %s is larger than %d bytes", pathOrURL, imageproc.MaxFileBytes)
	}
	img, err := imageproc.DecodeBytes(data)
	if err != nil {
		return imageproc.RGB{}, fmt.Errorf("predict: %s: %w", pathOrURL, err)
	}
	return img, nil
}

// Processor returns the processor that encodes the inputs.
func (p *Predictor) Processor() *processor.Processor { return p.proc }
