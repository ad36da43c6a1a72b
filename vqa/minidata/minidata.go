// Package minidata generates vqav2-mini, the workbook's small default
// dataset: synthetic pictures of a few large coloured shapes on textured
// backgrounds, with questions and 10 simulated human answers each, written
// in the exact layout and JSON schema of the official VQAv2 release
// (train2014/COCO_train2014_%012d.jpg, v2_OpenEnded_mscoco_train2014_questions.json,
// v2_mscoco_train2014_annotations.json, and the same for val2014), and
// [CaptionsPerImage] captions per picture in the layout of COCO's captions
// files (captions_train2014.json, captions_val2014.json).
//
// Generation is deterministic: the same [Config] gives the same bytes
// (with the same Go release, whose image/jpeg encoder writes the JPEGs).
// Every picture, question and answer is drawn from PCG streams seeded by
// the config's seed and the image id, so pictures can be rendered in
// parallel without changing the output.
package minidata

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/vilt-go/workbook/vqa/imageproc"
)

// Config sets what [Generate] writes. [DefaultConfig] gives the settings
// of the dataset shipped in data/vqav2-mini.
type Config struct {
	// Seed selects the dataset; everything is derived from it.
	Seed uint64
	// TrainQuestions and ValQuestions are the exact number of questions
	// in each split.
	TrainQuestions, ValQuestions int
	// TrainImages and ValImages, when set, give the exact number of
	// pictures of each split instead (each with all its questions); the
	// split's question count must then be 0. A split with neither is not
	// written.
	TrainImages, ValImages int
	// MinQuestionsPerImage and MaxQuestionsPerImage bound the questions
	// asked about one picture (fewer when a scene allows fewer).
	MinQuestionsPerImage, MaxQuestionsPerImage int
	// JPEGQuality is the image/jpeg quality, 1..100.
	JPEGQuality int
	// ShortSide, when > 0, shrinks every picture after drawing it so that
	// its shorter side has ShortSide pixels (Pillow's bicubic filter, as
	// the processor resizes); 0 keeps the COCO sizes. Scenes, questions and
	// captions do not depend on it.
	ShortSide int
	// Inventory adds to every picture one more question, "What is in the
	// picture?" (see [InventoryQuestion]), after the others, which it leaves
	// as they are. It needs splits sized by pictures.
	Inventory bool
}

// DefaultConfig returns the configuration of data/vqav2-mini.
func DefaultConfig() Config {
	return Config{
		Seed:                 2014,
		TrainQuestions:       2000,
		ValQuestions:         500,
		MinQuestionsPerImage: 8,
		MaxQuestionsPerImage: 10,
		JPEGQuality:          70,
	}
}

// The split names, as in the official file and folder names.
const (
	Train = "train2014"
	Val   = "val2014"
)

// SplitStats counts what was written for one split.
type SplitStats struct {
	Images    int `json:"images"`
	Questions int `json:"questions"`
	Captions  int `json:"captions"`
	// AnswerTypes counts questions per answer_type ("yes/no", "number", "other").
	AnswerTypes map[string]int `json:"answer_types"`
	// Bytes is the size of the split's images and three JSON files.
	Bytes int64 `json:"bytes"`
}

// Stats describes a generated dataset, per split name.
type Stats map[string]SplitStats

// Salts separate the random streams of one image.
const (
	sceneStream   = 1
	renderStream  = 2
	captionStream = 3
	// inventoryStream orders the items of the inventory question's answers.
	inventoryStream = 4
)

// imageRec is one generated picture with its questions, human answers and
// captions; width and height are the size of its file.
type imageRec struct {
	id            int64
	scene         Scene
	qas           []qa
	answers       [][]humanAnswer
	captions      []string
	width, height int
}

// split is one generated split.
type split struct {
	name   string
	images []imageRec
}

// maxCOCOID bounds the drawn image ids, like COCO 2014's (at most 581929).
const maxCOCOID = 581929

func (c Config) validate() error {
	switch {
	case c.TrainQuestions < 0 || c.ValQuestions < 0:
		return fmt.Errorf("minidata: question counts %d/%d: want >= 0", c.TrainQuestions, c.ValQuestions)
	case c.TrainImages < 0 || c.ValImages < 0:
		return fmt.Errorf("minidata: image counts %d/%d: want >= 0", c.TrainImages, c.ValImages)
	case c.TrainImages > 0 && c.TrainQuestions > 0, c.ValImages > 0 && c.ValQuestions > 0:
		return fmt.Errorf("minidata: train %d questions and %d images, val %d questions and %d images: want each split sized by questions or by images, not both",
			c.TrainQuestions, c.TrainImages, c.ValQuestions, c.ValImages)
	case c.ShortSide < 0:
		return fmt.Errorf("minidata: short side %d: want >= 0 (0 keeps COCO sizes)", c.ShortSide)
	case c.Inventory && (c.TrainQuestions > 0 || c.ValQuestions > 0):
		return fmt.Errorf("minidata: the inventory question needs splits sized by pictures, not by questions (%d/%d)", c.TrainQuestions, c.ValQuestions)
	case c.MinQuestionsPerImage < 1 || c.MaxQuestionsPerImage < c.MinQuestionsPerImage || c.MaxQuestionsPerImage > 999:
		return fmt.Errorf("minidata: questions per image %d..%d: want 1 <= min <= max <= 999", c.MinQuestionsPerImage, c.MaxQuestionsPerImage)
	case c.JPEGQuality < 1 || c.JPEGQuality > 100:
		return fmt.Errorf("minidata: JPEG quality %d: want 1..100", c.JPEGQuality)
	}
	return nil
}

// build draws the scenes, questions and answers of both splits (pictures
// are rendered later, by [Generate]). Image ids are distinct across splits.
func build(cfg Config) ([]split, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	ids := rand.New(rand.NewPCG(cfg.Seed, 0))
	used := make(map[int64]bool)
	var out []split
	for _, sp := range []struct {
		name              string
		questions, images int
	}{{Train, cfg.TrainQuestions, cfg.TrainImages}, {Val, cfg.ValQuestions, cfg.ValImages}} {
		if sp.questions == 0 && sp.images == 0 {
			continue
		}
		s := split{name: sp.name}
		for total := 0; total < sp.questions || len(s.images) < sp.images; {
			id := 1 + ids.Int64N(maxCOCOID)
			if used[id] {
				continue
			}
			used[id] = true
			r := rand.New(rand.NewPCG(cfg.Seed+sceneStream, uint64(id)))
			scene := newScene(r)
			k := cfg.MinQuestionsPerImage + r.IntN(cfg.MaxQuestionsPerImage-cfg.MinQuestionsPerImage+1)
			if sp.questions > 0 {
				k = min(k, sp.questions-total)
			}
			img := imageRec{id: id, scene: scene, qas: askQuestions(&scene, k, r)}
			img.width, img.height = pictureSize(scene, cfg.ShortSide)
			for _, q := range img.qas {
				as, err := annotate(q, &scene, r)
				if err != nil {
					return nil, fmt.Errorf("minidata: %s image %d: %w", sp.name, id, err)
				}
				img.answers = append(img.answers, as)
			}
			if cfg.Inventory {
				q, as := inventory(&scene, rand.New(rand.NewPCG(cfg.Seed+inventoryStream, uint64(id))))
				img.qas, img.answers = append(img.qas, q), append(img.answers, as)
			}
			caps, err := describe(&scene, rand.New(rand.NewPCG(cfg.Seed+captionStream, uint64(id))))
			if err != nil {
				return nil, fmt.Errorf("minidata: %s image %d: %w", sp.name, id, err)
			}
			img.captions = caps
			total += len(img.qas)
			s.images = append(s.images, img)
		}
		out = append(out, s)
	}
	return out, nil
}

// pictureSize returns the size of a scene's picture file: the scene's
// size, or that size shrunk to a shorter side of shortSide pixels (the
// longer side rounded to the nearest pixel).
func pictureSize(s Scene, shortSide int) (w, h int) {
	if shortSide <= 0 || shortSide >= min(s.Width, s.Height) {
		return s.Width, s.Height
	}
	scale := float64(shortSide) / float64(min(s.Width, s.Height))
	w, h = int(float64(float64(s.Width)*scale)+0.5), int(float64(float64(s.Height)*scale)+0.5)
	if s.Width < s.Height {
		w = shortSide
	} else {
		h = shortSide
	}
	return w, h
}

// Option configures [Generate].
type Option func(*options)

type options struct {
	progress func(split string, done, total int)
}

// WithProgress makes [Generate] call fn after each picture written, with
// the split's name, the pictures written so far and the split's total.
// Calls are serialised.
func WithProgress(fn func(split string, done, total int)) Option {
	return func(o *options) { o.progress = fn }
}

// Generate writes the dataset described by cfg into dir (created if
// needed; existing files with the same names are overwritten): for each
// split its image folder and its questions, annotations and captions files.
func Generate(dir string, cfg Config, opts ...Option) (Stats, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	splits, err := build(cfg)
	if err != nil {
		return nil, err
	}
	stats := make(Stats)
	for _, s := range splits {
		st, err := writeSplit(dir, s, cfg, o)
		if err != nil {
			return nil, err
		}
		stats[s.name] = st
	}
	return stats, nil
}

// ImageFileName returns the official file name of an image:
// "COCO_<split>_<id, 12 digits>.jpg".
func ImageFileName(split string, id int64) string {
	return fmt.Sprintf("COCO_%s_%012d.jpg", split, id)
}

// QuestionsFileName returns "v2_OpenEnded_mscoco_<split>_questions.json".
func QuestionsFileName(split string) string {
	return "v2_OpenEnded_mscoco_" + split + "_questions.json"
}

// AnnotationsFileName returns "v2_mscoco_<split>_annotations.json".
func AnnotationsFileName(split string) string {
	return "v2_mscoco_" + split + "_annotations.json"
}

// CaptionsFileName returns "captions_<split>.json", the name of COCO's
// captions files.
func CaptionsFileName(split string) string {
	return "captions_" + split + ".json"
}

// writeSplit renders and writes one split's pictures (in parallel) and
// its three JSON files.
func writeSplit(dir string, s split, cfg Config, o options) (SplitStats, error) {
	imgDir := filepath.Join(dir, s.name)
	if err := os.MkdirAll(imgDir, 0o755); err != nil {
		return SplitStats{}, fmt.Errorf("minidata: %w", err)
	}
	sizes := make([]int64, len(s.images))
	errs := make([]error, len(s.images))
	var mu sync.Mutex
	done := 0
	next := make(chan int)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			var buf bytes.Buffer
			var scratch []float64
			for i := range next {
				img := s.images[i]
				r := rand.New(rand.NewPCG(cfg.Seed+renderStream, uint64(img.id)))
				buf.Reset()
				var pic *image.RGBA
				pic, scratch = render(img.scene, r, scratch)
				pic, err := shrink(pic, img.width, img.height)
				if err != nil {
					errs[i] = fmt.Errorf("minidata: image %d: %w", img.id, err)
					continue
				}
				if err := jpeg.Encode(&buf, pic, &jpeg.Options{Quality: cfg.JPEGQuality}); err != nil {
					errs[i] = fmt.Errorf("minidata: encoding image %d: %w", img.id, err)
					continue
				}
				path := filepath.Join(imgDir, ImageFileName(s.name, img.id))
				if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
					errs[i] = fmt.Errorf("minidata: %w", err)
					continue
				}
				sizes[i] = int64(buf.Len())
				if o.progress != nil {
					mu.Lock()
					done++
					o.progress(s.name, done, len(s.images))
					mu.Unlock()
				}
			}
		})
	}
	for i := range s.images {
		next <- i
	}
	close(next)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return SplitStats{}, err
	}

	st := SplitStats{Images: len(s.images), AnswerTypes: make(map[string]int)}
	cf := captionsFile(s)
	st.Captions = len(cf.Annotations)
	for _, n := range sizes {
		st.Bytes += n
	}
	qf, af := officialFiles(s)
	for _, a := range af.Annotations {
		st.AnswerTypes[a.AnswerType]++
	}
	st.Questions = len(qf.Questions)
	for _, f := range []struct {
		name string
		v    any
	}{{QuestionsFileName(s.name), qf}, {AnnotationsFileName(s.name), af}, {CaptionsFileName(s.name), cf}} {
		name := f.name
		data, err := json.Marshal(f.v)
		if err != nil {
			return SplitStats{}, fmt.Errorf("minidata: encoding %s: %w", name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return SplitStats{}, fmt.Errorf("minidata: %w", err)
		}
		st.Bytes += int64(len(data))
	}
	return st, nil
}

// shrink returns pic resized to w x h with Pillow's bicubic filter, or pic
// itself when it already has that size.
func shrink(pic *image.RGBA, w, h int) (*image.RGBA, error) {
	if b := pic.Bounds(); b.Dx() == w && b.Dy() == h {
		return pic, nil
	}
	small, err := imageproc.Resize(imageproc.ToRGB(pic), w, h)
	if err != nil {
		return nil, err
	}
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range w * h {
		copy(out.Pix[4*i:4*i+3], small.Pix[3*i:3*i+3])
		out.Pix[4*i+3] = 255
	}
	return out, nil
}
