// Command minidata regenerates the embedded mini VQAv2 dataset
// (data/vqav2-mini) byte for byte: `make data`, or
//
//	go run ./vqa/cmd/minidata -out data/vqav2-mini
//
// With -seed, -train-questions or -val-questions it writes another dataset
// of the same kind, e.g. one with more training pictures for experiments.
// The output folder is replaced as a whole: the dataset is written to a
// temporary folder beside it, which then takes its place.
//
// The subcommand corpus makes a larger corpus of the same kind on demand,
// in a cache folder outside the repository (package corpus), and reuses it
// when it is already there:
//
//	go run ./vqa/cmd/minidata corpus -scenes 5000 -short-side 128
//
// It prints the progress to standard error and the corpus folder, last, to
// standard output.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/vilt-go/workbook/vqa/minidata"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "corpus" {
		if err := corpusMain(os.Args[2:], os.Stdout, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, "minidata corpus:", err)
			os.Exit(1)
		}
		return
	}
	cfg := minidata.DefaultConfig()
	out := flag.String("out", "data/vqav2-mini", "output folder (replaced)")
	flag.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "seed the whole dataset is derived from")
	flag.IntVar(&cfg.TrainQuestions, "train-questions", cfg.TrainQuestions, "questions in train2014 (more questions: more pictures)")
	flag.IntVar(&cfg.ValQuestions, "val-questions", cfg.ValQuestions, "questions in val2014")
	flag.Parse()
	if err := run(*out, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "minidata:", err)
		os.Exit(1)
	}
}

// run generates the dataset of cfg into out, replacing the folder, and
// prints what it wrote to w.
func run(out string, cfg minidata.Config, w io.Writer) error {
	start := time.Now()
	parent := filepath.Dir(filepath.Clean(out))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, ".minidata-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	stats, err := minidata.Generate(tmp, cfg)
	if err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	if err := os.RemoveAll(out); err != nil {
		return err
	}
	if err := os.Rename(tmp, out); err != nil {
		return err
	}
	var total int64
	names := make([]string, 0, len(stats))
	for name := range stats {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		st := stats[name]
		total += st.Bytes
		fmt.Fprintf(w, "%s: %d images, %d questions (yes/no %d, number %d, other %d), %d captions, %.2f MB\n",
			name, st.Images, st.Questions, st.AnswerTypes[minidata.YesNo], st.AnswerTypes[minidata.Number],
			st.AnswerTypes[minidata.Other], st.Captions, float64(st.Bytes)/1e6)
	}
	fmt.Fprintf(w, "wrote %s: %.2f MB in %s\n", out, float64(total)/1e6, time.Since(start).Round(time.Millisecond))
	return nil
}
