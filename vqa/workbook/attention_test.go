package workbook

import (
	"math"
	"math/rand/v2"
	"testing"

	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // GoMLX graph-building idiom.
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/vilt-go/workbook/vqa/backend"
	"github.com/vilt-go/workbook/vqa/processor"
	"github.com/vilt-go/workbook/vqa/vilt"
)

func TestAttentionToImage(t *testing.T) {
	b, err := backend.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := vilt.Preset("tiny")
	if err != nil {
		t.Fatal(err)
	}
	cfg.SetLabels([]string{"yes", "no", "2", "red"})
	store := model.NewStore()
	if err := vilt.InitWeights(store, cfg, 7); err != nil {
		t.Fatal(err)
	}
	// A 64x96 image: a 2x3 patch grid; a question of 6 tokens padded to 8.
	const h, w, seq = 64, 96, 8
	r := rand.New(rand.NewPCG(1, 2))
	enc := processor.Encoding{
		InputIDs:      []int32{101, 2129, 2116, 8870, 1029, 102, 0, 0},
		AttentionMask: []int32{1, 1, 1, 1, 1, 1, 0, 0},
		TokenTypeIDs:  make([]int32, seq),
		PixelValues:   make([]float32, 3*h*w),
		Height:        h, Width: w,
	}
	for i := range enc.PixelValues {
		enc.PixelValues[i] = 2*r.Float32() - 1
	}
	att, err := AttentionToImage(b, store, cfg, enc)
	if err != nil {
		t.Fatal(err)
	}
	if att.Rows != 2 || att.Cols != 3 || len(att.Maps) != cfg.NumHiddenLayers {
		t.Fatalf("grid %dx%d with %d layers, want 2x3 with %d", att.Rows, att.Cols, len(att.Maps), cfg.NumHiddenLayers)
	}
	for l, heads := range att.Maps {
		if len(heads) != cfg.NumAttentionHeads {
			t.Fatalf("layer %d: %d heads, want %d", l, len(heads), cfg.NumAttentionHeads)
		}
		for hd, m := range heads {
			sum := 0.0
			for _, v := range m {
				if v <= 0 || v >= 1 {
					t.Errorf("layer %d head %d: weight %g, want it in (0, 1)", l, hd, v)
				}
				sum += float64(v)
			}
			// The rest goes to 6 real text tokens and the image [CLS].
			if len(m) != 6 || sum >= 1 {
				t.Errorf("layer %d head %d: %d weights summing to %g, want 6 summing below 1", l, hd, len(m), sum)
			}
		}
		mean := att.Mean(l)
		for i := range mean {
			want := 0.0
			for _, m := range heads {
				want += float64(m[i]) / float64(len(heads))
			}
			if math.Abs(float64(mean[i])-want) > 1e-6 {
				t.Errorf("Mean(%d)[%d] = %g, want %g", l, i, mean[i], want)
			}
		}
	}

	// The logits are those of the plain forward pass.
	batch, err := processor.Collate([]processor.Encoding{enc})
	if err != nil {
		t.Fatal(err)
	}
	exec, err := model.NewExec(b, store, func(scope *model.Scope, ins []*Node) *Node {
		return vilt.Forward(scope, cfg, vilt.NewInputs(ins), vilt.Options{}).Logits
	})
	if err != nil {
		t.Fatal(err)
	}
	defer exec.Finalize()
	logits, err := exec.Call1(
		tensors.FromFlatDataAndDimensions(batch.InputIDs, 1, seq),
		tensors.FromFlatDataAndDimensions(batch.AttentionMask, 1, seq),
		tensors.FromFlatDataAndDimensions(batch.TokenTypeIDs, 1, seq),
		tensors.FromFlatDataAndDimensions(batch.PixelValues, 1, 3, h, w),
		tensors.FromFlatDataAndDimensions(batch.PixelMask, 1, h, w))
	if err != nil {
		t.Fatal(err)
	}
	want := tensors.MustCopyFlatData[float32](logits)
	if len(att.Logits) != len(want) {
		t.Fatalf("%d logits, want %d", len(att.Logits), len(want))
	}
	for i := range want {
		if math.Abs(float64(att.Logits[i]-want[i])) > 1e-5 {
			t.Errorf("logit %d = %g, the plain forward pass gives %g", i, att.Logits[i], want[i])
		}
	}

	// A text longer than the model's positions fails with an error, not a panic.
	long := enc
	long.InputIDs, long.AttentionMask, long.TokenTypeIDs = make([]int32, 64), make([]int32, 64), make([]int32, 64)
	if _, err := AttentionToImage(b, store, cfg, long); err == nil {
		t.Error("no error for 64 text tokens with 40 positions")
	}
}
