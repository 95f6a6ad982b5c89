// Package citustest starts a real Citus cluster on this machine for tests:
// a coordinator and workers, each a private PostgreSQL server (pgembed) on
// its own 127.0.0.1 port with shared_preload_libraries = citus, the
// extension created on each, the workers registered with the coordinator;
// everything is stopped and removed when the test ends.
//
// Citus must be installed for the machine's PostgreSQL (`make test` builds
// it from ../shared/vendor/citus with its build.sh when that folder is
// there); without it the test is skipped and says why.
package citustest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq" // PostgreSQL driver

	"github.com/breachctl/breachctl/internal/pgembed"
)

// Cluster is a running Citus cluster.
type Cluster struct {
	Coordinator *pgembed.Server
	Workers     []*pgembed.Server
}

// Installed reports whether the Citus extension is installed for the
// machine's PostgreSQL, and if not, why.
func Installed() (bool, string) {
	bin, err := pgembed.FindBinaries()
	if err != nil {
		return false, err.Error()
	}
	pgConfig := filepath.Join(bin, "pg_config")
	if _, err := os.Stat(pgConfig); err != nil {
		pgConfig = "pg_config"
	}
	out, err := exec.Command(pgConfig, "--pkglibdir").Output()
	if err != nil {
		return false, fmt.Sprintf("pg_config --pkglibdir: %v", err)
	}
	lib := filepath.Join(strings.TrimSpace(string(out)), "citus.so")
	if _, err := os.Stat(lib); err != nil {
		return false, fmt.Sprintf("Citus is not installed (no %s): `make test` builds it from ../shared/vendor/citus (scripts/ensure-citus.sh); without that folder it cannot", lib)
	}
	return true, ""
}

// Start starts a coordinator and n workers for the test, or skips it when
// Citus is not installed.
func Start(t testing.TB, workers int) *Cluster {
	t.Helper()
	if ok, why := Installed(); !ok {
		t.Skip(why)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := &Cluster{}
	t.Cleanup(c.stop)
	start := func() *pgembed.Server {
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		s, err := pgembed.StartWith(ctx, pgembed.Options{Port: port, Settings: []string{
			"shared_preload_libraries=citus",
			// One machine: no parallel query inside a node; Citus's own
			// shard tasks are the parallelism.
			"max_parallel_workers_per_gather=0",
			// Nodes talk over loopback without TLS (libpq would otherwise
			// look for client certificates in the test user's home).
			"citus.node_conninfo=sslmode=disable",
		}})
		if err != nil {
			t.Fatalf("citustest: start a node: %v", err)
		}
		return s
	}
	c.Coordinator = start()
	for i := 0; i < workers; i++ {
		c.Workers = append(c.Workers, start())
	}
	for _, s := range append([]*pgembed.Server{c.Coordinator}, c.Workers...) {
		if err := exec1(ctx, s.URL("postgres"), "CREATE EXTENSION IF NOT EXISTS citus"); err != nil {
			t.Fatalf("citustest: CREATE EXTENSION citus: %v", err)
		}
	}
	if err := exec1(ctx, c.Coordinator.URL("postgres"), fmt.Sprintf("SELECT citus_set_coordinator_host('127.0.0.1', %d)", c.Coordinator.Port())); err != nil {
		t.Fatalf("citustest: set the coordinator: %v", err)
	}
	for _, w := range c.Workers {
		if err := exec1(ctx, c.Coordinator.URL("postgres"), fmt.Sprintf("SELECT citus_add_node('127.0.0.1', %d)", w.Port())); err != nil {
			t.Fatalf("citustest: add worker on port %d: %v", w.Port(), err)
		}
	}
	return c
}

// URL is the coordinator's URL (database postgres, where Citus is).
func (c *Cluster) URL() string { return c.Coordinator.URL("postgres") }

func (c *Cluster) stop() {
	var errs []error
	for _, s := range append(c.Workers, c.Coordinator) {
		if s != nil {
			errs = append(errs, s.Stop())
		}
	}
	_ = errors.Join(errs...)
}

func exec1(ctx context.Context, url, q string) error {
	db, err := sqlx.Open("postgres", url)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, q)
	return err
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
