// Package pgtest gives each test its own throwaway PostgreSQL database on the
// server the README's test command starts (or BREACHCTL_TEST_DATABASE_URL).
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq" // PostgreSQL driver
)

// DefaultAdminURL is the maintenance database the tests connect to when
// BREACHCTL_TEST_DATABASE_URL is not set.
const DefaultAdminURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// AdminURL returns the URL of the maintenance database used to create test databases.
func AdminURL() string {
	if u := os.Getenv("BREACHCTL_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultAdminURL
}

// NewDB creates a fresh database, returns its URL and an open handle, and
// drops it when the test ends. The test fails (never skips) when no server
// answers: `make test` starts one.
func NewDB(t testing.TB) (string, *sqlx.DB) {
	t.Helper()
	return NewDBWith(t, "")
}

// NewDBWith is NewDB with options for CREATE DATABASE, e.g.
// "ENCODING 'SQL_ASCII' TEMPLATE template0".
func NewDBWith(t testing.TB, options string) (string, *sqlx.DB) {
	t.Helper()
	admin, err := sqlx.Open("postgres", AdminURL())
	if err != nil {
		t.Fatalf("pgtest: open %s: %v", redact(AdminURL()), err)
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := admin.PingContext(ctx); err != nil {
		t.Fatalf("pgtest: no PostgreSQL at %s (run `make test`, which starts one, or set BREACHCTL_TEST_DATABASE_URL): %v", redact(AdminURL()), err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "bctest_" + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name+" "+options); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	u, err := url.Parse(AdminURL())
	if err != nil {
		t.Fatalf("pgtest: parse %s: %v", redact(AdminURL()), err)
	}
	u.Path = "/" + name
	dbURL := u.String()
	db, err := sqlx.Open("postgres", dbURL)
	if err != nil {
		t.Fatalf("pgtest: open %s: %v", name, err)
	}
	t.Cleanup(func() {
		db.Close()
		a, err := sqlx.Open("postgres", AdminURL())
		if err != nil {
			t.Errorf("pgtest: drop %s: %v", name, err)
			return
		}
		defer a.Close()
		if _, err := a.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop %s: %v", name, err)
		}
	})
	return dbURL, db
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
