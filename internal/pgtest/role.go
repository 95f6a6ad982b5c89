package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
)

// NewRole creates a LOGIN role without a password (the test server trusts
// 127.0.0.1), runs each of grants in db with {role} replaced by its name,
// and returns the role's name and dbURL rewritten to connect as it. The
// role is dropped when the test ends (call it after NewDB, so that it is
// dropped before the database).
func NewRole(t testing.TB, db *sqlx.DB, dbURL string, grants ...string) (name, roleURL string) {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	name = "bctest_role_" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, "CREATE ROLE "+name+" LOGIN"); err != nil {
		t.Fatalf("pgtest: create role %s: %v", name, err)
	}
	t.Cleanup(func() {
		// Its privileges in db first, then the role (cluster-wide).
		if _, err := db.Exec("DROP OWNED BY " + name); err != nil {
			t.Errorf("pgtest: drop owned by %s: %v", name, err)
		}
		if _, err := db.Exec("DROP ROLE IF EXISTS " + name); err != nil {
			t.Errorf("pgtest: drop role %s: %v", name, err)
		}
	})
	for _, g := range grants {
		if _, err := db.ExecContext(ctx, strings.ReplaceAll(g, "{role}", name)); err != nil {
			t.Fatalf("pgtest: role %s: %s: %v", name, g, err)
		}
	}
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatalf("pgtest: parse %s: %v", redact(dbURL), err)
	}
	u.User = url.User(name)
	return name, u.String()
}

// NewReader is NewRole for a read-only role: USAGE on the public schema and
// SELECT on tables.
func NewReader(t testing.TB, db *sqlx.DB, dbURL string, tables ...string) (name, roleURL string) {
	t.Helper()
	grants := []string{"GRANT USAGE ON SCHEMA public TO {role}"}
	if len(tables) > 0 {
		grants = append(grants, "GRANT SELECT ON "+strings.Join(tables, ", ")+" TO {role}")
	}
	return NewRole(t, db, dbURL, grants...)
}
