// Package testutil locates the shared parity fixtures for tests.
package testutil

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/vilt-go/workbook/vqa/backend"
)

// FixturesEnv names the environment variable holding the fixture root.
const FixturesEnv = "VQA_FIXTURES"

// ModuleRoot returns the directory holding the module's go.mod.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
}

// Fixtures returns $VQA_FIXTURES/sub, with VQA_FIXTURES defaulting to
// ../shared/fixtures relative to the module root. When the folder does not
// exist the test is skipped on a developer machine, but fails when $CI is
// set: CI always has the fixtures, so parity tests can never silently vanish
// there.
func Fixtures(t testing.TB, sub string) string {
	t.Helper()
	root := os.Getenv(FixturesEnv)
	if root == "" {
		root = filepath.Join(ModuleRoot(t), "..", "shared", "fixtures")
	}
	dir := filepath.Join(root, sub)
	if _, err := os.Stat(dir); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("fixtures %s missing (set %s): %v", dir, FixturesEnv, err)
		}
		t.Skipf("fixtures %s missing (set %s): %v", dir, FixturesEnv, err)
	}
	return dir
}

// SharedData returns ../shared/data/public/sub relative to the module root,
// with the same skip/fail rule as [Fixtures].
func SharedData(t testing.TB, sub string) string {
	t.Helper()
	dir := filepath.Join(ModuleRoot(t), "..", "shared", "data", "public", sub)
	if _, err := os.Stat(dir); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("shared data %s missing: %v", dir, err)
		}
		t.Skipf("shared data %s missing: %v", dir, err)
	}
	return dir
}

// Backend returns the backend chosen by [backend.New] (the Go backend unless
// $GOMLX_BACKEND or an installed PJRT plugin says otherwise), finalised when
// the test ends.
func Backend(t testing.TB) compute.Backend {
	t.Helper()
	b, err := backend.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Finalize)
	return b
}

// Floats returns a copy of a float32 tensor's values, failing the test for
// other dtypes.
func Floats(t testing.TB, x *tensors.Tensor) []float32 {
	t.Helper()
	v, err := tensors.CopyFlatData[float32](x)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
