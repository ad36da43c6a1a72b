// Package safefile reads and writes files so that nothing of the user's is
// lost and nothing hangs or exhausts memory. A file is written to a
// temporary file in the same folder, synced, and only then renamed over the
// target, so a reader (or a later run) sees the old content or the new one,
// never a truncated mix, even when the disk fills up or the process is
// killed half-way; on any failure the temporary file is removed and the old
// file is left as it was. A file read whole is bounded in size and must be
// a regular file (not /dev/zero, a named pipe or a folder).
package safefile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Write writes path with the bytes that write produces, through a
// temporary file renamed into place. A new file gets mode perm; an existing
// one keeps its mode. When path is a symbolic link, its target is written
// (the link stays). A path that exists but is not a regular file (a folder,
// a device such as /dev/null) is refused.
func Write(path string, perm fs.FileMode, write func(w io.Writer) error) error {
	target, mode, err := resolve(path, perm)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(target), "."+filepath.Base(target)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	bw := bufio.NewWriter(tmp)
	if err := write(bw); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Chmod(mode); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), target); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	done = true
	return nil
}

// WriteFile is [Write] with the content data.
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	return Write(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// resolve returns the file to replace (path, or the target of a symbolic
// link) and the mode the new content gets.
func resolve(path string, perm fs.FileMode) (string, fs.FileMode, error) {
	target, err := filepath.EvalSymlinks(path)
	if errors.Is(err, fs.ErrNotExist) {
		// A new file (or a dangling link: write the path itself).
		return path, perm, nil
	}
	if err != nil {
		return "", 0, fmt.Errorf("writing %s: %w", path, err)
	}
	st, err := os.Stat(target)
	if err != nil {
		return "", 0, fmt.Errorf("writing %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return "", 0, fmt.Errorf("writing %s: it exists and is %s, not a regular file; give a file name", path, Kind(st.Mode()))
	}
	return target, st.Mode().Perm(), nil
}

// MaxMetadataBytes bounds the small files read whole: config.json (dandelin's,
// with 3129 labels, has about 200 KB), preprocessor and tokenizer settings,
// training.json, checkpoint descriptions, checksum lists, safetensors
// indexes, Hub refs and tokens.
const MaxMetadataBytes = 64 << 20

// ReadFile reads the regular file at path, of at most limit bytes. A path
// that is not a regular file (a folder, a device such as /dev/zero, a named
// pipe) is refused before it is opened, and so is a larger file.
func ReadFile(path string, limit int64) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is %s, not a regular file", path, Kind(st.Mode()))
	}
	if st.Size() > limit {
		return nil, fmt.Errorf("%s has %d bytes, more than the %d allowed", path, st.Size(), limit)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s grew past %d bytes while being read", path, limit)
	}
	return data, nil
}

// NotInput returns an error when path and one of inputs are the same
// existing file (through any name or link): writing path would destroy an
// input of the same run. Inputs that do not exist are ignored.
func NotInput(path string, inputs ...string) error {
	out, err := os.Stat(path)
	if err != nil {
		return nil // nothing there yet: nothing to destroy
	}
	for _, in := range inputs {
		if in == "" {
			continue
		}
		if st, err := os.Stat(in); err == nil && os.SameFile(out, st) {
			return fmt.Errorf("refusing to write %s: it is %s, an input of this run; choose another output file", path, in)
		}
	}
	return nil
}

// Kind names the type of a file mode in words ("a folder", "a symbolic
// link", "a named pipe", ...), for error messages.
func Kind(m fs.FileMode) string {
	switch t := m.Type(); {
	case t == 0:
		return "a regular file"
	case t&fs.ModeDir != 0:
		return "a folder"
	case t&fs.ModeSymlink != 0:
		return "a symbolic link"
	case t&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case t&fs.ModeSocket != 0:
		return "a socket"
	case t&fs.ModeCharDevice != 0:
		return "a character device"
	case t&fs.ModeDevice != 0:
		return "a block device"
	default:
		return "a special file"
	}
}
