// Package data embeds the workbook's default data: the mini VQAv2 dataset,
// the ViLT processor files and label maps, and the COCO two-cats image.
// See data/README.md for sources and licences.
package data

import "embed"

// FS holds the embedded files, rooted at the data/ folder.
//
//go:embed vilt-b32-finetuned-vqa coco vqav2-mini vilt-tiny-vqav2-mini
var FS embed.FS
