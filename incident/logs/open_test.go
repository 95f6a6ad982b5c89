package logs

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// boundedRun runs fn and fails the test when it has not returned within a
// generous bound; unblock is then called to let fn end (e.g. a FIFO is
// opened for writing and closed, so a reader stuck in open(2) sees EOF).
func boundedRun(t *testing.T, what string, unblock func(), fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); fn() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		unblock()
		<-done
		t.Fatalf("%s: still blocked after 20s", what)
	}
}

// openWriter lets a reader stuck opening the FIFO at path go.
func openWriter(path string) func() {
	return func() {
		if f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			f.Close()
		}
	}
}

// A file listed as evidence and then swapped for a FIFO is refused when it
// is hashed or read; neither waits for a writer.
func TestHashAndReadRefuseFIFO(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "swapped.log")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Run("HashFile", func(t *testing.T) {
		var err error
		boundedRun(t, "HashFile", openWriter(fifo), func() { _, _, err = HashFile(fifo) })
		if err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("HashFile(FIFO) error = %v, want one saying it is not a regular file", err)
		}
	})
	t.Run("Read", func(t *testing.T) {
		var stats []FileStats
		var err error
		boundedRun(t, "Read", openWriter(fifo), func() {
			stats, err = Read(context.Background(), []Input{{Path: fifo, Name: "swapped.log", Parser: lineParser{}}}, Options{Workers: 1})
		})
		if err != nil {
			t.Fatalf("Read error = %v, want the problem in FileStats", err)
		}
		if !stats[0].Truncated || !strings.Contains(stats[0].ReadError, "not a regular file") {
			t.Errorf("Read(FIFO) stats: truncated %v, read error %q; want truncated, \"... not a regular file ...\"", stats[0].Truncated, stats[0].ReadError)
		}
	})
}

// blockingReader blocks in Read until closed, like a terminal nobody types into.
type blockingReader struct{ done chan struct{} }

func (b blockingReader) Read([]byte) (int, error) { <-b.done; return 0, io.EOF }

func TestHashAndSpoolHonourCancellation(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.log")
	if err := os.WriteFile(big, make([]byte, 8<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	t.Run("HashFileContext", func(t *testing.T) {
		if _, _, err := HashFileContext(ctx, big); !errors.Is(err, context.Canceled) {
			t.Errorf("HashFileContext(cancelled) error = %v, want context.Canceled", err)
		}
	})
	t.Run("SpoolContext", func(t *testing.T) {
		spool := t.TempDir()
		in := blockingReader{done: make(chan struct{})}
		var err error
		boundedRun(t, "SpoolContext", func() { close(in.done) }, func() { _, _, _, err = SpoolContext(ctx, in, spool) })
		if !errors.Is(err, context.Canceled) {
			t.Errorf("SpoolContext(cancelled) error = %v, want context.Canceled", err)
		}
		left, _ := os.ReadDir(spool)
		if len(left) != 0 {
			t.Errorf("SpoolContext(cancelled) left %d files in the spool directory, want none", len(left))
		}
	})
}
