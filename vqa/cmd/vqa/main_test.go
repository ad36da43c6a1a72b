package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// runCLI runs the command line and returns its exit code, stdout and stderr.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestHelpOnEverySubcommand(t *testing.T) {
	for _, c := range commands() {
		t.Run(c.name, func(t *testing.T) {
			code, out, errs := runCLI(t, c.name, "-help")
			if code != 0 || out != "" || !strings.Contains(errs, "usage: vqa "+c.name) {
				t.Errorf("vqa %s -help: code %d, stdout %q, stderr %q", c.name, code, out, errs)
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	if code, _, errs := runCLI(t, "frobnicate"); code != 2 || !strings.Contains(errs, "unknown command") {
		t.Errorf("unknown command: code %d, stderr %q", code, errs)
	}
	if code, _, _ := runCLI(t, "download", "-no-such-flag"); code != 2 {
		t.Errorf("unknown flag: code %d, want 2", code)
	}
	if code, _, _ := runCLI(t, "download", "stray"); code != 2 {
		t.Errorf("stray argument: code %d, want 2", code)
	}
}

func TestErrorsGoToStderrWithCode1(t *testing.T) {
	code, out, errs := runCLI(t, "download", "-root", t.TempDir(), "-split", "val")
	if code != 1 || out != "" || !strings.HasPrefix(errs, "vqa download: ") || !strings.Contains(errs, "val2014") {
		t.Errorf("bad split: code %d, stdout %q, stderr %q", code, out, errs)
	}
}

// TestBackendDescribes checks that `vqa backend` prints the choice, the
// backend's description and one line per device.
func TestBackendDescribes(t *testing.T) {
	t.Setenv("GOMLX_BACKEND", "go")
	code, out, errs := runCLI(t, "backend")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) < 3 || !strings.HasPrefix(lines[0], "backend: go (") || !strings.HasPrefix(lines[2], "device 0: ") {
		t.Errorf("vqa backend: code %d, stdout %q, stderr %q", code, out, errs)
	}
}
