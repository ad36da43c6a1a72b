// Package repo locates the workbook repository and the data the notebooks
// and commands read by default: the repository root ([Root]) and the VQAv2
// folder ([DataRoot]: $VQA_DATA, else the shipped mini dataset).
package repo

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Module is the Go module path of the workbook repository.
const Module = "github.com/vilt-go/workbook"

// DataEnv names the environment variable that points the notebooks at a
// VQAv2 folder in the official layout (the real dataset) instead of the
// embedded mini dataset.
const DataEnv = "VQA_DATA"

// Root returns the workbook repository root: the nearest folder at or above
// $GONB_DIR (the notebook's folder, set by GoNB), or the working directory
// when that is not set, whose go.mod declares the module [Module].
func Root() (string, error) {
	start := os.Getenv("GONB_DIR")
	if start == "" {
		wd, err := os.Getwd()
		if err != nil {
			return "", fmt.Errorf("finding the workbook root: %w", err)
		}
		start = wd
	}
	start, err := filepath.Abs(start)
	if err != nil {
		return "", fmt.Errorf("finding the workbook root: %w", err)
	}
	for dir := start; ; dir = filepath.Dir(dir) {
		if declaresModule(filepath.Join(dir, "go.mod")) {
			return dir, nil
		}
		if filepath.Dir(dir) == dir {
			return "", fmt.Errorf("finding the workbook root: no go.mod of module %s at or above %s", Module, start)
		}
	}
}

// declaresModule reports whether the go.mod file at path declares [Module].
func declaresModule(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) == 2 && fields[0] == "module" {
			return fields[1] == Module
		}
	}
	return false
}

// DataRoot returns the VQAv2 folder the notebooks read: $VQA_DATA when set
// (it must be a folder), else the embedded mini dataset <root>/data/vqav2-mini.
func DataRoot() (string, error) {
	dir := os.Getenv(DataEnv)
	if dir == "" {
		root, err := Root()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(root, "data", "vqav2-mini")
	}
	st, err := os.Stat(dir)
	if err != nil {
		return "", fmt.Errorf("VQAv2 data folder (set $%s to use another): %w", DataEnv, err)
	}
	if !st.IsDir() {
		return "", errors.New("VQAv2 data folder " + dir + " is not a folder")
	}
	return dir, nil
}
