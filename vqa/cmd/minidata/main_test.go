package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vilt-go/workbook/vqa/minidata"
)

// TestRunReplacesFolder checks that run writes the dataset in place of
// the old folder: stale files go, and no temporary folder is left behind.
func TestRunReplacesFolder(t *testing.T) {
	parent := t.TempDir()
	out := filepath.Join(parent, "vqav2-mini")
	stale := filepath.Join(out, minidata.Train, "COCO_train2014_000000000001.jpg")
	if err := os.MkdirAll(filepath.Dir(stale), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stale, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := minidata.DefaultConfig()
	cfg.TrainQuestions, cfg.ValQuestions = 20, 10
	var log bytes.Buffer
	if err := run(out, cfg, &log); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale file %s survived (%v)", stale, err)
	}
	entries, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "vqav2-mini" {
		t.Errorf("parent folder holds %v, want only vqav2-mini", entries)
	}
	for _, split := range []string{minidata.Train, minidata.Val} {
		for _, name := range []string{minidata.QuestionsFileName(split), minidata.AnnotationsFileName(split)} {
			if _, err := os.Stat(filepath.Join(out, name)); err != nil {
				t.Error(err)
			}
		}
	}
	for _, want := range []string{"train2014: ", "20 questions", "val2014: ", "10 questions", "wrote " + out} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("output %q lacks %q", log.String(), want)
		}
	}
}

// TestRunKeepsFolderOnError checks that a failing generation leaves the
// existing folder alone.
func TestRunKeepsFolderOnError(t *testing.T) {
	out := filepath.Join(t.TempDir(), "vqav2-mini")
	keep := filepath.Join(out, "keep.txt")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keep, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := minidata.DefaultConfig()
	cfg.JPEGQuality = 0
	if err := run(out, cfg, new(bytes.Buffer)); err == nil {
		t.Fatal("no error for JPEG quality 0")
	}
	if _, err := os.Stat(keep); err != nil {
		t.Errorf("existing folder damaged: %v", err)
	}
}

// TestCorpusCommand makes a small corpus, then reuses it, and prints its
// folder on standard output each time.
func TestCorpusCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "corpus")
	args := []string{"-seed", "9", "-scenes", "3", "-short-side", "64", "-out", dir}
	for i, want := range []string{"wrote " + dir + ": 3 scenes", "reused the complete corpus " + dir} {
		var out, log bytes.Buffer
		if err := corpusMain(args, &out, &log); err != nil {
			t.Fatal(err)
		}
		if out.String() != dir+"\n" || !strings.Contains(log.String(), want) {
			t.Errorf("run %d: stdout %q, log %q: want the folder and %q", i+1, out.String(), log.String(), want)
		}
	}
	var out, log bytes.Buffer
	if err := corpusMain([]string{"-seed", "2014", "-out", dir}, &out, &log); err == nil || out.Len() > 0 {
		t.Errorf("seed 2014: error %v, stdout %q: want a refusal", err, out.String())
	}
}
