package dataset

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/vilt-go/workbook/vqa/augment"
	"github.com/vilt-go/workbook/vqa/internal/testutil"
	"github.com/vilt-go/workbook/vqa/processor"
	"github.com/vilt-go/workbook/vqa/vilt"
)

// miniCaptions loads the first n training captions of data/vqav2-mini.
func miniCaptions(t *testing.T, n int) *Captions {
	t.Helper()
	root := filepath.Join(testutil.ModuleRoot(t), "data", "vqav2-mini")
	c, err := LoadCaptions(root, "train2014", testProcessor(t), Options{Limit: n, CacheImages: true})
	if err != nil {
		t.Fatal(err)
	}
	if c.Len() != n {
		t.Fatalf("Limit %d kept %d captions", n, c.Len())
	}
	return c
}

// pretrainPair returns caption i's pre-training example of epoch 0 and its
// plain encoding (own picture, nothing masked).
func pretrainPair(t *testing.T, c *Captions, i int, o PretrainOptions) (ex PretrainExample, own processor.Encoding) {
	t.Helper()
	ex, err := c.Pretrain(0, i, o)
	if err != nil {
		t.Fatal(err)
	}
	own, err = c.Encode(c.Records[i].ImagePath, c.Records[i].Caption)
	if err != nil {
		t.Fatal(err)
	}
	return ex, own
}

// TestPretrainExamples checks the masking and the mismatching: every
// caption has whole words masked BERT-style, matched pairs have targets
// only there, mismatched pairs another picture and no target; both are
// reproducible per epoch and change between epochs.
func TestPretrainExamples(t *testing.T) {
	c := miniCaptions(t, 200)
	tok := c.Processor().Tokenizer()
	o := DefaultPretrainOptions()
	o.Seed = 3
	matched, masked, maskTokens, unmasked := 0, 0, 0, 0
	for i := range c.Len() {
		ex, own := pretrainPair(t, c, i, o)
		labelled := 0
		changed := 0
		for pos := range ex.InputIDs {
			if ex.InputIDs[pos] != own.InputIDs[pos] {
				changed++
			}
		}
		if changed == 0 && ex.Matched == 0 {
			unmasked++
		}
		for pos, l := range ex.MLMLabels {
			if l == vilt.IgnoreIndex {
				if ex.InputIDs[pos] != own.InputIDs[pos] && ex.Matched == 1 {
					t.Fatalf("caption %d: token %d changed without a target", i, pos)
				}
				continue
			}
			labelled++
			if l != own.InputIDs[pos] {
				t.Fatalf("caption %d: target %d at %d, the caption has %d", i, l, pos, own.InputIDs[pos])
			}
			if ex.InputIDs[pos] == tok.MaskID() {
				maskTokens++
			}
		}
		samePicture := slices.Equal(ex.PixelValues, own.PixelValues)
		switch ex.Matched {
		case 1:
			matched++
			masked += labelled
			if labelled == 0 || !samePicture {
				t.Errorf("caption %d matched: %d targets, own picture %v; want at least one target and its picture", i, labelled, samePicture)
			}
		case 0:
			if labelled != 0 || samePicture {
				t.Errorf("caption %d mismatched: %d targets, own picture %v; want none and another picture", i, labelled, samePicture)
			}
		}
		again, _ := c.Pretrain(0, i, o)
		if !slices.Equal(again.InputIDs, ex.InputIDs) || again.Matched != ex.Matched {
			t.Fatalf("caption %d: epoch 0 drawn twice differs", i)
		}
	}
	// Mismatched pairs are masked too (a masked word may have been kept by
	// the 10% rule): the masking must not tell the pairs apart.
	if unmasked > (c.Len()-matched)/4 {
		t.Errorf("%d of %d mismatched pairs have no masked word: the masks give the matching away", unmasked, c.Len()-matched)
	}
	if matched < 70 || matched > 130 {
		t.Errorf("%d of 200 pairs matched, want about half", matched)
	}
	if f := float64(maskTokens) / float64(masked); f < 0.65 || f > 0.95 {
		t.Errorf("%.2f of the masked pieces became [MASK], want about 0.8", f)
	}
	changed := 0
	for i := range c.Len() {
		a, _ := c.Pretrain(0, i, o)
		b, _ := c.Pretrain(1, i, o)
		if a.Matched != b.Matched || !slices.Equal(a.InputIDs, b.InputIDs) {
			changed++
		}
	}
	if changed < c.Len()/2 {
		t.Errorf("only %d of %d examples differ between epochs 0 and 1", changed, c.Len())
	}
}

// TestPretrainBatches checks the pre-training batches' label tensors: the
// masked positions and their targets, padded to MaxMasked, and the
// matching labels.
func TestPretrainBatches(t *testing.T) {
	c := miniCaptions(t, 24)
	l, err := NewPretrainLoader(c, DefaultPretrainOptions(), LoaderOptions{BatchSize: 8, TrimText: true})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for b, err := range l.Epoch(context.Background(), 0, 0) {
		if err != nil {
			t.Fatal(err)
		}
		_, labels := b.Tensors()
		if len(labels) != 3 {
			t.Fatalf("%d label tensors, want positions, targets and matching labels", len(labels))
		}
		pos, tgt := tensors.MustCopyFlatData[int32](labels[0]), tensors.MustCopyFlatData[int32](labels[1])
		itm := tensors.MustCopyFlatData[int32](labels[2])
		for i := range b.Size {
			for k := range MaxMasked {
				p, want := int(pos[i*MaxMasked+k]), tgt[i*MaxMasked+k]
				if want == vilt.IgnoreIndex {
					continue
				}
				if got := b.MLMLabels[i*b.SeqLen+p]; got != want {
					t.Errorf("example %d: target %d at position %d, the batch's label there is %d", i, want, p, got)
				}
				if itm[i] != 1 {
					t.Errorf("example %d: a mismatched pair has a masked-LM target", i)
				}
			}
		}
		n += b.Size
	}
	if n != c.Len() {
		t.Errorf("%d examples in an epoch, want %d", n, c.Len())
	}
}

// TestLoaderAugment checks that augmented pictures change from epoch to
// epoch, are the same when an epoch is drawn again, keep the picture size
// and text, and that the loader without Augment is untouched by it.
func TestLoaderAugment(t *testing.T) {
	ds := load(t, Options{Limit: 4, CacheImages: true})
	a, err := augment.New(augment.DefaultN, augment.DefaultM)
	if err != nil {
		t.Fatal(err)
	}
	first := func(l *Loader, epoch int) *Batch {
		t.Helper()
		for b, err := range l.Epoch(context.Background(), epoch, 0) {
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		t.Fatal("no batch")
		return nil
	}
	plain, err := NewLoader(ds, LoaderOptions{BatchSize: 4, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	aug, err := NewLoader(ds, LoaderOptions{BatchSize: 4, Seed: 1, Augment: a})
	if err != nil {
		t.Fatal(err)
	}
	p0, a0, a0again, a1 := first(plain, 0), first(aug, 0), first(aug, 0), first(aug, 1)
	if slices.Equal(p0.PixelValues, a0.PixelValues) {
		t.Error("augmented pictures equal the plain ones")
	}
	if !slices.Equal(a0.PixelValues, a0again.PixelValues) {
		t.Error("epoch 0 augmented twice differs")
	}
	if slices.Equal(a0.PixelValues, a1.PixelValues) {
		t.Error("epochs 0 and 1 got the same augmentation")
	}
	if a0.Height != p0.Height || a0.Width != p0.Width || !slices.Equal(a0.InputIDs, p0.InputIDs) || !slices.Equal(a0.Targets, p0.Targets) {
		t.Error("augmentation changed the picture size, the text or the targets")
	}
	again := first(plain, 0)
	if !slices.Equal(again.PixelValues, p0.PixelValues) {
		t.Error("the plain loader changed")
	}
}

// TestPretrainMaskOnly checks that with MaskOnly only the accepted words are
// masked when a caption has some, and that a caption without any is still
// masked.
func TestPretrainMaskOnly(t *testing.T) {
	c := miniCaptions(t, 200)
	tok := c.Processor().Tokenizer()
	colours := map[string]bool{"red": true, "green": true, "blue": true, "yellow": true, "gray": true}
	o := DefaultPretrainOptions()
	o.Seed, o.MismatchProb, o.MaskProb = 5, 0, 0.5
	o.MaskOnly = func(w string) bool { return colours[w] }
	withColour, without := 0, 0
	for i := range c.Len() {
		ex, own := pretrainPair(t, c, i, o)
		hasColour := false
		for _, id := range own.InputIDs {
			hasColour = hasColour || colours[tok.Decode([]int32{id}, true)]
		}
		targets := 0
		for pos, l := range ex.MLMLabels {
			if l == vilt.IgnoreIndex {
				continue
			}
			targets++
			if word := tok.Decode([]int32{own.InputIDs[pos]}, true); hasColour && !colours[word] {
				t.Fatalf("caption %d %q: %q masked, want only colour words", i, c.Records[i].Caption, word)
			}
		}
		if targets == 0 {
			t.Fatalf("caption %d %q: nothing masked", i, c.Records[i].Caption)
		}
		if hasColour {
			withColour++
		} else {
			without++
		}
	}
	if withColour == 0 || without == 0 {
		t.Errorf("%d captions with a colour word, %d without: want both kinds among the first 200", withColour, without)
	}
}
