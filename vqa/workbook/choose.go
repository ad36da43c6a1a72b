package workbook

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"

	"github.com/vilt-go/workbook/vqa/dataset"
	"github.com/vilt-go/workbook/vqa/processor"
	"github.com/vilt-go/workbook/vqa/train"
	"github.com/vilt-go/workbook/vqa/vqav2"
)

// ModelEnv names the environment variable that picks the model folder the
// inference notebooks use.
const ModelEnv = "VQA_MODEL"

// FineTuned is the walk-through's fine-tuned model on the HuggingFace Hub.
const FineTuned = "dandelin/vilt-b32-finetuned-vqa"

// ShippedModel is the folder, under the repository root, of the small
// checkpoint trained on the mini dataset.
const ShippedModel = "data/vilt-tiny-vqav2-mini"

// CatsQuestion is the walk-through's inference question about CatsImage.
const CatsQuestion = "How many cats are there?"

// CatsImage is the walk-through's COCO picture, under the repository root.
const CatsImage = "data/coco/000000039769.png"

// Choice is the model an inference notebook runs and what to ask it.
type Choice struct {
	Model     *train.Model
	Processor *processor.Processor
	// Image is an image file and Question a question about it.
	Image, Question string
	// Source says in one line which model this is.
	Source string
}

// ChooseModel picks the model of the inference notebooks, writing to w why
// a candidate was passed over:
//
//  1. $VQA_MODEL, a model folder, with the first val2014 question of
//     [DataRoot];
//  2. [FineTuned], if it loads (from the HuggingFace cache, or downloaded),
//     with the walk-through's [CatsQuestion] about [CatsImage];
//  3. the checkpoint in [ShippedModel], with the first val2014 question;
//  4. if there is none, the "tiny" preset trained here on the first
//     quickSteps batches of the train2014 split (on backend b), saying so;
//     it is saved in the temporary folder and reused from there.
//
// The model's variables live on b: run it with the same backend.
func ChooseModel(b compute.Backend, w io.Writer, quickSteps int) (Choice, error) {
	root, err := Root()
	if err != nil {
		return Choice{}, err
	}
	if dir := os.Getenv(ModelEnv); dir != "" {
		return fromFolder(dir, "$"+ModelEnv+" = "+dir)
	}
	if m, _, err := train.Load(FineTuned, nil, 0); err == nil {
		p, err := processor.Default()
		if err != nil {
			return Choice{}, err
		}
		return Choice{Model: m, Processor: p, Image: filepath.Join(root, CatsImage), Question: CatsQuestion,
			Source: FineTuned + " (the walk-through's fine-tuned model)"}, nil
	} else {
		first, _, _ := strings.Cut(err.Error(), "\n")
		fmt.Fprintf(w, "%s could not be loaded: %s\n", FineTuned, first)
	}
	dir := filepath.Join(root, ShippedModel)
	if _, err := os.Stat(filepath.Join(dir, "config.json")); err == nil {
		return fromFolder(dir, ShippedModel+" (the small checkpoint shipped with the workbook, trained on the mini dataset)")
	}
	fmt.Fprintf(w, "%s is not there either\n", ShippedModel)
	return trainTiny(b, quickSteps)
}

// fromFolder loads the model in dir with its processor files (the embedded
// ones if it has none) and the first val2014 question of DataRoot.
func fromFolder(dir, source string) (Choice, error) {
	m, _, err := train.Load(dir, nil, 0)
	if err != nil {
		return Choice{}, err
	}
	p, err := folderProcessor(dir)
	if err != nil {
		return Choice{}, err
	}
	c := Choice{Model: m, Processor: p, Source: source}
	c.Image, c.Question, err = firstValQuestion()
	return c, err
}

// folderProcessor reads the processor files of a model folder, or the
// embedded ones when it has none.
func folderProcessor(dir string) (*processor.Processor, error) {
	if _, err := os.Stat(filepath.Join(dir, "preprocessor_config.json")); errors.Is(err, os.ErrNotExist) {
		return processor.Default()
	}
	return processor.Load(dir)
}

// firstValQuestion returns the image and text of the first val2014
// question of DataRoot.
func firstValQuestion() (image, question string, err error) {
	root, err := DataRoot()
	if err != nil {
		return "", "", err
	}
	qs, err := vqav2.ReadQuestions(vqav2.QuestionsPath(root, "val2014"))
	if err != nil {
		return "", "", err
	}
	if len(qs) == 0 {
		return "", "", fmt.Errorf("%s: no questions", vqav2.QuestionsPath(root, "val2014"))
	}
	return vqav2.ImagePath(root, "val2014", qs[0].ImageID), qs[0].Question, nil
}

// trainTiny trains the "tiny" preset for steps batches of 8 of train2014
// with learning rate 1e-3, the answers being the embedded label map, and
// saves it in the temporary folder; a model saved there before is reused.
func trainTiny(b compute.Backend, steps int) (Choice, error) {
	source := fmt.Sprintf(`the "tiny" preset trained here for %d steps (no checkpoint shipped)`, steps)
	saved := filepath.Join(os.TempDir(), fmt.Sprintf("vilt-workbook-tiny-%d-steps", steps))
	if _, err := os.Stat(filepath.Join(saved, "model.safetensors")); err == nil {
		return fromFolder(saved, source+", saved in "+saved)
	}
	root, err := Root()
	if err != nil {
		return Choice{}, err
	}
	data, err := DataRoot()
	if err != nil {
		return Choice{}, err
	}
	labels, err := vqav2.ReadLabelMap(filepath.Join(root, "data", processor.DefaultDir, "config.json"))
	if err != nil {
		return Choice{}, err
	}
	p, err := processor.Default()
	if err != nil {
		return Choice{}, err
	}
	const batch = 8
	ds, err := dataset.Load(data, "train2014", labels, p, dataset.Options{Limit: steps * batch})
	if err != nil {
		return Choice{}, err
	}
	loader, err := dataset.NewLoader(ds, dataset.LoaderOptions{BatchSize: batch, Shuffle: true, Seed: 1, Bucket: true})
	if err != nil {
		return Choice{}, err
	}
	m, err := train.NewFromPreset("tiny", labels.ID2Label, 1)
	if err != nil {
		return Choice{}, err
	}
	opt := train.DefaultOptimizer()
	opt.LR = 1e-3
	if _, err := train.Run(context.Background(), b, m, loader, train.Config{Optimizer: opt, Epochs: 1}); err != nil {
		return Choice{}, err
	}
	if err := m.Export(saved, dtypes.Float32); err != nil {
		return Choice{}, err
	}
	c := Choice{Model: m, Processor: p, Source: source}
	c.Image, c.Question, err = firstValQuestion()
	return c, err
}
