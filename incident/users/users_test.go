package users

import (
	"context"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/breachctl/breachctl/internal/pgtest"
)

func TestReadOnlyRefusesWrites(t *testing.T) {
	_, db := pgtest.NewDB(t)
	db.MustExec(`CREATE TABLE users (id bigint PRIMARY KEY, email text, name text, locale text, country text, region text)`)
	ctx := context.Background()
	err := ReadOnly(ctx, db, 0, func(tx *sqlx.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO users (id) VALUES (1)`)
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "read-only transaction") {
		t.Fatalf("write inside ReadOnly: err = %v, want a read-only error", err)
	}
	var n int
	if err := db.Get(&n, `SELECT count(*) FROM users`); err != nil || n != 0 {
		t.Errorf("users has %d rows (%v), want 0", n, err)
	}
}

func TestCheckQuery(t *testing.T) {
	_, db := pgtest.NewDB(t)
	db.MustExec(`CREATE TABLE users (id bigint PRIMARY KEY, email text, name text, locale text, country text, region text)`)
	ctx := context.Background()
	tests := []struct {
		query string
		want  string
	}{
		{`SELECT id, email, name, locale, country, region FROM users WHERE id = ANY($1)`, ""},
		{`SELECT id, name FROM users WHERE id = ANY($1)`, "returns id, name but not email, locale, country, region"},
		{`SELECT id FROM nope WHERE id = ANY($1)`, `relation "nope" does not exist`},
	}
	for _, tc := range tests {
		_, err := CheckQuery(ctx, db, tc.query, RequiredUserColumns)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("CheckQuery(%q) = %v, want ok", tc.query, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("CheckQuery(%q) = %v, want %q", tc.query, err, tc.want)
		}
	}
}
