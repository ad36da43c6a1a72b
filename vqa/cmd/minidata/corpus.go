package main

import (
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/vilt-go/workbook/vqa/corpus"
)

// corpusMain runs `minidata corpus`: it parses args, makes or reuses the
// corpus, reports progress to log and prints the corpus folder to out.
func corpusMain(args []string, out, log io.Writer) error {
	o := corpus.DefaultOptions()
	fs := flag.NewFlagSet("minidata corpus", flag.ContinueOnError)
	fs.SetOutput(log)
	fs.Usage = func() {
		fmt.Fprintln(log, "usage: minidata corpus [flags]\n\nMakes (or reuses) a synthetic corpus like data/vqav2-mini, with more scenes, in a cache folder.")
		fs.PrintDefaults()
	}
	fs.Uint64Var(&o.Seed, "seed", o.Seed, "seed the corpus is derived from (not 2014, the mini dataset's)")
	fs.IntVar(&o.TrainScenes, "scenes", o.TrainScenes, "pictures in train2014")
	fs.IntVar(&o.ValScenes, "val-scenes", o.ValScenes, "pictures in val2014 (0: no val split; data/vqav2-mini's val2014 is the evaluation data)")
	fs.IntVar(&o.ShortSide, "short-side", o.ShortSide, "shorter side of the pictures in pixels (0: COCO sizes, 640x480 and the like)")
	fs.IntVar(&o.JPEGQuality, "quality", o.JPEGQuality, "JPEG quality 1..100")
	fs.BoolVar(&o.Inventory, "inventory", false, "add to every picture the question \"What is in the picture?\", answered by its \"<color> <shape>\" items (a classification stage, standing in for ViT's ImageNet training)")
	dir := fs.String("out", "", "corpus folder (default: <user cache dir>/vilt-workbook/<corpus name>)")
	replace := fs.Bool("replace", false, "generate anew a corpus folder made by this command that has other options or is damaged")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *dir == "" {
		d, err := corpus.DefaultDir(o)
		if err != nil {
			return err
		}
		*dir = d
	}
	start := time.Now()
	res, err := corpus.Ensure(*dir, o, *replace, progressPrinter(log, start))
	if err != nil {
		return err
	}
	took := time.Since(start)
	var total int64
	scenes := 0
	for _, name := range slices.Sorted(maps.Keys(res.Stats)) {
		st := res.Stats[name]
		total += st.Bytes
		scenes += st.Images
		fmt.Fprintf(log, "%s: %d pictures, %d questions, %d captions, %.1f MB\n", name, st.Images, st.Questions, st.Captions, float64(st.Bytes)/1e6)
	}
	if res.Reused {
		fmt.Fprintf(log, "reused the complete corpus %s (%.1f MB)\n", res.Dir, float64(total)/1e6)
	} else {
		fmt.Fprintf(log, "wrote %s: %d scenes, %.1f MB in %s (%.0f scenes/s)\n", res.Dir, scenes, float64(total)/1e6,
			took.Round(time.Millisecond), float64(scenes)/took.Seconds())
	}
	_, err = fmt.Fprintln(out, res.Dir)
	return err
}

// progressPrinter returns a progress function that prints a line per
// split about every two seconds and when the split is done.
func progressPrinter(log io.Writer, start time.Time) corpus.Progress {
	last := start
	return func(split string, done, total int) {
		now := time.Now()
		if done < total && now.Sub(last) < 2*time.Second {
			return
		}
		last = now
		fmt.Fprintf(log, "%s: %d/%d pictures (%.0f%%), %s\n", split, done, total, 100*float64(done)/float64(total), now.Sub(start).Round(time.Second))
	}
}
