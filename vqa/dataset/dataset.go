// Package dataset turns VQAv2 files into ViLT training examples (figures
// 13-15 of the walk-through) and batches them (figures 17-18): [Load] joins
// a split's questions and annotations, finds each image and computes the
// soft-score targets over a label map; [Dataset.Example] encodes one
// (image, question) pair with the processor; a [Loader] shuffles, decodes
// in parallel, collates with padding and pixel_mask, and serves batches as
// a GoMLX training dataset.
package dataset

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/vilt-go/workbook/vqa/processor"
	"github.com/vilt-go/workbook/vqa/vqav2"
)

// Options configures [Load].
type Options struct {
	// Limit keeps the first Limit questions of the split (figure 14 uses
	// 100); 0 keeps all.
	Limit int
	// Scoring turns annotator counts into target scores; the zero value is
	// the walk-through's min(1, count/3).
	Scoring vqav2.Scoring
	// SkipMissing skips (and counts in [Dataset.Skipped]) questions whose
	// image file is missing, instead of failing.
	SkipMissing bool
	// CacheImages keeps each processed image in memory after its first use,
	// so later epochs only tokenize (3*H*W float32 per image).
	CacheImages bool
	// QuestionTypes keeps only the questions whose annotation has one of
	// these question types ("how many", "is there a", ...; VQAv2's
	// question_type), and SkipQuestionTypes leaves out those of these
	// types, before Limit; empty keeps all.
	QuestionTypes, SkipQuestionTypes []string
}

// Keeps reports whether o keeps a question with annotation a (see
// Options.QuestionTypes).
func (o Options) Keeps(a vqav2.Annotation) bool {
	return (len(o.QuestionTypes) == 0 || slices.Contains(o.QuestionTypes, a.QuestionType)) && !slices.Contains(o.SkipQuestionTypes, a.QuestionType)
}

// Record is one question of the dataset with its image and target.
type Record struct {
	vqav2.Example
	// ImagePath is the image file of the question.
	ImagePath string
	// Labels and Scores are the sparse soft target: label ids and their
	// scores (see vqav2.Targets).
	Labels []int
	Scores []float32
}

// Dataset is a split's questions, ready to be encoded.
type Dataset struct {
	// Root and Split are the VQAv2 folder and the split read.
	Root, Split string
	// Records are the questions kept, in file order.
	Records []Record
	// LabelMap is the answer vocabulary the targets index.
	LabelMap vqav2.LabelMap
	// Skipped counts the questions left out because their image is missing
	// (with Options.SkipMissing).
	Skipped int
	// UnknownAnswers counts annotator answers not in the label map (they add
	// nothing to the targets).
	UnknownAnswers int

	proc  *processor.Processor
	cache *imageCache // nil unless Options.CacheImages
}

// Load reads split's questions and annotations under root (the VQAv2
// layout of package vqav2), joins them, keeps the first o.Limit questions
// and computes their targets over labels. Every image file must exist,
// unless o.SkipMissing.
func Load(root, split string, labels vqav2.LabelMap, p *processor.Processor, o Options) (*Dataset, error) {
	qs, err := vqav2.ReadQuestions(vqav2.QuestionsPath(root, split))
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	anns, err := vqav2.ReadAnnotations(vqav2.AnnotationsPath(root, split))
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	exs, _, err := vqav2.Join(qs, anns)
	if err != nil {
		return nil, fmt.Errorf("dataset: %s: %w", split, err)
	}
	return FromExamples(root, split, exs, labels, p, o)
}

// FromExamples is [Load] on examples already read: questions joined with
// their annotations, or questions alone (zero Annotation: an all-zero
// target), e.g. to predict answers for a test split. No examples, or none
// left once the missing images are skipped, is an error naming the
// questions file or the image folder.
func FromExamples(root, split string, exs []vqav2.Example, labels vqav2.LabelMap, p *processor.Processor, o Options) (*Dataset, error) {
	if len(exs) == 0 {
		return nil, fmt.Errorf("dataset: split %s: no questions (%s holds an empty questions list)", split, vqav2.QuestionsPath(root, split))
	}
	if labels.Len() == 0 {
		return nil, errors.New("dataset: empty label map")
	}
	if p == nil {
		return nil, errors.New("dataset: nil processor")
	}
	if len(o.QuestionTypes)+len(o.SkipQuestionTypes) > 0 {
		exs = slices.DeleteFunc(slices.Clone(exs), func(ex vqav2.Example) bool { return !o.Keeps(ex.Annotation) })
		if len(exs) == 0 {
			return nil, fmt.Errorf("dataset: split %s: no questions of the question types %q other than %q in %s", split, o.QuestionTypes, o.SkipQuestionTypes, vqav2.AnnotationsPath(root, split))
		}
	}
	if o.Limit > 0 && o.Limit < len(exs) {
		exs = exs[:o.Limit]
	}
	d := &Dataset{Root: root, Split: split, LabelMap: labels, proc: p, Records: make([]Record, 0, len(exs))}
	if o.CacheImages {
		d.cache = &imageCache{entries: map[string]*cacheEntry{}}
	}
	for _, ex := range exs {
		path := vqav2.ImagePath(root, split, ex.ImageID)
		if _, err := os.Stat(path); err != nil {
			if o.SkipMissing && errors.Is(err, fs.ErrNotExist) {
				d.Skipped++
				continue
			}
			return nil, fmt.Errorf("dataset: question %d: image %d: %w (flag -skip-missing, Options.SkipMissing, skips such questions)", ex.QuestionID, ex.ImageID, err)
		}
		ls, ss, unknown := vqav2.Targets(ex.Annotation.Answers, labels.Label2ID, o.Scoring)
		d.UnknownAnswers += unknown
		d.Records = append(d.Records, Record{Example: ex, ImagePath: path, Labels: ls, Scores: ss})
	}
	if len(d.Records) == 0 {
		return nil, fmt.Errorf("dataset: split %s: the images of all %d questions are missing from %s", split, d.Skipped, vqav2.ImageDir(root, split))
	}
	return d, nil
}

// Len returns the number of records.
func (d *Dataset) Len() int { return len(d.Records) }

// NumLabels returns the length of the target vectors.
func (d *Dataset) NumLabels() int { return d.LabelMap.Len() }

// Processor returns the processor that encodes the examples.
func (d *Dataset) Processor() *processor.Processor { return d.proc }

// Example is one encoded record: what the walk-through's dataset
// __getitem__ returns.
type Example struct {
	processor.Encoding
	// Target is the dense soft-score vector [NumLabels].
	Target []float32
	// Index is the record's position in the dataset.
	Index int
}

// Example encodes record i: its image (decoded and processed, or taken
// from the cache), its question and its dense target. The returned pixel
// values may be shared with the cache: treat them as read-only.
func (d *Dataset) Example(i int) (Example, error) {
	return d.example(i, d.encode)
}

// encodeFunc encodes a picture file with a text.
type encodeFunc func(path, text string) (processor.Encoding, error)

// encode encodes the picture at path (processed once when images are
// cached) with text.
func (d *Dataset) encode(path, text string) (processor.Encoding, error) {
	if d.cache != nil {
		return d.cache.encode(d.proc, path, text)
	}
	return d.proc.EncodeFile(path, text)
}

// example is [Dataset.Example] with the picture encoded by encode.
func (d *Dataset) example(i int, encode encodeFunc) (Example, error) {
	if i < 0 || i >= len(d.Records) {
		return Example{}, fmt.Errorf("dataset: example %d out of range [0, %d)", i, len(d.Records))
	}
	r := &d.Records[i]
	enc, err := encode(r.ImagePath, r.Question.Question)
	if err != nil {
		return Example{}, fmt.Errorf("dataset: question %d: %w", r.QuestionID, err)
	}
	target := make([]float32, d.LabelMap.Len())
	for k, l := range r.Labels {
		target[l] = r.Scores[k]
	}
	return Example{Encoding: enc, Target: target, Index: i}, nil
}

// Describe prints an example as figure 15 does: its keys with their
// shapes, the decoded input_ids, and the names of the labels its target
// scores with their scores.
func (d *Dataset) Describe(w io.Writer, ex Example) error {
	var b strings.Builder
	fmt.Fprintf(&b, "keys: input_ids [%d], token_type_ids [%d], attention_mask [%d], pixel_values [3 %d %d], labels [%d]\n",
		len(ex.InputIDs), len(ex.TokenTypeIDs), len(ex.AttentionMask), ex.Height, ex.Width, len(ex.Target))
	fmt.Fprintf(&b, "decoded input_ids: %s\n", d.proc.Decode(ex.InputIDs, false))
	b.WriteString("labels:")
	for l, s := range ex.Target {
		if s != 0 {
			fmt.Fprintf(&b, " %s=%.4g", d.LabelMap.ID2Label[l], s)
		}
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// imageCache keeps processed images by path; each is processed once even
// when several workers ask for it at the same time.
type imageCache struct {
	mu      sync.Mutex
	entries map[string]*cacheEntry
}

type cacheEntry struct {
	once sync.Once
	enc  processor.Encoding // pixel part only
	err  error
}

// encode returns the encoding of (the image at path, question), processing
// the image only the first time.
func (c *imageCache) encode(p *processor.Processor, path, question string) (processor.Encoding, error) {
	c.mu.Lock()
	e := c.entries[path]
	if e == nil {
		e = &cacheEntry{}
		c.entries[path] = e
	}
	c.mu.Unlock()
	e.once.Do(func() {
		e.enc, e.err = p.EncodeFile(path, "")
	})
	if e.err != nil {
		return processor.Encoding{}, e.err
	}
	text, err := p.Tokenizer().Encode(question)
	if err != nil {
		return processor.Encoding{}, fmt.Errorf("processor: %w", err)
	}
	return processor.Encoding{
		InputIDs: text.InputIDs, AttentionMask: text.AttentionMask, TokenTypeIDs: text.TokenTypeIDs,
		PixelValues: e.enc.PixelValues, Height: e.enc.Height, Width: e.enc.Width,
	}, nil
}
