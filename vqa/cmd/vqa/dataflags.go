package main

import (
	"flag"
	"strings"

	"github.com/vilt-go/workbook/vqa/dataset"
	"github.com/vilt-go/workbook/vqa/vqav2"
)

// dataFlags are the flags that pick and load a dataset split.
type dataFlags struct {
	root, split        string
	limit, imageSize   int
	scoring            string
	skipMissing, cache bool
	workers, prefetch  int
	bucket, skipBroken bool
	trimText           bool
	onlyTypes          string
	skipTypes          string
}

func (d *dataFlags) register(fs *flag.FlagSet, split string) {
	fs.StringVar(&d.root, "data", "", "VQAv2-layout folder (default $VQA_DATA, else data/vqav2-mini)")
	fs.StringVar(&d.split, "split", split, "split to read (train2014, val2014, ...)")
	fs.IntVar(&d.limit, "limit", 0, "use only the first N questions (0: all)")
	fs.IntVar(&d.imageSize, "image-size", 0, "resize images to this shorter edge instead of the processor's (0: processor's, 384)")
	fs.StringVar(&d.scoring, "scoring", "tutorial", "target scores: tutorial (min(1, n/3)) or vqa (0.3/0.6/0.9/1)")
	fs.BoolVar(&d.skipMissing, "skip-missing", false, "skip questions whose image file is missing (counted)")
	fs.BoolVar(&d.skipBroken, "skip-broken", false, "skip examples whose image cannot be decoded (counted)")
	fs.BoolVar(&d.cache, "cache-images", false, "keep processed images in memory across epochs")
	fs.IntVar(&d.workers, "workers", 0, "parallel image-decoding workers (0: number of CPUs)")
	fs.IntVar(&d.prefetch, "prefetch", 2, "batches prepared ahead")
	fs.BoolVar(&d.bucket, "bucket", false, "group images by size bucket and pad to it (fewer graph compilations)")
	fs.BoolVar(&d.trimText, "trim-text", false, "pad questions to the batch's longest (multiple of 8) instead of 40 tokens")
}

// registerQuestionTypes adds -only-question-types and
// -skip-question-types (vqa train's).
func (d *dataFlags) registerQuestionTypes(fs *flag.FlagSet) {
	fs.StringVar(&d.onlyTypes, "only-question-types", "", "use only questions of these comma-separated question types (the annotations' question_type, e.g. \"how many,are there any\"; empty: all); the answer labels come from the questions used")
	fs.StringVar(&d.skipTypes, "skip-question-types", "", "leave out questions of these comma-separated question types (e.g. \"what is in the\")")
}

// splitTypes returns the question types of a comma-separated list (nil:
// none).
func splitTypes(list string) []string {
	var ts []string
	for t := range strings.SplitSeq(list, ",") {
		if t = strings.TrimSpace(t); t != "" {
			ts = append(ts, t)
		}
	}
	return ts
}

func (d *dataFlags) options() (dataset.Options, error) {
	s, err := vqav2.ParseScoring(d.scoring)
	return dataset.Options{Limit: d.limit, Scoring: s, SkipMissing: d.skipMissing, CacheImages: d.cache,
		QuestionTypes: splitTypes(d.onlyTypes), SkipQuestionTypes: splitTypes(d.skipTypes)}, err
}

func (d *dataFlags) loaderOptions(batch int) dataset.LoaderOptions {
	return dataset.LoaderOptions{BatchSize: batch, Workers: d.workers, Prefetch: d.prefetch, Bucket: d.bucket, SkipBroken: d.skipBroken, TrimText: d.trimText}
}
