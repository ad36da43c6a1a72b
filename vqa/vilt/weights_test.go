package vilt

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // GoMLX graph-building idiom.
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/checkpoint"
	"github.com/vilt-go/workbook/vqa/hfweights"
	"github.com/vilt-go/workbook/vqa/internal/testutil"
)

// forwardLogits runs the QA forward pass on the case's inputs.
func forwardLogits(t *testing.T, be compute.Backend, store *model.Store, c *fixtureCase) []float32 {
	t.Helper()
	exec, err := model.NewExec(be, store, func(scope *model.Scope, ins []*Node) *Node {
		return Forward(scope, c.cfg, NewInputs(ins), Options{}).Logits
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Call1(args(c.inputs)...)
	if err != nil {
		t.Fatal(err)
	}
	return floats(t, out)
}

func variableValues(t *testing.T, store *model.Store, key string) []float32 {
	t.Helper()
	v := store.GetVariable(VariablePath(key))
	if v == nil {
		t.Fatalf("no variable for %q", key)
	}
	return floats(t, v.MustValue())
}

// TestLoadFromMLMCheckpoint builds the QA model from the MLM checkpoint and
// checks the report against transformers' output_loading_info, the loaded
// body against tiny32 and the HF-style initialisation of the missing head.
func TestLoadFromMLMCheckpoint(t *testing.T) {
	root := testutil.Fixtures(t, "vilt")
	var info struct {
		Missing    []string `json:"missing_keys"`
		Unexpected []string `json:"unexpected_keys"`
	}
	data, err := os.ReadFile(filepath.Join(root, "tiny32_mlm", "loading_info.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &info); err != nil {
		t.Fatal(err)
	}
	cfg, err := ReadConfig(filepath.Join(root, "tiny32", "config.json")) // same dims, 3129 labels
	if err != nil {
		t.Fatal(err)
	}
	mlm := readTensors(t, filepath.Join(root, "tiny32_mlm", "model.safetensors"))
	store := model.NewStore()
	rep, err := LoadWeights(store, cfg, mlm, true)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rep.Missing, info.Missing) {
		t.Errorf("missing keys %v, transformers reports %v", rep.Missing, info.Missing)
	}
	if !slices.Equal(rep.Unexpected, info.Unexpected) {
		t.Errorf("unexpected keys %v, transformers reports %v", rep.Unexpected, info.Unexpected)
	}
	body := readTensors(t, filepath.Join(root, "tiny32", "model.safetensors"))
	for _, p := range Params(cfg) {
		got := variableValues(t, store, p.Key)
		if strings.HasPrefix(p.Key, "vilt.") {
			if !slices.Equal(got, floats(t, body[p.Key])) {
				t.Errorf("%s differs from tiny32's", p.Key)
			}
			continue
		}
		// HF _init_weights: Linear weight N(0, 0.02^2), bias 0, LayerNorm (1, 0).
		var mean, sq float64
		for _, v := range got {
			mean += float64(v)
			sq += float64(v) * float64(v)
		}
		mean /= float64(len(got))
		std := math.Sqrt(sq/float64(len(got)) - mean*mean)
		switch {
		case p.Init == InitNormal:
			if math.Abs(mean) > 0.002 || math.Abs(std-cfg.InitializerRange) > 0.002 {
				t.Errorf("%s: mean %.4f std %.4f, want N(0, %g^2)", p.Key, mean, std, cfg.InitializerRange)
			}
		case p.Init == InitOnes && (mean != 1 || std != 0), p.Init == InitZeros && (mean != 0 || std != 0):
			t.Errorf("%s: mean %g std %g, want constant init %v", p.Key, mean, std, p.Init)
		}
	}
	// The initialisation is deterministic.
	again := model.NewStore()
	if _, err := LoadWeights(again, cfg, mlm, true); err != nil {
		t.Fatal(err)
	}
	for _, k := range info.Missing {
		if !slices.Equal(variableValues(t, store, k), variableValues(t, again, k)) {
			t.Errorf("%s: initialisation is not deterministic", k)
		}
	}
}

// TestLoadMissingRefused checks that an absent parameter is an error naming
// it, for the encoder always and for the head unless initHead is set: no
// model answers with random weights it was not asked to initialise.
func TestLoadMissingRefused(t *testing.T) {
	c := loadCase(t, fixtureCases(t)[0])
	for _, tc := range []struct {
		key      string
		initHead bool
		ok       bool
	}{
		{"classifier.3.weight", false, false},
		{"classifier.3.weight", true, true},
		{"vilt.pooler.dense.bias", false, false},
		{"vilt.pooler.dense.bias", true, false},
	} {
		ws := cloneWeights(c.weights)
		delete(ws, tc.key)
		rep, err := LoadWeights(model.NewStore(), c.cfg, ws, tc.initHead)
		switch {
		case tc.ok && (err != nil || !slices.Equal(rep.Missing, []string{tc.key})):
			t.Errorf("without %s, initHead %v: report %+v, error %v; want it initialised and reported", tc.key, tc.initHead, rep, err)
		case !tc.ok && (err == nil || !strings.Contains(err.Error(), tc.key)):
			t.Errorf("without %s, initHead %v: error %v, want one naming the key", tc.key, tc.initHead, err)
		}
	}
	if _, err := LoadWeights(model.NewStore(), c.cfg, map[string]*tensors.Tensor{}, true); err == nil {
		t.Error("an empty checkpoint loaded")
	}
}

// TestLoadBinEqualsSafetensors loads every case that ships a
// pytorch_model.bin and checks it gives bit-identical variables.
func TestLoadBinEqualsSafetensors(t *testing.T) {
	found := false
	for _, dir := range fixtureCases(t) {
		bin := filepath.Join(dir, "pytorch_model.bin")
		if !exists(bin) {
			continue
		}
		found = true
		t.Run(filepath.Base(dir), func(t *testing.T) {
			c := loadCase(t, dir)
			fromST := c.newStore(t)
			fromBin := model.NewStore()
			rep, err := LoadWeights(fromBin, c.cfg, readTensors(t, bin), false)
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Missing)+len(rep.Unexpected) > 0 {
				t.Fatalf("report %+v", rep)
			}
			for _, p := range Params(c.cfg) {
				if !slices.Equal(variableValues(t, fromST, p.Key), variableValues(t, fromBin, p.Key)) {
					t.Errorf("%s differs between model.safetensors and pytorch_model.bin", p.Key)
				}
			}
		})
	}
	if !found {
		t.Fatal("no fixture case has a pytorch_model.bin")
	}
}

// TestLoadShapeMismatch checks the error names the key and both shapes.
func TestLoadShapeMismatch(t *testing.T) {
	c := loadCase(t, fixtureCases(t)[0])
	ws := cloneWeights(c.weights)
	key := "vilt.pooler.dense.weight"
	d := c.cfg.HiddenSize
	ws[key] = tensors.FromFlatDataAndDimensions(make([]float32, d*(d+1)), d, d+1)
	_, err := LoadWeights(model.NewStore(), c.cfg, ws, false)
	if err == nil {
		t.Fatal("no error for a wrong shape")
	}
	for _, want := range []string{key, fmt.Sprintf("expected float32 [%d %d]", d, d), fmt.Sprintf("found float32 [%d %d]", d, d+1)} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

// cloneWeights returns a shallow copy of a state_dict.
func cloneWeights(ws map[string]*tensors.Tensor) map[string]*tensors.Tensor {
	out := make(map[string]*tensors.Tensor, len(ws))
	for k, v := range ws {
		out[k] = v
	}
	return out
}

// TestExportRoundTrip exports every case to an HF folder (config.json +
// model.safetensors), reloads it and checks identical logits, the same key
// set, shapes and dtypes as the original checkpoint, and an unchanged
// config.json.
func TestExportRoundTrip(t *testing.T) {
	be := testutil.Backend(t)
	for _, dir := range fixtureCases(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			c := loadCase(t, dir)
			store := c.newStore(t)
			want := forwardLogits(t, be, store, c)
			sd, err := StateDict(store, c.cfg)
			if err != nil {
				t.Fatal(err)
			}
			for k, orig := range c.weights {
				got, ok := sd[k]
				if !ok {
					t.Errorf("export lacks %q", k)
				} else if !got.Shape().Equal(orig.Shape()) {
					t.Errorf("%s: exported %s, checkpoint has %s", k, got.Shape(), orig.Shape())
				} else if !got.Equal(orig) {
					t.Errorf("%s: exported values differ from the loaded ones", k)
				}
			}
			if len(sd) != len(c.weights) {
				t.Errorf("export has %d keys, checkpoint %d", len(sd), len(c.weights))
			}
			out := t.TempDir()
			if err := hfweights.WriteSafetensors(filepath.Join(out, "model.safetensors"), sd, map[string]string{"format": "pt"}); err != nil {
				t.Fatal(err)
			}
			if err := c.cfg.WriteFile(filepath.Join(out, "config.json")); err != nil {
				t.Fatal(err)
			}
			c2 := *c
			if c2.cfg, err = ReadConfig(filepath.Join(out, "config.json")); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c2.cfg, c.cfg) {
				t.Errorf("config changed in the round trip")
			}
			assertSameJSON(t, filepath.Join(dir, "config.json"), filepath.Join(out, "config.json"))
			c2.weights = readTensors(t, filepath.Join(out, "model.safetensors"))
			if got := forwardLogits(t, be, c2.newStore(t), &c2); !slices.Equal(got, want) {
				t.Errorf("logits after export and reload differ")
			}
		})
	}
}

// assertSameJSON checks two JSON files hold the same value.
func assertSameJSON(t *testing.T, a, b string) {
	t.Helper()
	var va, vb any
	for _, x := range []struct {
		path string
		v    *any
	}{{a, &va}, {b, &vb}} {
		data, err := os.ReadFile(x.path)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, x.v); err != nil {
			t.Fatal(err)
		}
	}
	if !reflect.DeepEqual(va, vb) {
		t.Errorf("%s and %s hold different JSON", a, b)
	}
}

// TestCheckpointRoundTrip saves the variables with GoMLX's checkpoint
// format and restores them into a fresh store.
func TestCheckpointRoundTrip(t *testing.T) {
	be := testutil.Backend(t)
	c := loadCase(t, fixtureCases(t)[0])
	store := c.newStore(t)
	want := forwardLogits(t, be, store, c)
	dir := filepath.Join(t.TempDir(), "ckpt")
	h, err := checkpoint.Build(store).Dir(dir).Immediate().Done()
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Save(); err != nil {
		t.Fatal(err)
	}
	restored := model.NewStore()
	if _, err := checkpoint.Load(restored).Dir(dir).Immediate().Done(); err != nil {
		t.Fatal(err)
	}
	if got := forwardLogits(t, be, restored, c); !slices.Equal(got, want) {
		t.Errorf("logits after checkpoint restore differ")
	}
}

// TestInitWeights checks every parameter is created, deterministically.
func TestInitWeights(t *testing.T) {
	cfg, err := Preset("tiny")
	if err != nil {
		t.Fatal(err)
	}
	cfg.SetLabels([]string{"yes", "no", "2"})
	a, b := model.NewStore(), model.NewStore()
	for _, s := range []*model.Store{a, b} {
		if err := InitWeights(s, cfg, 7); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range Params(cfg) {
		va := variableValues(t, a, p.Key)
		if !slices.Equal(va, variableValues(t, b, p.Key)) {
			t.Errorf("%s: not deterministic", p.Key)
		}
		if p.Init == InitNormalPad && slices.ContainsFunc(va[:cfg.HiddenSize], func(v float32) bool { return v != 0 }) {
			t.Errorf("%s: padding row not zero", p.Key)
		}
	}
}
