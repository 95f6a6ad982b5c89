package safefile

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// SyncFS flushes the file system holding dir to disk: one call instead of an
// fsync per file.
func SyncFS(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := unix.Syncfs(int(d.Fd())); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
