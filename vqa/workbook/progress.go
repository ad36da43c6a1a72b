package workbook

import (
	"fmt"
	"html"
	"time"

	"github.com/janpfeifer/gonb/gonbui"
)

// Progress is a progress bar that a notebook cell updates in place: the
// saved notebook keeps its last state. Outside a notebook it shows nothing.
type Progress struct {
	id    string
	title string
	total int
	start time.Time
}

// NewProgress returns a progress bar for total steps, started now.
func NewProgress(title string, total int) *Progress {
	return &Progress{id: "progress_" + gonbui.UniqueID(), title: title, total: max(total, 1), start: time.Now()}
}

// Update shows that step steps of the total are done, with the last loss.
// At the last step it returns once the notebook has received the update.
func (p *Progress) Update(step int, loss float64) {
	gonbui.UpdateHTML(p.id, p.HTML(step, loss, time.Since(p.start)))
	if step >= p.total {
		gonbui.Sync()
	}
}

// HTML renders the bar after step steps, elapsed time into the run: a
// <progress> element, the step count, the loss, the speed and the time
// left at that speed.
func (p *Progress) HTML(step int, loss float64, elapsed time.Duration) string {
	step = min(max(step, 0), p.total)
	eta := "?"
	if step > 0 {
		eta = (elapsed * time.Duration(p.total-step) / time.Duration(step)).Round(time.Second).String()
	}
	return fmt.Sprintf(`<div>%s <progress value="%d" max="%d"></progress> step %d/%d, loss %.4g, %s elapsed, %s left</div>`,
		html.EscapeString(p.title), step, p.total, step, p.total, loss, elapsed.Round(time.Second), eta)
}
