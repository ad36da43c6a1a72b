package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/gomlx/compute"

	"github.com/vilt-go/workbook/vqa/backend"
	"github.com/vilt-go/workbook/vqa/dataset"
	"github.com/vilt-go/workbook/vqa/evaluate"
	"github.com/vilt-go/workbook/vqa/hfmodel"
	"github.com/vilt-go/workbook/vqa/minidata"
	"github.com/vilt-go/workbook/vqa/predict"
	"github.com/vilt-go/workbook/vqa/processor"
	"github.com/vilt-go/workbook/vqa/vilt"
)

func runPretrain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("pretrain", "Pre-trains ViLT as the article's figure 3 describes, on the captions of a split\n"+
		"(captions_<split>.json in COCO's format): masked language modelling (15% of the words masked,\n"+
		"whole words, BERT's 80/10/10 rule) plus image-text matching (half the pairs get another\n"+
		"picture) plus word-patch alignment (-wpa). It starts from a preset with random weights\n"+
		"(-preset, resized with -hidden, ...) or\n"+
		"from a checkpoint (-model: a ViltForMaskedLM such as dandelin/vilt-b32-mlm; a new matching\n"+
		"head is added if it has none). The result is a ViltForMaskedLM with dandelin's itm_score head,\n"+
		"the starting point of `vqa train -model`. Checkpoints, loss.csv (total and per objective),\n"+
		"resume and Ctrl-C work as in `vqa train`.", stderr)
	var d dataFlags
	d.register(fs, "train2014")
	var ms modelSetup
	ms.register(fs, "start from this masked-LM checkpoint (folder or Hub id) instead of a preset")
	po := dataset.DefaultPretrainOptions()
	fs.Float64Var(&po.MaskProb, "mask-prob", po.MaskProb, "fraction of the words masked")
	maskWords := fs.String("mask-words", "", "mask only words of these kinds, comma-separated: color, shape, number, position, size (the generated captions' content words; \"\": every word)")
	fs.Float64Var(&po.MismatchProb, "mismatch-prob", po.MismatchProb, "fraction of the pairs given another picture (image-text matching)")
	var rf runFlags
	rf.register(fs, "runs/pretrain", 32, 1e-3)
	fs.Float64Var(&rf.wpa, "wpa", vilt.WPAWeight, "weight of word-patch alignment (the optimal-transport distance between a pair's words and patches, IPOT) in the loss; 0 leaves it out")
	evalSplit := fs.String("eval", "", "after pre-training, score masked words and image-text matching on this split's captions (e.g. val2014)")
	if err := parse(fs, args); err != nil {
		return err
	}
	ms.seed, po.Seed = rf.seed, rf.seed
	if err := rf.checkOut(); err != nil {
		return err
	}
	if err := ms.checkStart("pretrain"); err != nil {
		return err
	}
	only, err := maskOnly(*maskWords)
	if err != nil {
		return err
	}
	po.MaskOnly = only
	if rf.wpa < 0 {
		return fmt.Errorf("pretrain: -wpa must be >= 0, got %g", rf.wpa)
	}
	stop, err := rf.startProfile()
	if err != nil {
		return err
	}
	defer stop()
	root, err := dataRoot(d.root)
	if err != nil {
		return err
	}
	proc, err := loadProcessor(ms.ref, d.imageSize)
	if err != nil {
		return err
	}
	m, err := ms.pretrainModel(stdout)
	if err != nil {
		return err
	}
	if div := proc.ImageConfig().SizeDivisor; div%m.Config.PatchSize != 0 {
		return fmt.Errorf("pretrain: patch size %d does not divide the processor's size_divisor %d, so images would not split into whole patches", m.Config.PatchSize, div)
	}
	dopts, err := d.options()
	if err != nil {
		return err
	}
	caps, err := dataset.LoadCaptions(root, d.split, proc, dopts)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s/%s: %d captions\n", root, d.split, caps.Len())
	lo, err := rf.loaderOptions(d)
	if err != nil {
		return err
	}
	loader, err := dataset.NewPretrainLoader(caps, po, lo)
	if err != nil {
		return err
	}
	b, err := backend.New(stderr)
	if err != nil {
		return err
	}
	defer b.Finalize()
	settings, err := rf.settings(root, d, caps.Len(), proc, ms.start(), map[string]string{
		"mask_prob": strconv.FormatFloat(po.MaskProb, 'g', -1, 64), "mismatch_prob": strconv.FormatFloat(po.MismatchProb, 'g', -1, 64),
		"mask_words": *maskWords,
	})
	if err != nil {
		return err
	}
	if _, err := rf.train(ctx, b, m, loader, proc, ms.ref, settings, nil, stdout, stderr); err != nil {
		return err
	}
	if *evalSplit == "" {
		return nil
	}
	d.split, d.limit = *evalSplit, 0
	rep, err := evaluatePretraining(ctx, b, m, proc, root, d, rf.batch)
	if err != nil {
		return err
	}
	return rep.WriteText(stdout)
}

// pretrainModel returns the model to pre-train: the checkpoint ms.ref as a
// masked-LM model with the image-text matching head (added when missing),
// or a preset resized by ms.sizes.
func (ms modelSetup) pretrainModel(stdout io.Writer) (*hfmodel.Model, error) {
	if ms.ref != "" {
		m, rep, err := hfmodel.Load(ms.ref, hfmodel.LoadOptions{Head: vilt.MaskedLM, ITMHead: true, NewHead: true, Seed: ms.seed, Log: stdout})
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(stdout, "loaded %s: newly initialised: %v; not used: %v\n", ms.ref, rep.Missing, rep.Unexpected)
		return m, nil
	}
	cfg, err := ms.presetConfig()
	if err != nil {
		return nil, err
	}
	cfg.SetHead(vilt.MaskedLM)
	cfg.ITMHead = true
	return hfmodel.New(cfg, nil, ms.seed)
}

// evaluatePretraining scores m's masked words and image-text matching on
// the captions of the split the data flags describe.
func evaluatePretraining(ctx context.Context, b compute.Backend, m *hfmodel.Model, proc *processor.Processor, root string, d dataFlags, batch int) (evaluate.PretrainReport, error) {
	dopts, err := d.options()
	if err != nil {
		return evaluate.PretrainReport{}, err
	}
	caps, err := dataset.LoadCaptions(root, d.split, proc, dopts)
	if err != nil {
		return evaluate.PretrainReport{}, err
	}
	pred, err := predict.New(b, m, proc)
	if err != nil {
		return evaluate.PretrainReport{}, err
	}
	defer pred.Close()
	return evaluate.Pretraining(ctx, pred, caps, batch)
}

// maskOnly returns the word filter of -mask-words: nil for "" (every word),
// else a function accepting the words of the listed kinds (package
// minidata's word kinds).
func maskOnly(kinds string) (func(string) bool, error) {
	if kinds == "" {
		return nil, nil
	}
	want := map[minidata.WordKind]bool{}
	for _, name := range strings.Split(kinds, ",") {
		k, ok := minidata.ParseWordKind(strings.TrimSpace(name))
		if !ok || k == minidata.OtherWord {
			return nil, fmt.Errorf("pretrain: -mask-words %q: unknown word kind %q (want color, shape, number, position or size)", kinds, name)
		}
		want[k] = true
	}
	return func(word string) bool { return want[minidata.KindOf(word)] }, nil
}
