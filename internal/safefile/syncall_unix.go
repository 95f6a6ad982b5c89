//go:build unix && !linux

package safefile

import "syscall"

func syncAll() bool {
	syscall.Sync()
	return true
}
