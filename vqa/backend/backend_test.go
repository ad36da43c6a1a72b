package backend

import (
	"bytes"
	"strings"
	"testing"
)

func env(kv map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := kv[k]; return v, ok }
}

func TestChoose(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		plugins []string
		want    string
	}{
		{"env wins", map[string]string{"GOMLX_BACKEND": "xla:cuda"}, nil, "xla:cuda"},
		{"env go over plugin", map[string]string{"GOMLX_BACKEND": "go"}, []string{"cpu"}, "go"},
		{"cuda first", nil, []string{"cpu", "cuda"}, "xla:cuda"},
		{"cpu plugin", nil, []string{"cpu"}, "xla:cpu"},
		{"nothing installed", nil, nil, GoConfig()},
		{"empty env ignored", map[string]string{"GOMLX_BACKEND": ""}, nil, GoConfig()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Choose(env(c.env), c.plugins); got.Config != c.want {
				t.Errorf("Choose = %q (%s), want %q", got.Config, got.Reason, c.want)
			}
		})
	}
}

// TestNewWithoutPlugin runs the real selection with an empty plugin search
// path and no $GOMLX_BACKEND: it must pick the Go backend without trying to
// download anything (there is no network here, so a download attempt fails).
func TestNewWithoutPlugin(t *testing.T) {
	t.Setenv("PJRT_PLUGIN_LIBRARY_PATH", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	t.Setenv("LD_LIBRARY_PATH", "")
	t.Setenv("GOMLX_BACKEND", "")
	t.Setenv(InstallEnv, "")
	var buf bytes.Buffer
	b, err := New(&buf)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Finalize()
	if b.Name() != "go" && !strings.Contains(b.Name(), "Go") {
		t.Errorf("backend name %q, want the Go backend", b.Name())
	}
	notice := buf.String()
	if strings.Count(notice, "\n") != 1 || !strings.HasPrefix(notice, "backend: "+GoConfig()+" (") {
		t.Errorf("notice %q, want one line naming the Go backend", notice)
	}
}

// TestGoConfigPatched: built from this module, the workbook uses the patched
// compute copy (the replace in go.mod), so the Go backend runs its ops in
// parallel; without it, one after another.
func TestGoConfigPatched(t *testing.T) {
	if GoConfig() != "go" {
		t.Errorf("GoConfig() = %q, want \"go\": is the replace of github.com/gomlx/compute => ./%s missing from go.mod?", GoConfig(), PatchedComputeDir)
	}
	if got := goConfig(false); got != "go:ops_sequential" {
		t.Errorf("goConfig(false) = %q, want go:ops_sequential", got)
	}
}
