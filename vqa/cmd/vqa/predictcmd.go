package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"

	"github.com/vilt-go/workbook/vqa/backend"
	"github.com/vilt-go/workbook/vqa/dataset"
	"github.com/vilt-go/workbook/vqa/hfmodel"
	"github.com/vilt-go/workbook/vqa/predict"
	"github.com/vilt-go/workbook/vqa/repo"
	"github.com/vilt-go/workbook/vqa/vqav2"
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
	if err := parse(fs, args); err != nil {
		return err
	}
	if *modelRef == "" {
		root, err := repo.Root()
		if err != nil {
			return fmt.Errorf("no -model given and %w", err)
		}
		*modelRef = filepath.Join(root, "data", defaultModel)
	}
	if (*imagePath == "") == (d.split == "") {
		return errors.New("give -image and -question, or -split")
	}
	m, _, err := hfmodel.Load(*modelRef, hfmodel.LoadOptions{})
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
	if *question == "" {
		return errors.New("-question is empty")
	}
	img, err := predict.LoadImage(ctx, http.DefaultClient, *imagePath)
	if err != nil {
		return err
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
func predictSplit(ctx context.Context, pred *predict.Predictor, m *hfmodel.Model, d dataFlags, batch int, results string, stdout io.Writer) error {
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
	fmt.Fprintf(stdout, "%d answers written to %s\n", len(answers), results)
	return nil
}
