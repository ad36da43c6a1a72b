package minidata

import (
	"slices"
	"testing"
)

// TestInventory checks the inventory question: appended to every picture's
// questions without changing them, answered by exactly the picture's
// "<color> <shape>" items, every item by at least one annotator, the
// multiple-choice answer a clear majority and every item scoring 1 when a
// picture has at most three.
func TestInventory(t *testing.T) {
	cfg := DefaultConfig()
	cfg.TrainQuestions, cfg.ValQuestions, cfg.TrainImages = 0, 0, 80
	plain, err := build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Inventory = true
	inv, err := build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sizes := map[int]bool{}
	for i, img := range inv[0].images {
		before := plain[0].images[i]
		n := len(img.qas)
		if n != len(before.qas)+1 || !slices.Equal(img.qas[:n-1], before.qas) {
			t.Fatalf("image %d: the other questions changed: %v, before %v", img.id, img.qas[:n-1], before.qas)
		}
		q, answers := img.qas[n-1], img.answers[n-1]
		if q.text != InventoryQuestion || q.qtype != "what is in the" || q.kind.answerType() != Other {
			t.Fatalf("image %d: last question %+v, want the inventory question", img.id, q)
		}
		var items []string
		for _, o := range img.scene.Objects {
			if it := o.Color.String() + " " + o.Shape.String(); !slices.Contains(items, it) {
				items = append(items, it)
			}
		}
		votes := map[string]int{}
		for _, a := range answers {
			votes[a.answer]++
		}
		if len(answers) != numAnnotators || len(votes) != len(items) {
			t.Fatalf("image %d: answers %v, want %d answers over the items %v", img.id, answers, numAnnotators, items)
		}
		for _, it := range items {
			if votes[it] == 0 || len(items) <= 3 && votes[it] < 3 {
				t.Errorf("image %d: item %q has %d votes (items %v)", img.id, it, votes[it], items)
			}
		}
		if mostCommon(answers) != q.answer || !slices.Contains(items, q.answer) {
			t.Errorf("image %d: multiple-choice answer %q, majority %q", img.id, q.answer, mostCommon(answers))
		}
		sizes[len(items)] = true
	}
	if len(sizes) < 4 {
		t.Errorf("only pictures with %v items among 80: the test covers too little", sizes)
	}
	cfg = DefaultConfig()
	cfg.Inventory = true
	if _, err := build(cfg); err == nil {
		t.Error("the inventory question with splits sized by questions: no error")
	}
}
