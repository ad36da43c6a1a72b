package imageproc

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vilt-go/workbook/data"
	"golang.org/x/image/bmp"
)

func TestParseConfig(t *testing.T) {
	raw, err := data.FS.ReadFile("vilt-b32-finetuned-vqa/preprocessor_config.json")
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseConfig("embedded", raw) // "size": 384
	if err != nil {
		t.Fatal(err)
	}
	if c != DefaultConfig() {
		t.Errorf("embedded config = %+v, want %+v", c, DefaultConfig())
	}
	c, err = ParseConfig("obj", []byte(`{"size": {"shortest_edge": 224}, "image_mean": 0.25, "image_std": [1, 2, 4], "do_pad": false}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.ShortestEdge != 224 || c.LongerEdgeCap() != 373 || c.ImageMean != [3]float32{0.25, 0.25, 0.25} || c.ImageStd != [3]float32{1, 2, 4} || c.DoPad {
		t.Errorf("parsed %+v", c)
	}
	for _, bad := range []string{
		`{"size": {"height": 384, "width": 384}}`,
		`{"size": "big"}`,
		`{"resample": 2}`,
		`{"image_std": [0.5, 0, 0.5]}`,
		`{"image_mean": [0.5, 0.5]}`,
		`{"size_divisor": 0}`,
		`{"size": 0}`,
		`not json`,
	} {
		if _, err := ParseConfig("bad.json", []byte(bad)); err == nil || !strings.Contains(err.Error(), "bad.json") {
			t.Errorf("ParseConfig(%s) error = %v, want one naming bad.json", bad, err)
		}
	}
}

// TestTargetSizeZeroSide: transformers raises "height and width must be > 0"
// for these sizes (measured, fixture README).
func TestTargetSizeZeroSide(t *testing.T) {
	c := DefaultConfig()
	for _, wh := range [][2]int{{1000, 30}, {1300, 33}, {2000, 20}, {30, 1000}, {0, 10}} {
		if h, w, err := c.TargetSize(wh[1], wh[0]); err == nil {
			t.Errorf("TargetSize(%dx%d) = %dx%d, want an error", wh[0], wh[1], w, h)
		}
	}
}

func testImage(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(i*7 + i/5)
	}
	return img
}

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func write(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// pngHeader is a PNG signature and IHDR chunk for a w x h RGB image, with
// no pixel data.
func pngHeader(w, h uint32) []byte {
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr, w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2 // 8-bit RGB
	b := []byte("\x89PNG\r\n\x1a\n")
	b = binary.BigEndian.AppendUint32(b, 13)
	chunk := append([]byte("IHDR"), ihdr...)
	b = append(b, chunk...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(chunk))
}

func TestDecodeErrors(t *testing.T) {
	good := encodePNG(t, testImage(64, 48))
	var jb bytes.Buffer
	if err := jpeg.Encode(&jb, testImage(64, 48), nil); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, want string
		data       []byte
		opts       []Option
	}{
		{"empty.png", "empty", nil, nil},
		{"truncated.png", "decoding png", good[:len(good)/2], nil},
		{"truncated.jpg", "decoding jpeg", jb.Bytes()[:jb.Len()/2], nil},
		{"garbage.png", "header", []byte("not an image at all"), nil},
		{"bomb.png", "exceeds the budget", pngHeader(100000, 100000), nil},
		{"budget.png", "exceeds the budget", good, []Option{WithMaxPixels(1000)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := write(t, c.name, c.data)
			_, err := Decode(p, c.opts...)
			if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Decode error = %v, want one naming %s and saying %q", err, p, c.want)
			}
		})
	}
	if _, err := Decode(write(t, "ok.png", good), WithMaxPixels(64*48)); err != nil {
		t.Errorf("an image exactly at the budget: %v", err)
	}
}

// TestDecodeRefusesHostileFiles: a device that never ends (/dev/zero), a
// named pipe nobody writes, a folder and a file over MaxFileBytes are all
// refused at once with an error naming the path, without reading them.
func TestDecodeRefusesHostileFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "pipe.png")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	huge := filepath.Join(dir, "huge.png")
	if err := os.WriteFile(huge, encodePNG(t, testImage(8, 8)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(huge, MaxFileBytes+1); err != nil { // sparse: no disk used
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		"/dev/zero": "is a character device, not a regular file",
		fifo:        "is a named pipe, not a regular file",
		dir:         "is a folder, not a regular file",
		huge:        "more than the 52428800 allowed",
	} {
		done := make(chan error, 1)
		go func() { _, err := Decode(path); done <- err }()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), want) {
				t.Errorf("Decode(%s) = %v, want an error saying %q", path, err, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("Decode(%s) still reading after 5 s", path)
		}
	}
}

// TestFormats decodes the same pixels from PNG, GIF and BMP (lossless).
func TestFormats(t *testing.T) {
	pal := make(color.Palette, 0, 256)
	for i := range 256 {
		pal = append(pal, color.RGBA{uint8(i), uint8(255 - i), uint8(i * 3), 255})
	}
	src := image.NewPaletted(image.Rect(0, 0, 17, 9), pal)
	for i := range src.Pix {
		src.Pix[i] = uint8(i * 13)
	}
	want := make([]uint8, 0, 3*17*9)
	for _, p := range src.Pix {
		c := pal[p].(color.RGBA)
		want = append(want, c.R, c.G, c.B)
	}
	var g, b bytes.Buffer
	if err := gif.Encode(&g, src, &gif.Options{NumColors: 256}); err != nil {
		t.Fatal(err)
	}
	if err := bmp.Encode(&b, src); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"png": encodePNG(t, src), "gif": g.Bytes(), "bmp": b.Bytes()} {
		img, err := DecodeBytes(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if img.Width != 17 || img.Height != 9 || !slices.Equal(img.Pix, want) {
			t.Errorf("%s: decoded pixels differ", name)
		}
	}
}

// TestToRGBAlpha: convert("RGB") drops alpha without compositing, also for
// fully transparent pixels.
func TestToRGBAlpha(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 2, 1))
	copy(img.Pix, []uint8{200, 100, 50, 0, 1, 2, 3, 128})
	if got := ToRGB(img).Pix; !slices.Equal(got, []uint8{200, 100, 50, 1, 2, 3}) {
		t.Errorf("ToRGB = %v", got)
	}
	gray := image.NewGray(image.Rect(0, 0, 2, 1))
	copy(gray.Pix, []uint8{7, 250})
	if got := ToRGB(gray).Pix; !slices.Equal(got, []uint8{7, 7, 7, 250, 250, 250}) {
		t.Errorf("ToRGB(gray) = %v", got)
	}
	sub := testImage(8, 8).SubImage(image.Rect(2, 3, 5, 7))
	rgb := ToRGB(sub)
	if rgb.Width != 3 || rgb.Height != 4 {
		t.Fatalf("sub-image is %dx%d", rgb.Width, rgb.Height)
	}
	for y := range 4 {
		for x := range 3 {
			c := sub.At(2+x, 3+y).(color.NRGBA)
			if got := rgb.Pix[3*(y*3+x) : 3*(y*3+x)+3]; !slices.Equal(got, []uint8{c.R, c.G, c.B}) {
				t.Fatalf("pixel (%d,%d) = %v, want %v", x, y, got, c)
			}
		}
	}
}

// TestOrient checks the 8 EXIF orientations by where they send the corners
// and that each is undone by its inverse.
func TestOrient(t *testing.T) {
	src := NewRGB(3, 2) // pixel (x, y) holds x+10y
	for y := range 2 {
		for x := range 3 {
			src.Pix[3*(y*3+x)] = uint8(x + 10*y)
		}
	}
	at := func(img RGB, x, y int) uint8 { return img.Pix[3*(y*img.Width+x)] }
	// The value that lands in the top-left corner, per orientation.
	topLeft := map[int]uint8{1: 0, 2: 2, 3: 12, 4: 10, 5: 0, 6: 10, 7: 12, 8: 2}
	inverse := map[int]int{1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 8, 7: 7, 8: 6}
	for o := 1; o <= 8; o++ {
		got := Orient(src, o)
		if o >= 5 && (got.Width != 2 || got.Height != 3) || o < 5 && (got.Width != 3 || got.Height != 2) {
			t.Errorf("orientation %d: size %dx%d", o, got.Width, got.Height)
			continue
		}
		if at(got, 0, 0) != topLeft[o] {
			t.Errorf("orientation %d: top-left %d, want %d", o, at(got, 0, 0), topLeft[o])
		}
		if back := Orient(got, inverse[o]); !slices.Equal(back.Pix, src.Pix) {
			t.Errorf("orientation %d then %d is not the identity", o, inverse[o])
		}
	}
}

func TestJPEGOrientation(t *testing.T) {
	var jb bytes.Buffer
	if err := jpeg.Encode(&jb, testImage(8, 8), nil); err != nil {
		t.Fatal(err)
	}
	plain := jb.Bytes()
	for _, c := range []struct {
		order string
		o     int
	}{{"II", 6}, {"MM", 8}, {"II", 3}} {
		tiff := []byte(c.order)
		var bo interface {
			binary.ByteOrder
			binary.AppendByteOrder
		} = binary.LittleEndian
		if c.order == "MM" {
			bo = binary.BigEndian
		}
		tiff = bo.AppendUint16(tiff, 42)
		tiff = bo.AppendUint32(tiff, 8)
		tiff = bo.AppendUint16(tiff, 2)                                                          // two entries
		tiff = append(bo.AppendUint16(bo.AppendUint16(tiff, 0x010F), 2), 0, 0, 0, 0, 0, 0, 0, 0) // Make, ignored
		tiff = bo.AppendUint16(bo.AppendUint16(tiff, 0x0112), 3)
		tiff = bo.AppendUint32(tiff, 1)
		tiff = append(bo.AppendUint16(tiff, uint16(c.o)), 0, 0)
		seg := append([]byte("Exif\x00\x00"), tiff...)
		app1 := append([]byte{0xFF, 0xE1}, binary.BigEndian.AppendUint16(nil, uint16(len(seg)+2))...)
		file := slices.Concat(plain[:2], app1, seg, plain[2:])
		if got := JPEGOrientation(file); got != c.o {
			t.Errorf("%s orientation %d: read %d", c.order, c.o, got)
		}
		img, err := DecodeBytes(file, WithEXIFOrientation(true))
		if err != nil {
			t.Fatal(err)
		}
		plainImg, _ := DecodeBytes(plain)
		if !slices.Equal(img.Pix, Orient(plainImg, c.o).Pix) {
			t.Errorf("orientation %d not applied by DecodeBytes", c.o)
		}
		if ignored, _ := DecodeBytes(file); !slices.Equal(ignored.Pix, plainImg.Pix) {
			t.Error("EXIF applied although not asked for")
		}
	}
	if got := JPEGOrientation(plain); got != 1 {
		t.Errorf("no EXIF: %d", got)
	}
}
