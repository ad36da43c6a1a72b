package torchbin

import (
	"encoding/binary"
	"fmt"
	"unicode/utf8"

	"github.com/gomlx/compute/dtypes"
)

// Pickle opcodes accepted by the restricted interpreter: exactly those that
// torch.save (pickle protocol 2) emits for a state_dict.
const (
	opProto      = 0x80
	opGlobal     = 'c'
	opBinPut     = 'q'
	opLongBinPut = 'r'
	opBinGet     = 'h'
	opLongBinGet = 'j'
	opMark       = '('
	opEmptyTuple = ')'
	opTuple      = 't'
	opTuple1     = 0x85
	opTuple2     = 0x86
	opTuple3     = 0x87
	opEmptyDict  = '}'
	opSetItem    = 's'
	opSetItems   = 'u'
	opBinUnicode = 'X'
	opBinInt     = 'J'
	opBinInt1    = 'K'
	opBinInt2    = 'M'
	opLong1      = 0x8a
	opNewTrue    = 0x88
	opNewFalse   = 0x89
	opNone       = 'N'
	opReduce     = 'R'
	opBuild      = 'b'
	opBinPersID  = 'Q'
	opStop       = '.'
)

// opNames names every pickle opcode (protocols 0-5) for error messages.
var opNames = map[byte]string{
	0x28: "MARK", 0x29: "EMPTY_TUPLE", 0x2e: "STOP", 0x30: "POP", 0x31: "POP_MARK", 0x32: "DUP",
	0x42: "BINBYTES", 0x43: "SHORT_BINBYTES", 0x46: "FLOAT", 0x47: "BINFLOAT", 0x49: "INT",
	0x4a: "BININT", 0x4b: "BININT1", 0x4c: "LONG", 0x4d: "BININT2", 0x4e: "NONE", 0x50: "PERSID",
	0x51: "BINPERSID", 0x52: "REDUCE", 0x53: "STRING", 0x54: "BINSTRING", 0x55: "SHORT_BINSTRING",
	0x56: "UNICODE", 0x58: "BINUNICODE", 0x5d: "EMPTY_LIST", 0x61: "APPEND", 0x62: "BUILD",
	0x63: "GLOBAL", 0x64: "DICT", 0x65: "APPENDS", 0x67: "GET", 0x68: "BINGET", 0x69: "INST",
	0x6a: "LONG_BINGET", 0x6c: "LIST", 0x6f: "OBJ", 0x70: "PUT", 0x71: "BINPUT", 0x72: "LONG_BINPUT",
	0x73: "SETITEM", 0x74: "TUPLE", 0x75: "SETITEMS", 0x7d: "EMPTY_DICT", 0x80: "PROTO",
	0x81: "NEWOBJ", 0x82: "EXT1", 0x83: "EXT2", 0x84: "EXT4", 0x85: "TUPLE1", 0x86: "TUPLE2",
	0x87: "TUPLE3", 0x88: "NEWTRUE", 0x89: "NEWFALSE", 0x8a: "LONG1", 0x8b: "LONG4",
	0x8c: "SHORT_BINUNICODE", 0x8d: "BINUNICODE8", 0x8e: "BINBYTES8", 0x8f: "EMPTY_SET",
	0x90: "ADDITEMS", 0x91: "FROZENSET", 0x92: "NEWOBJ_EX", 0x93: "STACK_GLOBAL", 0x94: "MEMOIZE",
	0x95: "FRAME", 0x96: "BYTEARRAY8", 0x97: "NEXT_BUFFER", 0x98: "READONLY_BUFFER",
}

// opName returns "NAME (0xNN)" for an opcode byte.
func opName(op byte) string {
	if n, ok := opNames[op]; ok {
		return fmt.Sprintf("%s (0x%02x)", n, op)
	}
	return fmt.Sprintf("unknown opcode 0x%02x", op)
}

// storageDTypes maps the accepted torch storage classes to GoMLX dtypes.
var storageDTypes = map[string]dtypes.DType{
	"DoubleStorage":   dtypes.Float64,
	"FloatStorage":    dtypes.Float32,
	"HalfStorage":     dtypes.Float16,
	"BFloat16Storage": dtypes.BFloat16,
	"LongStorage":     dtypes.Int64,
	"IntStorage":      dtypes.Int32,
	"ShortStorage":    dtypes.Int16,
	"CharStorage":     dtypes.Int8,
	"ByteStorage":     dtypes.Uint8,
	"BoolStorage":     dtypes.Bool,
}

// Values the interpreter can build. Nothing else can ever be constructed.
type (
	// global is a whitelisted class or function named by GLOBAL.
	global struct{ module, name string }
	// tuple is a Python tuple.
	tuple []any
	// dict is a Python dict or collections.OrderedDict with string keys.
	dict struct {
		keys []string
		vals map[string]any
	}
	// none is Python's None.
	none struct{}
	// storage is a persistent-id reference to a typed storage in data/<key>.
	storage struct {
		typeName string
		dtype    dtypes.DType
		key      string
		numel    int64
	}
	// tensorRef is the result of torch._utils._rebuild_tensor_v2.
	tensorRef struct {
		storage      *storage
		offset       int64
		size, stride []int64
	}
)

// set stores v under k, keeping insertion order.
func (d *dict) set(k string, v any) {
	if _, ok := d.vals[k]; !ok {
		d.keys = append(d.keys, k)
	}
	d.vals[k] = v
}

func newDict() *dict { return &dict{vals: map[string]any{}} }

// namedTensor is one state_dict entry.
type namedTensor struct {
	name string
	ref  *tensorRef
}

// unpickler is the restricted interpreter's state.
type unpickler struct {
	data  []byte
	pos   int
	stack []any
	marks []int
	memo  map[uint32]any
}

// unpickle runs the restricted interpreter over a torch.save'd state_dict
// pickle and returns its entries in order. Any opcode, global or value shape
// that torch.save(state_dict) does not produce is an error naming it.
func unpickle(data []byte) ([]namedTensor, error) {
	u := &unpickler{data: data, memo: map[uint32]any{}}
	for {
		if u.pos >= len(u.data) {
			return nil, fmt.Errorf("pickle ends at byte %d without STOP", u.pos)
		}
		at := u.pos
		op := u.data[u.pos]
		u.pos++
		done, err := u.step(op)
		if err != nil {
			return nil, fmt.Errorf("pickle %s at byte %d: %w", opName(op), at, err)
		}
		if done {
			break
		}
	}
	if u.pos != len(u.data) {
		return nil, fmt.Errorf("pickle has %d bytes after STOP", len(u.data)-u.pos)
	}
	if len(u.stack) != 1 || len(u.marks) != 0 {
		return nil, fmt.Errorf("pickle leaves %d values and %d marks, want one dict", len(u.stack), len(u.marks))
	}
	d, ok := u.stack[0].(*dict)
	if !ok {
		return nil, fmt.Errorf("pickle holds a %s, want a state_dict (dict of tensors)", kind(u.stack[0]))
	}
	out := make([]namedTensor, 0, len(d.keys))
	for _, k := range d.keys {
		ref, ok := d.vals[k].(*tensorRef)
		if !ok {
			return nil, fmt.Errorf("state_dict entry %q is a %s, want a tensor", k, kind(d.vals[k]))
		}
		out = append(out, namedTensor{k, ref})
	}
	return out, nil
}

// kind names a value's Python type for error messages.
func kind(v any) string {
	switch v := v.(type) {
	case global:
		return "global " + v.module + "." + v.name
	case tuple:
		return "tuple"
	case *dict:
		return "dict"
	case none:
		return "None"
	case *storage:
		return "storage"
	case *tensorRef:
		return "tensor"
	case string:
		return "str"
	case int64:
		return "int"
	case bool:
		return "bool"
	}
	return fmt.Sprintf("%T", v)
}

// step executes one opcode and reports whether it was STOP.
func (u *unpickler) step(op byte) (bool, error) {
	switch op {
	case opProto:
		b, err := u.read(1)
		if err != nil {
			return false, err
		}
		if b[0] != 2 {
			return false, fmt.Errorf("PROTO %d, want 2 (torch.save's protocol)", b[0])
		}
	case opGlobal:
		module, err := u.line()
		if err != nil {
			return false, err
		}
		name, err := u.line()
		if err != nil {
			return false, err
		}
		if !allowedGlobal(module, name) {
			return false, fmt.Errorf("GLOBAL %s.%s is not allowed (only collections.OrderedDict, torch._utils._rebuild_tensor_v2 and torch.*Storage)", module, name)
		}
		u.push(global{module, name})
	case opBinPut, opLongBinPut:
		idx, err := u.index(op == opLongBinPut)
		if err != nil {
			return false, err
		}
		v, err := u.top()
		if err != nil {
			return false, err
		}
		u.memo[idx] = v
	case opBinGet, opLongBinGet:
		idx, err := u.index(op == opLongBinGet)
		if err != nil {
			return false, err
		}
		v, ok := u.memo[idx]
		if !ok {
			return false, fmt.Errorf("memo entry %d is not set", idx)
		}
		u.push(v)
	case opMark:
		u.marks = append(u.marks, len(u.stack))
	case opEmptyTuple:
		u.push(tuple{})
	case opTuple:
		items, err := u.popMark()
		if err != nil {
			return false, err
		}
		u.push(tuple(items))
	case opTuple1, opTuple2, opTuple3:
		n := int(op-opTuple1) + 1
		items, err := u.popN(n)
		if err != nil {
			return false, err
		}
		u.push(tuple(items))
	case opEmptyDict:
		u.push(newDict())
	case opSetItem:
		items, err := u.popN(2)
		if err != nil {
			return false, err
		}
		if err := u.setItems(items); err != nil {
			return false, err
		}
	case opSetItems:
		items, err := u.popMark()
		if err != nil {
			return false, err
		}
		if err := u.setItems(items); err != nil {
			return false, err
		}
	case opBinUnicode:
		b, err := u.read(4)
		if err != nil {
			return false, err
		}
		n := binary.LittleEndian.Uint32(b)
		s, err := u.read(int(n))
		if err != nil {
			return false, err
		}
		if !utf8.Valid(s) {
			return false, fmt.Errorf("BINUNICODE string is not valid UTF-8")
		}
		u.push(string(s))
	case opBinInt:
		b, err := u.read(4)
		if err != nil {
			return false, err
		}
		u.push(int64(int32(binary.LittleEndian.Uint32(b))))
	case opBinInt1:
		b, err := u.read(1)
		if err != nil {
			return false, err
		}
		u.push(int64(b[0]))
	case opBinInt2:
		b, err := u.read(2)
		if err != nil {
			return false, err
		}
		u.push(int64(binary.LittleEndian.Uint16(b)))
	case opLong1:
		nb, err := u.read(1)
		if err != nil {
			return false, err
		}
		if nb[0] > 8 {
			return false, fmt.Errorf("LONG1 with %d bytes does not fit in int64", nb[0])
		}
		b, err := u.read(int(nb[0]))
		if err != nil {
			return false, err
		}
		var buf [8]byte
		copy(buf[:], b)
		if len(b) > 0 && b[len(b)-1]&0x80 != 0 {
			for i := len(b); i < 8; i++ {
				buf[i] = 0xff
			}
		}
		u.push(int64(binary.LittleEndian.Uint64(buf[:])))
	case opNewTrue:
		u.push(true)
	case opNewFalse:
		u.push(false)
	case opNone:
		u.push(none{})
	case opReduce:
		items, err := u.popN(2)
		if err != nil {
			return false, err
		}
		v, err := reduce(items[0], items[1])
		if err != nil {
			return false, err
		}
		u.push(v)
	case opBuild:
		items, err := u.popN(2)
		if err != nil {
			return false, err
		}
		if _, ok := items[0].(*dict); !ok {
			return false, fmt.Errorf("BUILD on a %s, only an OrderedDict's attributes are allowed", kind(items[0]))
		}
		switch items[1].(type) {
		case *dict, none: // the state_dict's _metadata attribute: dropped
		default:
			return false, fmt.Errorf("BUILD with a %s state, want a dict", kind(items[1]))
		}
		u.push(items[0])
	case opBinPersID:
		items, err := u.popN(1)
		if err != nil {
			return false, err
		}
		s, err := persistentStorage(items[0])
		if err != nil {
			return false, err
		}
		u.push(s)
	case opStop:
		return true, nil
	default:
		return false, fmt.Errorf("opcode not allowed in a torch.save'd state_dict")
	}
	return false, nil
}

// allowedGlobal is the whitelist of GLOBAL names.
func allowedGlobal(module, name string) bool {
	switch module {
	case "collections":
		return name == "OrderedDict"
	case "torch._utils":
		return name == "_rebuild_tensor_v2"
	case "torch":
		_, ok := storageDTypes[name]
		return ok
	}
	return false
}

// reduce applies REDUCE: only OrderedDict() and _rebuild_tensor_v2(...).
func reduce(callable, args any) (any, error) {
	g, ok := callable.(global)
	if !ok {
		return nil, fmt.Errorf("REDUCE calls a %s, want a whitelisted global", kind(callable))
	}
	a, ok := args.(tuple)
	if !ok {
		return nil, fmt.Errorf("REDUCE %s.%s with %s arguments, want a tuple", g.module, g.name, kind(args))
	}
	switch {
	case g == global{"collections", "OrderedDict"}:
		if len(a) != 0 {
			return nil, fmt.Errorf("REDUCE collections.OrderedDict with %d arguments, want 0", len(a))
		}
		return newDict(), nil
	case g == global{"torch._utils", "_rebuild_tensor_v2"}:
		return rebuildTensor(a)
	}
	return nil, fmt.Errorf("REDUCE %s.%s is not allowed", g.module, g.name)
}

// rebuildTensor checks _rebuild_tensor_v2(storage, storage_offset, size,
// stride, requires_grad, backward_hooks[, metadata]) arguments.
func rebuildTensor(a tuple) (*tensorRef, error) {
	if len(a) != 6 && len(a) != 7 {
		return nil, fmt.Errorf("_rebuild_tensor_v2 with %d arguments, want 6 or 7", len(a))
	}
	s, ok := a[0].(*storage)
	if !ok {
		return nil, fmt.Errorf("_rebuild_tensor_v2 storage is a %s", kind(a[0]))
	}
	offset, ok := a[1].(int64)
	if !ok || offset < 0 {
		return nil, fmt.Errorf("_rebuild_tensor_v2 storage_offset %v is not a non-negative int", a[1])
	}
	size, err := intTuple(a[2], "size")
	if err != nil {
		return nil, err
	}
	stride, err := intTuple(a[3], "stride")
	if err != nil {
		return nil, err
	}
	if len(size) != len(stride) {
		return nil, fmt.Errorf("_rebuild_tensor_v2 size %v and stride %v differ in rank", size, stride)
	}
	if _, ok := a[4].(bool); !ok {
		return nil, fmt.Errorf("_rebuild_tensor_v2 requires_grad is a %s, want a bool", kind(a[4]))
	}
	if hooks, ok := a[5].(*dict); !ok || len(hooks.keys) != 0 {
		return nil, fmt.Errorf("_rebuild_tensor_v2 backward_hooks must be an empty OrderedDict")
	}
	if len(a) == 7 {
		if md, ok := a[6].(*dict); !ok || len(md.keys) != 0 {
			if _, isNone := a[6].(none); !isNone {
				return nil, fmt.Errorf("_rebuild_tensor_v2 metadata must be empty")
			}
		}
	}
	return &tensorRef{storage: s, offset: offset, size: size, stride: stride}, nil
}

// intTuple converts a tuple of non-negative ints.
func intTuple(v any, what string) ([]int64, error) {
	t, ok := v.(tuple)
	if !ok {
		return nil, fmt.Errorf("_rebuild_tensor_v2 %s is a %s, want a tuple", what, kind(v))
	}
	out := make([]int64, len(t))
	for i, x := range t {
		n, ok := x.(int64)
		if !ok || n < 0 {
			return nil, fmt.Errorf("_rebuild_tensor_v2 %s %v: element %d is not a non-negative int", what, t, i)
		}
		out[i] = n
	}
	return out, nil
}

// persistentStorage checks a BINPERSID id:
// ('storage', torch.<Type>Storage, key, location, numel).
func persistentStorage(pid any) (*storage, error) {
	t, ok := pid.(tuple)
	if !ok || len(t) != 5 {
		return nil, fmt.Errorf("BINPERSID id is a %s, want a 5-tuple ('storage', type, key, location, numel)", kind(pid))
	}
	if t[0] != "storage" {
		return nil, fmt.Errorf("BINPERSID id tag %v, want 'storage'", t[0])
	}
	g, ok := t[1].(global)
	if !ok || g.module != "torch" {
		return nil, fmt.Errorf("BINPERSID storage type is a %s, want torch.<Type>Storage", kind(t[1]))
	}
	key, ok := t[2].(string)
	if !ok {
		return nil, fmt.Errorf("BINPERSID storage key is a %s, want a str", kind(t[2]))
	}
	if _, ok := t[3].(string); !ok {
		return nil, fmt.Errorf("BINPERSID storage location is a %s, want a str", kind(t[3]))
	}
	numel, ok := t[4].(int64)
	if !ok || numel < 0 {
		return nil, fmt.Errorf("BINPERSID storage size %v is not a non-negative int", t[4])
	}
	return &storage{typeName: g.name, dtype: storageDTypes[g.name], key: key, numel: numel}, nil
}

// setItems applies key/value pairs to the dict below them on the stack.
func (u *unpickler) setItems(items []any) error {
	if len(items)%2 != 0 {
		return fmt.Errorf("odd number (%d) of dict items", len(items))
	}
	v, err := u.top()
	if err != nil {
		return err
	}
	d, ok := v.(*dict)
	if !ok {
		return fmt.Errorf("setting items on a %s, want a dict", kind(v))
	}
	for i := 0; i < len(items); i += 2 {
		k, ok := items[i].(string)
		if !ok {
			return fmt.Errorf("dict key is a %s, want a str", kind(items[i]))
		}
		d.set(k, items[i+1])
	}
	return nil
}

func (u *unpickler) push(v any) { u.stack = append(u.stack, v) }

// top returns the top of the stack above the last mark.
func (u *unpickler) top() (any, error) {
	if len(u.stack) == 0 || len(u.marks) > 0 && len(u.stack) == u.marks[len(u.marks)-1] {
		return nil, fmt.Errorf("stack is empty")
	}
	return u.stack[len(u.stack)-1], nil
}

// popN pops n values, none of them below the last mark.
func (u *unpickler) popN(n int) ([]any, error) {
	floor := 0
	if len(u.marks) > 0 {
		floor = u.marks[len(u.marks)-1]
	}
	if len(u.stack)-floor < n {
		return nil, fmt.Errorf("needs %d stack values, has %d", n, len(u.stack)-floor)
	}
	items := append([]any(nil), u.stack[len(u.stack)-n:]...)
	u.stack = u.stack[:len(u.stack)-n]
	return items, nil
}

// popMark pops everything above the last mark, and the mark.
func (u *unpickler) popMark() ([]any, error) {
	if len(u.marks) == 0 {
		return nil, fmt.Errorf("no MARK on the stack")
	}
	m := u.marks[len(u.marks)-1]
	u.marks = u.marks[:len(u.marks)-1]
	items := append([]any(nil), u.stack[m:]...)
	u.stack = u.stack[:m]
	return items, nil
}

// read consumes n argument bytes.
func (u *unpickler) read(n int) ([]byte, error) {
	if n < 0 || n > len(u.data)-u.pos {
		return nil, fmt.Errorf("argument of %d bytes runs past the end of the pickle", n)
	}
	b := u.data[u.pos : u.pos+n]
	u.pos += n
	return b, nil
}

// line consumes a newline-terminated GLOBAL argument.
func (u *unpickler) line() (string, error) {
	for i := u.pos; i < len(u.data) && i-u.pos < 256; i++ {
		if u.data[i] == '\n' {
			s := string(u.data[u.pos:i])
			u.pos = i + 1
			return s, nil
		}
	}
	return "", fmt.Errorf("GLOBAL argument is not a short newline-terminated line")
}

// index reads a 1- or 4-byte memo index.
func (u *unpickler) index(long bool) (uint32, error) {
	if !long {
		b, err := u.read(1)
		if err != nil {
			return 0, err
		}
		return uint32(b[0]), nil
	}
	b, err := u.read(4)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}
