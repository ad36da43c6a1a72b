package workbook

import (
	"testing"

	"github.com/vilt-go/workbook/vqa/train"
)

// TestSettingsOptimizer checks that the settings reach the optimizer: the
// article's are torch's AdamW with lr 5e-5 and nothing else, the quick ones
// add the head's multiplier and the schedule.
func TestSettingsOptimizer(t *testing.T) {
	if got, want := ArticleSettings().optimizer(), train.DefaultOptimizer(); got != want {
		t.Errorf("ArticleSettings().optimizer() = %+v, want torch's AdamW with lr 5e-5 %+v", got, want)
	}
	s := Settings{LR: 3e-4, HeadLRMult: 10, Warmup: 0.1, Decay: true}
	got := s.optimizer()
	want := train.DefaultOptimizer()
	want.LR, want.HeadLRMultiplier, want.Warmup, want.Decay = 3e-4, 10, 0.1, true
	if got != want {
		t.Errorf("%+v.optimizer() = %+v, want %+v", s, got, want)
	}
}
