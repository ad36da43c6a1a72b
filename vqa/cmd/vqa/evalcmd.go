package main

import (
	"context"
	"errors"
	"io"
	"os"

	"github.com/vilt-go/workbook/vqa/backend"
	"github.com/vilt-go/workbook/vqa/dataset"
	"github.com/vilt-go/workbook/vqa/evaluate"
	"github.com/vilt-go/workbook/vqa/hfmodel"
	"github.com/vilt-go/workbook/vqa/internal/safefile"
	"github.com/vilt-go/workbook/vqa/predict"
	"github.com/vilt-go/workbook/vqa/vilt"
	"github.com/vilt-go/workbook/vqa/vqav2"
)

func runEval(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("eval", "Prints the official VQA accuracy of a model on a split (or of a results file in the official\n"+
		"format [{\"question_id\": ..., \"answer\": ...}]), overall and per answer type, next to the\n"+
		"majority-answer baseline (its answer taken from train2014 when present, else from the split).", stderr)
	var d dataFlags
	d.register(fs, "val2014")
	modelRef := fs.String("model", "", "model to evaluate (folder, training folder or Hub id)")
	results := fs.String("results", "", "score this results file instead of running a model")
	writeResults := fs.String("write-results", "", "also write the model's answers to this results file")
	batch := fs.Int("batch", 8, "batch size")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	byType := fs.Bool("question-types", false, "also print the accuracy per question type")
	if err := parse(fs, args); err != nil {
		return err
	}
	root, err := dataRoot(d.root)
	if err != nil {
		return err
	}
	var rep evaluate.Report
	switch {
	case *results != "":
		ref := vqav2.AnnotationsPath(root, "train2014")
		if _, err := os.Stat(ref); err != nil || d.split == "train2014" {
			ref = ""
		}
		rep, err = evaluate.ScoreFile(vqav2.AnnotationsPath(root, d.split), *results, ref)
	case *modelRef != "":
		if *writeResults != "" {
			inputs := append(modelFiles(*modelRef), vqav2.QuestionsPath(root, d.split), vqav2.AnnotationsPath(root, d.split), vqav2.AnnotationsPath(root, "train2014"))
			if err := safefile.NotInput(*writeResults, inputs...); err != nil {
				return err
			}
		}
		m, _, err := hfmodel.Load(*modelRef, hfmodel.LoadOptions{Log: stderr})
		if err != nil {
			return err
		}
		if m.Head() == vilt.MaskedLM {
			return evalPretrained(ctx, root, d, m, *modelRef, *batch, *asJSON, stdout, stderr)
		}
		rep, err = evalModel(ctx, root, d, m, *modelRef, *batch, *writeResults, stderr)
		if err != nil {
			return err
		}
	default:
		return errors.New("give -model or -results")
	}
	if err != nil {
		return err
	}
	if *asJSON {
		return rep.WriteJSON(stdout)
	}
	if err := rep.WriteText(stdout); err != nil || !*byType {
		return err
	}
	return rep.WriteQuestionTypes(stdout)
}

// evalPretrained scores a pre-trained model's masked words and image-text
// matching on the split's captions.
func evalPretrained(ctx context.Context, root string, d dataFlags, m *hfmodel.Model, modelRef string, batch int, asJSON bool, stdout, stderr io.Writer) error {
	proc, err := loadProcessor(modelRef, d.imageSize)
	if err != nil {
		return err
	}
	b, err := backend.New(stderr)
	if err != nil {
		return err
	}
	defer b.Finalize()
	rep, err := evaluatePretraining(ctx, b, m, proc, root, d, batch)
	if err != nil {
		return err
	}
	if asJSON {
		return rep.WriteJSON(stdout)
	}
	return rep.WriteText(stdout)
}

// evalModel runs the question-answering model m (read from modelRef) over
// the split and scores its answers.
func evalModel(ctx context.Context, root string, d dataFlags, m *hfmodel.Model, modelRef string, batch int, writeResults string, stderr io.Writer) (evaluate.Report, error) {
	labels, err := vqav2.NewLabelMap(m.Labels())
	if err != nil {
		return evaluate.Report{}, err
	}
	proc, err := loadProcessor(modelRef, d.imageSize)
	if err != nil {
		return evaluate.Report{}, err
	}
	b, err := backend.New(stderr)
	if err != nil {
		return evaluate.Report{}, err
	}
	defer b.Finalize()
	pred, err := predict.New(b, m, proc)
	if err != nil {
		return evaluate.Report{}, err
	}
	defer pred.Close()
	rep, answers, err := evaluateFlags(ctx, pred, root, d, labels, batch)
	if err != nil {
		return rep, err
	}
	if writeResults != "" {
		if err := vqav2.WriteResults(writeResults, answers); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// evaluateFlags answers every question of the split the data flags
// describe and scores the answers (also returned) against the majority
// baseline (see evaluate.Split).
func evaluateFlags(ctx context.Context, pred *predict.Predictor, root string, d dataFlags, labels vqav2.LabelMap, batch int) (evaluate.Report, map[int64]string, error) {
	dopts, err := d.options()
	if err != nil {
		return evaluate.Report{}, nil, err
	}
	ds, err := dataset.Load(root, d.split, labels, pred.Processor(), dopts)
	if err != nil {
		return evaluate.Report{}, nil, err
	}
	return evaluate.Split(ctx, pred, ds, d.loaderOptions(batch))
}
