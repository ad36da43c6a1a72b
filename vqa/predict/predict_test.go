package predict

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/vilt-go/workbook/vqa/dataset"
	"github.com/vilt-go/workbook/vqa/hfmodel"
	"github.com/vilt-go/workbook/vqa/imageproc"
	"github.com/vilt-go/workbook/vqa/internal/httptimeout"
	"github.com/vilt-go/workbook/vqa/internal/testutil"
	"github.com/vilt-go/workbook/vqa/processor"
	"github.com/vilt-go/workbook/vqa/vilt"
	"github.com/vilt-go/workbook/vqa/vqav2"
)

// setup returns a randomly initialised tiny model answering the mini
// dataset's val2014 answers, a processor with the given shorter edge and
// the first n val2014 questions.
func setup(t testing.TB, edge, n int) (*Predictor, *dataset.Dataset) {
	t.Helper()
	root := filepath.Join(testutil.ModuleRoot(t), "data", "vqav2-mini")
	anns, err := vqav2.ReadAnnotations(vqav2.AnnotationsPath(root, "val2014"))
	if err != nil {
		t.Fatal(err)
	}
	labels := vqav2.BuildVocab(anns, nil, 1, 0)
	m, err := hfmodel.NewFromPreset("tiny", labels.ID2Label, 3)
	if err != nil {
		t.Fatal(err)
	}
	p, err := processor.Default()
	if err != nil {
		t.Fatal(err)
	}
	cfg := p.ImageConfig()
	cfg.ShortestEdge = edge
	p = processor.New(p.Tokenizer(), cfg)
	pred, err := New(testutil.Backend(t), m, p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pred.Close)
	ds, err := dataset.Load(root, "val2014", labels, p, dataset.Options{Limit: n})
	if err != nil {
		t.Fatal(err)
	}
	return pred, ds
}

func catImage(t testing.TB) string {
	return filepath.Join(testutil.ModuleRoot(t), "data", "coco", "000000039769.png")
}

// TestPredictShapes checks figure 23's shapes for the two-cats picture
// (640x480 -> 384x512 with the default processor) and the top-k list.
func TestPredictShapes(t *testing.T) {
	pred, _ := setup(t, 384, 1)
	img, err := imageproc.Decode(catImage(t))
	if err != nil {
		t.Fatal(err)
	}
	p, err := pred.Predict(img, "How many cats are there?", 5)
	if err != nil {
		t.Fatal(err)
	}
	n := pred.model.Config.NumLabels()
	want := map[string][]int{"input_ids": {1, 40}, "pixel_values": {1, 3, 384, 512}, "pixel_mask": {1, 384, 512}}
	for k, w := range want {
		if !slices.Equal(p.Shapes[k], w) {
			t.Errorf("%s shape %v, want %v", k, p.Shapes[k], w)
		}
	}
	if !slices.Equal(p.LogitsShape, []int{1, n}) || len(p.Top) != 5 {
		t.Errorf("logits shape %v (want [1 %d]), %d answers (want 5)", p.LogitsShape, n, len(p.Top))
	}
	for i, a := range p.Top {
		if !(a.Score > 0 && a.Score < 1) || (i > 0 && a.Score > p.Top[i-1].Score) || pred.model.Config.ID2Label[a.ID] != a.Label {
			t.Errorf("answer %d: %+v (scores must be sigmoids in (0,1), best first, labels matching ids)", i, a)
		}
	}
}

// TestBatchMatchesSingle checks that answers computed in padded batches
// (images of different sizes, masks) equal those of one example at a time.
func TestBatchMatchesSingle(t *testing.T) {
	pred, ds := setup(t, 64, 6)
	answers, err := pred.Dataset(context.Background(), ds, dataset.LoaderOptions{BatchSize: 4, TrimText: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(answers) != ds.Len() {
		t.Fatalf("%d answers for %d questions", len(answers), ds.Len())
	}
	for _, r := range ds.Records {
		img, err := imageproc.Decode(r.ImagePath)
		if err != nil {
			t.Fatal(err)
		}
		p, err := pred.Predict(img, r.Question.Question, 2)
		if err != nil {
			t.Fatal(err)
		}
		// Equal unless the two best are within float rounding of each other.
		if p.Top[0].Label != answers[r.QuestionID] && math.Abs(p.Top[0].Score-p.Top[1].Score) > 1e-5 {
			t.Errorf("question %d: batched answer %q, single %q", r.QuestionID, answers[r.QuestionID], p.Top[0].Label)
		}
	}
}

func TestLoadImageURL(t *testing.T) {
	data, err := os.ReadFile(catImage(t))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/cats.png" {
			http.NotFound(w, r)
			return
		}
		w.Write(data)
	}))
	defer srv.Close()
	got, err := LoadImage(context.Background(), srv.Client(), srv.URL+"/cats.png")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := imageproc.Decode(catImage(t))
	if got.Width != want.Width || got.Height != want.Height || !slices.Equal(got.Pix, want.Pix) {
		t.Error("image fetched over HTTP differs from the file")
	}
	if _, err := LoadImage(context.Background(), srv.Client(), srv.URL+"/missing.png"); err == nil {
		t.Error("HTTP 404 accepted")
	}
}

// TestNaNModelFails: a model whose weights hold NaN must not answer, one
// question or a whole dataset.
func TestNaNModelFails(t *testing.T) {
	pred, ds := setup(t, 64, 2)
	sd, err := vilt.StateDict(pred.model.Store, pred.model.Config)
	if err != nil {
		t.Fatal(err)
	}
	bias := sd["classifier.3.bias"].Value().([]float32)
	bias[0] = float32(math.NaN())
	sd["classifier.3.bias"] = tensors.FromFlatDataAndDimensions(bias, len(bias))
	if _, err := vilt.LoadWeights(pred.model.Store, pred.model.Config, sd, false); err != nil {
		t.Fatal(err)
	}
	img, err := imageproc.Decode(catImage(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pred.Predict(img, "How many cats are there?", 3); err == nil || !strings.Contains(err.Error(), "NaN") {
		t.Errorf("Predict with a NaN weight: %v, want an error saying the model produced NaN", err)
	}
	if _, err := pred.Dataset(context.Background(), ds, dataset.LoaderOptions{BatchSize: 2}); err == nil || !strings.Contains(err.Error(), "NaN") {
		t.Errorf("Dataset with a NaN weight: %v, want an error saying the model produced NaN", err)
	}
}

// TestBlankQuestionRefused: a question of only spaces is refused like an
// empty one.
func TestBlankQuestionRefused(t *testing.T) {
	pred, _ := setup(t, 64, 1)
	img, err := imageproc.Decode(catImage(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"", "   ", "\t\n "} {
		if _, err := pred.Predict(img, q, 1); err == nil || !strings.Contains(err.Error(), "empty") {
			t.Errorf("question %q: %v, want a refusal", q, err)
		}
	}
}

// TestLoadImageStalledServer: a server that sends the headers and then
// nothing gives a timeout error, not a hang (short bounds through the
// client).
func TestLoadImageStalledServer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100000")
		w.Write([]byte("\x89PNG"))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	defer srv.Close()
	client := httptimeout.Client(httptimeout.Timeouts{Idle: 200 * time.Millisecond})
	done := make(chan error, 1)
	go func() { _, err := LoadImage(context.Background(), client, srv.URL+"/cats.png"); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "stalled") {
			t.Errorf("error %v, want one saying the transfer stalled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("LoadImage still waiting on a stalled server after 10 s")
	}
}

// TestLoadImageRefusesDevice: a local path is bounded like a URL.
func TestLoadImageRefusesDevice(t *testing.T) {
	if _, err := LoadImage(context.Background(), nil, "/dev/zero"); err == nil || !strings.Contains(err.Error(), "character device") {
		t.Errorf("LoadImage(/dev/zero): %v, want a refusal naming the device", err)
	}
}
