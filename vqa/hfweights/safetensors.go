package hfweights

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math/bits"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/tensors"
)

// MaxHeaderSize bounds the JSON header of a safetensors file (the reference
// Rust implementation uses the same 100 MB limit).
const MaxHeaderSize = 100 << 20

// metadataKey is the reserved header entry holding string-to-string metadata.
const metadataKey = "__metadata__"

// stDTypes maps safetensors dtype names to GoMLX dtypes.
var stDTypes = map[string]dtypes.DType{
	"BOOL": dtypes.Bool,
	"U8":   dtypes.Uint8,
	"I8":   dtypes.Int8,
	"U16":  dtypes.Uint16,
	"I16":  dtypes.Int16,
	"F16":  dtypes.Float16,
	"BF16": dtypes.BFloat16,
	"U32":  dtypes.Uint32,
	"I32":  dtypes.Int32,
	"F32":  dtypes.Float32,
	"U64":  dtypes.Uint64,
	"I64":  dtypes.Int64,
	"F64":  dtypes.Float64,
}

// stName returns the safetensors name of a GoMLX dtype.
func stName(dt dtypes.DType) (string, bool) {
	for name, d := range stDTypes {
		if d == dt {
			return name, true
		}
	}
	return "", false
}

// tensorInfo is one tensor entry of a safetensors header.
type tensorInfo struct {
	DType       string  `json:"dtype"`
	Shape       []int64 `json:"shape"`
	DataOffsets []int64 `json:"data_offsets"`
}

// ReadSafetensors decodes a safetensors file of the given size from r.
// It validates the whole layout the way the reference implementation does:
// the header is a JSON object starting with '{', every tensor has a known
// dtype, non-negative dimensions and a byte range matching its shape, and the
// ranges tile the data section exactly (no gaps, no overlaps, no trailing
// bytes). It returns the tensors keyed by name and the header's
// "__metadata__" map (nil when absent).
func ReadSafetensors(r io.ReaderAt, size int64) (ts map[string]*tensors.Tensor, metadata map[string]string, err error) {
	if !littleEndianHost() {
		return nil, nil, fmt.Errorf("safetensors: big-endian hosts are not supported")
	}
	if size < 8 {
		return nil, nil, fmt.Errorf("safetensors: file has %d bytes, need at least the 8-byte header length", size)
	}
	var lenBuf [8]byte
	if _, err := r.ReadAt(lenBuf[:], 0); err != nil {
		return nil, nil, fmt.Errorf("safetensors: reading header length: %w", err)
	}
	hlen := binary.LittleEndian.Uint64(lenBuf[:])
	if hlen > MaxHeaderSize {
		return nil, nil, fmt.Errorf("safetensors: header length %d exceeds the %d-byte limit", hlen, MaxHeaderSize)
	}
	if int64(hlen) > size-8 {
		return nil, nil, fmt.Errorf("safetensors: header length %d exceeds the file size %d", hlen, size)
	}
	header := make([]byte, hlen)
	if _, err := r.ReadAt(header, 8); err != nil {
		return nil, nil, fmt.Errorf("safetensors: reading %d-byte header: %w", hlen, err)
	}
	infos, metadata, err := parseHeader(header)
	if err != nil {
		return nil, nil, err
	}
	dataStart := 8 + int64(hlen)
	names, err := validateLayout(infos, size-dataStart)
	if err != nil {
		return nil, nil, err
	}
	ts = make(map[string]*tensors.Tensor, len(names))
	for _, name := range names {
		info := infos[name]
		dims := make([]int, len(info.Shape))
		for i, d := range info.Shape {
			dims[i] = int(d)
		}
		dt := stDTypes[info.DType]
		t := tensors.FromShape(shapes.Make(dt, dims...))
		var readErr error
		if err := t.MutableBytes(func(buf []byte) {
			if len(buf) == 0 {
				return
			}
			_, readErr = r.ReadAt(buf, dataStart+info.DataOffsets[0])
			if readErr == nil && dt == dtypes.Bool {
				readErr = checkBools(buf)
			}
		}); err != nil {
			return nil, nil, fmt.Errorf("safetensors: tensor %q: %w", name, err)
		}
		if readErr != nil {
			return nil, nil, fmt.Errorf("safetensors: tensor %q: reading data: %w", name, readErr)
		}
		ts[name] = t
	}
	return ts, metadata, nil
}

// checkBools rejects BOOL bytes other than 0 and 1.
func checkBools(buf []byte) error {
	for i, b := range buf {
		if b > 1 {
			return fmt.Errorf("BOOL element %d has byte value %d, want 0 or 1", i, b)
		}
	}
	return nil
}

// parseHeader decodes the JSON header into tensor entries and metadata.
func parseHeader(header []byte) (map[string]tensorInfo, map[string]string, error) {
	if len(header) == 0 || header[0] != '{' {
		return nil, nil, fmt.Errorf("safetensors: header does not start with '{'")
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(header, &raw); err != nil {
		return nil, nil, fmt.Errorf("safetensors: header is not a JSON object: %w", err)
	}
	var metadata map[string]string
	infos := make(map[string]tensorInfo, len(raw))
	for name, msg := range raw {
		if name == metadataKey {
			if err := json.Unmarshal(msg, &metadata); err != nil {
				return nil, nil, fmt.Errorf("safetensors: %s must map strings to strings: %w", metadataKey, err)
			}
			continue
		}
		var info tensorInfo
		dec := json.NewDecoder(bytes.NewReader(msg))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&info); err != nil {
			return nil, nil, fmt.Errorf("safetensors: tensor %q: bad entry %s: %w", name, msg, err)
		}
		if info.Shape == nil || info.DType == "" || len(info.DataOffsets) != 2 {
			return nil, nil, fmt.Errorf("safetensors: tensor %q: entry %s needs dtype, shape and two data_offsets", name, msg)
		}
		infos[name] = info
	}
	return infos, metadata, nil
}

// validateLayout checks every entry against its dtype and shape and that the
// byte ranges tile [0, dataLen) exactly. It returns the names in file order.
func validateLayout(infos map[string]tensorInfo, dataLen int64) ([]string, error) {
	names := make([]string, 0, len(infos))
	for name, info := range infos {
		dt, ok := stDTypes[info.DType]
		if !ok {
			return nil, fmt.Errorf("safetensors: tensor %q: unsupported dtype %q", name, info.DType)
		}
		n, err := byteSize(dt, info.Shape, uint64(dataLen))
		if err != nil {
			return nil, fmt.Errorf("safetensors: tensor %q: %w", name, err)
		}
		begin, end := info.DataOffsets[0], info.DataOffsets[1]
		if begin < 0 || end < begin || end > dataLen {
			return nil, fmt.Errorf("safetensors: tensor %q: data_offsets [%d, %d] outside the %d data bytes", name, begin, end, dataLen)
		}
		if uint64(end-begin) != n {
			return nil, fmt.Errorf("safetensors: tensor %q: %s%v needs %d bytes, data_offsets [%d, %d] hold %d", name, info.DType, info.Shape, n, begin, end, end-begin)
		}
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool {
		a, b := infos[names[i]].DataOffsets, infos[names[j]].DataOffsets
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		if a[1] != b[1] {
			return a[1] < b[1]
		}
		return names[i] < names[j]
	})
	var pos int64
	for _, name := range names {
		off := infos[name].DataOffsets
		if off[0] != pos {
			return nil, fmt.Errorf("safetensors: tensor %q: data starts at %d, want %d (ranges must be contiguous and non-overlapping)", name, off[0], pos)
		}
		pos = off[1]
	}
	if pos != dataLen {
		return nil, fmt.Errorf("safetensors: tensors cover %d data bytes but the file holds %d", pos, dataLen)
	}
	return names, nil
}

// byteSize returns the byte size of a dtype tensor of the given shape,
// failing on negative dimensions and on sizes above limit.
func byteSize(dt dtypes.DType, shape []int64, limit uint64) (uint64, error) {
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension in shape %v", shape)
		}
		if d == 0 {
			return 0, nil
		}
	}
	n := uint64(dt.Size())
	for _, d := range shape {
		hi, lo := bits.Mul64(n, uint64(d))
		if hi != 0 || lo > limit {
			return 0, fmt.Errorf("shape %v needs more than the %d available data bytes", shape, limit)
		}
		n = lo
	}
	return n, nil
}

// WriteSafetensors writes ts to path in the safetensors format: an 8-byte
// little-endian header length, a compact JSON header padded with spaces to a
// multiple of 8 bytes, then the raw little-endian row-major data of every
// tensor in sorted-name order. metadata becomes the header's "__metadata__"
// entry; "format" defaults to "pt", which transformers requires. The file is
// written to a temporary file in the same folder and renamed into place, so
// readers never see a partial file.
func WriteSafetensors(path string, ts map[string]*tensors.Tensor, metadata map[string]string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("safetensors: writing %s: %v", path, r)
		}
	}()
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("safetensors: writing %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	w := bufio.NewWriterSize(f, 1<<20)
	if err := encodeSafetensors(w, ts, metadata); err != nil {
		return fmt.Errorf("safetensors: writing %s: %w", path, err)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("safetensors: writing %s: %w", path, err)
	}
	if err := f.Chmod(0o644); err != nil {
		return fmt.Errorf("safetensors: writing %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("safetensors: writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("safetensors: writing %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("safetensors: writing %s: %w", path, err)
	}
	return nil
}

// encodeSafetensors writes the safetensors encoding of ts to w.
func encodeSafetensors(w io.Writer, ts map[string]*tensors.Tensor, metadata map[string]string) error {
	if !littleEndianHost() {
		return fmt.Errorf("big-endian hosts are not supported")
	}
	names := make([]string, 0, len(ts))
	for name := range ts {
		if name == metadataKey {
			return fmt.Errorf("tensor name %q is reserved", name)
		}
		if ts[name] == nil {
			return fmt.Errorf("tensor %q is nil", name)
		}
		names = append(names, name)
	}
	slices.Sort(names)
	header := make(map[string]any, len(ts)+1)
	md := map[string]string{"format": "pt"}
	for k, v := range metadata {
		md[k] = v
	}
	header[metadataKey] = md
	var offset int64
	for _, name := range names {
		shape := ts[name].Shape()
		dt, ok := stName(shape.DType)
		if !ok || shape.IsTuple() {
			return fmt.Errorf("tensor %q: shape %s has no safetensors dtype", name, shape)
		}
		dims := shape.Dimensions
		if dims == nil {
			dims = []int{}
		}
		n := shape.ByteSize()
		header[name] = struct {
			DType       string   `json:"dtype"`
			Shape       []int    `json:"shape"`
			DataOffsets [2]int64 `json:"data_offsets"`
		}{dt, dims, [2]int64{offset, offset + n}}
		offset += n
	}
	hjson, err := json.Marshal(header)
	if err != nil {
		return fmt.Errorf("encoding header: %w", err)
	}
	if pad := (8 - len(hjson)%8) % 8; pad > 0 {
		hjson = append(hjson, bytes.Repeat([]byte{' '}, pad)...)
	}
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(hjson)))
	if _, err := w.Write(lenBuf[:]); err != nil {
		return err
	}
	if _, err := w.Write(hjson); err != nil {
		return err
	}
	for _, name := range names {
		t := ts[name]
		var werr error
		if err := t.ConstBytes(func(data []byte) {
			if int64(len(data)) != t.Shape().ByteSize() {
				werr = fmt.Errorf("tensor %q: %d data bytes for shape %s", name, len(data), t.Shape())
				return
			}
			_, werr = w.Write(data)
		}); err != nil {
			return fmt.Errorf("tensor %q: %w", name, err)
		}
		if werr != nil {
			return werr
		}
	}
	return nil
}

// littleEndianHost reports whether tensors hold little-endian bytes in memory.
func littleEndianHost() bool {
	var probe [2]byte
	binary.NativeEndian.PutUint16(probe[:], 1)
	return probe[0] == 1
}
