//go:build !linux

package safefile

import "os"

// SyncFS makes the files written under dir durable. Without Linux's
// syncfs, it flushes every file system where the platform can (sync(2) on
// other Unix systems), else syncs the directory.
func SyncFS(dir string) error {
	if syncAll() {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	_ = d.Sync() // not supported for directories everywhere
	return nil
}
