// Package backend chooses the GoMLX compute backend for the workbook.
//
// The rule, applied by [New] and used by every command and notebook:
//
//  1. If $GOMLX_BACKEND is set, it is used as is (e.g. "go", "xla:cpu",
//     "xla:cuda", or "xla:/abs/path/pjrt_c_api_cuda_plugin.so").
//  2. Otherwise, if a PJRT plugin is already installed (found in
//     $PJRT_PLUGIN_LIBRARY_PATH, ~/.local/lib/go-xla, /usr/local/lib/go-xla or
//     the system library path), XLA runs on it (CUDA first, then CPU).
//  3. Otherwise the pure-Go backend runs, as [GoConfig] says: independent ops run
//     in parallel as tasks of its worker pool, each op using every core.
//
// No plugin is ever downloaded unless asked for explicitly: with
// $VQA_XLA_INSTALL=1 (or `make xla`), [New] first installs the plugins that
// go-xla's installer picks for this machine.
package backend

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/gobackend"
	"github.com/gomlx/go-xla/compute/xla"
)

// GoConfig returns the configuration the pure-Go backend runs with: "go", which
// runs independent ops in parallel as tasks of the backend's worker pool.
// The pool of GoMLX compute v0.1.2 could deadlock that way (an op that fans
// out into the pool, a matrix multiply's Saturate, waited for a free worker
// while holding one); the workbook builds against a patched copy,
// vqa/internal/third_party/compute (PATCH.md there), through a replace in its
// go.mod. That replace applies only when the workbook is the main module: a
// program that imports the workbook as a library (a GoNB notebook) gets
// v0.1.2 as released, and then it is "go:ops_sequential", its ops one
// after another, which never waits on the pool from inside it.
// $GOMLX_BACKEND overrides either (e.g. "go:ops_sequential").
func GoConfig() string { return goConfig(patchedCompute()) }

// PatchedComputeDir is the replacement directory of github.com/gomlx/compute
// in the workbook's go.mod, with the worker-pool fix.
const PatchedComputeDir = "vqa/internal/third_party/compute"

func goConfig(patched bool) string {
	if patched {
		return gobackend.BackendName
	}
	return gobackend.BackendName + ":ops_sequential"
}

// patchedCompute reports whether this binary was built with the workbook's
// patched copy of github.com/gomlx/compute: the workbook is the main module
// (its replace applies; test binaries record no dependencies), or the main
// module replaces compute with that copy too.
func patchedCompute() bool {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	if info.Main.Path == "github.com/vilt-go/workbook" {
		return true
	}
	for _, dep := range info.Deps {
		if dep.Path == "github.com/gomlx/compute" {
			return dep.Replace != nil && strings.HasSuffix(filepath.ToSlash(dep.Replace.Path), PatchedComputeDir)
		}
	}
	return false
}

// InstallEnv is the environment variable that, set to "1", lets [New]
// download and install the PJRT plugins before choosing a backend.
const InstallEnv = "VQA_XLA_INSTALL"

// Choice is the backend configuration chosen and why.
type Choice struct {
	// Config is a GoMLX backend configuration, "<name>[:<config>]".
	Config string
	// Reason says in a few words why this backend was chosen.
	Reason string
}

// String returns the one-line notice printed when a backend is chosen.
func (c Choice) String() string {
	return fmt.Sprintf("backend: %s (%s)", c.Config, c.Reason)
}

// Choose applies the selection rule to the given environment lookup and list
// of installed PJRT plugins, without side effects.
func Choose(getenv func(string) (string, bool), plugins []string) Choice {
	if cfg, ok := getenv(compute.ConfigEnvVar); ok && cfg != "" {
		return Choice{Config: cfg, Reason: "$" + compute.ConfigEnvVar + " is set"}
	}
	for _, name := range []string{"cuda", "cpu"} {
		if slices.Contains(plugins, name) {
			return Choice{Config: xla.BackendName + ":" + name, Reason: "PJRT plugin " + name + " is installed"}
		}
	}
	return Choice{Config: GoConfig(), Reason: "no PJRT plugin installed; set " + InstallEnv + "=1 or run `make xla` to install one"}
}

// InstalledPlugins lists the PJRT plugins already installed, never
// downloading any.
func InstalledPlugins() []string {
	xla.EnableAutoInstall(false)
	return xla.GetAvailablePlugins()
}

// New chooses a backend with [Choose], writes the one-line notice to w (if
// not nil) and creates it. If the chosen XLA backend fails to start, it falls
// back to the Go backend and says so.
func New(w io.Writer) (compute.Backend, error) {
	if os.Getenv(InstallEnv) == "1" {
		if err := xla.AutoInstall(); err != nil {
			return nil, fmt.Errorf("installing PJRT plugins (%s=1): %w", InstallEnv, err)
		}
	}
	choice := Choose(os.LookupEnv, InstalledPlugins())
	b, err := compute.NewWithConfig(choice.Config)
	if err != nil {
		if _, set := os.LookupEnv(compute.ConfigEnvVar); set {
			return nil, fmt.Errorf("creating backend %q from $%s: %w", choice.Config, compute.ConfigEnvVar, err)
		}
		choice = Choice{Config: GoConfig(), Reason: fmt.Sprintf("%s failed to start: %v", choice.Config, err)}
		b, err = compute.NewWithConfig(choice.Config)
		if err != nil {
			return nil, fmt.Errorf("creating the Go backend: %w", err)
		}
	}
	if w != nil {
		fmt.Fprintln(w, choice)
	}
	return b, nil
}
