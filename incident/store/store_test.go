package store

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/breachctl/breachctl/internal/pgtest"
)

func TestMigrateTwiceIsNoop(t *testing.T) {
	ctx := context.Background()
	url, _ := pgtest.NewDB(t)
	s, err := Open(ctx, url)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	want, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	v, err := s.Version(ctx)
	if err != nil || v != want[len(want)-1].version {
		t.Fatalf("Version() = %d, %v; want %d", v, err, want[len(want)-1].version)
	}
	applied, err := s.Migrate(ctx)
	if err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	if len(applied) != 0 {
		t.Errorf("second Migrate applied %v, want nothing", applied)
	}
	var tables []string
	if err := s.DB.Select(&tables, `SELECT table_name FROM information_schema.tables WHERE table_schema = 'breachctl' ORDER BY 1`); err != nil {
		t.Fatal(err)
	}
	wantTables := []string{"affected", "audit", "cases", "evidence", "exposure_events", "letter_batches", "load_files", "loads", "notice_bounces", "notices", "reports", "runs", "schema_migrations", "selfcheck_refusals", "selfcheck_tokens", "staff", "staff_sessions", "victim_pages"}
	if len(tables) != len(wantTables) {
		t.Fatalf("tables = %v, want %v", tables, wantTables)
	}
	for i := range tables {
		if tables[i] != wantTables[i] {
			t.Errorf("table %d = %s, want %s", i, tables[i], wantTables[i])
		}
	}
}

func TestMigrateConcurrently(t *testing.T) {
	ctx := context.Background()
	url, _ := pgtest.NewDB(t)
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		go func() {
			s, err := Open(ctx, url)
			if err == nil {
				s.Close()
			}
			errs <- err
		}()
	}
	for i := 0; i < 4; i++ {
		if err := <-errs; err != nil {
			t.Errorf("concurrent Open: %v", err)
		}
	}
}

func TestCaseRoundTrip(t *testing.T) {
	ctx := context.Background()
	url, _ := pgtest.NewDB(t)
	s, err := Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.GetCase(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetCase(missing) error = %v, want ErrNotFound", err)
	}
	c := Case{ID: "c-1", Title: "t", CaseFile: "incident.yaml", CaseFileSHA256: "ab"}
	if err := s.UpsertCase(ctx, c); err != nil {
		t.Fatal(err)
	}
	c.Title = "t2"
	if err := s.UpsertCase(ctx, c); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetCase(ctx, "c-1")
	if err != nil || got.Title != "t2" {
		t.Errorf("GetCase = %+v, %v; want title t2", got, err)
	}
}

func TestConnectExplains(t *testing.T) {
	_, err := Connect(context.Background(), "postgres://postgres@127.0.0.1:1/x?sslmode=disable&connect_timeout=2")
	if err == nil {
		t.Fatal("Connect to a closed port succeeded")
	}
	if got := err.Error(); !strings.Contains(got, "no server answers") {
		t.Errorf("error = %q, want it to say no server answers", got)
	}
}

func TestRedact(t *testing.T) {
	if got := Redact("postgres://u:secret@h/db"); strings.Contains(got, "secret") {
		t.Errorf("Redact kept the password: %s", got)
	}
}
