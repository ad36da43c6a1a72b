// Package data embeds what the library needs at run time wherever it runs:
// the ViLT processor files and the 3129-answer label maps of
// dandelin/vilt-b32-finetuned-vqa. The rest of data/ (the mini VQAv2
// dataset, the shipped tiny model, the COCO two-cats image) is read from
// the repository as files. See data/README.md for sources and licences.
package data

import "embed"

// FS holds the embedded files, rooted at the data/ folder.
//
//go:embed vilt-b32-finetuned-vqa
var FS embed.FS
