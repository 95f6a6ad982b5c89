// Package pgembed starts a private, throwaway PostgreSQL server from the
// machine's own PostgreSQL binaries: initdb and pg_ctl in a temporary
// directory, listening on a Unix socket only (no TCP port), removed when
// stopped. `breachctl demo` uses it when no database is configured and none
// answers.
package pgembed

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Server is a running private PostgreSQL.
type Server struct {
	dir    string // removed by Stop
	data   string
	pgCtl  string
	cred   *syscall.Credential
	socket string
	port   int // 0: Unix socket only
}

// FindBinaries returns the directory holding initdb and pg_ctl: from PATH,
// else the newest /usr/lib/postgresql/VERSION/bin (Debian's layout).
func FindBinaries() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		dir := filepath.Dir(p)
		if _, err := os.Stat(filepath.Join(dir, "pg_ctl")); err == nil {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", errors.New("no PostgreSQL binaries (initdb, pg_ctl) found in PATH or /usr/lib/postgresql/*/bin: install PostgreSQL (Debian: apt-get install postgresql) or pass --db URL")
}

func version(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

// Options configures StartWith.
type Options struct {
	// Port, when set, makes the server listen on 127.0.0.1:Port too (the
	// nodes of a Citus cluster connect to each other over TCP).
	Port int
	// Settings are more server settings (-c name=value), such as
	// shared_preload_libraries=citus.
	Settings []string
}

// Start initialises a cluster in a new temporary directory and starts it.
// PostgreSQL refuses to run as root; as root, the server runs as the
// system user "postgres", which owns the temporary directory.
func Start(ctx context.Context) (*Server, error) { return StartWith(ctx, Options{}) }

// StartWith is Start with options.
func StartWith(ctx context.Context, o Options) (*Server, error) {
	bin, err := FindBinaries()
	if err != nil {
		return nil, err
	}
	// The socket path must fit in 107 bytes: a long $TMPDIR falls back to /tmp.
	parent := ""
	if len(os.TempDir()) > 60 {
		parent = "/tmp"
	}
	dir, err := os.MkdirTemp(parent, "breachctl-pg-")
	if err != nil {
		return nil, fmt.Errorf("private PostgreSQL: %w", err)
	}
	s := &Server{dir: dir, data: filepath.Join(dir, "data"), pgCtl: filepath.Join(bin, "pg_ctl"), socket: dir}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(dir)
			return nil, errors.New("private PostgreSQL: running as root and there is no system user postgres to run the server as; pass --db URL instead")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("private PostgreSQL: %w", err)
		}
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := s.run(ctx, filepath.Join(bin, "initdb"), "-D", s.data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync", "--locale", "C"); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("private PostgreSQL: initdb: %w", err)
	}
	listen := "''"
	if o.Port > 0 {
		listen = fmt.Sprintf("'127.0.0.1' -p %d", o.Port)
		s.port = o.Port
	}
	opts := fmt.Sprintf("-c listen_addresses=%s -k '%s' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=100", listen, dir)
	for _, set := range o.Settings {
		opts += " -c " + set
	}
	if err := s.run(ctx, s.pgCtl, "-D", s.data, "-l", filepath.Join(dir, "server.log"), "-o", opts, "-w", "-t", "60", "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
		// pg_ctl may have been interrupted after the server started: stop
		// it before its directory goes.
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_ = s.run(sctx, s.pgCtl, "-D", s.data, "-m", "immediate", "-w", "stop")
		cancel()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("private PostgreSQL: pg_ctl start: %w; server log: %s", err, lastLines(string(log), 5))
	}
	return s, nil
}

// URL returns a connection URL for database name on the private server
// (over TCP when it listens on a port).
func (s *Server) URL(name string) string {
	if s.port > 0 {
		return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.port, name)
	}
	q := url.Values{"host": {s.socket}, "sslmode": {"disable"}}
	return "postgres://postgres@/" + name + "?" + q.Encode()
}

// Port is the TCP port it listens on (0: Unix socket only).
func (s *Server) Port() int { return s.port }

// Dir is the temporary directory holding the cluster and its socket.
func (s *Server) Dir() string { return s.dir }

// Stop shuts the server down and removes its directory.
func (s *Server) Stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err := s.run(ctx, s.pgCtl, "-D", s.data, "-m", "fast", "-w", "stop")
	if rerr := os.RemoveAll(s.dir); err == nil {
		err = rerr
	}
	return err
}

func (s *Server) run(ctx context.Context, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = s.dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%v: %s", err, lastLines(out.String(), 5))
	}
	return nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
