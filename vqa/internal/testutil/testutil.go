// Package testutil locates the shared parity fixtures for tests.
package testutil

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
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

// Snapshot returns every file under dir (path -> SHA-256 and modification
// time), to check with [CheckUnchanged] that a refused command changed
// nothing.
func Snapshot(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		st, err := d.Info()
		if err != nil {
			return err
		}
		h := sha256.Sum256(b)
		out[path] = hex.EncodeToString(h[:]) + " " + st.ModTime().Format(time.RFC3339Nano)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// CheckUnchanged reports the files of before that changed or vanished in
// after, and the files after has that before lacks.
func CheckUnchanged(t testing.TB, what string, before, after map[string]string) {
	t.Helper()
	for p, s := range before {
		if after[p] != s {
			t.Errorf("%s: %s changed or was removed", what, p)
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			t.Errorf("%s: %s was created", what, p)
		}
	}
}

// Int32 returns an int64 tensor converted to int32 (the dtype the model's
// integer inputs have here; the fixtures store PyTorch's int64), and any
// other tensor as it is.
func Int32(t testing.TB, x *tensors.Tensor) *tensors.Tensor {
	t.Helper()
	if x.DType() != dtypes.Int64 {
		return x
	}
	src, err := tensors.CopyFlatData[int64](x)
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]int32, len(src))
	for i, v := range src {
		dst[i] = int32(v)
	}
	return tensors.FromFlatDataAndDimensions(dst, x.Shape().Dimensions...)
}
