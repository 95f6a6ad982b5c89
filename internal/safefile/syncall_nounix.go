//go:build !unix

package safefile

func syncAll() bool { return false }
