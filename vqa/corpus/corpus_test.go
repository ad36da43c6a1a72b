package corpus

import (
	"bytes"
	"image"
	_ "image/jpeg"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/vilt-go/workbook/vqa/dataset"
	"github.com/vilt-go/workbook/vqa/minidata"
	"github.com/vilt-go/workbook/vqa/processor"
	"github.com/vilt-go/workbook/vqa/vqav2"
)

// small is a corpus that takes a moment to generate.
func small() Options {
	return Options{Seed: 3, TrainScenes: 6, ValScenes: 2, ShortSide: 64, JPEGQuality: 90}
}

// TestEnsureGeneratesThenReuses generates a corpus, reads it with the
// VQAv2 readers, reuses it on the second call and finds the same bytes in
// a second generation elsewhere.
func TestEnsureGeneratesThenReuses(t *testing.T) {
	o := small()
	dir := filepath.Join(t.TempDir(), o.Name())
	calls := map[string]int{}
	res, err := Ensure(dir, o, false, func(split string, done, total int) {
		calls[split]++
		if done != calls[split] || total != map[string]int{minidata.Train: 6, minidata.Val: 2}[split] {
			t.Errorf("progress %s %d/%d after %d calls", split, done, total, calls[split])
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Reused || res.Dir != dir || calls[minidata.Train] != 6 || calls[minidata.Val] != 2 {
		t.Fatalf("result %+v, progress calls %v", res, calls)
	}
	for split, n := range map[string]int{minidata.Train: 6, minidata.Val: 2} {
		qs, err := vqav2.ReadQuestions(vqav2.QuestionsPath(dir, split))
		if err != nil {
			t.Fatal(err)
		}
		caps, err := vqav2.ReadCaptions(vqav2.CaptionsPath(dir, split))
		if err != nil {
			t.Fatal(err)
		}
		if len(caps.Images) != n || len(caps.Captions) != n*minidata.CaptionsPerImage || len(qs) < n {
			t.Errorf("%s: %d images, %d captions, %d questions", split, len(caps.Images), len(caps.Captions), len(qs))
		}
		for _, img := range caps.Images {
			f, err := os.Open(filepath.Join(dir, split, img.FileName))
			if err != nil {
				t.Fatal(err)
			}
			cfg, _, err := image.DecodeConfig(f)
			f.Close()
			if err != nil || min(cfg.Width, cfg.Height) != 64 || cfg.Width != img.Width || cfg.Height != img.Height {
				t.Errorf("%s: %dx%d (%v): want a shorter side of 64 and the size of the images record", img.FileName, cfg.Width, cfg.Height, err)
			}
		}
	}
	// The dataset loader reads it, and the processor encodes its pictures.
	p, err := processor.Default()
	if err != nil {
		t.Fatal(err)
	}
	labels, err := vqav2.NewLabelMap([]string{"yes", "no", "1", "2", "red", "circle"})
	if err != nil {
		t.Fatal(err)
	}
	ds, err := dataset.Load(dir, minidata.Train, labels, p, dataset.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if ex, err := ds.Example(ds.Len() - 1); err != nil || ex.Height == 0 {
		t.Fatalf("encoding the last training example: %v", err)
	}
	again, err := Ensure(dir, o, false, func(string, int, int) { t.Error("progress while reusing") })
	if err != nil || !again.Reused || again.Stats[minidata.Train].Captions != 6*minidata.CaptionsPerImage {
		t.Fatalf("second Ensure: %+v, %v: want the corpus reused", again, err)
	}
	other := filepath.Join(t.TempDir(), "again")
	if _, err := Ensure(other, o, false, nil); err != nil {
		t.Fatal(err)
	}
	sameTree(t, dir, other)
	if entries, _ := os.ReadDir(filepath.Dir(dir)); len(entries) != 2 { // the corpus and its lock file
		t.Errorf("the parent folder holds %d entries, want the corpus and its lock file", len(entries))
	}
}

// sameTree requires two folders to hold the same files with the same bytes.
func sameTree(t *testing.T, a, b string) {
	t.Helper()
	n := 0
	err := filepath.WalkDir(a, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(a, path)
		x, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		y, err := os.ReadFile(filepath.Join(b, rel))
		if err != nil {
			return err
		}
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs between two generations", rel)
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 10 {
		t.Fatalf("compared only %d files", n)
	}
}

// TestEnsureRefusesForeignFolder: a folder without the marker is neither
// reused nor replaced.
func TestEnsureRefusesForeignFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "mine")
	keep := filepath.Join(dir, "notes.txt")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keep, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, replace := range []bool{false, true} {
		_, err := Ensure(dir, small(), replace, nil)
		if err == nil || !strings.Contains(err.Error(), "not touching it") {
			t.Errorf("replace=%v: error %v, want a refusal", replace, err)
		}
		if data, err := os.ReadFile(keep); err != nil || string(data) != "x" {
			t.Errorf("replace=%v: the folder's file is gone or changed: %q, %v", replace, data, err)
		}
	}
}

// TestEnsureDamagedOrOther: a corpus with a missing file, or of other
// options, is an error without replace and generated anew with it.
func TestEnsureDamagedOrOther(t *testing.T) {
	o := small()
	dir := filepath.Join(t.TempDir(), "c")
	if _, err := Ensure(dir, o, false, nil); err != nil {
		t.Fatal(err)
	}
	pics, _ := filepath.Glob(filepath.Join(dir, minidata.Train, "*.jpg"))
	if err := os.Remove(pics[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := Ensure(dir, o, false, nil); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("damaged corpus: error %v, want one saying damaged", err)
	}
	if res, err := Ensure(dir, o, true, nil); err != nil || res.Reused {
		t.Fatalf("replace a damaged corpus: %+v, %v", res, err)
	}
	if _, err := os.Stat(pics[0]); err != nil {
		t.Errorf("the replaced corpus lacks %s: %v", pics[0], err)
	}
	o2 := o
	o2.TrainScenes = 3
	if _, err := Ensure(dir, o2, false, nil); err == nil || !strings.Contains(err.Error(), o.Name()) {
		t.Fatalf("other options: error %v, want one naming the corpus there", err)
	}
	if res, err := Ensure(dir, o2, true, nil); err != nil || res.Stats[minidata.Train].Images != 3 {
		t.Fatalf("replace with other options: %+v, %v", res, err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(dir)); len(entries) != 2 {
		t.Errorf("the parent folder holds %d entries after replacing, want the corpus and its lock file", len(entries))
	}
}

// TestEnsureLockedAndInterrupted: a held lock stops a second run; a
// temporary folder of an interrupted run is cleared away.
func TestEnsureLockedAndInterrupted(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "c")
	unlock, err := lock(filepath.Join(parent, ".c.lock"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Ensure(dir, small(), false, nil); err == nil || !strings.Contains(err.Error(), "another run") {
		t.Errorf("locked: error %v, want one about another run", err)
	}
	unlock()
	stale := filepath.Join(parent, ".c.tmp-123", minidata.Train)
	if err := os.MkdirAll(stale, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Ensure(dir, small(), false, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Dir(stale)); !os.IsNotExist(err) {
		t.Errorf("the interrupted run's folder is still there (%v)", err)
	}
}

func TestOptionsRejected(t *testing.T) {
	for name, edit := range map[string]func(*Options){
		"mini seed":     func(o *Options) { o.Seed = minidata.DefaultConfig().Seed },
		"no scenes":     func(o *Options) { o.TrainScenes, o.ValScenes = 0, 0 },
		"negative val":  func(o *Options) { o.ValScenes = -1 },
		"negative side": func(o *Options) { o.ShortSide = -2 },
		"quality 0":     func(o *Options) { o.JPEGQuality = 0 },
	} {
		o := small()
		edit(&o)
		dir := filepath.Join(t.TempDir(), "c")
		if _, err := Ensure(dir, o, false, nil); err == nil {
			t.Errorf("%s: no error", name)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("%s: the folder was made", name)
		}
	}
}

func TestDefaultDir(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the user cache folder comes from XDG_CACHE_HOME on Linux only")
	}
	t.Setenv("XDG_CACHE_HOME", "/cache")
	t.Setenv("HOME", "/home/u")
	got, err := DefaultDir(DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(got) != filepath.Join("/cache", "vilt-workbook") || filepath.Base(got) != DefaultOptions().Name() {
		t.Errorf("DefaultDir = %q", got)
	}
	o := DefaultOptions()
	o.ShortSide = 0
	if !strings.Contains(o.Name(), "sidefull") || o.Name() == DefaultOptions().Name() {
		t.Errorf("Name of full-size corpus %q", o.Name())
	}
	o = DefaultOptions()
	o.Inventory = true
	if want := DefaultOptions().Name() + "-inventory"; o.Name() != want {
		t.Errorf("Name with the inventory question %q, want %q", o.Name(), want)
	}
}
