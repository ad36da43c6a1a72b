package train

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// progressBar draws "step 12/500 [####......] loss 0.123 | 2.1 steps/s | ETA 3m52s"
// on one line, redrawn with "\r".
type progressBar struct {
	w            io.Writer
	interval     time.Duration
	first, total int
	start, last  time.Time
	drawn        bool
}

func newProgressBar(w io.Writer, interval time.Duration, first, total int) *progressBar {
	now := time.Now()
	return &progressBar{w: w, interval: interval, first: first, total: total, start: now, last: now}
}

// update redraws the bar after step (1-based) if the interval has passed
// or training is done.
func (p *progressBar) update(step int, loss float64) {
	now := time.Now()
	if p.w == nil || (now.Sub(p.last) < p.interval && step < p.total) {
		return
	}
	p.last = now
	const width = 30
	done := width * step / max(1, p.total)
	rate := float64(step-p.first) / now.Sub(p.start).Seconds()
	eta := "?"
	if rate > 0 {
		eta = (time.Duration(float64(p.total-step) / rate * float64(time.Second))).Round(time.Second).String()
	}
	fmt.Fprintf(p.w, "\rstep %d/%d [%s%s] loss %.4g | %.2f steps/s | ETA %s ",
		step, p.total, strings.Repeat("#", done), strings.Repeat(".", width-done), loss, rate, eta)
	p.drawn = true
}

// finish ends the bar's line.
func (p *progressBar) finish() {
	if p.w != nil && p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}
