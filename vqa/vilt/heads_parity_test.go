package vilt

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // GoMLX graph-building idiom.
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/vilt-go/workbook/vqa/internal/testutil"
)

// headCase is one folder of the heads fixtures (vilt_heads/): a model of
// some head, its inputs and HF's outputs and gradients.
type headCase struct {
	fixtureCase
	head Head
	// gradsOfLogits: grads.safetensors holds d(sum of logits)/d param (no
	// loss defined for the head).
	gradsOfLogits bool
	hasLabels     bool
}

// headCases lists every folder under vilt_heads/ holding a meta.json with a
// "head", checking it against config.json's architectures.
func headCases(t *testing.T) []*headCase {
	t.Helper()
	root := testutil.Fixtures(t, "vilt_heads")
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var cases []*headCase
	for _, e := range entries {
		dir := filepath.Join(root, e.Name())
		data, err := os.ReadFile(filepath.Join(dir, "meta.json"))
		if !e.IsDir() || err != nil {
			continue
		}
		var meta struct {
			Head     string `json:"head"`
			GradsOf  string `json:"grads_of"`
			Sentence any    `json:"sentences"`
		}
		if err := json.Unmarshal(data, &meta); err != nil {
			t.Fatalf("%s/meta.json: %v", dir, err)
		}
		head, err := ParseHead(meta.Head)
		if err != nil {
			t.Fatalf("%s/meta.json: %v", dir, err)
		}
		c := &headCase{head: head, gradsOfLogits: strings.HasPrefix(meta.GradsOf, "sum of logits")}
		c.name, c.dir = e.Name(), dir
		if c.cfg, err = ReadConfig(filepath.Join(dir, "config.json")); err != nil {
			t.Fatal(err)
		}
		if got, err := c.cfg.Head(); err != nil || got != head {
			t.Fatalf("%s: config.json's head is %q (%v), meta.json says %q", dir, got, err, head)
		}
		c.weights = readTensors(t, filepath.Join(dir, "model.safetensors"))
		in := readTensors(t, filepath.Join(dir, "inputs.safetensors"))
		keys := []string{"input_ids", "attention_mask", "token_type_ids", "pixel_values", "pixel_mask"}
		if _, ok := in["labels"]; ok {
			keys, c.hasLabels = append(keys, "labels"), true
		}
		for _, k := range keys {
			v, ok := in[k]
			if !ok {
				t.Fatalf("%s: inputs.safetensors has no %q", dir, k)
			}
			if v.DType() == dtypes.Int64 {
				v = testutil.Int32(t, v)
			}
			c.inputs = append(c.inputs, v)
		}
		cases = append(cases, c)
	}
	if len(cases) == 0 {
		t.Fatalf("no head fixture (meta.json with \"head\") under %s", root)
	}
	return cases
}

// hfValidPositions returns, per example, the positions HF's sequence holds
// real tokens at, given ours: the same text positions, then the image CLS at
// L and the n valid patches right after it (HF keeps them first, in
// row-major order; see the fixtures' README, "Deviations").
func hfValidPositions(ours [][]int, textLen int) [][]int {
	out := make([][]int, len(ours))
	for b, ps := range ours {
		n := 0
		for _, p := range ps {
			if p < textLen {
				out[b] = append(out[b], p)
			} else {
				out[b] = append(out[b], textLen+n)
				n++
			}
		}
	}
	return out
}

// tolHeadOutputs is the heads fixtures' suggested absolute tolerance on
// logits and hidden states (vilt_heads/README.md: 1e-4; the retrieval
// case's rank_output weights are scaled up, so its scores reach 3.7).
const tolHeadOutputs = 1e-4

// TestParityHeads compares every head's forward outputs and loss with HF's.
func TestParityHeads(t *testing.T) {
	be := testutil.Backend(t)
	for _, c := range headCases(t) {
		t.Run(c.name, func(t *testing.T) {
			store := c.newStore(t)
			exec, err := model.NewExec(be, store, func(scope *model.Scope, ins []*Node) []*Node {
				out := Forward(scope, c.cfg, NewInputs(ins), Options{})
				res := []*Node{out.Logits}
				if c.hasLabels {
					loss, err := HeadLoss(c.cfg, out, ins[5])
					if err != nil {
						panic(err)
					}
					res = append(res, loss)
				}
				encs := []Outputs{out}
				if c.head == ImagesAndTextClassification {
					encs = out.Images
				}
				for _, e := range encs {
					pooled := e.PoolerOutput
					if pooled == nil { // no pooler (token classification)
						pooled = ZerosLike(e.EmbeddingsMask)
					}
					res = append(res, pooled, e.LastHiddenState, e.EmbeddingsMask)
				}
				return res
			})
			if err != nil {
				t.Fatal(err)
			}
			got, err := exec.Call(args(c.inputs)...)
			if err != nil {
				t.Fatal(err)
			}
			want := readTensors(t, filepath.Join(c.dir, "outputs.safetensors"))
			logits := floats(t, got[0])
			batch, textLen, d := c.inputs[0].Shape().Dim(0), c.inputs[0].Shape().Dim(1), c.cfg.HiddenSize
			switch c.head {
			case MaskedLM:
				labels := floats(t, c.inputs[5])
				vocab := c.cfg.VocabSize
				var masked, head []float32
				for i, l := range labels {
					if l != IgnoreIndex {
						masked = append(masked, logits[i*vocab:(i+1)*vocab]...)
					}
					head = append(head, logits[i*vocab:i*vocab+64]...)
				}
				check(t, "logits_masked", masked, floats(t, want["logits_masked"]), tolHeadOutputs)
				check(t, "logits_head", head, floats(t, want["logits_head"]), tolHeadOutputs)
			default:
				check(t, "logits", logits, floats(t, want["logits"]), tolHeadOutputs)
			}
			if m, ok := want["score_matrix"]; ok {
				check(t, "score_matrix (logits, image-major)", logits, floats(t, m), tolHeadOutputs)
			}
			rest := got[1:]
			if c.hasLabels {
				wantLoss := floats(t, want["loss"])
				check(t, "loss", floats(t, got[1]), wantLoss, tolLossRel*math.Abs(float64(wantLoss[0])))
				rest = got[2:]
			}
			for i := 0; i < len(rest); i += 3 {
				suffix := ""
				if c.head == ImagesAndTextClassification {
					suffix = fmt.Sprintf(".image%d", i/3)
				}
				if w, ok := want["pooler_output"+suffix]; ok {
					check(t, "pooler_output"+suffix, floats(t, rest[i]), floats(t, w), tolHeadOutputs)
				}
				w, ok := want["last_hidden_state"+suffix]
				if !ok {
					continue
				}
				ours := validPositions(floats(t, rest[i+2]), batch)
				theirs := hfValidPositions(ours, textLen)
				check(t, "last_hidden_state"+suffix, gatherTokens(floats(t, rest[i+1]), batch, d, ours), gatherTokens(floats(t, w), batch, d, theirs), tolHeadOutputs)
			}
		})
	}
}

// TestParityHeadGradients compares d loss / d parameter (d sum(logits) /
// d parameter for retrieval) for every parameter; parameters the head does
// not use (absent from grads.safetensors: HF's gradient is None) must get a
// zero gradient.
func TestParityHeadGradients(t *testing.T) {
	be := testutil.Backend(t)
	for _, c := range headCases(t) {
		t.Run(c.name, func(t *testing.T) {
			store := c.newStore(t)
			params := Params(c.cfg)
			exec, err := model.NewExec(be, store, func(scope *model.Scope, ins []*Node) []*Node {
				store.SetTraining(ins[0].Graph(), true)
				out := Forward(scope, c.cfg, NewInputs(ins), Options{})
				var loss *Node
				if c.gradsOfLogits {
					loss = ReduceAllSum(out.Logits)
				} else {
					var err error
					if loss, err = HeadLoss(c.cfg, out, ins[5]); err != nil {
						panic(err)
					}
				}
				vars := make([]*Node, len(params))
				for i, p := range params {
					vars[i] = store.GetVariable(VariablePath(p.Key)).NodeValue(loss.Graph())
				}
				return Gradient(loss, vars...)
			})
			if err != nil {
				t.Fatal(err)
			}
			got, err := exec.Call(args(c.inputs)...)
			if err != nil {
				t.Fatal(err)
			}
			want := readTensors(t, filepath.Join(c.dir, "grads.safetensors"))
			used := 0
			for i, p := range params {
				g := floats(t, got[i])
				w, ok := want[p.Key]
				if !ok {
					zero := make([]float32, len(g))
					check(t, "unused "+p.Key, g, zero, 0)
					continue
				}
				used++
				checkGrad(t, p.Key, g, floats(t, w))
			}
			if used != len(want) {
				t.Errorf("grads.safetensors has %d tensors, %d of them are model parameters", len(want), used)
			}
		})
	}
}

// TestHeadExportRoundTrip exports every head's weights, reloads them and
// checks the tensors come back bit-identical (both MLM bias keys
// included).
func TestHeadExportRoundTrip(t *testing.T) {
	for _, c := range headCases(t) {
		t.Run(c.name, func(t *testing.T) {
			sd, err := StateDict(c.newStore(t), c.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if len(sd) != len(c.weights) {
				t.Errorf("export has %d keys, the HF checkpoint %d", len(sd), len(c.weights))
			}
			for k, orig := range c.weights {
				if got, ok := sd[k]; !ok {
					t.Errorf("export lacks %q", k)
				} else if !got.Equal(orig) {
					t.Errorf("%s: exported tensor differs from the checkpoint's", k)
				}
			}
			again := model.NewStore()
			if _, err := LoadWeights(again, c.cfg, sd, false); err != nil {
				t.Fatal(err)
			}
			sd2, err := StateDict(again, c.cfg)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range sd {
				if !sd2[k].Equal(v) {
					t.Errorf("%s changed in a second round trip", k)
				}
			}
		})
	}
}

// TestMLMDecoderBiasTied checks an MLM checkpoint without
// mlm_score.decoder.bias loads (HF ties it to mlm_score.bias), and that a
// checkpoint whose two biases differ is refused.
func TestMLMDecoderBiasTied(t *testing.T) {
	for _, c := range headCases(t) {
		if c.head != MaskedLM {
			continue
		}
		ws := cloneWeights(c.weights)
		delete(ws, mlmDecoderBiasKey)
		if rep, err := LoadWeights(model.NewStore(), c.cfg, ws, false); err != nil || len(rep.Missing)+len(rep.Unexpected) > 0 {
			t.Errorf("%s without %s: report %+v, error %v", c.name, mlmDecoderBiasKey, rep, err)
		}
		ws = cloneWeights(c.weights)
		ws[mlmDecoderBiasKey] = tensors.FromFlatDataAndDimensions(make([]float32, c.cfg.VocabSize), c.cfg.VocabSize)
		if _, err := LoadWeights(model.NewStore(), c.cfg, ws, false); err == nil || !strings.Contains(err.Error(), mlmDecoderBiasKey) {
			t.Errorf("%s with a different %s: error %v, want one naming it", c.name, mlmDecoderBiasKey, err)
		}
	}
}
