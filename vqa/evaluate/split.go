package evaluate

import (
	"context"

	"github.com/vilt-go/workbook/vqa/dataset"
	"github.com/vilt-go/workbook/vqa/predict"
	"github.com/vilt-go/workbook/vqa/vqav2"
)

// Split answers every question of ds with pred and scores the answers (also
// returned, by question id) against the majority baseline, whose answer is
// taken from the train2014 annotations next to the split when they exist
// (else from the split itself). lo sets the batching (no shuffling is
// done); with lo.SkipBroken the questions whose image could not be decoded
// are left out of the scores, and Report.Skipped counts them with the
// questions whose image was missing.
func Split(ctx context.Context, pred *predict.Predictor, ds *dataset.Dataset, lo dataset.LoaderOptions) (Report, map[int64]string, error) {
	answers, err := pred.Dataset(ctx, ds, lo)
	if err != nil {
		return Report{}, nil, err
	}
	anns := make([]vqav2.Annotation, ds.Len())
	for i, r := range ds.Records {
		anns[i] = r.Annotation
	}
	ref := anns
	if ds.Split != "train2014" {
		if train, err := vqav2.ReadAnnotations(vqav2.AnnotationsPath(ds.Root, "train2014")); err == nil {
			ref = train
		}
	}
	majority, err := MajorityAnswer(ref)
	if err != nil {
		return Report{}, nil, err
	}
	skipped := ds.Skipped
	if lo.SkipBroken {
		var broken int
		anns, broken = Answered(anns, answers)
		skipped += broken
	}
	rep, err := Compare(anns, answers, majority)
	rep.Skipped = skipped
	return rep, answers, err
}
