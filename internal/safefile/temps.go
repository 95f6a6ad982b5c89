package safefile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
)

// tempName matches the temporary files Write and WriteUnsynced create
// (".<name>.tmp-<digits>", os.CreateTemp's pattern) and those made the same
// way by callers.
var tempName = regexp.MustCompile(`^\..+\.tmp-[0-9]+$`)

// IsTemp reports whether name is a temporary file of this package's
// pattern.
func IsTemp(name string) bool { return tempName.MatchString(name) }

// RemoveTemps removes the temporary files a writer killed before it could
// rename or remove them left in dir (not in its subdirectories): they may
// hold personal data. Call it only while no other writer uses dir (see
// LockDir). It returns how many it removed.
func RemoveTemps(dir string) (int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range entries {
		if !e.Type().IsRegular() || !IsTemp(e.Name()) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
			return n, fmt.Errorf("remove stale temporary file %s: %w", filepath.Join(dir, e.Name()), err)
		}
		n++
	}
	return n, nil
}

// ErrLocked is returned by LockDir when another process (or another
// LockDir in this one) holds the directory.
var ErrLocked = errors.New("in use by another writer")

// LockDir takes an exclusive advisory lock on dir itself (no lock file is
// made), without waiting: ErrLocked when it is held. The lock ends with
// release or with the process. Where the platform has no flock(2) it locks
// nothing.
func LockDir(dir string) (release func(), err error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	if err := flock(d); err != nil {
		d.Close()
		return nil, err
	}
	return func() { d.Close() }, nil
}
