package processor

import (
	"errors"
	"fmt"

	"github.com/gomlx/gomlx/core/tensors"
)

// Encoding is one (image, question) pair as ViltProcessor returns it for a
// single example.
type Encoding struct {
	InputIDs, AttentionMask, TokenTypeIDs []int32   // [MaxLength]
	PixelValues                           []float32 // [3, Height, Width], normalised
	Height, Width                         int
}

// Batch is a collated batch, every field row-major.
type Batch struct {
	Size, SeqLen, Height, Width           int
	InputIDs, AttentionMask, TokenTypeIDs []int32   // [Size, SeqLen]
	PixelValues                           []float32 // [Size, 3, Height, Width]
	PixelMask                             []int32   // [Size, Height, Width]: 1 real pixel, 0 padding
}

// Tensors returns the model inputs in the order vilt.NewInputs reads them:
// input_ids, attention_mask, token_type_ids (int32 [B, L]), pixel_values
// (float32 [B, 3, H, W]) and pixel_mask (int32 [B, H, W]).
func (b *Batch) Tensors() []*tensors.Tensor {
	n, l, h, w := b.Size, b.SeqLen, b.Height, b.Width
	return []*tensors.Tensor{
		tensors.FromFlatDataAndDimensions(b.InputIDs, n, l),
		tensors.FromFlatDataAndDimensions(b.AttentionMask, n, l),
		tensors.FromFlatDataAndDimensions(b.TokenTypeIDs, n, l),
		tensors.FromFlatDataAndDimensions(b.PixelValues, n, 3, h, w),
		tensors.FromFlatDataAndDimensions(b.PixelMask, n, h, w),
	}
}

// PairTensors returns the model inputs of ViltForImagesAndTextClassification
// (NLVR2) from two batches of the same texts, one per image, padded to the
// same image size: the text tensors of first, pixel_values [B, 2, 3, H, W]
// and pixel_mask [B, 2, H, W].
func PairTensors(first, second *Batch) ([]*tensors.Tensor, error) {
	if first.Size != second.Size || first.Height != second.Height || first.Width != second.Width {
		return nil, fmt.Errorf("processor: an image pair needs batches of the same size and padding, got %dx%dx%d and %dx%dx%d",
			first.Size, first.Height, first.Width, second.Size, second.Height, second.Width)
	}
	n, h, w := first.Size, first.Height, first.Width
	pixels := make([]float32, 0, 2*len(first.PixelValues))
	mask := make([]int32, 0, 2*len(first.PixelMask))
	img, px := 3*h*w, h*w
	for i := range n {
		pixels = append(pixels, first.PixelValues[i*img:(i+1)*img]...)
		pixels = append(pixels, second.PixelValues[i*img:(i+1)*img]...)
		mask = append(mask, first.PixelMask[i*px:(i+1)*px]...)
		mask = append(mask, second.PixelMask[i*px:(i+1)*px]...)
	}
	ts := first.Tensors()[:3]
	return append(ts, tensors.FromFlatDataAndDimensions(pixels, n, 2, 3, h, w), tensors.FromFlatDataAndDimensions(mask, n, 2, h, w)), nil
}

// Collate stacks encodings into a batch, padding every image bottom/right
// with 0.0 (in normalised space) to the largest height and width of the
// batch, each axis independently, and building the pixel mask: the
// walk-through's collate_fn (image_processor.pad).
func Collate(encs []Encoding) (*Batch, error) {
	h, w := 0, 0
	for _, e := range encs {
		h, w = max(h, e.Height), max(w, e.Width)
	}
	return CollateTo(encs, h, w)
}

// CollateTo is [Collate] padding to a fixed height x width, which must hold
// every image (e.g. a size bucket, so that compiled graphs are reused).
func CollateTo(encs []Encoding, height, width int) (*Batch, error) {
	if len(encs) == 0 {
		return nil, errors.New("processor: collate: empty batch")
	}
	seq := len(encs[0].InputIDs)
	for i, e := range encs {
		if len(e.InputIDs) != seq || len(e.AttentionMask) != seq || len(e.TokenTypeIDs) != seq {
			return nil, fmt.Errorf("processor: collate: example %d has text fields of lengths %d/%d/%d, want %d",
				i, len(e.InputIDs), len(e.AttentionMask), len(e.TokenTypeIDs), seq)
		}
		if e.Height <= 0 || e.Width <= 0 || len(e.PixelValues) != 3*e.Height*e.Width {
			return nil, fmt.Errorf("processor: collate: example %d has %d pixel values for a %dx%d image, want 3*H*W",
				i, len(e.PixelValues), e.Width, e.Height)
		}
		if e.Height > height || e.Width > width {
			return nil, fmt.Errorf("processor: collate: example %d is %dx%d, larger than the padded size %dx%d",
				i, e.Width, e.Height, width, height)
		}
	}
	n := len(encs)
	b := &Batch{
		Size: n, SeqLen: seq, Height: height, Width: width,
		InputIDs: make([]int32, n*seq), AttentionMask: make([]int32, n*seq), TokenTypeIDs: make([]int32, n*seq),
		PixelValues: make([]float32, n*3*height*width), PixelMask: make([]int32, n*height*width),
	}
	plane := height * width
	for i, e := range encs {
		copy(b.InputIDs[i*seq:], e.InputIDs)
		copy(b.AttentionMask[i*seq:], e.AttentionMask)
		copy(b.TokenTypeIDs[i*seq:], e.TokenTypeIDs)
		for c := range 3 {
			dst := b.PixelValues[(i*3+c)*plane:]
			src := e.PixelValues[c*e.Height*e.Width:]
			for y := range e.Height {
				copy(dst[y*width:y*width+e.Width], src[y*e.Width:(y+1)*e.Width])
			}
		}
		mask := b.PixelMask[i*plane:]
		for y := range e.Height {
			row := mask[y*width : y*width+e.Width]
			for x := range row {
				row[x] = 1
			}
		}
	}
	return b, nil
}
