package main

// Regression tests for issue 21 items 7 (only regular files are evidence;
// interrupts stop every stage and mark the run interrupted), 11 (one line
// limit for validate and ingest) and 13 (a dry run leaves no spool copy).

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/breachctl/breachctl/incident"
	"github.com/breachctl/breachctl/incident/correlate"
	"github.com/breachctl/breachctl/incident/ingest"
	"github.com/breachctl/breachctl/incident/store"
)

// runCLIWith runs breachctl in-process with ctx and stdin.
func runCLIWith(ctx context.Context, env map[string]string, stdin io.Reader, args ...string) cliResult {
	var out, errb bytes.Buffer
	getenv := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	code := Main(ctx, args, IO{In: stdin, Out: &out, Err: &errb}, getenv)
	return cliResult{code, out.String(), errb.String()}
}

// boundedCLI runs breachctl and fails the test when it has not returned
// within a generous bound (the code before the fix waited forever on a
// FIFO); the FIFO is then opened for writing and closed so it ends.
func boundedCLI(t *testing.T, fifo string, env map[string]string, args ...string) cliResult {
	t.Helper()
	done := make(chan cliResult, 1)
	go func() { done <- runCLIWith(context.Background(), env, strings.NewReader(""), args...) }()
	select {
	case r := <-done:
		return r
	case <-time.After(30 * time.Second):
		for i := 0; i < 10; i++ { // every open of the FIFO waits for a writer
			if f, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
				f.Close()
			}
			select {
			case <-done:
				t.Fatalf("breachctl %s: still blocked after 30s on a FIFO", strings.Join(args, " "))
			case <-time.After(time.Second):
			}
		}
		t.Fatalf("breachctl %s: still blocked after 30s on a FIFO, and after it was unblocked", strings.Join(args, " "))
	}
	return cliResult{}
}

const sidLine = `203.0.113.9 - - [22/Jun/2017:09:45:00 +0900] "GET /mypage/profile%s HTTP/1.1" 200 512 "-" "Mozilla/5.0" "sid=abc"`

// paddedLine is a log line of exactly n bytes (its query string is padding).
func paddedLine(t *testing.T, n int) string {
	t.Helper()
	base := len(fmt.Sprintf(sidLine, "?p="))
	l := fmt.Sprintf(sidLine, "?p="+strings.Repeat("a", n-base))
	if len(l) != n {
		t.Fatalf("padded line is %d bytes, want %d", len(l), n)
	}
	return l
}

// Item 7: a FIFO named by a log glob fails validate and ingest at once with
// one clear line, instead of hanging until killed.
func TestReviewFIFOLogFailsFast(t *testing.T) {
	path, env := writeCase(t, nil)
	fifo := filepath.Join(filepath.Dir(path), "logs", "b.log")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	want := "b.log is a named pipe (FIFO), not a regular file"
	tests := []struct {
		name string
		args []string
	}{
		{"validate", []string{"validate", "-f", path}},
		{"ingest", []string{"ingest", "-f", path}},
		{"ingest --dry-run", []string{"ingest", "-f", path, "--dry-run"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := boundedCLI(t, fifo, env, tc.args...)
			if r.code != 1 {
				t.Errorf("exit code = %d, want 1 (stderr %q)", r.code, r.err)
			}
			if tc.name == "validate" {
				if !strings.Contains(r.out, "FAIL  logs: ") || !strings.Contains(r.out, want) {
					t.Errorf("validate output = %q, want a FAIL line containing %q", r.out, want)
				}
				return
			}
			if !strings.Contains(r.err, want) || !strings.Contains(r.err, "copy the data to a regular file") {
				t.Errorf("stderr = %q, want it to contain %q and what to do", r.err, want)
			}
			if strings.Count(strings.TrimSpace(r.err), "\n") > 0 {
				t.Errorf("stderr has more than one line: %q", r.err)
			}
		})
	}
	// Nothing was started: no run is left "running".
	st, err := store.Open(context.Background(), env["BREACHCTL_DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if runs, err := st.Runs(context.Background(), "web-cache-2017-06"); err != nil || len(runs) != 0 {
		t.Errorf("runs after refused ingest = %d, %v; want none", len(runs), err)
	}
}

// Item 11: validate and ingest share one line limit: a line at the limit
// passes both, a longer one is rejected by both with the same reason.
func TestReviewLineLimitValidateAndIngest(t *testing.T) {
	reason := "longer than 1048576 bytes"
	if got := incident.TooLongReason(incident.MaxLine); got != reason {
		t.Fatalf("TooLongReason = %q, want %q", got, reason)
	}
	tests := []struct {
		name         string
		n            int
		wantValidate int    // exit code
		wantReject   string // "" = no line rejected
	}{
		{"just under the limit", incident.MaxLine - 1, 0, ""},
		{"at the limit", incident.MaxLine, 0, ""},
		{"over the limit", incident.MaxLine + 1, 1, reason},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path, env := writeCase(t, nil)
			long := filepath.Join(filepath.Dir(path), "logs", "long.log")
			if err := os.WriteFile(long, []byte(paddedLine(t, tc.n)+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			r := runCLI(t, env, "validate", "-f", path)
			if r.code != tc.wantValidate {
				t.Errorf("validate exit code = %d, want %d\n%s%s", r.code, tc.wantValidate, r.out, r.err)
			}
			if tc.wantReject != "" && !strings.Contains(r.out, "FAIL  logs/long.log: ") {
				t.Errorf("validate output = %q, want a FAIL line for logs/long.log", r.out)
			}
			if got := strings.Contains(r.out, reason); got != (tc.wantReject != "") {
				t.Errorf("validate output mentions %q: %v, want %v\n%s", reason, got, tc.wantReject != "", r.out)
			}
			r = runCLI(t, env, "ingest", "-f", path, "--dry-run")
			if r.code != 0 {
				t.Fatalf("ingest --dry-run exit code = %d, want 0\n%s%s", r.code, r.out, r.err)
			}
			wantRejected := "parsed 6, rejected 0"
			if tc.wantReject != "" {
				wantRejected = "parsed 5, rejected 1"
				if want := "logs/long.log: 1 rejected, first at line 1: " + tc.wantReject; !strings.Contains(r.out, want) {
					t.Errorf("ingest output = %q, want it to contain %q", r.out, want)
				}
			}
			if !strings.Contains(r.out, wantRejected) {
				t.Errorf("ingest output = %q, want it to contain %q", r.out, wantRejected)
			}
		})
	}
}

// stdinCase writes a case whose only log path is "-" (standard input).
func stdinCase(t *testing.T) (path string, env map[string]string) {
	t.Helper()
	return writeCase(t, func(s string) string {
		return strings.Replace(s, `paths: ["logs/*.log"]`, `paths: ["-"]`, 1)
	})
}

func gzipped(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func spoolFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "breachctl-stdin-*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Item 13: ingest --dry-run on standard input removes its spool copy (it
// holds session ids) whether it succeeds or fails; a real ingest keeps it,
// 0600, as evidence.
func TestReviewDryRunLeavesNoSpool(t *testing.T) {
	path, env := stdinCase(t)
	lines := strings.Repeat(fmt.Sprintf(sidLine, "")+"\n", 5)
	gz := gzipped(t, lines)
	tests := []struct {
		name      string
		args      []string
		stdin     []byte
		wantCode  int
		wantSpool int
	}{
		{"dry run", []string{"--dry-run"}, []byte(lines), 0, 0},
		{"dry run of a truncated gzip stream", []string{"--dry-run"}, gz[:len(gz)-6], 1, 0},
		{"real ingest", nil, []byte(lines), 0, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			t.Setenv("TMPDIR", tmp)
			r := runCLIWith(context.Background(), env, bytes.NewReader(tc.stdin), append([]string{"ingest", "-f", path}, tc.args...)...)
			if r.code != tc.wantCode {
				t.Fatalf("exit code = %d, want %d\n%s%s", r.code, tc.wantCode, r.out, r.err)
			}
			left := spoolFiles(t, tmp)
			if len(left) != tc.wantSpool {
				t.Fatalf("spool files left in TMPDIR = %v, want %d", left, tc.wantSpool)
			}
			for _, p := range left {
				fi, err := os.Stat(p)
				if err != nil || fi.Mode().Perm() != 0o600 {
					t.Errorf("spool %s: mode %v, %v; want 0600", p, fi.Mode().Perm(), err)
				}
			}
			if tc.wantSpool == 0 && strings.Contains(r.out+r.err, "kept as") {
				t.Errorf("dry run output says the input was kept: %s%s", r.out, r.err)
			}
		})
	}
}

// cancelReader cancels ctx on its first Read, then reads r.
type cancelReader struct {
	r      io.Reader
	cancel func()
}

func (c *cancelReader) Read(p []byte) (int, error) { c.cancel(); return c.r.Read(p) }

// cancellingResolver cancels ctx when identities are first resolved, then
// asks the real resolver (which must see the cancellation).
type cancellingResolver struct {
	correlate.Resolver
	cancel func()
}

func (r cancellingResolver) Sessions(ctx context.Context, ids []string) (map[string]string, error) {
	r.cancel()
	return r.Resolver.Sessions(ctx, ids)
}

// Item 7: an ingest cancelled in any stage stops, and its run is marked
// interrupted, never left running or called done.
func TestReviewIngestInterruptedRun(t *testing.T) {
	caseFile, env, _ := simulateCase(t, "nginx")
	getenv := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	c, err := incident.Load(caseFile, func(k string) (string, bool) {
		if v, ok := getenv(k); ok {
			return v, ok
		}
		return os.LookupEnv(k)
	})
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), env["BREACHCTL_DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	files, err := c.ExpandGlobs()
	if err != nil {
		t.Fatal(err)
	}
	var allLogs bytes.Buffer // every plain-text log, for the standard-input case
	for _, f := range files {
		if strings.HasSuffix(f.Path, ".log") {
			b, err := os.ReadFile(f.Path)
			if err != nil {
				t.Fatal(err)
			}
			allLogs.Write(b)
		}
	}
	usersDB, err := store.Connect(context.Background(), c.Users.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer usersDB.Close()

	tests := []struct {
		name  string
		stdin bool
		setup func(o *ingest.Options, cancel func())
	}{
		{"spooling standard input", true, func(o *ingest.Options, cancel func()) {
			o.Stdin = &cancelReader{r: bytes.NewReader(allLogs.Bytes()), cancel: cancel}
		}},
		{"before hashing and reading", false, func(o *ingest.Options, cancel func()) {
			o.OnStart = func(int64, int) { cancel() }
		}},
		{"while reading", false, func(o *ingest.Options, cancel func()) {
			// Cancelled once the first bytes are read; should the read be
			// over by then, correlating waits for the cancel, so that the
			// outcome never depends on the scheduler.
			o.Progress = new(atomic.Int64)
			cancelled := make(chan struct{})
			go func() {
				for o.Progress.Load() == 0 {
					time.Sleep(time.Millisecond)
				}
				cancel()
				close(cancelled)
			}()
			o.OnPhase = func(string) { <-cancelled }
		}},
		{"correlating", false, func(o *ingest.Options, cancel func()) {
			o.OnPhase = func(p string) {
				if p == "correlating" {
					cancel()
				}
			}
		}},
		{"resolving", false, func(o *ingest.Options, cancel func()) {
			o.Resolver = cancellingResolver{Resolver: &correlate.DBResolver{DB: usersDB, SessionsQuery: c.Users.SessionsQuery, UsersQuery: c.Users.UsersQuery}, cancel: cancel}
		}},
		{"storing", false, func(o *ingest.Options, cancel func()) {
			o.OnPhase = func(p string) {
				if p == "storing" {
					cancel()
				}
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cc := *c
			if tc.stdin {
				cc.Logs = append([]incident.LogSource(nil), c.Logs...)
				cc.Logs[0].Paths = []string{"-"}
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			opts := ingest.Options{SpoolDir: t.TempDir()}
			tc.setup(&opts, cancel)
			done := make(chan error, 1)
			go func() { _, err := ingest.Run(ctx, st, &cc, opts); done <- err }()
			var err error
			select {
			case err = <-done:
			case <-time.After(2 * time.Minute):
				t.Fatal("ingest still running 2 minutes after it was cancelled")
			}
			var ie *ingest.InterruptedError
			if !errors.As(err, &ie) || !errors.Is(err, context.Canceled) {
				t.Fatalf("ingest error = %v, want an *ingest.InterruptedError wrapping context.Canceled", err)
			}
			runs, rerr := st.Runs(context.Background(), c.ID)
			if rerr != nil || len(runs) == 0 {
				t.Fatalf("runs = %d, %v", len(runs), rerr)
			}
			r := runs[0]
			if r.Run != ie.Run || r.State != store.RunInterrupted || !r.FinishedAt.Valid {
				t.Errorf("run %d: state %q, finished %v; want run %d %q and finished", r.Run, r.State, r.FinishedAt.Valid, ie.Run, store.RunInterrupted)
			}
			if !strings.Contains(r.Error.String, "interrupted") {
				t.Errorf("run %d error = %q, want it to say interrupted", r.Run, r.Error.String)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("run %d is marked interrupted", r.Run)) {
				t.Errorf("error = %q, want it to name the interrupted run", err)
			}
		})
	}
	// An interrupted run is never read as the latest result.
	if r, err := st.LatestRun(context.Background(), c.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("LatestRun = %v, %v; want ErrNotFound (no run completed)", r, err)
	}
}

// TestReviewFilesHelperProcess is breachctl's main, run as a subprocess by
// the signal tests (it does nothing in a normal test run).
func TestReviewFilesHelperProcess(t *testing.T) {
	if os.Getenv("BREACHCTL_REVIEW_HELPER") != "1" {
		t.Skip("helper process for TestReviewSIGINT")
	}
	args := strings.Split(os.Getenv("BREACHCTL_REVIEW_ARGS"), "\x1f")
	os.Exit(mainWithSignals(args, systemIO(), os.LookupEnv))
}

// Item 7 and 13: a real SIGINT reaches an ingest waiting on standard input:
// it stops, exits 1 saying it was interrupted, marks its run interrupted, and
// a dry run leaves no spool copy behind.
func TestReviewSIGINT(t *testing.T) {
	tests := []struct {
		name    string
		dryRun  bool
		wantRun bool
	}{
		{"ingest --dry-run", true, false},
		{"ingest", false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path, env := stdinCase(t)
			tmp := t.TempDir()
			args := []string{"ingest", "-f", path}
			if tc.dryRun {
				args = append(args, "--dry-run")
			}
			cmd := exec.Command(os.Args[0], "-test.run=^TestReviewFilesHelperProcess$")
			cmd.Env = append(os.Environ(), "BREACHCTL_REVIEW_HELPER=1", "BREACHCTL_REVIEW_ARGS="+strings.Join(args, "\x1f"),
				"TMPDIR="+tmp, "USERS_DATABASE_URL="+env["USERS_DATABASE_URL"], "BREACHCTL_DATABASE_URL="+env["BREACHCTL_DATABASE_URL"])
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			in, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close() // standard input stays open: the ingest waits on it
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			if _, err := io.WriteString(in, fmt.Sprintf(sidLine, "")+"\n"); err != nil {
				t.Fatal(err)
			}
			// Wait (bounded) until it is spooling standard input.
			deadline := time.Now().Add(60 * time.Second)
			for len(spoolFiles(t, tmp)) == 0 {
				if time.Now().After(deadline) {
					_ = cmd.Process.Kill()
					t.Fatalf("no spool file after 60s\nstderr: %s", stderr.String())
				}
				time.Sleep(20 * time.Millisecond)
			}
			if err := cmd.Process.Signal(os.Interrupt); err != nil {
				t.Fatal(err)
			}
			select {
			case err = <-exited:
			case <-time.After(60 * time.Second):
				_ = cmd.Process.Kill()
				<-exited
				t.Fatalf("still running 60s after SIGINT (the interrupt was ignored)\nstderr: %s", stderr.String())
			}
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 {
				t.Errorf("exit = %v, want exit status 1\nstderr: %s", err, stderr.String())
			}
			if !strings.Contains(stderr.String(), "interrupted") {
				t.Errorf("stderr = %q, want it to say interrupted", stderr.String())
			}
			if left := spoolFiles(t, tmp); len(left) != 0 {
				t.Errorf("spool files left after the interrupt: %v, want none", left)
			}
			if !tc.wantRun {
				return
			}
			st, err := store.Open(context.Background(), env["BREACHCTL_DATABASE_URL"])
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			runs, err := st.Runs(context.Background(), "web-cache-2017-06")
			if err != nil || len(runs) != 1 || runs[0].State != store.RunInterrupted {
				var states []string
				for _, r := range runs {
					states = append(states, r.State)
				}
				t.Errorf("runs = %v (%v), want one, interrupted", states, err)
			}
		})
	}
}
