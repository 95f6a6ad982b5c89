// Package safefile writes files that hold personal data: mode 0600, written
// to a temporary file in the same directory and renamed into place, so a
// reader never sees half a file and a failure leaves nothing behind.
package safefile

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Write creates path (0600) with what fn writes, synced to disk before it
// is renamed into place.
func Write(path string, fn func(w io.Writer) error) error { return write(path, fn, true) }

// WriteUnsynced is Write without the fsync, for writers of many small files
// that make them durable together afterwards (see SyncFS).
func WriteUnsynced(path string, fn func(w io.Writer) error) error { return write(path, fn, false) }

func write(path string, fn func(w io.Writer) error, sync bool) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return err
	}
	if err := fn(tmp); err != nil {
		return err
	}
	if sync {
		if err := tmp.Sync(); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	ok = true
	return nil
}
