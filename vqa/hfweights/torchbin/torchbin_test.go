package torchbin

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/vilt-go/workbook/vqa/internal/testutil"
)

// pk assembles pickle bytes opcode by opcode, the way torch.save emits them.
type pk struct{ b []byte }

func (p *pk) op(ops ...byte) *pk { p.b = append(p.b, ops...); return p }
func (p *pk) global(module, name string) *pk {
	return p.op(opGlobal).op([]byte(module + "\n" + name + "\n")...)
}
func (p *pk) str(s string) *pk {
	p.op(opBinUnicode)
	p.b = binary.LittleEndian.AppendUint32(p.b, uint32(len(s)))
	return p.op([]byte(s)...)
}
func (p *pk) int(n int64) *pk {
	switch {
	case n >= 0 && n < 256:
		return p.op(opBinInt1, byte(n))
	case n >= 0 && n < 65536:
		p.op(opBinInt2)
		p.b = binary.LittleEndian.AppendUint16(p.b, uint16(n))
	case n >= -1<<31 && n < 1<<31:
		p.op(opBinInt)
		p.b = binary.LittleEndian.AppendUint32(p.b, uint32(n))
	default:
		p.op(opLong1, 8)
		p.b = binary.LittleEndian.AppendUint64(p.b, uint64(n))
	}
	return p
}
func (p *pk) ints(xs ...int64) *pk {
	p.op(opMark)
	for _, x := range xs {
		p.int(x)
	}
	return p.op(opTuple)
}

// view describes one state_dict entry of a synthetic checkpoint.
type view struct {
	name, storageType, key string
	numel, offset          int64
	size, stride           []int64
}

// statePickle emits torch.save(OrderedDict(views)) with a _metadata BUILD.
func statePickle(views []view) []byte {
	p := (&pk{}).op(opProto, 2).global("collections", "OrderedDict").op(opBinPut, 0, opEmptyTuple, opReduce, opMark)
	for _, v := range views {
		p.str(v.name).global("torch._utils", "_rebuild_tensor_v2").op(opMark)
		p.op(opMark).str("storage").global("torch", v.storageType).str(v.key).str("cpu").int(v.numel).op(opTuple, opBinPersID)
		p.int(v.offset).ints(v.size...).ints(v.stride...).op(opNewFalse, opBinGet, 0, opEmptyTuple, opReduce, opTuple, opReduce)
	}
	p.op(opSetItems, opEmptyDict).str("_metadata").op(opBinGet, 0, opEmptyTuple, opReduce)
	p.str("").op(opEmptyDict).str("version").int(1).op(opSetItem, opSetItem, opSetItem, opBuild, opStop)
	return p.b
}

// checkpoint zips a pickle and storages like torch.save does.
func checkpoint(t testing.TB, pkl []byte, storages map[string][]byte, byteorder string) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	add := func(name string, data []byte) {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
	}
	add("archive/data.pkl", pkl)
	if byteorder != "" {
		add("archive/byteorder", []byte(byteorder))
	}
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range storages {
			if !yield(k) {
				return
			}
		}
	}) {
		add("archive/data/"+k, storages[k])
	}
	add("archive/version", []byte("3\n"))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func f32s(xs ...float32) []byte {
	var b []byte
	for _, x := range xs {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

func readZip(t testing.TB, data []byte) (map[string]*tensors.Tensor, error) {
	t.Helper()
	return ReadZip(bytes.NewReader(data), int64(len(data)))
}

func TestViews(t *testing.T) {
	// Storage "0" holds 0..11; "1" holds int64 7, -2.
	s0 := f32s(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
	s1 := binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, 7), uint64(1<<64-2))
	views := []view{
		{"full", "FloatStorage", "0", 12, 0, []int64{3, 4}, []int64{4, 1}},
		{"transposed", "FloatStorage", "0", 12, 0, []int64{4, 3}, []int64{1, 4}},
		{"offset.row", "FloatStorage", "0", 12, 5, []int64{3}, []int64{1}},
		{"strided", "FloatStorage", "0", 12, 1, []int64{2, 2}, []int64{6, 2}},
		{"scalar", "FloatStorage", "0", 12, 11, []int64{}, []int64{}},
		{"empty", "FloatStorage", "0", 12, 0, []int64{0, 5}, []int64{5, 1}},
		{"ids", "LongStorage", "1", 2, 0, []int64{1, 2}, []int64{2, 1}},
	}
	ts, err := readZip(t, checkpoint(t, statePickle(views), map[string][]byte{"0": s0, "1": s1}, "little"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"full":       [][]float32{{0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9, 10, 11}},
		"transposed": [][]float32{{0, 4, 8}, {1, 5, 9}, {2, 6, 10}, {3, 7, 11}},
		"offset.row": []float32{5, 6, 7},
		"strided":    [][]float32{{1, 3}, {7, 9}},
		"scalar":     float32(11),
		"ids":        [][]int64{{7, -2}},
	}
	for name, w := range want {
		if got := ts[name].Value(); !reflect.DeepEqual(got, w) {
			t.Errorf("%s = %v, want %v", name, got, w)
		}
	}
	if dims := ts["empty"].Shape().Dimensions; !slices.Equal(dims, []int{0, 5}) {
		t.Errorf("empty has shape %v", dims)
	}
	if len(ts) != len(views) {
		t.Errorf("read %d tensors, want %d", len(ts), len(views))
	}
}

func TestBigEndian(t *testing.T) {
	var s []byte
	for _, x := range []float32{1.5, -2, 3e-9} {
		s = binary.BigEndian.AppendUint32(s, math.Float32bits(x))
	}
	views := []view{{"w", "FloatStorage", "0", 3, 0, []int64{3}, []int64{1}}}
	ts, err := readZip(t, checkpoint(t, statePickle(views), map[string][]byte{"0": s}, "big"))
	if err != nil {
		t.Fatal(err)
	}
	if got := ts["w"].Value(); !reflect.DeepEqual(got, []float32{1.5, -2, 3e-9}) {
		t.Fatalf("w = %v", got)
	}
}

// TestRejects checks that everything outside a plain state_dict fails with
// an error naming the culprit.
func TestRejects(t *testing.T) {
	good := []view{{"w", "FloatStorage", "0", 2, 0, []int64{2}, []int64{1}}}
	storages := map[string][]byte{"0": f32s(1, 2)}
	goodPkl := statePickle(good)
	evil := (&pk{}).op(opProto, 2).global("os", "system").str("echo hi").op(opTuple1, opReduce, opStop).b
	stackGlobal := (&pk{}).op(opProto, 2).str("os").str("system").op(0x93, opStop).b
	cases := []struct {
		name, want string
		data       []byte
	}{
		{"os.system", "GLOBAL os.system is not allowed", checkpoint(t, evil, storages, "")},
		{"STACK_GLOBAL", "STACK_GLOBAL (0x93)", checkpoint(t, stackGlobal, storages, "")},
		{"INST", "INST (0x69)", checkpoint(t, []byte("\x80\x02(ios\nsystem\n."), storages, "")},
		{"OrderedDict args", "OrderedDict with 1 arguments", checkpoint(t, (&pk{}).op(opProto, 2).global("collections", "OrderedDict").op(opEmptyDict, opTuple1, opReduce, opStop).b, storages, "")},
		{"protocol 4", "PROTO 4", checkpoint(t, append([]byte{opProto, 4}, goodPkl[2:]...), storages, "")},
		{"after STOP", "after STOP", checkpoint(t, append(slices.Clone(goodPkl), opNone), storages, "")},
		{"no STOP", "without STOP", checkpoint(t, goodPkl[:len(goodPkl)-1], storages, "")},
		{"rebuild_parameter", "torch._utils._rebuild_parameter", checkpoint(t, bytes.Replace(goodPkl, []byte("_rebuild_tensor_v2"), []byte("_rebuild_parameter"), 1), storages, "")},
		{"untyped storage", "torch.UntypedStorage", checkpoint(t, statePickle([]view{{"w", "UntypedStorage", "0", 8, 0, []int64{2}, []int64{1}}}), storages, "")},
		{"short storage", "holds 8 bytes, want 12", checkpoint(t, statePickle([]view{{"w", "FloatStorage", "0", 3, 0, []int64{3}, []int64{1}}}), storages, "")},
		{"missing storage", "no entry archive/data/1", checkpoint(t, statePickle([]view{{"w", "FloatStorage", "1", 2, 0, []int64{2}, []int64{1}}}), storages, "")},
		{"past storage", "run past storage", checkpoint(t, statePickle([]view{{"w", "FloatStorage", "0", 2, 1, []int64{2}, []int64{1}}}), storages, "")},
		{"expanded", "expanded", checkpoint(t, statePickle([]view{{"w", "FloatStorage", "0", 2, 0, []int64{3}, []int64{0}}}), storages, "")},
		{"byteorder", "byteorder", checkpoint(t, goodPkl, storages, "middle")},
		{"not a zip", "not a ZIP archive", []byte("\x80\x02}q\x00.")},
		{"no data.pkl", "no <name>/data.pkl", func() []byte {
			var buf bytes.Buffer
			zw := zip.NewWriter(&buf)
			zw.Create("x/other")
			zw.Close()
			return buf.Bytes()
		}()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := readZip(t, c.data)
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not mention %q", err, c.want)
			}
		})
	}
	if _, err := readZip(t, checkpoint(t, goodPkl, storages, "")); err != nil {
		t.Fatalf("the unmodified checkpoint fails: %v", err)
	}
}

func TestSharedStorage(t *testing.T) {
	// Two keys viewing one storage (like tied weights) get equal, independent tensors.
	views := []view{
		{"a", "FloatStorage", "0", 2, 0, []int64{2}, []int64{1}},
		{"b", "FloatStorage", "0", 2, 0, []int64{2}, []int64{1}},
	}
	ts, err := readZip(t, checkpoint(t, statePickle(views), map[string][]byte{"0": f32s(3, 4)}, ""))
	if err != nil {
		t.Fatal(err)
	}
	tensors.MustMutableFlatData(ts["a"], func(x []float32) { x[0] = 9 })
	if got := ts["b"].Value(); !reflect.DeepEqual(got, []float32{3, 4}) {
		t.Fatalf("b = %v after changing a", got)
	}
}

// seedCheckpoints lists testdata/views.bin and every fixture checkpoint.
func seedCheckpoints(t testing.TB) []string {
	files, _ := filepath.Glob(filepath.Join(testutil.Fixtures(t, "vilt"), "*", "pytorch_model.bin"))
	return append(files, filepath.Join("testdata", "views.bin"))
}

// fixturePickles returns data.pkl of every seed checkpoint.
func fixturePickles(t testing.TB) [][]byte {
	files := seedCheckpoints(t)
	var out [][]byte
	for _, file := range files {
		zr, err := zip.OpenReader(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range zr.File {
			if strings.HasSuffix(f.Name, "/data.pkl") {
				rc, _ := f.Open()
				var buf bytes.Buffer
				buf.ReadFrom(rc)
				rc.Close()
				out = append(out, buf.Bytes())
			}
		}
		zr.Close()
	}
	return out
}

func FuzzUnpickle(f *testing.F) {
	f.Add(statePickle([]view{
		{"w", "FloatStorage", "0", 12, 1, []int64{2, 2}, []int64{6, 2}},
		{"b", "LongStorage", "1", 3, 0, []int64{3}, []int64{1}},
		{"s", "BFloat16Storage", "2", 1, 0, []int64{}, []int64{}},
	}))
	for _, p := range fixturePickles(f) {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := unpickle(data)
		if err != nil {
			return
		}
		load := func(key string, n int64) ([]byte, error) {
			if n > 1<<16 {
				return nil, os.ErrInvalid
			}
			return make([]byte, n), nil
		}
		ts, err := materialise(entries, load, false)
		if err != nil {
			return
		}
		for _, e := range entries {
			if ts[e.name] == nil {
				t.Fatalf("entry %q has no tensor", e.name)
			}
		}
	})
}

func FuzzReadZip(f *testing.F) {
	f.Add(checkpoint(f, statePickle([]view{{"w", "FloatStorage", "0", 2, 0, []int64{2}, []int64{1}}}), map[string][]byte{"0": f32s(1, 2)}, "little"))
	views, err := os.ReadFile(filepath.Join("testdata", "views.bin"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(views)
	f.Fuzz(func(t *testing.T, data []byte) {
		readZip(t, data)
	})
}
