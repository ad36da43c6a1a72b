// Package torchbin reads PyTorch checkpoints written by
// torch.save(model.state_dict()) in the default ZIP format (PyTorch >= 1.6),
// such as HuggingFace's pytorch_model.bin.
//
// The archive's data.pkl is run by a restricted pickle interpreter that
// accepts only what torch.save emits for a state_dict: ordered dicts of
// tensors rebuilt by torch._utils._rebuild_tensor_v2 from typed storages.
// Any other opcode or global is rejected with an error naming it, so a
// checkpoint can never execute code or build arbitrary objects.
package torchbin

import (
	"archive/zip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"os"
	"slices"
	"strings"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/tensors"
)

// maxPickleSize bounds data.pkl, which holds only names and small tuples.
const maxPickleSize = 256 << 20

// maxRatio bounds a deflated entry's expansion (deflate cannot exceed ~1032).
const maxRatio = 1100

// Read loads the state_dict of the PyTorch checkpoint at path.
func Read(path string) (map[string]*tensors.Tensor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	ts, err := ReadZip(f, info.Size())
	if err != nil {
		return nil, fmt.Errorf("reading PyTorch checkpoint %s: %w", path, err)
	}
	return ts, nil
}

// ReadZip loads the state_dict of a PyTorch ZIP checkpoint of the given size.
func ReadZip(r io.ReaderAt, size int64) (ts map[string]*tensors.Tensor, err error) {
	defer func() {
		if p := recover(); p != nil {
			ts, err = nil, fmt.Errorf("internal error: %v", p)
		}
	}()
	if !littleEndianHost() {
		return nil, errors.New("big-endian hosts are not supported")
	}
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, fmt.Errorf("not a ZIP archive (legacy non-ZIP torch.save files are not supported; re-save with PyTorch >= 1.6): %w", err)
	}
	a := &archive{size: size, files: map[string]*zip.File{}}
	for _, f := range zr.File {
		if _, dup := a.files[f.Name]; dup {
			return nil, fmt.Errorf("archive holds %s twice", f.Name)
		}
		a.files[f.Name] = f
		if strings.HasSuffix(f.Name, "/data.pkl") && strings.Count(f.Name, "/") == 1 {
			if a.prefix != "" {
				return nil, fmt.Errorf("archive holds several data.pkl (%sdata.pkl, %s)", a.prefix, f.Name)
			}
			a.prefix = strings.TrimSuffix(f.Name, "data.pkl")
		}
	}
	if a.prefix == "" {
		return nil, errors.New("archive has no <name>/data.pkl: not a torch.save checkpoint")
	}
	if err := a.readByteOrder(); err != nil {
		return nil, err
	}
	pkl, err := a.read(a.prefix+"data.pkl", maxPickleSize, false)
	if err != nil {
		return nil, err
	}
	entries, err := unpickle(pkl)
	if err != nil {
		return nil, fmt.Errorf("%sdata.pkl: %w", a.prefix, err)
	}
	return materialise(entries, a.storage, a.bigEndian)
}

// archive is an opened checkpoint.
type archive struct {
	size      int64
	prefix    string
	files     map[string]*zip.File
	bigEndian bool
}

// readByteOrder reads the optional byteorder entry ("little" when absent).
func (a *archive) readByteOrder() error {
	if _, ok := a.files[a.prefix+"byteorder"]; !ok {
		return nil
	}
	b, err := a.read(a.prefix+"byteorder", 16, false)
	if err != nil {
		return err
	}
	switch string(b) {
	case "little":
	case "big":
		a.bigEndian = true
	default:
		return fmt.Errorf("%sbyteorder is %q, want \"little\" or \"big\"", a.prefix, b)
	}
	return nil
}

// storage returns the raw bytes of data/<key>, which must hold exactly n bytes.
func (a *archive) storage(key string, n int64) ([]byte, error) {
	return a.read(a.prefix+"data/"+key, n, true)
}

// read returns the content of an entry holding exactly (exact) or at most
// limit bytes.
func (a *archive) read(name string, limit int64, exact bool) ([]byte, error) {
	f, ok := a.files[name]
	if !ok {
		return nil, fmt.Errorf("archive has no entry %s", name)
	}
	n := f.UncompressedSize64
	switch {
	case exact && n != uint64(limit):
		return nil, fmt.Errorf("%s holds %d bytes, want %d", name, n, limit)
	case n > uint64(limit):
		return nil, fmt.Errorf("%s holds %d bytes, more than the %d-byte limit", name, n, limit)
	case f.Method == zip.Store && f.CompressedSize64 != n:
		return nil, fmt.Errorf("%s: stored entry with %d compressed and %d uncompressed bytes", name, f.CompressedSize64, n)
	case n/maxRatio > f.CompressedSize64 || f.CompressedSize64 > uint64(a.size):
		return nil, fmt.Errorf("%s: implausible sizes (%d bytes from %d compressed)", name, n, f.CompressedSize64)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	defer rc.Close()
	buf := make([]byte, n)
	if _, err := io.ReadFull(rc, buf); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	// Reading to EOF makes archive/zip verify the CRC-32.
	if m, err := rc.Read(make([]byte, 1)); m != 0 || err != io.EOF {
		if err == nil || err == io.EOF {
			err = errors.New("longer than its declared size")
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return buf, nil
}

// materialise builds a tensor per entry from the storages load returns,
// sharing each storage among the tensors that reference it and dropping it
// after its last use.
func materialise(entries []namedTensor, load func(key string, n int64) ([]byte, error), bigEndian bool) (map[string]*tensors.Tensor, error) {
	uses := map[string]int{}
	types := map[string]*storage{}
	for _, e := range entries {
		s := e.ref.storage
		if prev, ok := types[s.key]; ok && (prev.typeName != s.typeName || prev.numel != s.numel) {
			return nil, fmt.Errorf("storage %s is referenced as %s[%d] and as %s[%d]", s.key, prev.typeName, prev.numel, s.typeName, s.numel)
		}
		types[s.key] = s
		uses[s.key]++
	}
	cache := map[string][]byte{}
	out := make(map[string]*tensors.Tensor, len(entries))
	for _, e := range entries {
		if _, dup := out[e.name]; dup {
			return nil, fmt.Errorf("state_dict key %q appears twice", e.name)
		}
		s := e.ref.storage
		es := int64(s.dtype.Size())
		hi, nbytes := bits.Mul64(uint64(s.numel), uint64(es))
		if hi != 0 || nbytes > 1<<62 {
			return nil, fmt.Errorf("%s: storage %s of %d elements is too large", e.name, s.key, s.numel)
		}
		data, ok := cache[s.key]
		if !ok {
			var err error
			data, err = load(s.key, int64(nbytes))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", e.name, err)
			}
			if bigEndian {
				swapBytes(data, int(es))
			}
			if s.dtype == dtypes.Bool {
				for i, b := range data {
					if b > 1 {
						return nil, fmt.Errorf("%s: BoolStorage %s element %d is %d, want 0 or 1", e.name, s.key, i, b)
					}
				}
			}
			cache[s.key] = data
		}
		t, err := gather(e.ref, data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e.name, err)
		}
		out[e.name] = t
		if uses[s.key]--; uses[s.key] == 0 {
			delete(cache, s.key)
		}
	}
	return out, nil
}

// gather copies a (possibly strided) view of storage bytes into a new tensor.
func gather(ref *tensorRef, data []byte) (*tensors.Tensor, error) {
	s := ref.storage
	es := int64(s.dtype.Size())
	numel := int64(1)
	if slices.Contains(ref.size, 0) {
		numel = 0 // an empty view reads nothing, whatever its offset and strides
	}
	last := ref.offset // largest storage index the view touches
	for i, d := range ref.size {
		if numel == 0 {
			break
		}
		hi, lo := bits.Mul64(uint64(numel), uint64(d))
		if hi != 0 || lo > uint64(s.numel) {
			return nil, fmt.Errorf("size %v has more elements than storage %s (%d): expanded or overlapping views are not supported", ref.size, s.key, s.numel)
		}
		numel = int64(lo)
		hi, lo = bits.Mul64(uint64(d-1), uint64(ref.stride[i]))
		if last += int64(lo); hi != 0 || lo >= uint64(s.numel) || last >= s.numel {
			return nil, fmt.Errorf("offset %d, size %v and stride %v run past storage %s of %d elements", ref.offset, ref.size, ref.stride, s.key, s.numel)
		}
	}
	if numel > 0 && last >= s.numel {
		return nil, fmt.Errorf("offset %d runs past storage %s of %d elements", ref.offset, s.key, s.numel)
	}
	dims := make([]int, len(ref.size))
	for i, d := range ref.size {
		dims[i] = int(d)
	}
	t := tensors.FromShape(shapes.Make(s.dtype, dims...))
	if numel == 0 {
		return t, nil
	}
	err := t.MutableBytes(func(buf []byte) {
		if contiguous(ref.size, ref.stride) {
			copy(buf, data[ref.offset*es:(ref.offset+numel)*es])
			return
		}
		idx := make([]int64, len(ref.size))
		for i := int64(0); i < numel; i++ {
			src := ref.offset
			for k, x := range idx {
				src += x * ref.stride[k]
			}
			copy(buf[i*es:(i+1)*es], data[src*es:(src+1)*es])
			for k := len(idx) - 1; k >= 0; k-- {
				if idx[k]++; idx[k] < ref.size[k] {
					break
				}
				idx[k] = 0
			}
		}
	})
	return t, err
}

// contiguous reports whether stride is row-major for size (axes of
// length 1 may have any stride).
func contiguous(size, stride []int64) bool {
	want := int64(1)
	for i := len(size) - 1; i >= 0; i-- {
		if size[i] != 1 && stride[i] != want {
			return false
		}
		want *= size[i]
	}
	return true
}

// swapBytes reverses the byte order of each es-byte element in place.
func swapBytes(data []byte, es int) {
	if es == 1 {
		return
	}
	for i := 0; i+es <= len(data); i += es {
		for a, b := i, i+es-1; a < b; a, b = a+1, b-1 {
			data[a], data[b] = data[b], data[a]
		}
	}
}

// littleEndianHost reports whether tensors hold little-endian bytes in memory.
func littleEndianHost() bool {
	var probe [2]byte
	binary.NativeEndian.PutUint16(probe[:], 1)
	return probe[0] == 1
}
