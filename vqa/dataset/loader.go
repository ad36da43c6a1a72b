package dataset

import (
	"context"
	"errors"
	"fmt"
	"image"
	"iter"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/vilt-go/workbook/vqa/augment"
	"github.com/vilt-go/workbook/vqa/imageproc"
	"github.com/vilt-go/workbook/vqa/processor"
	"github.com/vilt-go/workbook/vqa/vilt"
)

// LoaderOptions configures a [Loader].
type LoaderOptions struct {
	// BatchSize is the number of examples per batch (the walk-through uses 4).
	BatchSize int
	// Shuffle reorders the examples each epoch, from Seed and the epoch
	// number, so an epoch's order can be reproduced (and resumed).
	Shuffle bool
	Seed    uint64
	// DropLast leaves out the last batch of an epoch when it is short.
	DropLast bool
	// Workers is the number of batches decoded in parallel (default: the
	// number of CPUs).
	Workers int
	// Prefetch is how many batches may be ready ahead of the consumer
	// (default 2).
	Prefetch int
	// Bucket groups examples whose images fall in the same size bucket
	// (BucketSize of the processed size) and pads every batch to its
	// bucket, so that only a few graph shapes are ever compiled.
	Bucket bool
	// SkipBroken leaves out (and counts in [Loader.Skipped]) examples whose
	// image cannot be decoded, instead of failing.
	SkipBroken bool
	// Augment, if set, transforms every picture anew each epoch before it is
	// resized and normalised (RandAugment without the operations that would
	// change an answer, see package augment), from Seed, the epoch and the
	// example; pictures are then decoded once and kept decoded in memory.
	Augment *augment.RandAugment
	// TrimText cuts the text columns that are padding in every example of
	// the batch, keeping a multiple of 8 tokens (like padding=True instead
	// of padding="max_length"): less compute, a few more graph shapes. The
	// model's outputs do not change: padding tokens are masked.
	TrimText bool
}

// Loader batches a [Dataset]: [Loader.Epoch] yields an epoch's batches. It
// is safe for concurrent use.
type Loader struct {
	ds   *Dataset  // the VQA examples, or
	caps *Captions // the pre-training captions
	pre  PretrainOptions
	opt  LoaderOptions

	sizesOnce sync.Once
	buckets   []int // bucket key of each record (with Bucket)
	sizesErr  error

	mu sync.Mutex

	skipped atomic.Int64

	decoded sync.Map // path -> *decodedPicture, with Augment
}

// decodedPicture is a picture decoded once for augmentation.
type decodedPicture struct {
	once sync.Once
	img  imageproc.RGB
	err  error
}

// NewLoader returns a loader over ds: batches with VQA soft-score targets.
func NewLoader(ds *Dataset, o LoaderOptions) (*Loader, error) {
	if ds.Len() == 0 {
		return nil, errors.New("dataset: no examples to load")
	}
	return newLoader(&Loader{ds: ds}, o)
}

// NewPretrainLoader returns a loader over captions: batches for masked
// language modelling and image-text matching (see [Captions.Pretrain]),
// made anew every epoch.
func NewPretrainLoader(c *Captions, po PretrainOptions, o LoaderOptions) (*Loader, error) {
	if c.Len() == 0 {
		return nil, errors.New("dataset: no captions to load")
	}
	if po.MaskProb <= 0 || po.MaskProb > 1 || po.MismatchProb < 0 || po.MismatchProb >= 1 {
		return nil, fmt.Errorf("dataset: mask probability %g and mismatch probability %g: want (0, 1] and [0, 1)", po.MaskProb, po.MismatchProb)
	}
	return newLoader(&Loader{caps: c, pre: po}, o)
}

// newLoader checks and completes the options of l.
func newLoader(l *Loader, o LoaderOptions) (*Loader, error) {
	if o.BatchSize <= 0 {
		return nil, fmt.Errorf("dataset: batch size %d: want > 0", o.BatchSize)
	}
	if o.Workers <= 0 {
		o.Workers = runtime.NumCPU()
	}
	if o.Prefetch <= 0 {
		o.Prefetch = 2
	}
	l.opt = o
	return l, nil
}

// Dataset returns the VQA dataset being batched (nil for pre-training).
func (l *Loader) Dataset() *Dataset { return l.ds }

// Pretraining reports whether the loader makes pre-training batches.
func (l *Loader) Pretraining() bool { return l.caps != nil }

// len is the number of examples.
func (l *Loader) len() int {
	if l.caps != nil {
		return l.caps.Len()
	}
	return l.ds.Len()
}

// imagePath returns example i's image file.
func (l *Loader) imagePath(i int) string {
	if l.caps != nil {
		return l.caps.Records[i].ImagePath
	}
	return l.ds.Records[i].ImagePath
}

// processor returns the examples' processor.
func (l *Loader) processor() *processor.Processor {
	if l.caps != nil {
		return l.caps.proc
	}
	return l.ds.proc
}

// Skipped returns how many examples were left out as broken so far.
func (l *Loader) Skipped() int { return int(l.skipped.Load()) }

// Name implements train.Dataset.
func (l *Loader) Name() string { return "vqav2" }

// Batch is one collated batch with its targets.
type Batch struct {
	*processor.Batch
	// Targets is float32 [Size, NumLabels], row-major (VQA batches).
	Targets []float32
	// MLMLabels [Size, SeqLen] and ITMLabels [Size] are the masked-LM and
	// image-text matching targets (pre-training batches).
	MLMLabels, ITMLabels []int32
	// Indices are the dataset positions of the batch's examples.
	Indices []int
}

// Order returns the batches of an epoch as lists of record indices:
// shuffled from (Seed, epoch) if asked, grouped by image-size bucket if
// asked, the last short batch dropped if asked.
func (l *Loader) Order(epoch int) ([][]int, error) {
	idx := make([]int, l.len())
	for i := range idx {
		idx[i] = i
	}
	if l.opt.Shuffle {
		r := rand.New(rand.NewPCG(l.opt.Seed, uint64(epoch)))
		r.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
	}
	bs := l.opt.BatchSize
	var batches [][]int
	if !l.opt.Bucket {
		for start := 0; start < len(idx); start += bs {
			batches = append(batches, idx[start:min(start+bs, len(idx))])
		}
	} else {
		buckets, err := l.bucketKeys()
		if err != nil {
			return nil, err
		}
		pending := map[int][]int{}
		var keys []int // in order of first appearance, for a deterministic tail
		for _, i := range idx {
			k := buckets[i]
			if _, seen := pending[k]; !seen {
				keys = append(keys, k)
			}
			pending[k] = append(pending[k], i)
			if len(pending[k]) == bs {
				batches = append(batches, pending[k])
				pending[k] = []int{}
			}
		}
		for _, k := range keys {
			if len(pending[k]) > 0 {
				batches = append(batches, pending[k])
			}
		}
	}
	if l.opt.DropLast {
		batches = slices.DeleteFunc(batches, func(b []int) bool { return len(b) < bs })
	}
	return batches, nil
}

// bucketSize is [BucketSize] at the step of the processor's resolution.
func (l *Loader) bucketSize(h, w int) (int, int) {
	return BucketSize(h, w, BucketStep(l.processor().ImageConfig().ShortestEdge))
}

// bucketKeys reads every image's header once and returns each record's
// size bucket as a single int key.
func (l *Loader) bucketKeys() ([]int, error) {
	l.sizesOnce.Do(func() {
		cfg := l.processor().ImageConfig()
		l.buckets = make([]int, l.len())
		for i := range l.buckets {
			path := l.imagePath(i)
			h, w, err := imageSize(path)
			if err == nil {
				h, w, err = cfg.TargetSize(h, w)
			}
			if err != nil {
				if l.opt.SkipBroken {
					l.buckets[i] = -1 // broken images share a bucket; they are skipped when decoded
					continue
				}
				l.sizesErr = fmt.Errorf("dataset: example %d: %w", i, err)
				return
			}
			bh, bw := l.bucketSize(h, w)
			l.buckets[i] = bh<<20 | bw
		}
	})
	return l.buckets, l.sizesErr
}

// imageSize reads the height and width from an image file's header.
func imageSize(path string) (h, w int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	c, _, err := image.DecodeConfig(f)
	if err != nil {
		return 0, 0, fmt.Errorf("image %s: reading the header: %w", path, err)
	}
	return c.Height, c.Width, nil
}

// Epoch yields the batches of epoch, starting at batch number from (to
// resume an interrupted epoch), decoding up to Workers batches in parallel
// and up to Prefetch ahead. Stopping the iteration early, or cancelling
// ctx, stops the workers before Epoch returns.
func (l *Loader) Epoch(ctx context.Context, epoch, from int) iter.Seq2[*Batch, error] {
	return func(yield func(*Batch, error) bool) {
		order, err := l.Order(epoch)
		if err != nil {
			yield(nil, err)
			return
		}
		if from > 0 {
			order = order[min(from, len(order)):]
		}
		ctx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		defer wg.Wait()
		defer cancel()

		type result struct {
			b   *Batch
			err error
		}
		jobs := make(chan func(), l.opt.Workers)
		queue := make(chan chan result, l.opt.Prefetch)
		for range l.opt.Workers {
			wg.Go(func() {
				for job := range jobs {
					job()
				}
			})
		}
		wg.Go(func() {
			defer close(queue)
			defer close(jobs)
			for _, idx := range order {
				out := make(chan result, 1)
				select {
				case queue <- out:
				case <-ctx.Done():
					return
				}
				select {
				case jobs <- func() { b, err := l.build(epoch, idx); out <- result{b, err} }:
				case <-ctx.Done():
					return
				}
			}
		})
		for out := range queue {
			var r result
			select {
			case r = <-out:
			case <-ctx.Done():
				yield(nil, ctx.Err())
				return
			}
			if r.b == nil && r.err == nil {
				continue // every example of the batch was broken and skipped
			}
			if !yield(r.b, r.err) || r.err != nil {
				return
			}
		}
		if err := ctx.Err(); err != nil {
			yield(nil, err)
		}
	}
}

// build encodes and collates the examples idx of epoch.
func (l *Loader) build(epoch int, idx []int) (*Batch, error) {
	encs := make([]processor.Encoding, 0, len(idx))
	b := &Batch{Indices: make([]int, 0, len(idx))}
	for _, i := range idx {
		var enc processor.Encoding
		var err error
		if l.caps != nil {
			var ex PretrainExample
			if ex, err = l.caps.pretrain(epoch, i, l.pre, l.encoder(epoch, i, l.caps.Encode)); err == nil {
				enc = ex.Encoding
				b.MLMLabels = append(b.MLMLabels, ex.MLMLabels...)
				b.ITMLabels = append(b.ITMLabels, ex.Matched)
			}
		} else {
			var ex Example
			if ex, err = l.ds.example(i, l.encoder(epoch, i, l.ds.encode)); err == nil {
				enc = ex.Encoding
				b.Targets = append(b.Targets, ex.Target...)
			}
		}
		if err != nil {
			if l.opt.SkipBroken {
				l.skipped.Add(1)
				continue
			}
			return nil, err
		}
		encs = append(encs, enc)
		b.Indices = append(b.Indices, i)
	}
	if len(encs) == 0 {
		return nil, nil
	}
	var err error
	if l.opt.Bucket {
		h, w := 0, 0
		for _, e := range encs {
			h, w = max(h, e.Height), max(w, e.Width)
		}
		h, w = l.bucketSize(h, w)
		b.Batch, err = processor.CollateTo(encs, h, w)
	} else {
		b.Batch, err = processor.Collate(encs)
	}
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	if l.opt.TrimText {
		b.trimText()
	}
	return b, nil
}

// encoder returns how example i of epoch encodes its picture: plain, the
// dataset's way; with Augment, the picture decoded once, transformed for
// this epoch and example, then processed.
func (l *Loader) encoder(epoch, i int, plain encodeFunc) encodeFunc {
	if l.opt.Augment == nil {
		return plain
	}
	return func(path, text string) (processor.Encoding, error) {
		v, _ := l.decoded.LoadOrStore(path, &decodedPicture{})
		p := v.(*decodedPicture)
		p.once.Do(func() { p.img, p.err = l.processor().DecodeFile(path) })
		if p.err != nil {
			return processor.Encoding{}, p.err
		}
		r := rand.New(rand.NewPCG(l.opt.Seed^0x5eed, uint64(epoch)<<32|uint64(i)))
		return l.processor().EncodeRGB(l.opt.Augment.Apply(r, p.img), text)
	}
}

// trimTo is the granularity of TrimText's sequence lengths.
const trimTo = 8

// trimText drops the trailing text columns that no example attends to,
// keeping a multiple of trimTo.
func (b *Batch) trimText() {
	used := 0
	for i := range b.Size {
		for j := b.SeqLen - 1; j >= used; j-- {
			if b.AttentionMask[i*b.SeqLen+j] != 0 {
				used = j + 1
				break
			}
		}
	}
	keep := min(b.SeqLen, max(trimTo, (used+trimTo-1)/trimTo*trimTo))
	if keep == b.SeqLen {
		return
	}
	cut := func(xs []int32) []int32 {
		out := make([]int32, b.Size*keep)
		for i := range b.Size {
			copy(out[i*keep:(i+1)*keep], xs[i*b.SeqLen:])
		}
		return out
	}
	b.InputIDs, b.AttentionMask, b.TokenTypeIDs = cut(b.InputIDs), cut(b.AttentionMask), cut(b.TokenTypeIDs)
	if b.MLMLabels != nil {
		b.MLMLabels = cut(b.MLMLabels)
	}
	b.SeqLen = keep
}

// NumBatches returns the number of batches in an epoch (before skipping
// broken examples).
func (l *Loader) NumBatches() (int, error) {
	o, err := l.Order(0)
	return len(o), err
}

// Tensors returns the model inputs (input_ids, attention_mask,
// token_type_ids: int32 [B, L]; pixel_values: float32 [B, 3, H, W];
// pixel_mask: int32 [B, H, W]) and the labels as tensors: the VQA targets
// (float32 [B, NumLabels]), or for pre-training the masked-LM labels
// positions (int32 [B, MaxMasked]: the text positions with a masked-LM
// label, padded with 0), their labels (int32 [B, MaxMasked], padded with
// vilt.IgnoreIndex) and the image-text matching labels (int32 [B]).
func (b *Batch) Tensors() (inputs, labels []*tensors.Tensor) {
	inputs = b.Batch.Tensors()
	if b.ITMLabels != nil {
		positions := make([]int32, b.Size*MaxMasked)
		targets := make([]int32, b.Size*MaxMasked)
		for i := range b.Size {
			k := 0
			for pos, l := range b.MLMLabels[i*b.SeqLen : (i+1)*b.SeqLen] {
				if l == vilt.IgnoreIndex || k == MaxMasked {
					continue
				}
				positions[i*MaxMasked+k], targets[i*MaxMasked+k] = int32(pos), l
				k++
			}
			for ; k < MaxMasked; k++ {
				targets[i*MaxMasked+k] = vilt.IgnoreIndex
			}
		}
		return inputs, []*tensors.Tensor{
			tensors.FromFlatDataAndDimensions(positions, b.Size, MaxMasked),
			tensors.FromFlatDataAndDimensions(targets, b.Size, MaxMasked),
			tensors.FromFlatDataAndDimensions(b.ITMLabels, b.Size),
		}
	}
	labels = []*tensors.Tensor{tensors.FromFlatDataAndDimensions(b.Targets, b.Size, len(b.Targets)/b.Size)}
	return inputs, labels
}

// MaxMasked is the number of masked-LM targets a pre-training example
// carries into training: the masked word pieces beyond it (rare: 15% of 40
// tokens is 6) get no loss.
const MaxMasked = 10

// BucketStep returns the granularity of [BucketSize] for images resized to
// the shorter edge shortest: a third of it, in multiples of 32 (at least
// 32). ViltImageProcessor makes the longer edge at most 1333/800 of the
// shorter one, so each side falls in one of three steps and a run compiles
// at most 9 graph shapes at any resolution: a step of 128 pixels at 384
// (heights and widths of 384, 512 or 640), of 32 at 128 (every size the
// processor makes its own bucket: 128x160 is padded to 128x160, not to
// 128x256).
func BucketStep(shortest int) int { return max(32, shortest/3/32*32) }

// BucketSize rounds a batch's padded image size up to a multiple of step
// ([BucketStep]) on each side. With step a multiple of 32 it is a multiple
// of every power-of-two patch size up to 32.
func BucketSize(h, w, step int) (int, int) {
	up := func(x int) int { return max(1, (x+step-1)/step) * step }
	return up(h), up(w)
}
