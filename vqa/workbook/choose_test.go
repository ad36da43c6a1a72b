package workbook

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"

	"github.com/vilt-go/workbook/vqa/hfmodel"
	"github.com/vilt-go/workbook/vqa/processor"
	"github.com/vilt-go/workbook/vqa/repo"
)

func TestChooseModel(t *testing.T) {
	t.Setenv("GONB_DIR", "")
	t.Setenv(repo.DataEnv, "")
	t.Setenv("HF_HUB_OFFLINE", "1")
	t.Setenv("HF_HOME", t.TempDir())
	t.Setenv("TMPDIR", t.TempDir())
	t.Setenv(RunsEnv, t.TempDir())
	t.Setenv(QuickEnv, "")
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
		if log.Len() != 0 || c.Kind != FromEnv || c.Dir != dir {
			t.Errorf("wrote %q, kind %v, folder %q: want nothing, FromEnv and %s", log.String(), c.Kind, c.Dir, dir)
		}
	})

	t.Run("offline", func(t *testing.T) {
		t.Setenv(ModelEnv, "")
		var log bytes.Buffer
		c, err := ChooseModel(&log)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(log.String(), "offline: using "+ShippedModel+" ("+FineTuned) {
			t.Errorf("log %q does not say in one line why %s was passed over", log.String(), FineTuned)
		}
		if strings.Contains(log.String(), "huggingface.co") {
			t.Errorf("log %q shows the network error, want one line", log.String())
		}
		if !strings.HasPrefix(c.Source, ShippedModel) || c.Kind != FromShipped {
			t.Errorf("chose %q, want the shipped checkpoint", c.Source)
		}
		if _, err := os.Stat(filepath.Join(root, ShippedModel, "config.json")); err != nil {
			t.Error(err)
		}
		if c.Model.Config.NumLabels() == 0 || c.Question == "" {
			t.Errorf("model with %d labels, question %q", c.Model.Config.NumLabels(), c.Question)
		}
	})

	t.Run("notebook 06", func(t *testing.T) {
		t.Setenv(ModelEnv, "")
		m, err := hfmodel.NewFromPreset("tiny", []string{"yes", "no"}, 5)
		if err != nil {
			t.Fatal(err)
		}
		dir, err := SavedModelDir()
		if err != nil {
			t.Fatal(err)
		}
		p, err := processor.Default()
		if err != nil {
			t.Fatal(err)
		}
		fp, err := SaveModel(dir, m, p.WithShortestEdge(64))
		if err != nil {
			t.Fatal(err)
		}
		c, err := ChooseModel(io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if c.Kind != FromNotebook06 || c.Dir != dir || !strings.Contains(c.Source, "notebook 06") {
			t.Errorf("chose %q (kind %v, folder %q), want notebook 06's model in %s", c.Source, c.Kind, c.Dir, dir)
		}
		if got, err := Fingerprint(c.Dir); err != nil || got != fp {
			t.Errorf("fingerprint %q (%v), want the saved %q", got, err, fp)
		}
		if e := c.Processor.ImageConfig().ShortestEdge; e != 64 {
			t.Errorf("processor resizes to %d, want the saved 64", e)
		}
	})
}
