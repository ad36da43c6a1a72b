// Package vqav2 reads the VQAv2 dataset in its official layout: the COCO image
// file names, the questions and annotations JSON files, their join on
// question_id, the answer vocabulary (label2id / id2label in the HuggingFace
// config.json form), the soft training targets of the HuggingFace ViLT
// walk-through, results (submission) files, and COCO captions files
// ([ReadCaptions]).
//
// The file formats are described in docs/vqav2-format.md of the shared
// material; see [ScanQuestions] and [ScanAnnotations] for what is validated.
// The readers stream the files record by record, so the full val2014 and
// train2014 files load in a fraction of the memory a whole-file decode
// takes. Every schema violation is a [*FieldError] naming the file, the
// record and the field.
package vqav2

import (
	"fmt"
	"os"
	"path/filepath"
)

// idDigits is the number of zero-padded digits of the image id in a COCO
// file name.
const idDigits = 12

// ImageID returns the COCO image id of a file name such as
// "COCO_val2014_000000262148.jpg" (or a path ending in one): the 12 ASCII
// digits right before the ".jpg" or ".png" extension, as the walk-through's
// regular expression `.*(\d{12})\.((jpg)|(png))` takes them. The extension is
// case sensitive, as in the walk-through.
func ImageID(fileName string) (int64, error) {
	ext := filepath.Ext(fileName)
	if ext != ".jpg" && ext != ".png" {
		return 0, fmt.Errorf("image file name %q: want extension .jpg or .png", fileName)
	}
	stem := fileName[:len(fileName)-len(ext)]
	if len(stem) < idDigits {
		return 0, fmt.Errorf("image file name %q: want %d digits before %s", fileName, idDigits, ext)
	}
	var id int64
	for _, c := range []byte(stem[len(stem)-idDigits:]) {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("image file name %q: want %d digits before %s", fileName, idDigits, ext)
		}
		id = id*10 + int64(c-'0')
	}
	return id, nil
}

// FileName returns the COCO file name of image id in split, e.g.
// FileName("val2014", 262148) == "COCO_val2014_000000262148.jpg". The id must
// be in [0, 10^12) for the name to round-trip through [ImageID].
func FileName(split string, id int64) string {
	return fmt.Sprintf("COCO_%s_%0*d.jpg", split, idDigits, id)
}

// QuestionsPath returns the path of the questions file of split under root:
// <root>/v2_OpenEnded_mscoco_<split>_questions.json.
func QuestionsPath(root, split string) string {
	return filepath.Join(root, "v2_OpenEnded_mscoco_"+split+"_questions.json")
}

// AnnotationsPath returns the path of the annotations file of split under
// root: <root>/v2_mscoco_<split>_annotations.json.
func AnnotationsPath(root, split string) string {
	return filepath.Join(root, "v2_mscoco_"+split+"_annotations.json")
}

// ImageDir returns the image folder of split under root: <root>/<split>.
func ImageDir(root, split string) string {
	return filepath.Join(root, split)
}

// ImagePath returns <root>/<split>/COCO_<split>_<id as 12 digits>.jpg.
func ImagePath(root, split string, id int64) string {
	return filepath.Join(ImageDir(root, split), FileName(split, id))
}

// ScanImages lists the image folder dir, as figure 8 of the walk-through does,
// and returns both directions of the mapping between image ids and file
// paths (dir joined with the file name). Sub-folders and hidden files (names
// starting with ".") are skipped; every other entry must be a file whose name
// holds an image id (see [ImageID]), and no two files may share an id.
func ScanImages(dir string) (idToFile map[int64]string, fileToID map[string]int64, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("scanning image folder: %w", err)
	}
	idToFile = make(map[int64]string, len(entries))
	fileToID = make(map[string]int64, len(entries))
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || name[0] == '.' {
			continue
		}
		path := filepath.Join(dir, name)
		id, err := ImageID(name)
		if err != nil {
			return nil, nil, fmt.Errorf("image folder %s: %w", dir, err)
		}
		if prev, ok := idToFile[id]; ok {
			return nil, nil, fmt.Errorf("image folder %s: %s and %s both have image id %d", dir, filepath.Base(prev), name, id)
		}
		idToFile[id] = path
		fileToID[path] = id
	}
	return idToFile, fileToID, nil
}
