package workbook

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/vilt-go/workbook/vqa/backend"
	"github.com/vilt-go/workbook/vqa/dataset"
	"github.com/vilt-go/workbook/vqa/hfmodel"
	"github.com/vilt-go/workbook/vqa/train"
	"github.com/vilt-go/workbook/vqa/vilt"
)

// Settings are the fine-tuning hyperparameters of notebook 06.
type Settings struct {
	// Epochs, Batch and LR are the passes over the data, the batch size and
	// AdamW's peak learning rate.
	Epochs, Batch int
	LR            float64
	// HeadLRMult multiplies the learning rate of the new head (the
	// classifier; ViLT's fine-tuning: 10); 0 or 1: the same rate.
	HeadLRMult float64
	// Warmup and Decay set the learning-rate schedule (see
	// train.Optimizer); zero values: constant, as the article.
	Warmup float64
	Decay  bool
	// MaxSteps stops after that many steps (0: the epochs decide).
	MaxSteps int
	// Seed seeds the shuffling.
	Seed uint64
}

// ArticleSettings returns the article's (and HuggingFace notebook's)
// settings: AdamW with lr 5e-5, 50 epochs, batch size 4 (on the first 100
// questions).
func ArticleSettings() Settings { return Settings{Epochs: 50, Batch: 4, LR: 5e-5, Seed: 1} }

// ArticleLimit is the number of questions the article fine-tunes on.
const ArticleLimit = 100

// QuickSettings returns the workbook's defaults for the tiny pre-trained
// model: a few minutes on two CPU cores, at a learning rate a model this
// small needs (10 times the article's), the new head at 10 times that
// (ViLT's fine-tuning recipe), with warm-up and linear decay.
func QuickSettings() Settings {
	return Settings{Epochs: 6, Batch: 32, LR: 5e-4, HeadLRMult: 10, Warmup: 0.1, Decay: true, Seed: 1}
}

// optimizer returns AdamW with torch's defaults and the settings' learning
// rates and schedule.
func (s Settings) optimizer() train.Optimizer {
	opt := train.DefaultOptimizer()
	opt.LR, opt.HeadLRMultiplier, opt.Warmup, opt.Decay = s.LR, s.HeadLRMult, s.Warmup, s.Decay
	return opt
}

// QuickSteps is how many steps [FineTune] trains under $VQA_QUICK=1.
const QuickSteps = 6

// FineTune trains m on ds with the settings s (AdamW, the loss of
// vilt.Loss), drawing a progress bar while it runs and the loss curve at
// the end, and prints the backend, the schedule and the throughput on w.
// Under $VQA_QUICK=1 it stops after [QuickSteps] steps.
func FineTune(ctx context.Context, w io.Writer, m *hfmodel.Model, ds *dataset.Dataset, s Settings) (train.Result, error) {
	loader, err := dataset.NewLoader(ds, dataset.LoaderOptions{BatchSize: s.Batch, Shuffle: true, Seed: s.Seed, Bucket: true, TrimText: true})
	if err != nil {
		return train.Result{}, err
	}
	b, err := backend.New(w)
	if err != nil {
		return train.Result{}, err
	}
	opt := s.optimizer()
	maxSteps := s.MaxSteps
	if Quick() && (maxSteps == 0 || maxSteps > QuickSteps) {
		maxSteps = QuickSteps
		fmt.Fprintf(w, "%s=1: stopping after %d steps\n", QuickEnv, maxSteps)
	}
	batches, err := loader.NumBatches()
	if err != nil {
		return train.Result{}, err
	}
	total := s.Epochs * batches
	if maxSteps > 0 {
		total = min(total, maxSteps)
	}
	head := ""
	if scale := opt.HeadScale(); scale != 1 {
		head = fmt.Sprintf(" (the head %g times that)", scale)
	}
	fmt.Fprintf(w, "%d steps: %d epochs of %d batches of %d, lr %g%s\n", total, s.Epochs, batches, s.Batch, s.LR, head)
	progress := NewProgress("fine-tuning", total)
	res, err := train.Run(ctx, b, m, loader, train.Config{
		Optimizer: opt, Epochs: s.Epochs, MaxSteps: maxSteps, OnStep: progress.Update,
	})
	if err != nil {
		return res, err
	}
	fmt.Fprintf(w, "%d steps in %s, %.1f examples/s after the first step (graph compilation)\n",
		res.Steps, res.Elapsed.Round(1e9), res.ExamplesPerSecond)
	return res, ShowLossCurve(res.Curve, fmt.Sprintf("Training loss, lr %g, batch %d", s.LR, s.Batch))
}

// ShowLossCurve draws a loss curve (per step, and its running mean over 20
// steps) on a log scale.
func ShowLossCurve(curve []train.Point, title string) error {
	steps, losses, mean := make([]float64, len(curve)), make([]float64, len(curve)), make([]float64, len(curve))
	sum := 0.0
	for i, p := range curve {
		steps[i], losses[i] = float64(p.Step), p.Loss
		sum += p.Loss
		if i >= 20 {
			sum -= curve[i-20].Loss
		}
		mean[i] = sum / float64(min(i+1, 20))
	}
	return ShowPlot(Plot{
		Title: title, XLabel: "step", YLabel: "loss (BCE x num_labels, log scale)", LogY: true,
		Series: []Series{{Name: "loss per step", X: steps, Y: losses}, {Name: "mean of 20 steps", X: steps, Y: mean}},
	})
}

// WriteParams prints the weight table of a model of configuration cfg
// (vilt.Params: every tensor with its HuggingFace name and shape) grouped by
// module, with the identical encoder layers counted once and their number
// given, then the shapes of the first encoder layer and of the head.
func WriteParams(w io.Writer, cfg *vilt.Config) {
	total, groups := 0, map[string]int{}
	var order []string
	for _, p := range vilt.Params(cfg) {
		n := 1
		for _, d := range p.Dims {
			n *= d
		}
		total += n
		group := paramGroup(p.Key, cfg.NumHiddenLayers)
		if strings.HasPrefix(p.Key, "vilt.encoder.layer.") && !strings.HasPrefix(p.Key, "vilt.encoder.layer.0.") {
			n = 0 // each layer's parameters are counted once in the listing
		}
		if _, ok := groups[group]; !ok {
			order = append(order, group)
		}
		groups[group] += n
	}
	for _, g := range order {
		fmt.Fprintf(w, "%-42s %12d parameters\n", g, groups[g])
	}
	fmt.Fprintf(w, "%-42s %12d parameters (%.1f M)\n\n", "total", total, float64(total)/1e6)
	for _, p := range vilt.Params(cfg) {
		if strings.HasPrefix(p.Key, "vilt.encoder.layer.0.") || !strings.HasPrefix(p.Key, "vilt.") {
			fmt.Fprintf(w, "%-58s %v\n", p.Key, p.Dims)
		}
	}
}

// paramGroup names the module a weight belongs to in [WriteParams].
func paramGroup(key string, layers int) string {
	switch {
	case strings.HasPrefix(key, "vilt.encoder.layer."):
		return fmt.Sprintf("vilt.encoder.layer.N (each of %d)", layers)
	case strings.HasPrefix(key, "vilt.embeddings.text_embeddings."):
		return "vilt.embeddings.text_embeddings"
	case strings.HasPrefix(key, "vilt.embeddings."):
		return "vilt.embeddings (image)"
	case strings.HasPrefix(key, "classifier."):
		return "classifier (the VQA head)"
	case !strings.HasPrefix(key, "vilt."):
		head, _, _ := strings.Cut(key, ".")
		return head + " (head)"
	}
	group, _, _ := strings.Cut(strings.TrimPrefix(key, "vilt."), ".")
	return "vilt." + group
}
