package vqav2

import (
	"bytes"
	"encoding/json"
	"reflect"
	"unicode/utf8"
)

// intField is an integer record field; ok reports that it was present and
// not null. Decoding it allocates nothing, unlike a *int64.
type intField struct {
	v  int64
	ok bool
}

// UnmarshalJSON implements json.Unmarshaler; anything but a JSON integer
// that fits in an int64 is a *json.UnmarshalTypeError, as for an int64
// field; null unsets the field.
func (f *intField) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*f = intField{}
		return nil
	}
	v, ok := parseInt(b)
	if !ok {
		return typeError(b, reflect.TypeFor[int64]())
	}
	f.v, f.ok = v, true
	return nil
}

// parseInt parses an optionally negative run of decimal digits.
func parseInt(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 19 { // 19 digits cannot overflow a uint64
		return 0, false
	}
	var u uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		u = u*10 + uint64(c-'0')
	}
	if neg {
		return int64(-u), u <= 1<<63
	}
	return int64(u), u < 1<<63
}

// stringField is a string record field; ok reports that it was present and
// not null.
type stringField struct {
	v  string
	ok bool
}

// UnmarshalJSON implements json.Unmarshaler; anything but a JSON string is
// a *json.UnmarshalTypeError, as for a string field; null unsets the field.
func (f *stringField) UnmarshalJSON(b []byte) error {
	switch {
	case string(b) == "null":
		*f = stringField{}
		return nil
	case len(b) < 2 || b[0] != '"':
		return typeError(b, reflect.TypeFor[string]())
	}
	// The decoder has checked the syntax: without escapes and with valid
	// UTF-8, the string is the bytes between the quotes.
	if inner := b[1 : len(b)-1]; bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		f.v = string(inner)
	} else if err := json.Unmarshal(b, &f.v); err != nil {
		return err
	}
	f.ok = true
	return nil
}

// typeError describes the JSON value b that does not fit type t, in the
// words encoding/json uses.
func typeError(b []byte, t reflect.Type) error {
	kind := "number " + string(b)
	switch b[0] {
	case '"':
		kind = "string"
	case '{':
		kind = "object"
	case '[':
		kind = "array"
	case 't', 'f':
		kind = "bool"
	}
	return &json.UnmarshalTypeError{Value: kind, Type: t}
}
