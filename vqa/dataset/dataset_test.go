package dataset

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/vilt-go/workbook/vqa/processor"
	"github.com/vilt-go/workbook/vqa/vqav2"
)

// question is one question of the test layout with its 10 answers.
type question struct {
	imageID int64
	text    string
	answers []string
}

// testImages are the test images' (width, height): two landscape sizes that
// fall in different buckets and a portrait one.
var testImages = map[int64][2]int{1: {64, 48}, 2: {48, 64}, 3: {200, 50}}

func tenOf(pairs ...any) []string {
	var out []string
	for i := 0; i < len(pairs); i += 2 {
		for range pairs[i+1].(int) {
			out = append(out, pairs[i].(string))
		}
	}
	return out
}

var testQuestions = []question{
	{1, "How many cats are there?", tenOf("2", 8, "3", 2)},
	{1, "Is it red?", tenOf("yes", 10)},
	{2, "What color is the square?", tenOf("red", 9, "maroon", 1)},
	{2, "Is it a circle?", tenOf("no", 10)},
	{3, "What is on the left?", tenOf("square", 5, "box", 5)},
	{3, "How many shapes?", tenOf("3", 10)},
	{1, "Is there a dog?", tenOf("no", 7, "yes", 3)},
}

// writeLayout writes a val2014 split in the VQAv2 layout under a new
// folder: JPEG images and the questions and annotations files.
func writeLayout(t testing.TB, qs []question) string {
	t.Helper()
	root := t.TempDir()
	split := "val2014"
	os.MkdirAll(vqav2.ImageDir(root, split), 0o755)
	for id, wh := range testImages {
		img := image.NewRGBA(image.Rect(0, 0, wh[0], wh[1]))
		for y := range wh[1] {
			for x := range wh[0] {
				img.Set(x, y, color.RGBA{uint8(40 * id), uint8(x), uint8(y), 255})
			}
		}
		var buf bytes.Buffer
		jpeg.Encode(&buf, img, nil)
		if err := os.WriteFile(vqav2.ImagePath(root, split, id), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	type ans struct {
		Answer     string `json:"answer"`
		Confidence string `json:"answer_confidence"`
		ID         int    `json:"answer_id"`
	}
	qrecs, arecs := []map[string]any{}, []map[string]any{}
	for i, q := range qs {
		qid := q.imageID*1000 + int64(i)
		qrecs = append(qrecs, map[string]any{"image_id": q.imageID, "question": q.text, "question_id": qid})
		var as []ans
		for k, a := range q.answers {
			as = append(as, ans{a, "yes", k + 1})
		}
		typ := "other"
		if q.answers[0] == "yes" || q.answers[0] == "no" {
			typ = "yes/no"
		}
		// The question type is the question's first two words ("how many").
		qtype := strings.Join(strings.Fields(strings.ToLower(q.text))[:2], " ")
		arecs = append(arecs, map[string]any{"question_id": qid, "image_id": q.imageID, "question_type": qtype,
			"answer_type": typ, "multiple_choice_answer": q.answers[0], "answers": as})
	}
	write := func(path string, v any) {
		b, _ := json.Marshal(v)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(vqav2.QuestionsPath(root, split), map[string]any{"task_type": "Open-Ended", "data_type": "mscoco", "data_subtype": split, "questions": qrecs})
	write(vqav2.AnnotationsPath(root, split), map[string]any{"data_type": "mscoco", "data_subtype": split, "annotations": arecs})
	return root
}

func testLabels(t testing.TB) vqav2.LabelMap {
	m, err := vqav2.NewLabelMap([]string{"yes", "no", "2", "3", "red", "square", "box"})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// testProcessor is the default processor with a shorter edge of 96 pixels
// instead of 384, to keep the tests fast under the race detector.
func testProcessor(t testing.TB) *processor.Processor {
	p, err := processor.Default()
	if err != nil {
		t.Fatal(err)
	}
	cfg := p.ImageConfig()
	cfg.ShortestEdge = 96
	return processor.New(p.Tokenizer(), cfg)
}

func load(t testing.TB, o Options) *Dataset {
	t.Helper()
	ds, err := Load(writeLayout(t, testQuestions), "val2014", testLabels(t), testProcessor(t), o)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func TestLoadTargets(t *testing.T) {
	ds := load(t, Options{Limit: 3})
	if ds.Len() != 3 {
		t.Fatalf("Limit 3 kept %d questions", ds.Len())
	}
	// "2" by 8 annotators and "3" by 2: min(1, n/3) gives 1 and 2/3.
	ex, err := ds.Example(0)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]float32, 7)
	want[2], want[3] = 1, float32(2)/3
	if !slices.Equal(ex.Target, want) {
		t.Errorf("target of question 0 = %v, want %v", ex.Target, want)
	}
	// "maroon" is not a label: dropped and counted.
	if ds.UnknownAnswers != 1 {
		t.Errorf("UnknownAnswers = %d, want 1", ds.UnknownAnswers)
	}
	if ex.Height%32 != 0 || ex.Width%32 != 0 || len(ex.PixelValues) != 3*ex.Height*ex.Width || len(ex.InputIDs) != 40 {
		t.Errorf("encoding: %dx%d, %d pixel values, %d ids", ex.Height, ex.Width, len(ex.PixelValues), len(ex.InputIDs))
	}
	var out bytes.Buffer
	if err := ds.Describe(&out, ex); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"input_ids [40]", "[CLS] how many cats are there? [SEP]", "2=1", "3=0.6667"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("Describe lacks %q:\n%s", s, out.String())
		}
	}
}

// TestOnlyQuestionTypes: Options.QuestionTypes keeps the questions of those
// types and SkipQuestionTypes leaves out those of its types, in file order,
// before Limit; keeping no question is an error naming the types and the
// annotations file.
func TestOnlyQuestionTypes(t *testing.T) {
	root := writeLayout(t, testQuestions)
	cases := []struct {
		types, skip []string
		limit       int
		want        []string
	}{
		{nil, nil, 0, nil}, // all of testQuestions
		{[]string{"how many"}, nil, 0, []string{"How many cats are there?", "How many shapes?"}},
		{[]string{"is it"}, nil, 1, []string{"Is it red?"}},
		{[]string{"is it", "what is"}, nil, 0, []string{"Is it red?", "Is it a circle?", "What is on the left?"}},
		{nil, []string{"how many", "is it"}, 1, []string{"What color is the square?"}},
		{[]string{"is it", "what is"}, []string{"is it"}, 0, []string{"What is on the left?"}},
	}
	for _, c := range cases {
		ds, err := Load(root, "val2014", testLabels(t), testProcessor(t), Options{QuestionTypes: c.types, SkipQuestionTypes: c.skip, Limit: c.limit})
		if err != nil {
			t.Fatalf("types %q: %v", c.types, err)
		}
		var got []string
		for _, r := range ds.Records {
			got = append(got, r.Question.Question)
		}
		want := c.want
		if want == nil {
			for _, q := range testQuestions {
				want = append(want, q.text)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("types %q, skipping %q, limit %d: kept %q, want %q", c.types, c.skip, c.limit, got, want)
		}
	}
	_, err := Load(root, "val2014", testLabels(t), testProcessor(t), Options{QuestionTypes: []string{"why", "is it"}, SkipQuestionTypes: []string{"is it"}})
	if path := vqav2.AnnotationsPath(root, "val2014"); err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), `"why"`) {
		t.Errorf("unknown question type: %v, want an error naming \"why\" and %s", err, path)
	}
}

func TestMissingImage(t *testing.T) {
	root := writeLayout(t, testQuestions)
	os.Remove(vqav2.ImagePath(root, "val2014", 2))
	_, err := Load(root, "val2014", testLabels(t), testProcessor(t), Options{})
	if err == nil || !strings.Contains(err.Error(), "COCO_val2014_000000000002.jpg") || !strings.Contains(err.Error(), "-skip-missing") {
		t.Fatalf("missing image: got %v, want an error naming the file and the flag -skip-missing", err)
	}
	ds, err := Load(root, "val2014", testLabels(t), testProcessor(t), Options{SkipMissing: true})
	if err != nil {
		t.Fatal(err)
	}
	if ds.Skipped != 2 || ds.Len() != len(testQuestions)-2 {
		t.Errorf("SkipMissing: skipped %d kept %d, want 2 and %d", ds.Skipped, ds.Len(), len(testQuestions)-2)
	}
}

// TestEmptyQuestionsNamesFile: an empty questions list, or one whose images
// are all missing, is an error naming the file or the image folder (not
// "no examples to load" later).
func TestEmptyQuestionsNamesFile(t *testing.T) {
	root := writeLayout(t, nil)
	_, err := Load(root, "val2014", testLabels(t), testProcessor(t), Options{})
	if path := vqav2.QuestionsPath(root, "val2014"); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("empty questions list: %v, want an error naming %s", err, path)
	}
	root = writeLayout(t, testQuestions)
	if err := os.RemoveAll(vqav2.ImageDir(root, "val2014")); err != nil {
		t.Fatal(err)
	}
	_, err = Load(root, "val2014", testLabels(t), testProcessor(t), Options{SkipMissing: true})
	if dir := vqav2.ImageDir(root, "val2014"); err == nil || !strings.Contains(err.Error(), dir) {
		t.Errorf("every image missing: %v, want an error naming %s", err, dir)
	}
}

func TestCacheGivesSameExamples(t *testing.T) {
	root := writeLayout(t, testQuestions)
	plain, _ := Load(root, "val2014", testLabels(t), testProcessor(t), Options{})
	cached, _ := Load(root, "val2014", testLabels(t), testProcessor(t), Options{CacheImages: true})
	for i := range plain.Len() {
		a, err1 := plain.Example(i)
		b, err2 := cached.Example(i)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if !slices.Equal(a.PixelValues, b.PixelValues) || !slices.Equal(a.InputIDs, b.InputIDs) || !slices.Equal(a.Target, b.Target) {
			t.Errorf("example %d differs with the image cache", i)
		}
	}
}

// epochIndices runs an epoch and returns its batches' indices.
func epochIndices(t *testing.T, l *Loader, epoch, from int) [][]int {
	t.Helper()
	var out [][]int
	for b, err := range l.Epoch(context.Background(), epoch, from) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b.Indices)
	}
	return out
}

func TestLoaderEpochs(t *testing.T) {
	ds := load(t, Options{})
	l, err := NewLoader(ds, LoaderOptions{BatchSize: 3, Shuffle: true, Seed: 7, Workers: 3, Prefetch: 1})
	if err != nil {
		t.Fatal(err)
	}
	e0 := epochIndices(t, l, 0, 0)
	if len(e0) != 3 || len(e0[2]) != 1 {
		t.Fatalf("7 examples in batches of 3: got %v", e0)
	}
	all := slices.Concat(e0...)
	slices.Sort(all)
	if !slices.Equal(all, []int{0, 1, 2, 3, 4, 5, 6}) {
		t.Errorf("epoch does not visit every example once: %v", e0)
	}
	if again := epochIndices(t, l, 0, 0); !slices.EqualFunc(again, e0, slices.Equal) {
		t.Errorf("same seed and epoch, different order: %v vs %v", again, e0)
	}
	e1 := epochIndices(t, l, 1, 0)
	if slices.EqualFunc(e1, e0, slices.Equal) {
		t.Errorf("epochs 0 and 1 have the same order %v", e0)
	}
	if resumed := epochIndices(t, l, 1, 1); !slices.EqualFunc(resumed, e1[1:], slices.Equal) {
		t.Errorf("resuming epoch 1 at batch 1 gave %v, want %v", resumed, e1[1:])
	}
	l2, _ := NewLoader(ds, LoaderOptions{BatchSize: 3, DropLast: true})
	if got := epochIndices(t, l2, 0, 0); !slices.EqualFunc(got, [][]int{{0, 1, 2}, {3, 4, 5}}, slices.Equal) {
		t.Errorf("unshuffled with DropLast: %v", got)
	}
}

// TestLoaderBatchContents checks a batch against the processor's Collate of
// the same examples.
func TestLoaderBatchContents(t *testing.T) {
	ds := load(t, Options{})
	l, _ := NewLoader(ds, LoaderOptions{BatchSize: 4, Workers: 2})
	for b, err := range l.Epoch(context.Background(), 0, 0) {
		if err != nil {
			t.Fatal(err)
		}
		var encs []processor.Encoding
		var targets []float32
		for _, i := range b.Indices {
			ex, _ := ds.Example(i)
			encs = append(encs, ex.Encoding)
			targets = append(targets, ex.Target...)
		}
		want, err := processor.Collate(encs)
		if err != nil {
			t.Fatal(err)
		}
		if b.Height != want.Height || b.Width != want.Width || !slices.Equal(b.PixelValues, want.PixelValues) ||
			!slices.Equal(b.PixelMask, want.PixelMask) || !slices.Equal(b.InputIDs, want.InputIDs) || !slices.Equal(b.Targets, targets) {
			t.Errorf("batch %v differs from processor.Collate of its examples", b.Indices)
		}
		in, labels := b.Tensors()
		if len(in) != 5 || in[3].Shape().Dimensions[3] != b.Width || labels[0].Shape().Dimensions[1] != 7 {
			t.Errorf("tensors: %v / %v", in, labels)
		}
	}
}

func TestLoaderBuckets(t *testing.T) {
	ds := load(t, Options{})
	l, _ := NewLoader(ds, LoaderOptions{BatchSize: 2, Shuffle: true, Seed: 3, Bucket: true})
	cfg := ds.Processor().ImageConfig()
	seen := 0
	for b, err := range l.Epoch(context.Background(), 0, 0) {
		if err != nil {
			t.Fatal(err)
		}
		seen += b.Size
		for _, i := range b.Indices {
			w, h := testImages[ds.Records[i].ImageID][0], testImages[ds.Records[i].ImageID][1]
			th, tw, _ := cfg.TargetSize(h, w)
			if bh, bw := BucketSize(th, tw, BucketStep(cfg.ShortestEdge)); bh != b.Height || bw != b.Width {
				t.Errorf("example %d (bucket %dx%d) in a batch padded to %dx%d", i, bh, bw, b.Height, b.Width)
			}
		}
	}
	if seen != ds.Len() {
		t.Errorf("bucketed epoch yielded %d examples, want %d", seen, ds.Len())
	}
}

func TestLoaderBrokenImage(t *testing.T) {
	root := writeLayout(t, testQuestions)
	os.WriteFile(vqav2.ImagePath(root, "val2014", 3), []byte("not a jpeg"), 0o644)
	ds, err := Load(root, "val2014", testLabels(t), testProcessor(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	l, _ := NewLoader(ds, LoaderOptions{BatchSize: 2})
	var failed error
	for _, err := range l.Epoch(context.Background(), 0, 0) {
		if err != nil {
			failed = err
		}
	}
	if failed == nil || !strings.Contains(failed.Error(), "COCO_val2014_000000000003.jpg") {
		t.Errorf("broken image: got %v, want an error naming the file", failed)
	}
	l, _ = NewLoader(ds, LoaderOptions{BatchSize: 2, SkipBroken: true, Bucket: true})
	n := 0
	for b, err := range l.Epoch(context.Background(), 0, 0) {
		if err != nil {
			t.Fatal(err)
		}
		n += b.Size
	}
	if l.Skipped() != 2 || n != ds.Len()-2 {
		t.Errorf("SkipBroken: skipped %d, yielded %d; want 2 and %d", l.Skipped(), n, ds.Len()-2)
	}
}

func TestLoaderStopsEarlyAndCancels(t *testing.T) {
	ds := load(t, Options{})
	l, _ := NewLoader(ds, LoaderOptions{BatchSize: 1, Workers: 4, Prefetch: 3})
	for range l.Epoch(context.Background(), 0, 0) {
		break // the workers must be stopped before Epoch returns
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var last error
	n := 0
	for _, err := range l.Epoch(ctx, 0, 0) {
		n++
		cancel()
		last = err
	}
	if last == nil && n == ds.Len() {
		t.Error("cancelling the context did not stop the epoch")
	}
}

// TestBucketSize checks buckets cover the size, are patch-aligned, waste
// less than one step and stay few over the sizes ViltImageProcessor makes
// (multiples of 32, the shorter edge s, the longer up to 1333/800 s), at
// the article's resolution and at the tiny models' 128, where every size
// must keep its own bucket.
func TestBucketSize(t *testing.T) {
	for _, shortest := range []int{384, 224, 128, 96} {
		step := BucketStep(shortest)
		longest := int(1333.0/800.0*float64(shortest)) / 32 * 32
		buckets := map[[2]int]bool{}
		for h := shortest / 32 * 32; h <= longest; h += 32 {
			for w := shortest / 32 * 32; w <= longest; w += 32 {
				if h != shortest/32*32 && w != shortest/32*32 {
					continue // one side is always the shorter edge
				}
				bh, bw := BucketSize(h, w, step)
				if bh < h || bw < w || bh-h >= step || bw-w >= step || bh%32 != 0 || bw%32 != 0 {
					t.Errorf("shortest %d: BucketSize(%d, %d, %d) = %d, %d", shortest, h, w, step, bh, bw)
				}
				buckets[[2]int{bh, bw}] = true
			}
		}
		if len(buckets) > 9 {
			t.Errorf("%d buckets for %d-shorter-edge images, want at most 9", len(buckets), shortest)
		}
	}
	if step := BucketStep(128); step != 32 {
		t.Errorf("BucketStep(128) = %d, want 32: 128-pixel pictures (128x160) would be padded to 128x256", step)
	}
}

func TestLoaderTrimText(t *testing.T) {
	ds := load(t, Options{})
	full, _ := NewLoader(ds, LoaderOptions{BatchSize: 3})
	trim, _ := NewLoader(ds, LoaderOptions{BatchSize: 3, TrimText: true})
	var fulls []*Batch
	for b, err := range full.Epoch(context.Background(), 0, 0) {
		if err != nil {
			t.Fatal(err)
		}
		fulls = append(fulls, b)
	}
	k := 0
	for b, err := range trim.Epoch(context.Background(), 0, 0) {
		if err != nil {
			t.Fatal(err)
		}
		f := fulls[k]
		k++
		used := 0
		for i, m := range f.AttentionMask {
			if m != 0 {
				used = max(used, i%f.SeqLen+1)
			}
		}
		if b.SeqLen%8 != 0 || b.SeqLen < used || b.SeqLen >= used+8 {
			t.Errorf("trimmed batch has %d text columns for %d used ones, want the next multiple of 8", b.SeqLen, used)
		}
		for i := range b.Size {
			row := f.AttentionMask[i*f.SeqLen : (i+1)*f.SeqLen]
			if slices.Contains(row[b.SeqLen:], 1) {
				t.Errorf("a trimmed column was attended to")
			}
			if !slices.Equal(b.InputIDs[i*b.SeqLen:(i+1)*b.SeqLen], f.InputIDs[i*f.SeqLen:i*f.SeqLen+b.SeqLen]) {
				t.Errorf("row %d: trimmed ids differ from the full ones", i)
			}
		}
	}
}
