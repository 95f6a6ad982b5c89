package incident

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// mkfifo makes a named pipe at path.
func mkfifo(t *testing.T, path string) {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatalf("mkfifo %s: %v", path, err)
	}
}

// unblockFIFO lets a reader stuck in open(2) on path go: a writer opens the
// pipe (without blocking) and closes it at once, so the reader sees EOF.
func unblockFIFO(path string) {
	if f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
		f.Close()
	}
}

// bounded runs fn and fails the test when it has not returned within a
// generous bound (it would hang forever on a FIFO otherwise); fifos are
// unblocked then so that the stuck goroutine ends.
func bounded(t *testing.T, what string, fifos []string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); fn() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		for _, p := range fifos {
			unblockFIFO(p)
		}
		<-done
		t.Fatalf("%s: still blocked after 20s (it waits on a FIFO)", what)
	}
}

func TestExpandGlobsRefusesNonRegularFiles(t *testing.T) {
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	if err := os.Mkdir(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	regular := filepath.Join(logs, "a.log")
	if err := os.WriteFile(regular, []byte("x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "pipe.log")
	mkfifo(t, fifo)
	if err := os.Symlink(fifo, filepath.Join(dir, "tofifo.log")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(regular, filepath.Join(dir, "toregular.log")); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "s.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	tests := []struct {
		name    string
		paths   []string
		wantErr string // "" = no error
		wantN   int
	}{
		{"regular file", []string{"logs/*.log"}, "", 1},
		{"symlink to a regular file", []string{"toregular.log"}, "", 1},
		{"FIFO", []string{"pipe.log"}, "pipe.log is a named pipe (FIFO), not a regular file", 0},
		{"FIFO among regular files", []string{"logs/*.log", "*.log"}, "pipe.log is a named pipe (FIFO)", 0},
		{"symlink to a FIFO", []string{"tofifo.log"}, "tofifo.log is a named pipe (FIFO)", 0},
		{"socket", []string{"s.sock"}, "s.sock is a socket, not a regular file", 0},
		{"device", []string{"/dev/null"}, "/dev/null is a device, not a regular file", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &Case{Dir: dir, Logs: []LogSource{{Paths: tc.paths, Format: "nginx"}}}
			var files []InputFile
			var err error
			bounded(t, "ExpandGlobs", []string{fifo}, func() { files, err = c.ExpandGlobs() })
			if tc.wantErr == "" {
				if err != nil || len(files) != tc.wantN {
					t.Fatalf("ExpandGlobs = %d files, %v; want %d files, no error", len(files), err, tc.wantN)
				}
				return
			}
			if err == nil {
				t.Fatalf("ExpandGlobs = %d files, no error; want an error containing %q", len(files), tc.wantErr)
			}
			msg := err.Error()
			for _, want := range []string{tc.wantErr, "logs[0].paths[", "copy the data to a regular file", `"-"`} {
				if !strings.Contains(msg, want) {
					t.Errorf("error = %q, want it to contain %q", msg, want)
				}
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("error has more than one line: %q", msg)
			}
		})
	}
}

// A file named by the glob may be swapped for a FIFO before it is opened:
// opening it must fail at once, never wait for a writer.
func TestOpenRegularRefusesFIFO(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "swapped.log")
	mkfifo(t, fifo)
	regular := filepath.Join(dir, "ok.log")
	if err := os.WriteFile(regular, []byte("x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Run("OpenRegular", func(t *testing.T) {
		var err error
		bounded(t, "OpenRegular", []string{fifo}, func() {
			var f *os.File
			if f, err = OpenRegular(fifo); err == nil {
				f.Close()
			}
		})
		if err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("OpenRegular(FIFO) error = %v, want one saying it is not a regular file", err)
		}
		f, err := OpenRegular(regular)
		if err != nil {
			t.Fatalf("OpenRegular(regular file) = %v, want no error", err)
		}
		defer f.Close()
		b := make([]byte, 4)
		if n, err := f.Read(b); n != 2 || err != nil {
			t.Errorf("read = %d, %v; want 2, nil", n, err)
		}
	})
}
