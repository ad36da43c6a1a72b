package imageproc

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/gif"  // GIF decoder
	_ "image/jpeg" // JPEG decoder
	_ "image/png"  // PNG decoder

	_ "golang.org/x/image/bmp"  // BMP decoder
	_ "golang.org/x/image/webp" // WebP decoder

	"github.com/vilt-go/workbook/vqa/internal/safefile"
	"github.com/vilt-go/workbook/vqa/internal/third_party/jpeg"
)

// DefaultMaxPixels is the default pixel budget of [Decode]: Pillow's
// MAX_IMAGE_PIXELS (decompression-bomb) threshold.
const DefaultMaxPixels = 89_478_485

// decodeOptions collects the [Option]s of [Decode].
type decodeOptions struct {
	maxPixels int64
	applyEXIF bool
	buf       *Buffers
}

// Option configures [Decode] and [DecodeBytes].
type Option func(*decodeOptions)

// WithMaxPixels sets the pixel budget (width*height) checked on the file
// header before decoding; n <= 0 disables the check.
func WithMaxPixels(n int64) Option { return func(o *decodeOptions) { o.maxPixels = n } }

// WithEXIFOrientation(true) rotates/flips JPEG images by their EXIF
// Orientation tag, like transformers.image_utils.load_image
// (ImageOps.exif_transpose). The default, false, ignores it like the
// walk-through's PIL.Image.open.
func WithEXIFOrientation(apply bool) Option { return func(o *decodeOptions) { o.applyEXIF = apply } }

// WithBuffers decodes into buf's scratch image (see [Buffers]) instead of a
// new one: the result is valid until buf's next use. A caller decoding many
// images saves an allocation the size of each.
func WithBuffers(buf *Buffers) Option { return func(o *decodeOptions) { o.buf = buf } }

// MaxFileBytes bounds the size of an image file read by [Decode] (and of an
// image downloaded by predict.LoadImage): larger inputs are refused before
// they are read into memory. COCO images are well under 1 MB.
const MaxFileBytes = 50 << 20

// Decode reads an image file (JPEG, PNG, GIF, BMP or WebP) and converts it
// to RGB like PIL's Image.open(path).convert("RGB"). Only regular files of
// at most MaxFileBytes are read: a folder, a device such as /dev/zero or a
// named pipe is refused before it is opened.
func Decode(path string, opts ...Option) (RGB, error) {
	data, err := safefile.ReadFile(path, MaxFileBytes)
	if err != nil {
		return RGB{}, fmt.Errorf("imageproc: %w", err)
	}
	img, err := DecodeBytes(data, opts...)
	if err != nil {
		return RGB{}, fmt.Errorf("imageproc: %s: %w", path, err)
	}
	return img, nil
}

// DecodeBytes is [Decode] on the contents of an image file. Its errors do
// not carry the "imageproc:" prefix: callers add the file name.
func DecodeBytes(data []byte, opts ...Option) (RGB, error) {
	o := decodeOptions{maxPixels: DefaultMaxPixels}
	for _, opt := range opts {
		opt(&o)
	}
	if len(data) == 0 {
		return RGB{}, errors.New("empty file")
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return RGB{}, fmt.Errorf("reading the image header: %w", err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return RGB{}, fmt.Errorf("%s image has size %dx%d, want both sides > 0", format, cfg.Width, cfg.Height)
	}
	if px := int64(cfg.Width) * int64(cfg.Height); o.maxPixels > 0 && px > o.maxPixels {
		return RGB{}, fmt.Errorf("%s image of %dx%d = %d pixels exceeds the budget of %d pixels (possible decompression bomb)", format, cfg.Width, cfg.Height, px, o.maxPixels)
	}
	var img image.Image
	if format == "jpeg" {
		// The patched decoder: libjpeg-turbo's inverse DCT, Pillow's pixels.
		img, err = jpeg.Decode(bytes.NewReader(data))
	} else {
		img, _, err = image.Decode(bytes.NewReader(data))
	}
	if err != nil {
		return RGB{}, fmt.Errorf("decoding %s: %w", format, err)
	}
	b := img.Bounds()
	rgb := toRGB(img, RGB{Pix: o.buf.get(decodedScratch, 3*b.Dx()*b.Dy()), Width: b.Dx(), Height: b.Dy()})
	if o.applyEXIF && format == "jpeg" {
		rgb = Orient(rgb, JPEGOrientation(data))
	}
	return rgb, nil
}

// ToRGB converts an image to 8-bit RGB the way PIL's convert("RGB") does:
// alpha is dropped without compositing (non-premultiplied values are kept),
// gray is copied into R, G and B, palettes are looked up, 16-bit colour
// samples keep their high byte while 16-bit gray is clipped to 255 (PIL
// reads it as 32-bit integers). Decoded JPEGs (YCbCr) are upsampled and converted
// like libjpeg-turbo does by default (see ycbcrToRGB).
func ToRGB(img image.Image) RGB {
	b := img.Bounds()
	return toRGB(img, NewRGB(b.Dx(), b.Dy()))
}

// toRGB is ToRGB into dst, of img's size: every byte of dst is written.
func toRGB(img image.Image, dst RGB) RGB {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	out := dst.Pix
	switch src := img.(type) {
	case *image.NRGBA:
		for y := range h {
			row := src.Pix[(y)*src.Stride : y*src.Stride+4*w]
			o := out[3*y*w : 3*(y+1)*w]
			for x := range w {
				o[3*x], o[3*x+1], o[3*x+2] = row[4*x], row[4*x+1], row[4*x+2]
			}
		}
	case *image.RGBA:
		// Go's decoders return *image.RGBA only for opaque images, where
		// premultiplied and straight values coincide.
		for y := range h {
			row := src.Pix[y*src.Stride : y*src.Stride+4*w]
			o := out[3*y*w : 3*(y+1)*w]
			for x := range w {
				if a := row[4*x+3]; a != 255 {
					c := color.NRGBAModel.Convert(color.RGBA{row[4*x], row[4*x+1], row[4*x+2], a}).(color.NRGBA)
					o[3*x], o[3*x+1], o[3*x+2] = c.R, c.G, c.B
					continue
				}
				o[3*x], o[3*x+1], o[3*x+2] = row[4*x], row[4*x+1], row[4*x+2]
			}
		}
	case *image.Gray:
		for y := range h {
			row := src.Pix[y*src.Stride : y*src.Stride+w]
			o := out[3*y*w : 3*(y+1)*w]
			for x, v := range row {
				o[3*x], o[3*x+1], o[3*x+2] = v, v, v
			}
		}
	case *image.Gray16:
		// PIL opens 16-bit gray as mode "I"; convert("RGB") clips to 255.
		for y := range h {
			o := out[3*y*w : 3*(y+1)*w]
			for x := range w {
				v := uint8(min(src.Gray16At(b.Min.X+x, b.Min.Y+y).Y, 255))
				o[3*x], o[3*x+1], o[3*x+2] = v, v, v
			}
		}
	case *image.Paletted:
		var pal [256][3]uint8
		for i, c := range src.Palette {
			n := color.NRGBAModel.Convert(c).(color.NRGBA)
			pal[i] = [3]uint8{n.R, n.G, n.B}
		}
		for y := range h {
			row := src.Pix[y*src.Stride : y*src.Stride+w]
			o := out[3*y*w : 3*(y+1)*w]
			for x, v := range row {
				copy(o[3*x:3*x+3], pal[v][:])
			}
		}
	case *image.YCbCr:
		ycbcrToRGB(src, dst)
	default:
		for y := range h {
			o := out[3*y*w : 3*(y+1)*w]
			for x := range w {
				c := color.NRGBA64Model.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA64)
				o[3*x], o[3*x+1], o[3*x+2] = uint8(c.R>>8), uint8(c.G>>8), uint8(c.B>>8)
			}
		}
	}
	return dst
}
