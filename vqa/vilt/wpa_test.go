package vilt

import (
	"math"
	"math/rand/v2"
	"testing"

	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // GoMLX graph-building idiom.
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/vilt-go/workbook/vqa/internal/testutil"
)

// otReference is the word-patch alignment distance of one pair computed
// directly in float64: words [n][d] and patches [m][d] are the kept tokens
// only; IPOT with uniform marginals, β and iterations as in ViLT. It also
// returns the plan.
func otReference(words, patches [][]float64) (float64, [][]float64) {
	n, m := len(words), len(patches)
	unit := func(v []float64) []float64 {
		s := 0.0
		for _, x := range v {
			s += x * x
		}
		out := make([]float64, len(v))
		for i, x := range v {
			out[i] = x / math.Sqrt(s)
		}
		return out
	}
	cost := make([][]float64, n)
	for i := range words {
		cost[i] = make([]float64, m)
		wi := unit(words[i])
		for j := range patches {
			pj := unit(patches[j])
			dot := 0.0
			for k := range wi {
				dot += wi[k] * pj[k]
			}
			cost[i][j] = 1 - dot
		}
	}
	plan := make([][]float64, n)
	for i := range plan {
		plan[i] = make([]float64, m)
		for j := range plan[i] {
			plan[i][j] = 1
		}
	}
	a := make([]float64, n)
	for i := range a {
		a[i] = 1 / float64(n)
	}
	b := make([]float64, m)
	for range ipotIterations {
		q := make([][]float64, n)
		for i := range q {
			q[i] = make([]float64, m)
			for j := range q[i] {
				q[i][j] = math.Exp(-cost[i][j]/ipotBeta) * plan[i][j]
			}
		}
		for j := range b {
			s := 0.0
			for i := range n {
				s += q[i][j] * a[i]
			}
			b[j] = 1 / (float64(m) * s)
		}
		for i := range a {
			s := 0.0
			for j := range m {
				s += q[i][j] * b[j]
			}
			a[i] = 1 / (float64(n) * s)
		}
		for i := range plan {
			for j := range plan[i] {
				plan[i][j] = a[i] * q[i][j] * b[j]
			}
		}
	}
	d := 0.0
	for i := range cost {
		for j := range cost[i] {
			d += cost[i][j] * plan[i][j]
		}
	}
	return d, plan
}

// TestWordPatchAlignment checks the graph's distances, with text and image
// padding and the [CLS], [SEP] and image [CLS] tokens left out, against a
// direct float64 computation of IPOT on the kept tokens only, and that the
// plan it finds has the uniform marginals.
func TestWordPatchAlignment(t *testing.T) {
	const (
		batch, textLen, imageLen, dim = 3, 6, 7, 5
	)
	rng := rand.New(rand.NewPCG(1, 2))
	hidden := make([]float32, batch*(textLen+imageLen)*dim)
	for i := range hidden {
		hidden[i] = float32(rng.NormFloat64())
	}
	// Real text tokens (with [CLS] first and [SEP] last) and real image
	// tokens (the image [CLS] first) per example.
	textReal := []int{6, 4, 3}
	imageReal := []int{7, 5, 7}
	matched := []int32{1, 0, 1}
	attn := make([]int32, batch*textLen)
	mask := make([]int32, batch*(textLen+imageLen))
	for b := range batch {
		for i := range textReal[b] {
			attn[b*textLen+i] = 1
			mask[b*(textLen+imageLen)+i] = 1
		}
		for j := range imageReal[b] {
			mask[b*(textLen+imageLen)+textLen+j] = 1
		}
	}

	var want float64
	var wantPlans [][][]float64
	for b := range batch {
		token := func(k int) []float64 {
			v := make([]float64, dim)
			for d := range dim {
				v[d] = float64(hidden[(b*(textLen+imageLen)+k)*dim+d])
			}
			return v
		}
		var words, patches [][]float64
		for i := 1; i < textReal[b]-1; i++ {
			words = append(words, token(i))
		}
		for j := 1; j < imageReal[b]; j++ {
			patches = append(patches, token(textLen+j))
		}
		d, plan := otReference(words, patches)
		wantPlans = append(wantPlans, plan)
		if matched[b] == 1 {
			want += d
		} else {
			want -= d
		}
	}
	want /= batch

	be := testutil.Backend(t)
	exec, err := NewExec(be, func(h, attn, mask, matched *Node) []*Node {
		in := Inputs{InputIDs: attn, AttentionMask: attn}
		out := Outputs{LastHiddenState: h, EmbeddingsMask: mask}
		cost, wordMask, patchMask, joint := alignmentCost(in, out)
		return []*Node{WordPatchAlignment(in, out, matched), ipot(cost, wordMask, patchMask, joint)}
	})
	if err != nil {
		t.Fatal(err)
	}
	outs, err := exec.Exec(
		tensors.FromFlatDataAndDimensions(hidden, batch, textLen+imageLen, dim),
		tensors.FromFlatDataAndDimensions(attn, batch, textLen),
		tensors.FromFlatDataAndDimensions(mask, batch, textLen+imageLen),
		tensors.FromFlatDataAndDimensions(matched, batch),
	)
	if err != nil {
		t.Fatal(err)
	}
	got := float64(tensors.ToScalar[float32](outs[0]))
	if math.Abs(got-want) > 1e-5 {
		t.Errorf("WordPatchAlignment = %.7f, want %.7f (float64 IPOT on the kept tokens)", got, want)
	}
	plans := tensors.MustCopyFlatData[float32](outs[1])
	for b := range batch {
		for i := range textLen {
			for j := range imageLen {
				g := float64(plans[(b*textLen+i)*imageLen+j])
				w := 0.0
				if i >= 1 && i < textReal[b]-1 && j >= 1 && j < imageReal[b] {
					w = wantPlans[b][i-1][j-1]
				}
				if math.Abs(g-w) > 1e-5 {
					t.Fatalf("example %d: plan[%d][%d] = %.7f, want %.7f", b, i, j, g, w)
				}
			}
		}
		// The plan moves each kept word's 1/n to the kept patches' 1/m each.
		n, m := textReal[b]-2, imageReal[b]-1
		for i := range n {
			s := 0.0
			for j := range m {
				s += wantPlans[b][i][j]
			}
			if math.Abs(s-1/float64(n)) > 1e-3 {
				t.Errorf("example %d: word %d sends %.5f, want %.5f", b, i, s, 1/float64(n))
			}
		}
	}
}
