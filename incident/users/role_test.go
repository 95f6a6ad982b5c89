package users

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/breachctl/breachctl/internal/pgtest"
)

// TestCheckRole: every way a role could write to the user database is
// found and named; a role that can only read passes.
func TestCheckRole(t *testing.T) {
	url, db := pgtest.NewDB(t)
	db.MustExec(`CREATE TABLE users (id bigint PRIMARY KEY, email text); CREATE TABLE sessions (session_id text, user_id bigint);
		CREATE TABLE audit (at timestamptz)`)
	_, writerURL := pgtest.NewRole(t, db, url, "GRANT DELETE ON users TO {role}")
	writer, _ := pgtest.NewRole(t, db, url)
	db.MustExec(`GRANT DELETE ON users TO ` + writer)
	base := "GRANT USAGE ON SCHEMA public TO {role}; GRANT SELECT ON users, sessions TO {role}"
	tests := []struct {
		name   string
		grants []string
		want   string // "" for a role that can only read
	}{
		{"read only", nil, ""},
		{"update one column", []string{"GRANT UPDATE (email) ON users TO {role}"}, "may write to table users (UPDATE)"},
		{"insert elsewhere", []string{"GRANT INSERT ON audit TO {role}"}, "may write to table audit (INSERT)"},
		{"truncate", []string{"GRANT TRUNCATE ON sessions TO {role}"}, "may write to table sessions (TRUNCATE)"},
		{"owner", []string{"CREATE TABLE mine (x int)", "ALTER TABLE mine OWNER TO {role}"}, "may write to table mine (INSERT, UPDATE, DELETE, TRUNCATE)"},
		{"createrole", []string{"ALTER ROLE {role} CREATEROLE"}, "has CREATEROLE"},
		{"server programs", []string{"GRANT pg_execute_server_program TO {role}"}, "is a member of pg_execute_server_program"},
		{"all data", []string{"GRANT pg_write_all_data TO {role}"}, "is a member of pg_write_all_data"},
		{"member of a writer, not inheriting", []string{"ALTER ROLE {role} NOINHERIT", "GRANT " + writer + " TO {role}"}, "may write to table users (DELETE)"},
	}
	ctx := context.Background()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			name, u := pgtest.NewRole(t, db, url, append(strings.Split(base, "; "), tc.grants...)...)
			rdb := sqlx.MustOpen("postgres", u)
			defer rdb.Close()
			role, err := CheckRole(ctx, rdb)
			if role != name {
				t.Errorf("role = %q, want %q", role, name)
			}
			var pe *PrivilegedRoleError
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("CheckRole = %v, want nil", err)
			case tc.want != "" && !errors.As(err, &pe):
				t.Errorf("CheckRole = %v, want a PrivilegedRoleError saying %q", err, tc.want)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Errorf("CheckRole = %v, want it to say %q", err, tc.want)
			case tc.want != "" && !errors.Is(err, ErrPrivilegedRole):
				t.Errorf("errors.Is(%v, ErrPrivilegedRole) = false", err)
			}
		})
	}
	t.Run("superuser", func(t *testing.T) {
		role, err := CheckRole(ctx, db)
		if err == nil || !strings.Contains(err.Error(), `role "`+role+`", which is a superuser:`) || !strings.Contains(err.Error(), "users.allow_privileged_role: true") {
			t.Errorf("CheckRole as %s = %v, want a superuser refusal that says what to do", role, err)
		}
	})
	t.Run("writer", func(t *testing.T) {
		wdb := sqlx.MustOpen("postgres", writerURL)
		defer wdb.Close()
		if _, err := CheckRole(ctx, wdb); err == nil || !strings.Contains(err.Error(), "may write to table users (DELETE)") {
			t.Errorf("CheckRole = %v, want DELETE on users named", err)
		}
	})
}

// TestReadOnlySQLASCII: a SQL_ASCII database's bytes reach the reader as
// they are (the server would otherwise refuse the whole query, naming no
// row), and the connection is back to UTF-8 afterwards.
func TestReadOnlySQLASCII(t *testing.T) {
	_, db := pgtest.NewDBWith(t, "ENCODING 'SQL_ASCII' TEMPLATE template0")
	db.MustExec(`CREATE TABLE users (id bigint, name text); INSERT INTO users VALUES (1, convert_from('\x9351756f74657394'::bytea, 'SQL_ASCII'))`)
	ctx := context.Background()
	var name []byte
	err := ReadOnly(ctx, db, 0, func(tx *sqlx.Tx) error { return tx.GetContext(ctx, &name, `SELECT name FROM users`) })
	if err != nil || string(name) != "\x93Quotes\x94" {
		t.Errorf("name = %q (%v), want the raw bytes", name, err)
	}
	db.SetMaxOpenConns(1)
	var enc string
	if err := db.Get(&enc, `SHOW client_encoding`); err != nil || enc != "UTF8" {
		t.Errorf("client_encoding after ReadOnly = %q (%v), want UTF8", enc, err)
	}
}

func TestWithUser(t *testing.T) {
	tests := []struct{ in, want string }{
		{"postgres://postgres:secret@127.0.0.1:5432/users?sslmode=disable", "postgres://reader@127.0.0.1:5432/users?sslmode=disable"},
		{"postgresql://h/db?user=admin&password=x&sslmode=disable", "postgresql://reader@h/db?sslmode=disable"},
		{"host=/tmp dbname=users user=postgres password=x", "host=/tmp dbname=users user=reader"},
	}
	for _, tc := range tests {
		got, err := WithUser(tc.in, "reader")
		if err != nil || got != tc.want {
			t.Errorf("WithUser(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}
