package hfweights

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/vilt-go/workbook/vqa/internal/testutil"
)

// rawBytes returns a copy of t's bytes.
func rawBytes(t testing.TB, x *tensors.Tensor) []byte {
	t.Helper()
	var out []byte
	if err := x.ConstBytes(func(b []byte) { out = slices.Clone(b) }); err != nil {
		t.Fatal(err)
	}
	return out
}

// sameTensors fails unless a and b hold the same keys, shapes and bytes.
func sameTensors(t testing.TB, a, b map[string]*tensors.Tensor) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%d tensors vs %d", len(a), len(b))
	}
	for name, x := range a {
		y, ok := b[name]
		if !ok {
			t.Fatalf("tensor %q missing", name)
		}
		if !x.Shape().Equal(y.Shape()) {
			t.Fatalf("tensor %q: shape %s vs %s", name, x.Shape(), y.Shape())
		}
		if !bytes.Equal(rawBytes(t, x), rawBytes(t, y)) {
			t.Fatalf("tensor %q: data differs", name)
		}
	}
}

// TestReadFixtures reads every safetensors file of every fixture case and
// checks each tensor against the header and bytes decoded independently here.
func TestReadFixtures(t *testing.T) {
	root := testutil.Fixtures(t, "vilt")
	files, err := filepath.Glob(filepath.Join(root, "*", "*.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no safetensors files under %s", root)
	}
	for _, file := range files {
		rel, _ := filepath.Rel(root, file)
		t.Run(rel, func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			n := binary.LittleEndian.Uint64(raw)
			var header map[string]json.RawMessage
			if err := json.Unmarshal(raw[8:8+n], &header); err != nil {
				t.Fatal(err)
			}
			data := raw[8+n:]
			ts, err := Read(file)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := header[metadataKey]; ok {
				if len(ts) != len(header)-1 {
					t.Fatalf("read %d tensors, header has %d", len(ts), len(header)-1)
				}
			} else if len(ts) != len(header) {
				t.Fatalf("read %d tensors, header has %d", len(ts), len(header))
			}
			want := map[string]string{"F32": "float32", "I64": "int64"}
			for name, msg := range header {
				if name == metadataKey {
					continue
				}
				var e struct {
					DType   string `json:"dtype"`
					Shape   []int  `json:"shape"`
					Offsets [2]int `json:"data_offsets"`
				}
				if err := json.Unmarshal(msg, &e); err != nil {
					t.Fatal(err)
				}
				x := ts[name]
				if x == nil {
					t.Fatalf("tensor %q not read", name)
				}
				if got := strings.ToLower(x.DType().String()); got != want[e.DType] {
					t.Errorf("%s: dtype %s, header says %s", name, got, e.DType)
				}
				if !slices.Equal(x.Shape().Dimensions, e.Shape) && len(e.Shape)+x.Rank() > 0 {
					t.Errorf("%s: shape %v, header says %v", name, x.Shape().Dimensions, e.Shape)
				}
				if !bytes.Equal(rawBytes(t, x), data[e.Offsets[0]:e.Offsets[1]]) {
					t.Errorf("%s: data differs from bytes [%d, %d)", name, e.Offsets[0], e.Offsets[1])
				}
			}
		})
	}
}

// sample returns tensors of several dtypes, a scalar and an empty tensor.
func sample() map[string]*tensors.Tensor {
	return map[string]*tensors.Tensor{
		"a.weight": tensors.FromValue([][]float32{{1, -2.5, 3}, {4, 5, 6e-30}}),
		"b.ids":    tensors.FromValue([]int64{0, -1, 1 << 40}),
		"c.loss":   tensors.FromScalar(float32(2177.951172)),
		"d.mask":   tensors.FromValue([]bool{true, false, true}),
		"e.half":   tensors.FromValue([]int32{7, 8}),
		"f.empty":  tensors.FromShape(shapes.Make(dtypes.Float64, 0, 3)),
		"g.bytes":  tensors.FromValue([]uint8{1, 2, 3, 255, 0}),
	}
}

func TestWriteReadRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.safetensors")
	in := sample()
	if err := WriteSafetensors(path, in, map[string]string{"note": "x"}); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("folder holds %d entries after writing, want only the file", len(entries))
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	out, md, err := ReadSafetensors(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	sameTensors(t, in, out)
	if md["format"] != "pt" || md["note"] != "x" || len(md) != 2 {
		t.Fatalf("metadata %v, want format=pt and note=x", md)
	}
	raw, _ := os.ReadFile(path)
	n := binary.LittleEndian.Uint64(raw)
	if n%8 != 0 {
		t.Errorf("header length %d is not a multiple of 8", n)
	}
	if !out["c.loss"].Shape().IsScalar() {
		t.Errorf("scalar read back as %s", out["c.loss"].Shape())
	}
	// Tensor data must follow the sorted names.
	var header map[string]struct {
		Offsets []int64 `json:"data_offsets"`
	}
	if err := json.Unmarshal(raw[8:8+n], &header); err != nil {
		t.Fatal(err)
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range in {
			if !yield(k) {
				return
			}
		}
	})
	var pos int64
	for _, name := range names {
		if header[name].Offsets[0] != pos {
			t.Fatalf("%s starts at %d, want %d", name, header[name].Offsets[0], pos)
		}
		pos = header[name].Offsets[1]
	}
}

// TestRewriteFixtureModel rewrites every fixture model.safetensors and checks
// that the data section is byte-identical (both writers sort by name).
func TestRewriteFixtureModel(t *testing.T) {
	root := testutil.Fixtures(t, "vilt")
	files, _ := filepath.Glob(filepath.Join(root, "*", "model.safetensors"))
	if len(files) == 0 {
		t.Fatalf("no model.safetensors under %s", root)
	}
	for _, file := range files {
		rel, _ := filepath.Rel(root, file)
		t.Run(rel, func(t *testing.T) {
			ts, err := Read(file)
			if err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "model.safetensors")
			if err := WriteSafetensors(out, ts, nil); err != nil {
				t.Fatal(err)
			}
			a, _ := os.ReadFile(file)
			b, _ := os.ReadFile(out)
			da := a[8+binary.LittleEndian.Uint64(a):]
			db := b[8+binary.LittleEndian.Uint64(b):]
			if !bytes.Equal(da, db) {
				t.Fatalf("data sections differ (%d vs %d bytes)", len(da), len(db))
			}
		})
	}
}

// encode returns the safetensors encoding of ts.
func encode(t testing.TB, ts map[string]*tensors.Tensor) []byte {
	var buf bytes.Buffer
	if err := encodeSafetensors(&buf, ts, nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// withHeader builds a file from a raw header and data section.
func withHeader(header string, data []byte) []byte {
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	return append(append(out, header...), data...)
}

func TestReadMalformed(t *testing.T) {
	good := encode(t, sample())
	cases := map[string][]byte{
		"empty":           nil,
		"short length":    {1, 2, 3},
		"truncated":       good[:len(good)-1],
		"trailing bytes":  append(slices.Clone(good), 0),
		"header too big":  binary.LittleEndian.AppendUint64(nil, MaxHeaderSize+1),
		"header past end": binary.LittleEndian.AppendUint64(nil, 100),
		"not an object":   withHeader(`[1,2]`, nil),
		"bad json":        withHeader(`{"a":`, nil),
		"no dtype":        withHeader(`{"a":{"shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)),
		"no offsets":      withHeader(`{"a":{"dtype":"F32","shape":[1]}}`, make([]byte, 4)),
		"three offsets":   withHeader(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}`, make([]byte, 8)),
		"unknown field":   withHeader(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1}}`, make([]byte, 4)),
		"unknown dtype":   withHeader(`{"a":{"dtype":"F128","shape":[1],"data_offsets":[0,16]}}`, make([]byte, 16)),
		"negative dim":    withHeader(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, make([]byte, 4)),
		"huge shape":      withHeader(`{"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,4]}}`, make([]byte, 4)),
		"size mismatch":   withHeader(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, make([]byte, 4)),
		"gap":             withHeader(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)),
		"overlap":         withHeader(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)),
		"reversed":        withHeader(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}}`, make([]byte, 4)),
		"bad metadata":    withHeader(`{"__metadata__":{"a":1}}`, nil),
		"bad bool":        withHeader(`{"a":{"dtype":"BOOL","shape":[1],"data_offsets":[0,1]}}`, []byte{2}),
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			if _, _, err := ReadSafetensors(bytes.NewReader(data), int64(len(data))); err == nil {
				t.Fatal("malformed file accepted")
			}
		})
	}
}

func TestWriteErrors(t *testing.T) {
	dir := t.TempDir()
	if err := WriteSafetensors(filepath.Join(dir, "no", "such", "x.safetensors"), sample(), nil); err == nil {
		t.Error("writing into a missing folder succeeded")
	}
	bad := map[string]*tensors.Tensor{metadataKey: tensors.FromScalar(float32(1))}
	if err := WriteSafetensors(filepath.Join(dir, "x.safetensors"), bad, nil); err == nil {
		t.Error("reserved name accepted")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("failed writes left %d files behind", len(entries))
	}
}

func FuzzReadSafetensors(f *testing.F) {
	f.Add(encode(f, sample()))
	f.Add(encode(f, map[string]*tensors.Tensor{"x": tensors.FromScalar(int64(3))}))
	f.Add(withHeader(`{"__metadata__":{"format":"pt"}}`, nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		ts, _, err := ReadSafetensors(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		again := encode(t, ts)
		back, _, err := ReadSafetensors(bytes.NewReader(again), int64(len(again)))
		if err != nil {
			t.Fatalf("re-encoded file rejected: %v", err)
		}
		sameTensors(t, ts, back)
	})
}
