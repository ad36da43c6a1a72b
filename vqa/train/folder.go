package train

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/gomlx/gomlx/ml/model/checkpoint"

	"github.com/vilt-go/workbook/vqa/dataset"
	"github.com/vilt-go/workbook/vqa/hfmodel"
	"github.com/vilt-go/workbook/vqa/internal/fslock"
	"github.com/vilt-go/workbook/vqa/internal/safefile"
	"github.com/vilt-go/workbook/vqa/vilt"
)

// SettingsFile is the file of a training folder recording the settings of
// its run (see [Config.Settings]); a folder holding it or checkpoints is a
// training folder.
const SettingsFile = "training.json"

// damagedDir is the folder, inside the training folder, where checkpoints
// that fail their checksum are moved when a run resumes from an older one.
const damagedDir = "damaged"

// ErrFolderTaken is wrapped by the error of [Run] when the training folder
// holds something a run may not overwrite: files of something other than a
// training folder, or checkpoints that cannot be resumed (of a run with
// other settings, or none intact). Nothing on disk was changed;
// [Config.Force] allows it.
var ErrFolderTaken = errors.New("train: refusing the training folder")

// settingsJSON is the content of [SettingsFile].
type settingsJSON struct {
	Settings map[string]string `json:"settings"`
}

// runSettings returns the settings a resume must repeat: the model's
// (everything that sets a variable's shape, and the labels), the
// schedule's and the caller's cfg.Settings.
func runSettings(cfg *vilt.Config, numBatches int, c Config) map[string]string {
	s := modelSettings(cfg)
	f := func(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
	o := c.Optimizer
	maps.Copy(s, map[string]string{
		"optimizer.lr":                 f(o.LR),
		"optimizer.beta1":              f(o.Beta1),
		"optimizer.beta2":              f(o.Beta2),
		"optimizer.eps":                f(o.Eps),
		"optimizer.weight_decay":       f(o.WeightDecay),
		"optimizer.no_decay_bias_norm": strconv.FormatBool(o.NoDecayBiasNorm),
		"optimizer.head_lr_multiplier": f(o.HeadLRMultiplier),
		"optimizer.warmup":             f(o.Warmup),
		"optimizer.decay":              strconv.FormatBool(o.Decay),
		"epochs":                       strconv.Itoa(c.Epochs),
		"accumulate":                   strconv.Itoa(max(1, c.Accumulate)),
		"batches_per_epoch":            strconv.Itoa(numBatches),
	})
	if c.WPA > 0 {
		s["pretrain.wpa_weight"] = f(c.WPA)
	}
	maps.Copy(s, c.Settings)
	return s
}

// modelSettings returns the settings of a model configuration that its
// checkpoints depend on: the head, every size that sets a variable's
// shape, and the labels (their number and a SHA-256 of them in order).
func modelSettings(cfg *vilt.Config) map[string]string {
	labels := make([]string, cfg.NumLabels())
	for i := range labels {
		labels[i] = cfg.ID2Label[i]
	}
	h := sha256.Sum256([]byte(strings.Join(labels, "\n")))
	i := strconv.Itoa
	return map[string]string{
		"model.architectures":            strings.Join(cfg.Architectures, ","),
		"model.hidden_size":              i(cfg.HiddenSize),
		"model.num_hidden_layers":        i(cfg.NumHiddenLayers),
		"model.num_attention_heads":      i(cfg.NumAttentionHeads),
		"model.intermediate_size":        i(cfg.IntermediateSize),
		"model.patch_size":               i(cfg.PatchSize),
		"model.image_size":               i(cfg.ImageSize),
		"model.num_channels":             i(cfg.NumChannels),
		"model.vocab_size":               i(cfg.VocabSize),
		"model.type_vocab_size":          i(cfg.TypeVocabSize),
		"model.modality_type_vocab_size": i(cfg.ModalityTypeVocabSize),
		"model.max_position_embeddings":  i(cfg.MaxPositionEmbeddings),
		"model.itm_head":                 strconv.FormatBool(cfg.ITMHead),
		"model.initializer_range":        strconv.FormatFloat(cfg.InitializerRange, 'g', -1, 64),
		"model.num_labels":               i(cfg.NumLabels()),
		"model.labels_sha256":            hex.EncodeToString(h[:]),
	}
}

// folderPlan is what [checkFolder] found a training folder to be.
type folderPlan int

const (
	// planFresh: a fresh run; the folder is missing, empty, a training
	// folder without checkpoints, or (with Config.Force) holds other
	// files.
	planFresh folderPlan = iota
	// planResume: checkpoints of a run with the same settings.
	planResume
	// planRestart: checkpoints of a run with other settings (with
	// Config.Force): they are removed.
	planRestart
)

// CheckFolder tells early, before the data is loaded, whether [Run] would
// refuse dir for what it holds whatever the run's settings: files of
// something other than a training folder (an error wrapping
// [ErrFolderTaken]; force allows it, as [Config.Force]). It changes
// nothing; Run checks again, with the settings, under the folder's lock.
func CheckFolder(dir string, force bool) error {
	_, err := checkFolder(dir, nil, force)
	return err
}

// checkFolder reads dir, changing nothing, and decides what a run with
// settings may do there (see [Config.Force]); nil settings are not
// compared with the saved ones.
func checkFolder(dir string, settings map[string]string, force bool) (folderPlan, error) {
	st, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return planFresh, nil
	}
	if err != nil {
		return 0, fmt.Errorf("train: training folder: %w", err)
	}
	if !st.IsDir() {
		return 0, fmt.Errorf("train: training folder %s exists and is not a folder", dir)
	}
	saved, err := savedSettings(dir)
	if err != nil {
		return 0, err
	}
	if saved == nil {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return 0, fmt.Errorf("train: training folder: %w", err)
		}
		var names []string
		for _, e := range entries {
			if e.Name() != fslock.FileName {
				names = append(names, e.Name())
			}
		}
		if len(names) == 0 || force {
			return planFresh, nil
		}
		if len(names) > 5 {
			names = append(names[:5], "...")
		}
		return 0, fmt.Errorf("%w: %s is not empty (%s) and is not a training folder (no %s, no checkpoints); nothing was written to it",
			ErrFolderTaken, dir, strings.Join(names, ", "), SettingsFile)
	}
	if !hfmodel.HasCheckpoints(dir) {
		return planFresh, nil // nothing saved depends on the old settings
	}
	if settings == nil {
		return planResume, nil // CheckFolder: the settings are Run's to compare
	}
	diff := diffSettings(saved, settings)
	switch {
	case len(diff) == 0:
		return planResume, nil
	case force:
		return planRestart, nil
	}
	return 0, fmt.Errorf("%w: %s holds checkpoints of a run with other settings (%s); nothing was changed: resume with the saved settings, or train into another folder",
		ErrFolderTaken, dir, strings.Join(diff, "; "))
}

// savedSettings returns the settings recorded in the training folder dir:
// its training.json's, or for a folder of checkpoints written before
// training.json existed, the model settings of its config.json. It returns
// nil for a folder that is not a training folder.
func savedSettings(dir string) (map[string]string, error) {
	path := filepath.Join(dir, SettingsFile)
	data, err := safefile.ReadFile(path, safefile.MaxMetadataBytes)
	switch {
	case err == nil:
		var sj settingsJSON
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&sj); err != nil || sj.Settings == nil {
			return nil, fmt.Errorf("train: %s: want {\"settings\": {name: value, ...}} as vqa/train writes it (%v)", path, err)
		}
		return sj.Settings, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("train: %w", err)
	case !hfmodel.HasCheckpoints(dir):
		return nil, nil
	}
	cfg, err := vilt.ReadConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, fmt.Errorf("train: %s holds checkpoints but no %s, and its config.json does not read: %w", dir, SettingsFile, err)
	}
	return modelSettings(cfg), nil
}

// diffSettings lists, sorted by name, the settings recorded in both saved
// and now whose values differ. A setting only one side records (one that
// another version of the code added or dropped, or the settings other than
// the model's of a folder written before training.json) is not compared.
func diffSettings(saved, now map[string]string) []string {
	var diff []string
	for _, k := range slices.Sorted(maps.Keys(saved)) {
		if b, ok := now[k]; ok && b != saved[k] {
			diff = append(diff, fmt.Sprintf("%s: saved %s, now %s", k, saved[k], b))
		}
	}
	return diff
}

// prepareDir checks that the run may use the training folder c.Dir (see
// [Config.Force]) before writing anything, locks it for the run, resumes
// from its newest intact checkpoint if the settings match, then records
// the settings (training.json), the model's config.json and c.Files. It
// returns the checkpoint saver (holding the lock: release it) and the
// loss-curve path.
func prepareDir(m *hfmodel.Model, loader *dataset.Loader, c Config) (sv *saver, curvePath string, err error) {
	numBatches, err := loader.NumBatches()
	if err != nil {
		return nil, "", err
	}
	settings := runSettings(m.Config, numBatches, c)
	// Checked before the lock, whose file would be a change to a folder
	// that is refused; checked again under it, against a run that started
	// in between.
	if _, err := checkFolder(c.Dir, settings, c.Force); err != nil {
		return nil, "", err
	}
	lock, err := fslock.Acquire(c.Dir, "training into "+c.Dir)
	if err != nil {
		return nil, "", fmt.Errorf("train: %w", err)
	}
	defer func() {
		if err != nil {
			lock.Release()
		}
	}()
	plan, err := checkFolder(c.Dir, settings, c.Force)
	if err != nil {
		return nil, "", err
	}
	if plan == planResume {
		if _, err := hfmodel.LatestGood(c.Dir); err != nil {
			if !c.Force {
				return nil, "", fmt.Errorf("%w: %s cannot be resumed: %w", ErrFolderTaken, c.Dir, err)
			}
			plan = planRestart
		}
	}
	if plan == planRestart {
		if err := removeRun(c.Dir); err != nil {
			return nil, "", err
		}
		logf(c, "train: %s held checkpoints that cannot be resumed (other settings, or none intact): removed them (Force), starting afresh\n", c.Dir)
	}
	if plan == planResume {
		ck, err := hfmodel.LoadLatest(m.Store, c.Dir)
		if err != nil {
			return nil, "", err
		}
		switch {
		case len(ck.Skipped) > 0:
			if err := setAside(c.Dir, ck.Skipped); err != nil {
				return nil, "", err
			}
			logf(c, "train: %s (the damaged ones moved to %s)\n", ck.Note(), filepath.Join(c.Dir, damagedDir))
		case ck.Unverified:
			logf(c, "train: %s\n", ck.Note())
		}
	}
	data, err := json.MarshalIndent(settingsJSON{Settings: settings}, "", "  ")
	if err != nil {
		return nil, "", fmt.Errorf("train: encoding %s: %w", SettingsFile, err)
	}
	files := maps.Clone(c.Files)
	if files == nil {
		files = map[string][]byte{}
	}
	files[SettingsFile] = append(data, '\n')
	for _, name := range slices.Sorted(maps.Keys(files)) {
		if err := safefile.WriteFile(filepath.Join(c.Dir, name), files[name], 0o644); err != nil {
			return nil, "", fmt.Errorf("train: %w", err)
		}
	}
	if err := m.Config.WriteFile(filepath.Join(c.Dir, "config.json")); err != nil {
		return nil, "", fmt.Errorf("train: %w", err)
	}
	keep := c.Keep
	if keep <= 0 {
		keep = 3
	}
	if sv, err = newSaver(m.Store, c.Dir, keep, lock); err != nil {
		return nil, "", err
	}
	return sv, filepath.Join(c.Dir, "loss.csv"), nil
}

// logf prints to c.Log, if set.
func logf(c Config, format string, args ...any) {
	if c.Log != nil {
		fmt.Fprintf(c.Log, format, args...)
	}
}

// removeRun removes the checkpoints, loss curve and settings of the run in
// dir (the JSON files first, so that no checkpoint is ever listed without
// its data).
func removeRun(dir string) error {
	for _, pattern := range []string{
		"checkpoint-*" + checkpoint.JsonNameSuffix, "checkpoint-*" + checkpoint.BinDataSuffix,
		"checkpoint-*" + hfmodel.ChecksumSuffix, "loss.csv", SettingsFile,
	} {
		names, err := filepath.Glob(filepath.Join(dir, pattern))
		if err != nil {
			return fmt.Errorf("train: %w", err)
		}
		for _, n := range names {
			if err := os.Remove(n); err != nil {
				return fmt.Errorf("train: removing the earlier run: %w", err)
			}
		}
	}
	return nil
}

// setAside moves the files of damaged checkpoints into the training
// folder's damagedDir, so that they are neither resumed from nor counted
// when pruning, yet kept for inspection.
func setAside(dir string, damaged []hfmodel.Damaged) error {
	to := filepath.Join(dir, damagedDir)
	if err := os.MkdirAll(to, 0o755); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	for _, d := range damaged {
		for _, suffix := range []string{checkpoint.JsonNameSuffix, checkpoint.BinDataSuffix, hfmodel.ChecksumSuffix} {
			err := os.Rename(filepath.Join(dir, d.Name+suffix), filepath.Join(to, d.Name+suffix))
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("train: setting the damaged checkpoint %s aside: %w", d.Name, err)
			}
		}
	}
	return nil
}
