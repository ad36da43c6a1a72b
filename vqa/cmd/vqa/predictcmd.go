package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/vilt-go/workbook/vqa/backend"
	"github.com/vilt-go/workbook/vqa/dataset"
	"github.com/vilt-go/workbook/vqa/hfmodel"
	"github.com/vilt-go/workbook/vqa/imageproc"
	"github.com/vilt-go/workbook/vqa/internal/httptimeout"
	"github.com/vilt-go/workbook/vqa/internal/safefile"
	"github.com/vilt-go/workbook/vqa/predict"
	"github.com/vilt-go/workbook/vqa/repo"
	"github.com/vilt-go/workbook/vqa/vilt"
	"github.com/vilt-go/workbook/vqa/vqav2"
)

// defaultModel is the small model trained on the mini dataset, shipped in
// data/.
const defaultModel = "vilt-tiny-finetuned-vqa"

func runPredict(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("predict", "Runs a model on images and text, in the manner of HuggingFace pipelines; what it does\n"+
		"follows the model's head (config.json's architectures):\n"+
		"  ViltForQuestionAnswering: -image and -question: the encoding and logits shapes and the top\n"+
		"    answers with their sigmoid scores (figures 21-25); or, with -split and no -image, every\n"+
		"    question of a split answered into an official results file.\n"+
		"  ViltForMaskedLM (fill-mask): -image and -text with [MASK]: the top words for each mask.\n"+
		"  ViltForImageAndTextRetrieval, or a model with the image-text matching head: -image and\n"+
		"    -text repeated (texts ranked for the image), or -text and -images FOLDER (images ranked\n"+
		"    for the text), with their scores.\n"+
		"  ViltForImagesAndTextClassification (NLVR2): -image LEFT -image2 RIGHT -text SENTENCE: True or\n"+
		"    False with its probability.\n"+
		"  ViltForTokenClassification: -image and -text: each word piece's label.\n"+
		"Images are files or http(s) URLs.", stderr)
	modelRef := fs.String("model", "", "model folder or Hub id (default data/"+defaultModel+")")
	imagePath := fs.String("image", "", "image file or http(s) URL")
	image2 := fs.String("image2", "", "NLVR2: the right image")
	imagesDir := fs.String("images", "", "retrieval: rank the images of this folder for -text")
	question := fs.String("question", "", "question about the image (question answering)")
	var texts stringList
	fs.Var(&texts, "text", "text for the other heads: with [MASK] (fill-mask), a caption (retrieval; repeat the flag to rank several), a sentence (NLVR2)")
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
		root, err := repo.Root()
		if err != nil {
			return fmt.Errorf("no -model given and %w", err)
		}
		*modelRef = filepath.Join(root, "data", defaultModel)
	}
	if d.split != "" {
		// Checked before the model loads, so that a mistake shows at once.
		root, err := dataRoot(d.root)
		if err != nil {
			return err
		}
		if err := safefile.NotInput(*results, append(modelFiles(*modelRef), vqav2.QuestionsPath(root, d.split))...); err != nil {
			return err
		}
	}
	m, _, err := hfmodel.Load(*modelRef, hfmodel.LoadOptions{Log: stderr})
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
	out := resultWriter{w: stdout, json: *asJSON}
	client := httptimeout.Client(httptimeout.Timeouts{Connect: *timeout, Header: *timeout, Idle: *timeout})
	load := func(path string) (imageproc.RGB, error) { return predict.LoadImage(ctx, client, path) }
	switch {
	case m.Head() == vilt.QuestionAnswering:
		if (*imagePath == "") == (d.split == "") {
			return errors.New("give -image and -question, or -split")
		}
		if d.split != "" {
			return predictSplit(ctx, pred, m, d, *batch, *results, stdout)
		}
		if err := predict.CheckQuestion(*question); err != nil {
			return fmt.Errorf("-question: %w", err)
		}
		img, err := load(*imagePath)
		if err != nil {
			return err
		}
		p, err := pred.Predict(img, *question, *top)
		if err != nil {
			return err
		}
		return out.answers(p)
	case m.Head() == vilt.MaskedLM && !(m.Config.ITMHead && (len(texts) > 1 || *imagesDir != "")):
		if *imagePath == "" || len(texts) != 1 {
			return errors.New("fill-mask: give -image and one -text with [MASK]")
		}
		img, err := load(*imagePath)
		if err != nil {
			return err
		}
		masks, err := pred.FillMask(img, texts[0], *top)
		if err != nil {
			return err
		}
		return out.masks(masks)
	case m.Head() == vilt.ImageAndTextRetrieval || m.Config.ITMHead:
		return rank(pred, out, load, *imagePath, *imagesDir, texts)
	case m.Head() == vilt.ImagesAndTextClassification:
		if *imagePath == "" || *image2 == "" || len(texts) != 1 {
			return errors.New("NLVR2: give -image (left), -image2 (right) and one -text")
		}
		left, err := load(*imagePath)
		if err != nil {
			return err
		}
		right, err := load(*image2)
		if err != nil {
			return err
		}
		v, err := pred.Verify(left, right, texts[0])
		if err != nil {
			return err
		}
		return out.verdict(v)
	case m.Head() == vilt.TokenClassification:
		if *imagePath == "" || len(texts) != 1 {
			return errors.New("token classification: give -image and one -text")
		}
		img, err := load(*imagePath)
		if err != nil {
			return err
		}
		labels, err := pred.ClassifyTokens(img, texts[0])
		if err != nil {
			return err
		}
		return out.tokens(labels)
	}
	return fmt.Errorf("predict: nothing to do with a %s model", m.Head())
}

// rank ranks texts for one image (-image and several -text) or the images
// of a folder for one text (-images and -text).
func rank(pred *predict.Predictor, out resultWriter, load func(string) (imageproc.RGB, error), image, folder string, texts []string) error {
	switch {
	case image != "" && folder == "" && len(texts) > 0:
		img, err := load(image)
		if err != nil {
			return err
		}
		scores, err := pred.Scores([]imageproc.RGB{img}, texts)
		if err != nil {
			return err
		}
		return out.ranked(predict.Rank(scores[0], texts), nil)
	case folder != "" && image == "" && len(texts) == 1:
		names, err := imageFiles(folder)
		if err != nil {
			return err
		}
		imgs := make([]imageproc.RGB, len(names))
		for i, name := range names {
			if imgs[i], err = load(name); err != nil {
				return err
			}
		}
		scores, err := pred.Scores(imgs, texts)
		if err != nil {
			return err
		}
		col := make([]float64, len(imgs))
		for i := range imgs {
			col[i] = scores[i][0]
		}
		return out.ranked(predict.Rank(col, nil), names)
	}
	return errors.New("retrieval: give -image and one or more -text (rank the texts), or -images FOLDER and one -text (rank the images)")
}

// imageFiles lists the .jpg, .jpeg and .png files of a folder, sorted.
func imageFiles(folder string) ([]string, error) {
	entries, err := os.ReadDir(folder)
	if err != nil {
		return nil, fmt.Errorf("-images: %w", err)
	}
	var names []string
	for _, e := range entries {
		switch strings.ToLower(filepath.Ext(e.Name())) {
		case ".jpg", ".jpeg", ".png":
			if e.Type().IsRegular() {
				names = append(names, filepath.Join(folder, e.Name()))
			}
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("-images: %s holds no .jpg, .jpeg or .png file", folder)
	}
	return names, nil
}

// stringList is a flag that may be repeated.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, " | ") }

// Set adds one value.
func (l *stringList) Set(v string) error {
	if strings.TrimSpace(v) == "" {
		return errors.New("empty text")
	}
	*l = append(*l, v)
	return nil
}

// resultWriter prints predictions as text or JSON.
type resultWriter struct {
	w    io.Writer
	json bool
}

// encode writes v as indented JSON.
func (r resultWriter) encode(v any) error {
	enc := json.NewEncoder(r.w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// answers prints a VQA prediction like figure 25.
func (r resultWriter) answers(p predict.Prediction) error {
	if r.json {
		return r.encode(p)
	}
	for _, k := range []string{"input_ids", "token_type_ids", "attention_mask", "pixel_values", "pixel_mask"} {
		fmt.Fprintf(r.w, "%-15s %v\n", k, p.Shapes[k])
	}
	fmt.Fprintf(r.w, "%-15s %v\n", "logits", p.LogitsShape)
	fmt.Fprintf(r.w, "Predicted answer: %s\n", p.Top[0].Label)
	for i, a := range p.Top {
		fmt.Fprintf(r.w, "%2d. %-20s %.4f\n", i+1, a.Label, a.Score)
	}
	return nil
}

// masks prints the fill-mask candidates of every mask.
func (r resultWriter) masks(ms []predict.Mask) error {
	if r.json {
		return r.encode(ms)
	}
	for _, m := range ms {
		fmt.Fprintf(r.w, "[MASK] at token %d: %s\n", m.Position, m.Sequence)
		for i, t := range m.Top {
			fmt.Fprintf(r.w, "%2d. %-15s %.4f\n", i+1, t.Token, t.Score)
		}
	}
	return nil
}

// ranked prints ranked candidates; names, when given, name the images.
func (r resultWriter) ranked(s []predict.Scored, names []string) error {
	for i := range s {
		if names != nil {
			s[i].Text = names[s[i].Index]
		}
	}
	if r.json {
		return r.encode(s)
	}
	for i, c := range s {
		fmt.Fprintf(r.w, "%2d. %8.4f  %s\n", i+1, c.Score, c.Text)
	}
	return nil
}

// tokens prints each token's label.
func (r resultWriter) tokens(ls []predict.TokenLabel) error {
	if r.json {
		return r.encode(ls)
	}
	for _, l := range ls {
		fmt.Fprintf(r.w, "%-15s %-10s %.4f\n", l.Token, l.Label, l.Score)
	}
	return nil
}

// verdict prints an NLVR2 prediction.
func (r resultWriter) verdict(v predict.Verdict) error {
	if r.json {
		return r.encode(v)
	}
	_, err := fmt.Fprintf(r.w, "%s (probability %.4f)\n", v.Label, v.Probability)
	return err
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
	fmt.Fprintf(stdout, "%d answers written to %s", len(answers), results)
	if skipped := ds.Skipped + ds.Len() - len(answers); skipped > 0 {
		fmt.Fprintf(stdout, " (%d questions skipped: image missing or broken)", skipped)
	}
	fmt.Fprintln(stdout)
	return nil
}
