// Package processor is ViLT's ViltProcessor in Go: a BERT tokenizer
// (package tokenizer) and the ViLT image processor (package imageproc)
// combined into model inputs, plus the collate step that pads a batch.
package processor

import (
	"errors"
	"fmt"
	"image"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/vilt-go/workbook/data"
	"github.com/vilt-go/workbook/vqa/hub"
	"github.com/vilt-go/workbook/vqa/imageproc"
	"github.com/vilt-go/workbook/vqa/tokenizer"
)

// DefaultDir is the folder of data.FS holding the processor files of
// dandelin/vilt-b32-finetuned-vqa.
const DefaultDir = "vilt-b32-finetuned-vqa"

// Processor turns (image, question) pairs into ViLT inputs. It is safe for
// concurrent use.
type Processor struct {
	tok    *tokenizer.Tokenizer
	img    imageproc.Config
	decode []imageproc.Option
	bufs   *sync.Pool // of *imageproc.Buffers, reused across images
}

// Load reads a processor from a local model folder holding vocab.txt or
// tokenizer.json, preprocessor_config.json, and tokenizer_config.json when
// present, or from a HuggingFace Hub model id (e.g.
// "dandelin/vilt-b32-finetuned-vqa", branch main) through the Hub cache
// (see package hub). opts configure image decoding in
// [Processor.EncodeFile] (EXIF orientation, pixel budget).
func Load(dirOrHubID string, opts ...imageproc.Option) (*Processor, error) {
	return LoadRevision(dirOrHubID, "", opts...)
}

// LoadRevision is [Load] with a Hub revision (branch, tag, "refs/pr/N" or
// commit; "" means main), ignored for local folders.
func LoadRevision(dirOrHubID, revision string, opts ...imageproc.Option) (*Processor, error) {
	dir := dirOrHubID
	if st, err := os.Stat(dirOrHubID); err != nil || !st.IsDir() {
		// A Hub id: fetch the slow-tokenizer files, else the fast ones.
		var errs []error
		for _, vocab := range []string{"vocab.txt", "tokenizer.json"} {
			d, err := hub.Resolve(dirOrHubID, revision, "preprocessor_config.json", "tokenizer_config.json", vocab)
			if err == nil {
				dir, errs = d, nil
				break
			}
			errs = append(errs, err)
		}
		if errs != nil {
			return nil, fmt.Errorf("processor: %w", errors.Join(errs...))
		}
	}
	tok, err := tokenizer.Load(dir)
	if err != nil {
		return nil, fmt.Errorf("processor: %w", err)
	}
	cfg, err := imageproc.ReadConfig(filepath.Join(dir, "preprocessor_config.json"))
	if err != nil {
		return nil, fmt.Errorf("processor: %w", err)
	}
	return New(tok, cfg, opts...), nil
}

// LoadFS is [Load] on the folder dir of fsys (e.g. data.FS).
func LoadFS(fsys fs.FS, dir string, opts ...imageproc.Option) (*Processor, error) {
	tok, err := tokenizer.LoadFS(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("processor: %w", err)
	}
	cfg, err := imageproc.ReadConfigFS(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("processor: %w", err)
	}
	return New(tok, cfg, opts...), nil
}

// Default returns the processor of dandelin/vilt-b32-finetuned-vqa from the
// files embedded in package data.
func Default(opts ...imageproc.Option) (*Processor, error) {
	return LoadFS(data.FS, DefaultDir, opts...)
}

// New combines a tokenizer and image settings.
func New(tok *tokenizer.Tokenizer, cfg imageproc.Config, opts ...imageproc.Option) *Processor {
	return &Processor{tok: tok, img: cfg, decode: opts,
		bufs: &sync.Pool{New: func() any { return new(imageproc.Buffers) }}}
}

// WithShortestEdge returns a processor resizing images so that their
// shorter side is n pixels (the article's processors use 384; the tiny
// models 96) instead of p's; n <= 0 returns p.
func (p *Processor) WithShortestEdge(n int) *Processor {
	if n <= 0 {
		return p
	}
	cfg := p.img
	cfg.ShortestEdge = n
	return New(p.tok, cfg)
}

// Tokenizer returns the text tokenizer.
func (p *Processor) Tokenizer() *tokenizer.Tokenizer { return p.tok }

// ImageConfig returns the image settings.
func (p *Processor) ImageConfig() imageproc.Config { return p.img }

// Encode processes an image and a question.
func (p *Processor) Encode(img image.Image, question string) (Encoding, error) {
	return p.EncodeRGB(imageproc.ToRGB(img), question)
}

// EncodeRGB processes an already converted RGB image and a question.
func (p *Processor) EncodeRGB(img imageproc.RGB, question string) (Encoding, error) {
	buf := p.bufs.Get().(*imageproc.Buffers)
	defer p.bufs.Put(buf)
	return p.encode(img, question, buf)
}

// encode is EncodeRGB with the scratch images of buf.
func (p *Processor) encode(img imageproc.RGB, question string, buf *imageproc.Buffers) (Encoding, error) {
	text, err := p.tok.Encode(question)
	if err != nil {
		return Encoding{}, fmt.Errorf("processor: %w", err)
	}
	pix, h, w, err := p.img.ProcessTo(img, buf)
	if err != nil {
		return Encoding{}, fmt.Errorf("processor: %w", err)
	}
	return Encoding{
		InputIDs: text.InputIDs, AttentionMask: text.AttentionMask, TokenTypeIDs: text.TokenTypeIDs,
		PixelValues: pix, Height: h, Width: w,
	}, nil
}

// EncodeFile decodes an image file (see [imageproc.Decode]) and processes
// it with a question. Errors name the file.
func (p *Processor) EncodeFile(path, question string) (Encoding, error) {
	buf := p.bufs.Get().(*imageproc.Buffers)
	defer p.bufs.Put(buf)
	img, err := imageproc.Decode(path, append(slices.Clip(p.decode), imageproc.WithBuffers(buf))...)
	if err != nil {
		return Encoding{}, fmt.Errorf("processor: %w", err)
	}
	enc, err := p.encode(img, question, buf)
	if err != nil {
		return Encoding{}, fmt.Errorf("%w (image %s)", err, filepath.Clean(path))
	}
	return enc, nil
}

// DecodeFile decodes an image file with the processor's decoding options
// (size limits, EXIF orientation), before any resizing.
func (p *Processor) DecodeFile(path string) (imageproc.RGB, error) {
	img, err := imageproc.Decode(path, p.decode...)
	if err != nil {
		return imageproc.RGB{}, fmt.Errorf("processor: %w", err)
	}
	return img, nil
}

// Decode turns token ids back into text (see [tokenizer.Tokenizer.Decode]).
func (p *Processor) Decode(ids []int32, skipSpecial bool) string {
	return p.tok.Decode(ids, skipSpecial)
}
