package vqav2

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

// MaxCaptionBytes bounds the length of one caption; COCO's longest are a
// few hundred bytes.
const MaxCaptionBytes = 1024

// MaxCaptionsFileBytes bounds how much of a captions file is read; COCO's
// captions_train2014.json has 66 MB.
const MaxCaptionsFileBytes = 1 << 30

// CaptionImage is one record of the "images" list of a COCO captions file.
type CaptionImage struct {
	// ID is the COCO image id ("id").
	ID int64
	// FileName is the image's file name in the split's image folder
	// ("file_name").
	FileName string
	// Width and Height are the image's size in pixels ("width", "height").
	Width, Height int
}

// Caption is one record of the "annotations" list of a COCO captions file.
type Caption struct {
	// ID is the caption's unique id ("id").
	ID int64
	// ImageID is the id of the image it describes ("image_id").
	ImageID int64
	// Caption is the text ("caption").
	Caption string
}

// Captions is a COCO captions file (captions_<split>.json): its images and
// their captions, in file order.
type Captions struct {
	Images   []CaptionImage
	Captions []Caption
}

// CaptionsPath returns the path of the captions file of split under root:
// <root>/captions_<split>.json.
func CaptionsPath(root, split string) string {
	return filepath.Join(root, "captions_"+split+".json")
}

type rawCaptionImage struct {
	ID       intField    `json:"id"`
	FileName stringField `json:"file_name"`
	Width    intField    `json:"width"`
	Height   intField    `json:"height"`
}

type rawCaption struct {
	ID      intField    `json:"id"`
	ImageID intField    `json:"image_id"`
	Caption stringField `json:"caption"`
}

// ReadCaptions reads a captions file (see [DecodeCaptions]).
func ReadCaptions(path string) (*Captions, error) {
	var c *Captions
	err := readFile(path, func(r io.Reader) error {
		var err error
		c, err = DecodeCaptions(r, path)
		return err
	})
	return c, err
}

// errTooLarge is the read error past the size limit; errors report it as
// invalid JSON at that offset.
var errTooLarge = errors.New("file larger than the limit of the captions reader")

// limitedReader reads at most n more bytes and then fails with
// errTooLarge (io.LimitReader would end with a plain EOF).
type limitedReader struct {
	r io.Reader
	n int64
}

// Read implements io.Reader.
func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		// At the limit: only the end of the input is fine.
		var probe [1]byte
		if _, err := io.ReadFull(l.r, probe[:]); err == io.EOF {
			return 0, io.EOF
		}
		return 0, errTooLarge
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

// DecodeCaptions reads a COCO captions file from r; name labels errors.
// It reads at most MaxCaptionsFileBytes. The top-level object must hold an
// "images" and an "annotations" array (other keys, such as "info" and
// "licenses", and unknown record fields are skipped). Every image needs an
// integer "id", unique, a string "file_name" naming a file without folders
// and integer
// "width" and "height" above 0; every caption an integer "id", unique, an
// integer "image_id" of an image of the file, and a string "caption" with
// some non-space text and at most MaxCaptionBytes bytes. Errors are
// *[FieldError] values naming the record and field.
func DecodeCaptions(r io.Reader, name string) (*Captions, error) {
	return decodeCaptions(r, name, MaxCaptionsFileBytes)
}

// decodeCaptions is [DecodeCaptions] reading at most limit bytes.
func decodeCaptions(r io.Reader, name string, limit int64) (*Captions, error) {
	c := &Captions{}
	images := make(map[int64]bool)
	captionIDs := make(map[int64]bool)
	err := scanArrays(&limitedReader{r, limit}, name, map[string]eachFunc{
		"images": func(dec *json.Decoder, at recordAt) error {
			var raw rawCaptionImage
			if err := decodeRecord(dec, name, at, &raw); err != nil {
				return err
			}
			bad := func(field, problem string) error {
				return &FieldError{File: name, Path: at.String() + "." + field, Problem: problem}
			}
			switch {
			case !raw.ID.ok:
				return bad("id", "missing or null; want an integer")
			case !raw.FileName.ok || raw.FileName.v == "":
				return bad("file_name", "missing, null or empty; want the image's file name")
			case !plainFileName(raw.FileName.v):
				return bad("file_name", fmt.Sprintf("%q; want a file name without folders", raw.FileName.v))
			case !raw.Width.ok || raw.Width.v <= 0 || raw.Width.v > 1<<20:
				return bad("width", fmt.Sprintf("%s; want an integer in [1, %d]", describeInt(raw.Width), 1<<20))
			case !raw.Height.ok || raw.Height.v <= 0 || raw.Height.v > 1<<20:
				return bad("height", fmt.Sprintf("%s; want an integer in [1, %d]", describeInt(raw.Height), 1<<20))
			case images[raw.ID.v]:
				return bad("id", fmt.Sprintf("duplicate image id %d", raw.ID.v))
			}
			images[raw.ID.v] = true
			c.Images = append(c.Images, CaptionImage{ID: raw.ID.v, FileName: raw.FileName.v, Width: int(raw.Width.v), Height: int(raw.Height.v)})
			return nil
		},
		"annotations": func(dec *json.Decoder, at recordAt) error {
			var raw rawCaption
			if err := decodeRecord(dec, name, at, &raw); err != nil {
				return err
			}
			bad := func(field, problem string) error {
				return &FieldError{File: name, Path: at.String() + "." + field, Problem: problem}
			}
			switch {
			case !raw.ID.ok:
				return bad("id", "missing or null; want an integer")
			case !raw.ImageID.ok:
				return bad("image_id", "missing or null; want an integer")
			case !raw.Caption.ok || strings.TrimSpace(raw.Caption.v) == "":
				return bad("caption", "missing, null or blank; want the caption's text")
			case len(raw.Caption.v) > MaxCaptionBytes:
				return bad("caption", fmt.Sprintf("has %d bytes; want at most %d", len(raw.Caption.v), MaxCaptionBytes))
			case captionIDs[raw.ID.v]:
				return bad("id", fmt.Sprintf("duplicate caption id %d", raw.ID.v))
			}
			captionIDs[raw.ID.v] = true
			c.Captions = append(c.Captions, Caption{ID: raw.ID.v, ImageID: raw.ImageID.v, Caption: raw.Caption.v})
			return nil
		},
	})
	if err != nil {
		return nil, err
	}
	for i, cp := range c.Captions {
		if !images[cp.ImageID] {
			return nil, &FieldError{File: name, Path: fmt.Sprintf("annotations[%d].image_id", i),
				Problem: fmt.Sprintf("image %d is not in \"images\"; want the id of a listed image", cp.ImageID)}
		}
	}
	return c, nil
}

// plainFileName reports whether name is a file name without folders, so
// that joining it to the image folder stays inside that folder.
func plainFileName(name string) bool {
	return name != "." && name != ".." && !strings.ContainsAny(name, `/\`) && filepath.VolumeName(name) == ""
}

// describeInt says what an integer field holds, for errors.
func describeInt(f intField) string {
	if !f.ok {
		return "missing or null"
	}
	return fmt.Sprintf("got %d", f.v)
}
