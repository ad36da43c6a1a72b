package workbook

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"

	"github.com/vilt-go/workbook/vqa/hfmodel"
	"github.com/vilt-go/workbook/vqa/repo"
)

func TestChooseModel(t *testing.T) {
	t.Setenv("GONB_DIR", "")
	t.Setenv(repo.DataEnv, "")
	t.Setenv("HF_HUB_OFFLINE", "1")
	t.Setenv("HF_HOME", t.TempDir())
	t.Setenv("TMPDIR", t.TempDir())
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}

	t.Run("VQA_MODEL", func(t *testing.T) {
		m, err := hfmodel.NewFromPreset("tiny", []string{"yes", "no", "left", "right"}, 3)
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(t.TempDir(), "model")
		if err := m.Export(dir, dtypes.Float32); err != nil {
			t.Fatal(err)
		}
		t.Setenv(ModelEnv, dir)
		var log bytes.Buffer
		c, err := ChooseModel(&log)
		if err != nil {
			t.Fatal(err)
		}
		if c.Source != "$VQA_MODEL = "+dir || strings.Join(c.Model.Labels(), ",") != "yes,no,left,right" {
			t.Errorf("chose %q with labels %v, want the exported model", c.Source, c.Model.Labels())
		}
		if _, err := os.Stat(c.Image); err != nil || c.Question == "" || !strings.Contains(c.Image, "val2014") {
			t.Errorf("image %q (%v), question %q: want a val2014 question of the mini dataset", c.Image, err, c.Question)
		}
		if log.Len() != 0 {
			t.Errorf("wrote %q, want nothing when $VQA_MODEL is set", log.String())
		}
	})

	t.Run("offline", func(t *testing.T) {
		t.Setenv(ModelEnv, "")
		var log bytes.Buffer
		c, err := ChooseModel(&log)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(log.String(), FineTuned+" could not be loaded") {
			t.Errorf("log %q does not say why %s was passed over", log.String(), FineTuned)
		}
		if !strings.HasPrefix(c.Source, ShippedModel) {
			t.Errorf("chose %q, want the shipped checkpoint", c.Source)
		}
		if _, err := os.Stat(filepath.Join(root, ShippedModel, "config.json")); err != nil {
			t.Error(err)
		}
		if c.Model.Config.NumLabels() == 0 || c.Question == "" {
			t.Errorf("model with %d labels, question %q", c.Model.Config.NumLabels(), c.Question)
		}
	})
}
