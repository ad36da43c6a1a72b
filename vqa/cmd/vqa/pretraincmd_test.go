package main

import (
	"strings"
	"testing"
)

// TestMaskOnly checks -mask-words: the listed kinds' words are accepted,
// others not, "" masks every word, and an unknown kind is refused by name.
func TestMaskOnly(t *testing.T) {
	only, err := maskOnly("color, shape")
	if err != nil {
		t.Fatal(err)
	}
	for word, want := range map[string]bool{"red": true, "circle": true, "triangles": true, "two": false, "the": false, "left": false} {
		if got := only(word); got != want {
			t.Errorf("-mask-words color,shape: %q accepted %v, want %v", word, got, want)
		}
	}
	if only, err := maskOnly(""); only != nil || err != nil {
		t.Errorf(`-mask-words "": filter set %v, error %v; want none (every word)`, only != nil, err)
	}
	for _, bad := range []string{"colour", "other", "color,"} {
		if _, err := maskOnly(bad); err == nil || !strings.Contains(err.Error(), "-mask-words") {
			t.Errorf("-mask-words %q: error %v, want one naming the flag", bad, err)
		}
	}
}
