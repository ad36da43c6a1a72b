// Command curves draws the validation curves (eval.csv, written by `vqa
// train -eval-every`) of several training runs as one SVG line plot, e.g.
// fine-tuning from a pre-trained model against training from random
// weights (docs/tiny-model.md):
//
//	go run ./vqa/cmd/curves -out docs/pretraining.svg -title "..." \
//		"from vilt-tiny-mlm=runs/ft/eval.csv" "from random weights=runs/scratch/eval.csv"
//
// Each argument is NAME=PATH; -column picks the accuracy column (overall,
// yes/no, number, other).
package main

import (
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/vilt-go/workbook/vqa/internal/safefile"
	"github.com/vilt-go/workbook/vqa/workbook"
)

func main() {
	out := flag.String("out", "", "SVG file to write")
	title := flag.String("title", "Validation accuracy", "plot title")
	column := flag.String("column", "overall", "eval.csv column to plot: overall, yes/no, number or other")
	flag.Parse()
	if err := run(*out, *title, *column, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "curves:", err)
		os.Exit(1)
	}
}

// run reads every NAME=PATH curve and writes the plot to out.
func run(out, title, column string, curves []string) error {
	if out == "" || len(curves) == 0 {
		return errors.New("give -out and at least one NAME=PATH of an eval.csv")
	}
	p := workbook.Plot{Title: title, XLabel: "training step", YLabel: column + " VQA accuracy (%)"}
	for _, c := range curves {
		name, path, ok := strings.Cut(c, "=")
		if !ok || name == "" || path == "" {
			return fmt.Errorf("argument %q: want NAME=PATH", c)
		}
		s, err := readCurve(path, column)
		if err != nil {
			return err
		}
		s.Name = name
		p.Series = append(p.Series, s)
	}
	svg, err := p.SVG()
	if err != nil {
		return err
	}
	return safefile.WriteFile(out, []byte(svg), 0o644)
}

// readCurve reads the step column and the named accuracy column of an
// eval.csv.
func readCurve(path, column string) (workbook.Series, error) {
	data, err := safefile.ReadFile(path, 16<<20)
	if err != nil {
		return workbook.Series{}, err
	}
	rows, err := csv.NewReader(strings.NewReader(string(data))).ReadAll()
	if err != nil {
		return workbook.Series{}, fmt.Errorf("%s: %w", path, err)
	}
	if len(rows) < 2 || rows[0][0] != "step" {
		return workbook.Series{}, fmt.Errorf("%s: want a header starting with \"step\" and at least one row", path)
	}
	col := slices.Index(rows[0], column)
	if col < 0 {
		return workbook.Series{}, fmt.Errorf("%s: no column %q (has %v)", path, column, rows[0])
	}
	var s workbook.Series
	for i, r := range rows[1:] {
		x, errX := strconv.ParseFloat(r[0], 64)
		y, errY := strconv.ParseFloat(r[col], 64)
		if err := errors.Join(errX, errY); err != nil {
			return workbook.Series{}, fmt.Errorf("%s: line %d: %w", path, i+2, err)
		}
		s.X, s.Y = append(s.X, x), append(s.Y, y)
	}
	return s, nil
}
