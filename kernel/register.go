// Command register installs the GoNB Jupyter kernel for the workbook.
//
// It runs `gonb --install` (which rewrites the kernel's kernel.json and
// resets its environment every time), then writes the workbook's settings
// into that kernel.json:
//
//   - argv: GoNB's -raw_error=true, so that compile and run errors are plain
//     text that headless runs (jupyter nbconvert --execute) print readably;
//   - env: GOEXPERIMENT=simd (the Go backend's fast matrix multiply), PATH
//     with the Go toolchain and GOBIN directories first (GoNB runs go and
//     goimports), and GOMLX_BACKEND when it is set while registering (else
//     the workbook's backend package picks one: see vqa/backend).
//
// Run it from this folder (its own module, which pins GoNB and goimports as
// tool directives): `go install tool && go run .`, or `make kernel` at the
// repository root. Running it again gives the same kernel.json.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "kernel register:", err)
		os.Exit(1)
	}
}

func run() error {
	goroot, gobin, err := goDirs()
	if err != nil {
		return err
	}
	gonb := filepath.Join(gobin, "gonb")
	if _, err := os.Stat(gonb); err != nil {
		return fmt.Errorf("GoNB binary not found (run `go install tool` in kernel/ first): %w", err)
	}
	// -force_deps: gopls is optional (it only serves auto-complete and
	// hover help in the interactive notebook); goimports is installed.
	install := exec.Command(gonb, "--install", "--force_deps", "--logtostderr")
	install.Env = append(os.Environ(), "PATH="+pathWith(goroot, gobin))
	var out bytes.Buffer
	install.Stdout, install.Stderr = &out, &out
	if err := install.Run(); err != nil {
		return fmt.Errorf("running %s --install: %w\n%s", gonb, err, out.String())
	}
	specPath, err := kernelJSONPath()
	if err != nil {
		return err
	}
	if err := rewrite(specPath, goroot, gobin); err != nil {
		return err
	}
	fmt.Println("GoNB kernel registered:", specPath)
	return nil
}

// goDirs returns the Go toolchain's bin folder and the folder `go install`
// writes to.
func goDirs() (goroot, gobin string, err error) {
	out, err := exec.Command("go", "env", "GOROOT", "GOBIN", "GOPATH").Output()
	if err != nil {
		return "", "", fmt.Errorf("go env GOROOT GOBIN GOPATH: %w", err)
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) != 3 {
		return "", "", fmt.Errorf("go env GOROOT GOBIN GOPATH: want 3 lines, got %q", out)
	}
	goroot, gobin = lines[0], lines[1]
	if gobin == "" {
		gobin = filepath.Join(strings.Split(lines[2], string(os.PathListSeparator))[0], "bin")
	}
	return filepath.Join(goroot, "bin"), gobin, nil
}

// pathWith returns $PATH with dirs first, each once.
func pathWith(dirs ...string) string {
	seen := map[string]bool{}
	var out []string
	for _, d := range append(dirs, filepath.SplitList(os.Getenv("PATH"))...) {
		if d != "" && !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return strings.Join(out, string(os.PathListSeparator))
}

// kernelJSONPath finds the kernel.json that `gonb --install` wrote, asking
// Jupyter where the "gonb" kernel lives.
func kernelJSONPath() (string, error) {
	out, err := exec.Command("jupyter", "kernelspec", "list", "--json").Output()
	if err != nil {
		return "", fmt.Errorf("jupyter kernelspec list --json (is Jupyter installed?): %w", err)
	}
	var list struct {
		Kernelspecs map[string]struct {
			ResourceDir string `json:"resource_dir"`
		} `json:"kernelspecs"`
	}
	if err := json.Unmarshal(out, &list); err != nil {
		return "", fmt.Errorf("parsing `jupyter kernelspec list --json`: %w", err)
	}
	spec, ok := list.Kernelspecs["gonb"]
	if !ok {
		return "", errors.New(`jupyter kernelspec list: no "gonb" kernel after gonb --install`)
	}
	return filepath.Join(spec.ResourceDir, "kernel.json"), nil
}

// rewrite sets -raw_error=true in argv and the workbook's env in the
// kernel.json at path, keeping every other field.
func rewrite(path, goroot, gobin string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading kernel spec: %w", err)
	}
	var spec map[string]any
	if err := json.Unmarshal(data, &spec); err != nil {
		return fmt.Errorf("parsing kernel spec %s: %w", path, err)
	}
	argv, ok := spec["argv"].([]any)
	if !ok {
		return fmt.Errorf("kernel spec %s: argv is %T, want a list", path, spec["argv"])
	}
	found := false
	for i, a := range argv {
		if s, _ := a.(string); strings.HasPrefix(s, "-raw_error") || strings.HasPrefix(s, "--raw_error") {
			argv[i], found = "-raw_error=true", true
		}
	}
	if !found {
		argv = append(argv, "-raw_error=true")
	}
	spec["argv"] = argv
	env := map[string]string{
		"GOEXPERIMENT": "simd",
		"PATH":         pathWith(goroot, gobin),
	}
	if b := os.Getenv("GOMLX_BACKEND"); b != "" {
		env["GOMLX_BACKEND"] = b
	}
	spec["env"] = env
	out, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding kernel spec: %w", err)
	}
	if err := os.WriteFile(path, append(out, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing kernel spec: %w", err)
	}
	return nil
}
