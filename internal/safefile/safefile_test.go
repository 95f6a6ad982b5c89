package safefile

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

func TestRemoveTemps(t *testing.T) {
	dir := t.TempDir()
	names := map[string]bool{ // name -> a temporary file of ours
		".1001.eml.tmp-123456":       true,
		".manifest.jsonl.tmp-42":     true,
		".%2Fx.eml.tmp-9":            true,
		"1001.eml":                   false,
		".tmp-1":                     false,
		"manifest.jsonl":             false,
		".notes.tmp-backup":          false,
		"x.tmp-1":                    false,
		".1001.eml.tmp-123456.saved": false,
	}
	for n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, ".sub.tmp-1"), 0o700); err != nil {
		t.Fatal(err)
	}
	n, err := RemoveTemps(dir)
	if err != nil || n != 3 {
		t.Errorf("RemoveTemps = %d, %v; want 3, nil", n, err)
	}
	var left []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		left = append(left, e.Name())
	}
	var want []string
	for n, temp := range names {
		if !temp {
			want = append(want, n)
		}
	}
	want = append(want, ".sub.tmp-1")
	sort.Strings(want)
	if len(left) != len(want) {
		t.Fatalf("left %v, want %v", left, want)
	}
	for i := range want {
		if left[i] != want[i] {
			t.Errorf("left %v, want %v", left, want)
			break
		}
	}
}

func TestLockDir(t *testing.T) {
	dir := t.TempDir()
	release, err := LockDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if r2, err := LockDir(dir); !errors.Is(err, ErrLocked) {
		if r2 != nil {
			r2()
		}
		t.Skipf("LockDir twice = %v: no flock(2) here", err)
	}
	release()
	r3, err := LockDir(dir)
	if err != nil {
		t.Fatalf("LockDir after release: %v", err)
	}
	r3()
}
