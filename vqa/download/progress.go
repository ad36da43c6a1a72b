package download

import (
	"fmt"
	"io"
	"time"
)

// progress counts bytes written through it and prints a line with bytes
// done, rate and ETA at most once per interval.
type progress struct {
	w        io.Writer
	name     string
	start    int64 // bytes already there when this transfer began
	done     int64
	total    int64 // -1 when unknown
	interval time.Duration
	began    time.Time
	last     time.Time
}

func newProgress(w io.Writer, name string, have, total int64, interval time.Duration) *progress {
	now := time.Now()
	return &progress{w: w, name: name, start: have, done: have, total: total, interval: interval, began: now, last: now}
}

// Write counts len(b) bytes.
func (p *progress) Write(b []byte) (int, error) {
	p.done += int64(len(b))
	if now := time.Now(); p.w != nil && now.Sub(p.last) >= p.interval {
		p.last = now
		fmt.Fprintln(p.w, p.line(now))
	}
	return len(b), nil
}

// finish prints the closing line.
func (p *progress) finish(ok bool) {
	if p.w == nil {
		return
	}
	status := "done"
	if !ok {
		status = "interrupted"
	}
	fmt.Fprintf(p.w, "%s (%s)\n", p.line(time.Now()), status)
}

// line formats "name: 12.0 MiB / 100.0 MiB (12%), 3.1 MiB/s, ETA 28s".
func (p *progress) line(now time.Time) string {
	elapsed := now.Sub(p.began).Seconds()
	rate := 0.0
	if elapsed > 0 {
		rate = float64(p.done-p.start) / elapsed
	}
	if p.total < 0 {
		return fmt.Sprintf("%s: %s, %s/s", p.name, bytesString(p.done), bytesString(int64(rate)))
	}
	pct := 100.0
	if p.total > 0 {
		pct = 100 * float64(p.done) / float64(p.total)
	}
	eta := "?"
	if rate > 0 {
		eta = time.Duration(float64(p.total-p.done) / rate * float64(time.Second)).Round(time.Second).String()
	}
	return fmt.Sprintf("%s: %s / %s (%.0f%%), %s/s, ETA %s", p.name, bytesString(p.done), bytesString(p.total), pct, bytesString(int64(rate)), eta)
}

// bytesString formats n bytes with a binary unit.
func bytesString(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
