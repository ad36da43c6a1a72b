package train

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Point is one optimizer step of the loss curve.
type Point struct {
	Step    int     // optimizer steps done (1-based)
	Epoch   int     // epoch of the step's last batch
	Loss    float64 // mean loss of the step's batches
	LR      float64 // learning rate used
	Seconds float64 // training time since the run (or its first part) started
	// Parts are the losses of the objectives summed into Loss, in the
	// order of [PartNames] (pre-training: masked LM, image-text matching
	// and, when used, the word-patch alignment distance, unweighted);
	// nil for a single objective.
	Parts []float64
}

// PartNames returns the names of the loss columns of [Point.Parts] in
// loss.csv, in order.
func PartNames() []string { return []string{"loss_mlm", "loss_itm", "loss_wpa"} }

// curveHeader returns the header line of loss.csv, with parts loss
// columns.
func curveHeader(parts int) []string {
	return append([]string{"step", "epoch", "loss", "lr", "seconds"}, PartNames()[:parts]...)
}

// writeCurve writes points as CSV to path, atomically.
func writeCurve(path string, points []Point) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("train: writing the loss curve: %w", err)
	}
	w := csv.NewWriter(f)
	parts := 0
	if len(points) > 0 {
		parts = min(len(points[0].Parts), len(PartNames()))
	}
	w.Write(curveHeader(parts))
	for _, p := range points {
		row := []string{strconv.Itoa(p.Step), strconv.Itoa(p.Epoch), strconv.FormatFloat(p.Loss, 'g', -1, 64),
			strconv.FormatFloat(p.LR, 'g', -1, 64), strconv.FormatFloat(p.Seconds, 'f', 3, 64)}
		for i := range parts {
			v := math.NaN()
			if i < len(p.Parts) {
				v = p.Parts[i]
			}
			row = append(row, strconv.FormatFloat(v, 'g', -1, 64))
		}
		w.Write(row)
	}
	w.Flush()
	err = errors.Join(w.Error(), f.Close())
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		return fmt.Errorf("train: writing the loss curve %s: %w", path, err)
	}
	return nil
}

// ReadCurve reads a loss.csv written by [Run].
func ReadCurve(path string) ([]Point, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseCurve(f, path)
}

func parseCurve(r io.Reader, name string) ([]Point, error) {
	rows, err := csv.NewReader(r).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("loss curve %s: %w", name, err)
	}
	parts := -1
	for n := range len(PartNames()) + 1 {
		if len(rows) > 0 && slices.Equal(rows[0], curveHeader(n)) {
			parts = n
		}
	}
	if parts < 0 {
		return nil, fmt.Errorf("loss curve %s: want the header %s, optionally followed by %s", name, strings.Join(curveHeader(0), ","), strings.Join(PartNames(), ","))
	}
	var pts []Point
	for i, row := range rows[1:] {
		var p Point
		var errs [5]error
		p.Step, errs[0] = strconv.Atoi(row[0])
		p.Epoch, errs[1] = strconv.Atoi(row[1])
		p.Loss, errs[2] = strconv.ParseFloat(row[2], 64)
		p.LR, errs[3] = strconv.ParseFloat(row[3], 64)
		p.Seconds, errs[4] = strconv.ParseFloat(row[4], 64)
		for _, f := range row[5:] {
			v, err := strconv.ParseFloat(f, 64)
			p.Parts = append(p.Parts, v)
			errs[4] = errors.Join(errs[4], err)
		}
		if err := errors.Join(errs[:]...); err != nil {
			return nil, fmt.Errorf("loss curve %s: line %d: %w", name, i+2, err)
		}
		pts = append(pts, p)
	}
	return pts, nil
}
