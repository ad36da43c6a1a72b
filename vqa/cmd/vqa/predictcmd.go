package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/gomlx/compute/dtypes"

	"github.com/vilt-go/workbook/vqa/backend"
	"github.com/vilt-go/workbook/vqa/dataset"
	"github.com/vilt-go/workbook/vqa/imageproc"
	"github.com/vilt-go/workbook/vqa/internal/httptimeout"
	"github.com/vilt-go/workbook/vqa/internal/safefile"
	"github.com/vilt-go/workbook/vqa/predict"
	"github.com/vilt-go/workbook/vqa/train"
	"github.com/vilt-go/workbook/vqa/vqav2"
	"github.com/vilt-go/workbook/vqa/workbook"
)

// defaultModel is the small model trained on the mini dataset, shipped in
// data/.
const defaultModel = "vilt-tiny-vqav2-mini"

func runPredict(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("predict", "Answers a question about an image (a file or an http(s) URL) and prints the encoding and\n"+
		"logits shapes and the top answers with their sigmoid scores (figures 20-25); or, with -split\n"+
		"and no -image, answers every question of a split and writes an official results file.", stderr)
	modelRef := fs.String("model", "", "model folder or Hub id (default data/"+defaultModel+")")
	imagePath := fs.String("image", "", "image file or http(s) URL")
	question := fs.String("question", "", "question about the image")
	top := fs.Int("top", 5, "number of answers shown")
	asJSON := fs.Bool("json", false, "print JSON")
	var d dataFlags
	d.register(fs, "")
	results := fs.String("results", "results.json", "with -split: the results file to write")
	batch := fs.Int("batch", 8, "with -split: batch size")
	timeout := fs.Duration("timeout", 0, "give up on an image URL whose server sends nothing for this long (0: 30s to connect, 60s otherwise)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *modelRef == "" {
		root, err := workbook.Root()
		if err != nil {
			return fmt.Errorf("no -model given and %w", err)
		}
		*modelRef = filepath.Join(root, "data", defaultModel)
	}
	if (*imagePath == "") == (d.split == "") {
		return errors.New("give -image and -question, or -split")
	}
	// The inputs are checked before the model is loaded, so that a mistake
	// shows at once.
	var img imageproc.RGB
	if d.split != "" {
		root, err := dataRoot(d.root)
		if err != nil {
			return err
		}
		if err := safefile.NotInput(*results, append(modelFiles(*modelRef), vqav2.QuestionsPath(root, d.split))...); err != nil {
			return err
		}
	} else {
		if err := predict.CheckQuestion(*question); err != nil {
			return fmt.Errorf("-question: %w", err)
		}
		client := httptimeout.Client(httptimeout.Timeouts{Connect: *timeout, Header: *timeout, Idle: *timeout})
		var err error
		if img, err = predict.LoadImage(ctx, client, *imagePath); err != nil {
			return err
		}
	}
	m, _, err := train.Load(*modelRef, nil, 0)
	if err != nil {
		return err
	}
	proc, err := loadProcessor(*modelRef, d.imageSize)
	if err != nil {
		return err
	}
	b, err := backend.New(stderr)
	if err != nil {
		return err
	}
	defer b.Finalize()
	pred, err := predict.New(b, m, proc)
	if err != nil {
		return err
	}
	defer pred.Close()
	if d.split != "" {
		return predictSplit(ctx, pred, m, d, *batch, *results, stdout)
	}
	p, err := pred.Predict(img, *question, *top)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(p)
	}
	for _, k := range []string{"input_ids", "token_type_ids", "attention_mask", "pixel_values", "pixel_mask"} {
		fmt.Fprintf(stdout, "%-15s %v\n", k, p.Shapes[k])
	}
	fmt.Fprintf(stdout, "%-15s %v\n", "logits", p.LogitsShape)
	fmt.Fprintf(stdout, "Predicted answer: %s\n", p.Top[0].Label)
	for i, a := range p.Top {
		fmt.Fprintf(stdout, "%2d. %-20s %.4f\n", i+1, a.Label, a.Score)
	}
	return nil
}

// predictSplit answers every question of a split (annotations not needed)
// and writes the official results file.
func predictSplit(ctx context.Context, pred *predict.Predictor, m *train.Model, d dataFlags, batch int, results string, stdout io.Writer) error {
	root, err := dataRoot(d.root)
	if err != nil {
		return err
	}
	qs, err := vqav2.ReadQuestions(vqav2.QuestionsPath(root, d.split))
	if err != nil {
		return err
	}
	exs := make([]vqav2.Example, len(qs))
	for i, q := range qs {
		exs[i].Question = q
	}
	labels, err := vqav2.NewLabelMap(m.Labels())
	if err != nil {
		return err
	}
	dopts, err := d.options()
	if err != nil {
		return err
	}
	ds, err := dataset.FromExamples(root, d.split, exs, labels, pred.Processor(), dopts)
	if err != nil {
		return err
	}
	answers, err := pred.Dataset(ctx, ds, d.loaderOptions(batch))
	if err != nil {
		return err
	}
	if err := vqav2.WriteResults(results, answers); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d answers written to %s", len(answers), results)
	if skipped := ds.Skipped + ds.Len() - len(answers); skipped > 0 {
		fmt.Fprintf(stdout, " (%d questions skipped: image missing or broken)", skipped)
	}
	fmt.Fprintln(stdout)
	return nil
}

func runExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("export", "Writes a model (a training folder, a folder or a Hub id) as a HuggingFace folder:\n"+
		"config.json, model.safetensors and the processor files.", stderr)
	modelRef := fs.String("model", "", "model to export (e.g. the -out folder of vqa train)")
	out := fs.String("out", "", "folder to write")
	imageSize := fs.Int("image-size", 0, "shorter edge written to preprocessor_config.json (0: keep the model's)")
	dtypeName := fs.String("dtype", "float32", "weight type in model.safetensors: float32, float16 or bfloat16 (half the size)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *modelRef == "" || *out == "" {
		return errors.New("give -model and -out")
	}
	m, _, err := train.Load(*modelRef, nil, 0)
	if err != nil {
		return err
	}
	proc, err := loadProcessor(*modelRef, *imageSize)
	if err != nil {
		return err
	}
	dtype, ok := map[string]dtypes.DType{"float32": dtypes.Float32, "float16": dtypes.Float16, "bfloat16": dtypes.BFloat16}[*dtypeName]
	if !ok {
		return fmt.Errorf("-dtype %q: want float32, float16 or bfloat16", *dtypeName)
	}
	if err := m.Export(*out, dtype); err != nil {
		return err
	}
	if err := writeProcessorFiles(*out, *modelRef, proc); err != nil {
		return err
	}
	st, err := os.Stat(filepath.Join(*out, "model.safetensors"))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: config.json, model.safetensors (%d bytes), processor files\n", *out, st.Size())
	return nil
}
