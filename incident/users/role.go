package users

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// ReaderRoleSQL is how to create a role that can only read, for the
// error that refuses a privileged one and for the README.
const ReaderRoleSQL = "CREATE ROLE breachctl_reader LOGIN PASSWORD '...'; GRANT USAGE ON SCHEMA public TO breachctl_reader; " +
	"GRANT SELECT ON users, sessions TO breachctl_reader"

// PrivilegedRoleError says that the user database's role could write to
// it: a READ ONLY transaction does not stop a query (or a function it
// calls) that writes through another session (dblink, COPY ... TO PROGRAM)
// or that sets a role with more rights.
type PrivilegedRoleError struct {
	Role    string
	Reasons []string // e.g. "is a superuser", "may write to table users (UPDATE)"
}

func (e *PrivilegedRoleError) Error() string {
	return fmt.Sprintf("users.database_url connects as role %q, which %s: a users_query or sessions_query (or a function it calls) "+
		"could write to the user database despite the READ ONLY transaction (through dblink or COPY ... TO PROGRAM, for instance); "+
		"connect as a role that can only read (e.g. %s) or, if the team accepts the risk, set users.allow_privileged_role: true",
		e.Role, strings.Join(e.Reasons, ", and "), ReaderRoleSQL)
}

// ErrPrivilegedRole is what a *PrivilegedRoleError is (errors.Is).
var ErrPrivilegedRole = errors.New("privileged user database role")

// Is makes errors.Is(err, ErrPrivilegedRole) true.
func (e *PrivilegedRoleError) Is(target error) bool { return target == ErrPrivilegedRole }

// roleQuery finds what makes the current role able to write to the
// database. It considers every role the current one is a member of (it
// could SET ROLE to any of them, even from inside a query with
// set_config), and every relation of the database outside the system
// schemas — not only the tables the queries read: a function or a view
// can reach others, and a role that reads the user records has no
// business writing any of them.
const roleQuery = `
WITH able AS (
	SELECT r.oid, r.rolname, r.rolsuper, r.rolcreaterole
	FROM pg_roles r WHERE pg_has_role(current_user, r.oid, 'MEMBER')
), writable AS (
	SELECT c.oid::regclass::text AS rel,
		concat_ws(', ',
			CASE WHEN bool_or(has_table_privilege(a.oid, c.oid, 'INSERT') OR has_any_column_privilege(a.oid, c.oid, 'INSERT')) THEN 'INSERT' END,
			CASE WHEN bool_or(has_table_privilege(a.oid, c.oid, 'UPDATE') OR has_any_column_privilege(a.oid, c.oid, 'UPDATE')) THEN 'UPDATE' END,
			CASE WHEN bool_or(has_table_privilege(a.oid, c.oid, 'DELETE')) THEN 'DELETE' END,
			CASE WHEN bool_or(has_table_privilege(a.oid, c.oid, 'TRUNCATE')) THEN 'TRUNCATE' END) AS privs
	FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace CROSS JOIN able a
	WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
	  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp%'
	GROUP BY c.oid
)
SELECT current_user::text AS role,
	coalesce((SELECT bool_or(rolsuper) FROM able WHERE rolname = current_user), false) AS super,
	coalesce((SELECT string_agg(rolname, ', ' ORDER BY rolname) FROM able WHERE rolsuper AND rolname <> current_user), '') AS super_via,
	coalesce((SELECT bool_or(rolcreaterole) FROM able), false) AS createrole,
	coalesce((SELECT string_agg(rolname, ', ' ORDER BY rolname) FROM able
		WHERE rolname IN ('pg_write_server_files', 'pg_execute_server_program', 'pg_write_all_data')), '') AS file_roles,
	coalesce((SELECT string_agg(rel || ' (' || privs || ')', ', ' ORDER BY rel) FROM (SELECT * FROM writable WHERE privs <> '' ORDER BY rel LIMIT 10) w), '') AS writes,
	(SELECT count(*) FROM writable WHERE privs <> '') AS n_writes`

// CheckRole finds whether the role db connects as could write to the
// database: a superuser (or a member of one), a role with CREATEROLE (it
// can grant itself any role), a member of pg_write_server_files,
// pg_execute_server_program or pg_write_all_data, or a role with any
// INSERT, UPDATE, DELETE or TRUNCATE privilege on a relation of the
// database. It returns the role's name, and a *PrivilegedRoleError when it
// could; it runs no query of the case file.
func CheckRole(ctx context.Context, db *sqlx.DB) (string, error) {
	var r struct {
		Role       string `db:"role"`
		Super      bool   `db:"super"`
		SuperVia   string `db:"super_via"`
		CreateRole bool   `db:"createrole"`
		FileRoles  string `db:"file_roles"`
		Writes     string `db:"writes"`
		NWrites    int    `db:"n_writes"`
	}
	err := ReadOnly(ctx, db, 30*time.Second, func(tx *sqlx.Tx) error {
		return tx.GetContext(ctx, &r, roleQuery)
	})
	if err != nil {
		return "", fmt.Errorf("user database: check the role's privileges: %w", err)
	}
	var reasons []string
	if r.Super {
		reasons = append(reasons, "is a superuser")
	}
	if r.SuperVia != "" && !r.Super {
		reasons = append(reasons, "may become superuser role "+r.SuperVia)
	}
	if r.CreateRole && !r.Super {
		reasons = append(reasons, "has CREATEROLE (it can grant itself other roles)")
	}
	if r.FileRoles != "" && !r.Super {
		reasons = append(reasons, "is a member of "+r.FileRoles)
	}
	if r.Writes != "" && !r.Super {
		what := "table"
		if r.NWrites > 1 {
			what = "tables"
		}
		w := "may write to " + what + " " + r.Writes
		if r.NWrites > 10 {
			w += fmt.Sprintf(" and %d more", r.NWrites-10)
		}
		reasons = append(reasons, w)
	}
	if len(reasons) > 0 {
		return r.Role, &PrivilegedRoleError{Role: r.Role, Reasons: reasons}
	}
	return r.Role, nil
}

// GrantReader makes role (created, LOGIN, without a password, if it does
// not exist) able to read tables, and only that: USAGE on their schemas
// and SELECT on them. db must connect as a role that may create roles and
// grant on tables (simulate's user database).
func GrantReader(ctx context.Context, db *sqlx.DB, role string, tables ...string) error {
	if !roleName.MatchString(role) {
		return fmt.Errorf("role name %q: use lower-case letters, digits and _", role)
	}
	// Two simulations at once may both create it: the loser's error is
	// swallowed.
	create := `DO $$ BEGIN
		IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '` + role + `') THEN
			CREATE ROLE ` + role + ` LOGIN;
		END IF;
	EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
	END $$`
	if _, err := db.ExecContext(ctx, create); err != nil {
		return fmt.Errorf("create role %s: %w", role, err)
	}
	for _, t := range tables {
		if !roleName.MatchString(t) {
			return fmt.Errorf("table name %q", t)
		}
		var schema string
		if err := db.GetContext(ctx, &schema, `SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1::regclass`, t); err != nil {
			return fmt.Errorf("grant on %s to %s: %w", t, role, err)
		}
		for _, q := range []string{`GRANT USAGE ON SCHEMA "` + strings.ReplaceAll(schema, `"`, `""`) + `" TO ` + role, `GRANT SELECT ON ` + t + ` TO ` + role} {
			if _, err := db.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("grant to %s: %w", role, err)
			}
		}
	}
	return nil
}

var roleName = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// WithUser returns the connection string dbURL (a postgres:// URL or
// key=value pairs) connecting as user, without a password.
func WithUser(dbURL, user string) (string, error) {
	if strings.HasPrefix(dbURL, "postgres://") || strings.HasPrefix(dbURL, "postgresql://") {
		u, err := url.Parse(dbURL)
		if err != nil {
			return "", fmt.Errorf("parse the user database URL: %w", err)
		}
		u.User = url.User(user)
		q := u.Query()
		if q.Has("user") || q.Has("password") {
			q.Del("user")
			q.Del("password")
			u.RawQuery = q.Encode()
		}
		return u.String(), nil
	}
	var out []string
	for _, f := range strings.Fields(dbURL) {
		if k, _, _ := strings.Cut(f, "="); k != "user" && k != "password" {
			out = append(out, f)
		}
	}
	return strings.Join(append(out, "user="+user), " "), nil
}
