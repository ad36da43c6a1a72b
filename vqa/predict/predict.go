// Package predict answers questions about images with a ViLT model
// (figures 21-25 of the walk-through): one image (a file or an http(s)
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
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/vilt-go/workbook/vqa/dataset"
	"github.com/vilt-go/workbook/vqa/hfmodel"
	"github.com/vilt-go/workbook/vqa/imageproc"
	"github.com/vilt-go/workbook/vqa/internal/httptimeout"
	"github.com/vilt-go/workbook/vqa/processor"
	"github.com/vilt-go/workbook/vqa/vilt"
)

// Predictor runs a model's forward pass, whatever its head: [Predictor.Predict]
// answers questions (QuestionAnswering), [Predictor.FillMask] fills masked
// words (MaskedLM), [Predictor.Scores] scores texts against an image
// (ImageAndTextRetrieval, or the image-text matching head), and
// [Predictor.Verify] judges a sentence about two images (NLVR2). It is not
// safe for concurrent use.
type Predictor struct {
	model *hfmodel.Model
	proc  *processor.Processor
	exec  *model.Exec
}

// New returns a predictor for m, encoding inputs with p.
func New(b compute.Backend, m *hfmodel.Model, p *processor.Processor) (*Predictor, error) {
	exec, err := model.NewExec(b, m.Store, func(scope *model.Scope, ins []*Node) []*Node {
		out := vilt.Forward(scope, m.Config, vilt.NewInputs(ins), vilt.Options{})
		if out.ITMLogits != nil {
			return []*Node{out.Logits, out.ITMLogits}
		}
		return []*Node{out.Logits}
	})
	if err != nil {
		return nil, fmt.Errorf("predict: %w", err)
	}
	return &Predictor{model: m, proc: p, exec: exec}, nil
}

// Close frees the compiled graphs.
func (p *Predictor) Close() { p.exec.Finalize() }

// Model returns the model the predictor runs.
func (p *Predictor) Model() *hfmodel.Model { return p.model }

// needHead returns an error unless the model's head is h.
func (p *Predictor) needHead(h vilt.Head, what string) error {
	if got := p.model.Head(); got != h {
		return fmt.Errorf("predict: %s needs a %s model, this one is a %s", what, h, got)
	}
	return nil
}

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
	if err := p.needHead(vilt.QuestionAnswering, "answering a question"); err != nil {
		return Prediction{}, err
	}
	if err := CheckQuestion(question); err != nil {
		return Prediction{}, fmt.Errorf("predict: %w", err)
	}
	enc, err := p.proc.EncodeRGB(img, question)
	if err != nil {
		return Prediction{}, fmt.Errorf("predict: %w", err)
	}
	b, logits, err := p.runOne(enc)
	if err != nil {
		return Prediction{}, err
	}
	n := len(enc.InputIDs)
	return Prediction{
		Shapes: map[string][]int{
			"input_ids": {1, n}, "token_type_ids": {1, n}, "attention_mask": {1, n},
			"pixel_values": {1, 3, b.Height, b.Width}, "pixel_mask": {1, b.Height, b.Width},
		},
		LogitsShape: []int{1, len(logits.rows[0])},
		Top:         p.top(logits.rows[0], k),
	}, nil
}

// runOne runs the model on one encoding (a batch of 1) and returns the
// batch and the outputs.
func (p *Predictor) runOne(enc processor.Encoding) (*processor.Batch, outputs, error) {
	b, err := processor.Collate([]processor.Encoding{enc})
	if err != nil {
		return nil, outputs{}, fmt.Errorf("predict: %w", err)
	}
	out, err := p.logits(b.Tensors())
	return b, out, err
}

// outputs are a forward pass's results, one row per example.
type outputs struct {
	rows [][]float32 // the head's logits, flattened per example
	itm  [][]float32 // the image-text matching logits, when the model has them
}

// logits runs the model on the input tensors (which it finalizes) and
// returns its outputs per example. GoMLX panics are returned as errors.
func (p *Predictor) logits(in []*tensors.Tensor) (out outputs, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("predict: %v", r)
		}
	}()
	defer func() {
		for _, t := range in {
			t.FinalizeAll()
		}
	}()
	args := make([]any, len(in))
	for i, t := range in {
		args[i] = t
	}
	res, err := p.exec.Call(args...)
	if err != nil {
		return out, fmt.Errorf("predict: %w", err)
	}
	n := in[0].Shape().Dim(0)
	for i, t := range res {
		flat, err := tensors.CopyFlatData[float32](t)
		t.FinalizeAll()
		if err != nil {
			return out, fmt.Errorf("predict: %w", err)
		}
		if err := checkScores(flat); err != nil {
			return out, err
		}
		rows := make([][]float32, n)
		per := len(flat) / n
		for b := range n {
			rows[b] = flat[b*per : (b+1)*per]
		}
		if i == 0 {
			out.rows = rows
		} else {
			out.itm = rows
		}
	}
	return out, nil
}

// CheckQuestion refuses a question that is empty or only spaces, as
// [Predictor.Predict] does (callers can check before loading a model).
func CheckQuestion(question string) error {
	if strings.TrimSpace(question) == "" {
		return errors.New("the question is empty (or only spaces): ask something about the image")
	}
	return nil
}

// checkScores returns an error when the logits hold a NaN or an infinity:
// the model's weights are broken, and no answer can be trusted.
func checkScores(logits []float32) error {
	n := 0
	for _, v := range logits {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			n++
		}
	}
	if n > 0 {
		return fmt.Errorf("predict: the model produced NaN or infinite values for %d of its %d scores: its weights are broken (retrain or reload it)", n, len(logits))
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
	if err := p.needHead(vilt.QuestionAnswering, "answering questions"); err != nil {
		return nil, err
	}
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
		in, _ := b.Tensors()
		out, err := p.logits(in)
		if err != nil {
			return nil, err
		}
		for i, row := range out.rows {
			answers[ds.Records[b.Indices[i]].QuestionID] = p.top(row, 1)[0].Label
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
