package workbook

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/vilt-go/workbook/vqa/hfmodel"
	"github.com/vilt-go/workbook/vqa/processor"
	"github.com/vilt-go/workbook/vqa/repo"
	"github.com/vilt-go/workbook/vqa/vqav2"
)

// ModelEnv names the environment variable that picks the model folder the
// inference notebooks use.
const ModelEnv = "VQA_MODEL"

// FineTuned is the walk-through's fine-tuned model on the HuggingFace Hub.
const FineTuned = "dandelin/vilt-b32-finetuned-vqa"

// ShippedModel is the folder, under the repository root, of the tiny
// fine-tuned VQA checkpoint: [ShippedPreTrained] fine-tuned on the mini
// dataset's questions, the offline stand-in for [FineTuned].
const ShippedModel = "data/vilt-tiny-finetuned-vqa"

// CatsQuestion is the walk-through's inference question about CatsImage.
const CatsQuestion = "How many cats are there?"

// CatsImage is the walk-through's COCO picture, under the repository root.
const CatsImage = "data/coco/000000039769.png"

// Choice is the model an inference notebook runs and what to ask it.
type Choice struct {
	Model     *hfmodel.Model
	Processor *processor.Processor
	// Image is an image file and Question a question about it: the first
	// val2014 question of [repo.DataRoot], or, for [FineTuned], the
	// walk-through's [CatsQuestion] about [CatsImage].
	Image, Question string
	// Source says in one line which model this is.
	Source string
	// Kind says which candidate of [ChooseModel] it is.
	Kind ChoiceKind
	// Dir is the model's folder (empty for a Hub model).
	Dir string
}

// ChoiceKind is which candidate [ChooseModel] took.
type ChoiceKind int

const (
	// FromEnv is the folder named by $VQA_MODEL.
	FromEnv ChoiceKind = iota
	// FromNotebook06 is the model notebook 06 fine-tuned and saved.
	FromNotebook06
	// FromHub is [FineTuned].
	FromHub
	// FromShipped is [ShippedModel].
	FromShipped
)

// ChooseModel picks the model of the inference notebooks, writing to w in
// one line why a candidate was passed over:
//
//  1. $VQA_MODEL, a model folder;
//  2. the model notebook 06 saved ([SavedModelDir]), if it did;
//  3. [FineTuned], if it loads (from the HuggingFace cache, or downloaded),
//     with the walk-through's [CatsQuestion] about [CatsImage];
//  4. the checkpoint in [ShippedModel].
//
// The folders come with the first val2014 question of [repo.DataRoot].
func ChooseModel(w io.Writer) (Choice, error) {
	root, err := repo.Root()
	if err != nil {
		return Choice{}, err
	}
	if dir := os.Getenv(ModelEnv); dir != "" {
		return fromFolder(dir, "$"+ModelEnv+" = "+dir, FromEnv)
	}
	saved, err := SavedModelDir()
	if err != nil {
		return Choice{}, err
	}
	if HasSavedModel(saved) {
		rel, _ := filepath.Rel(root, saved)
		return fromFolder(saved, rel+" (the model notebook 06 fine-tuned and saved)", FromNotebook06)
	}
	fmt.Fprintf(w, "notebook 06 has saved no model in %s yet\n", saved)
	if m, _, err := hfmodel.Load(FineTuned, hfmodel.LoadOptions{}); err == nil {
		p, err := processor.Default()
		if err != nil {
			return Choice{}, err
		}
		return Choice{Model: m, Processor: p, Image: filepath.Join(root, CatsImage), Question: CatsQuestion,
			Source: FineTuned + " (the walk-through's fine-tuned model)", Kind: FromHub}, nil
	}
	fmt.Fprintf(w, "offline: using %s (%s is neither in the HuggingFace cache nor downloadable)\n", ShippedModel, FineTuned)
	return fromFolder(filepath.Join(root, ShippedModel), ShippedModel+" (the tiny model shipped with the workbook, pre-trained and fine-tuned here on generated scenes of shapes)", FromShipped)
}

// fromFolder loads the model in dir with its processor files (the embedded
// ones if it has none) and the first val2014 question of DataRoot.
func fromFolder(dir, source string, kind ChoiceKind) (Choice, error) {
	l, err := LoadFolder(dir, hfmodel.LoadOptions{})
	if err != nil {
		return Choice{}, err
	}
	c := Choice{Model: l.Model, Processor: l.Processor, Source: source, Kind: kind, Dir: dir}
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
	root, err := repo.DataRoot()
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
