// Package store is the case database: cases, runs, evidence, exposure events,
// affected accounts and the notice ledger, in PostgreSQL schema "breachctl".
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// ErrNotFound is returned when a case or run does not exist.
var ErrNotFound = errors.New("not found")

//go:embed migrations/*.sql
var migrationFS embed.FS

// Store is an open case database.
type Store struct {
	DB *sqlx.DB

	// stmts keeps the prepared statements of the per-person reads the
	// support desk makes for every lookup (query -> *sqlx.Stmt): parsed
	// and planned once per connection instead of once per lookup.
	stmts sync.Map
}

// prepared returns query as a statement prepared on the pool (database/sql
// prepares it on each connection as it is used).
func (s *Store) prepared(ctx context.Context, query string) (*sqlx.Stmt, error) {
	if v, ok := s.stmts.Load(query); ok {
		return v.(*sqlx.Stmt), nil
	}
	st, err := s.DB.PreparexContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if v, loaded := s.stmts.LoadOrStore(query, st); loaded {
		st.Close()
		return v.(*sqlx.Stmt), nil
	}
	return st, nil
}

// Open connects to the case database at url and applies pending migrations.
func Open(ctx context.Context, dbURL string) (*Store, error) {
	db, err := Connect(ctx, dbURL)
	if err != nil {
		return nil, fmt.Errorf("case database %s: %w", Redact(dbURL), err)
	}
	s := &Store{DB: db}
	if _, err := s.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Connect opens a PostgreSQL connection and checks that it answers.
func Connect(ctx context.Context, dbURL string) (*sqlx.DB, error) {
	db, err := sqlx.Open("postgres", dbURL)
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, explainConnErr(err)
	}
	return db, nil
}

func explainConnErr(err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "connection refused"):
		return fmt.Errorf("no server answers (%v); start PostgreSQL or check host and port", err)
	case strings.Contains(msg, "does not exist"):
		return fmt.Errorf("%v; create it first (createdb) or fix the URL", err)
	case strings.Contains(msg, "SSL is not enabled"):
		return fmt.Errorf("%v; add ?sslmode=disable to the URL for a server without TLS", err)
	}
	return err
}

// Close closes the connection pool.
func (s *Store) Close() error {
	s.stmts.Range(func(_, v any) bool {
		v.(*sqlx.Stmt).Close()
		return true
	})
	return s.DB.Close()
}

// Redact hides the password in a database URL so it can be shown.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		if strings.Contains(raw, "password=") {
			return "(connection string with password)"
		}
		return raw
	}
	return u.Redacted()
}

type migration struct {
	version int
	name    string
	sql     string
}

func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries {
		name := e.Name()
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must start with a number and _", name)
		}
		body, err := fs.ReadFile(migrationFS, "migrations/"+name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: strings.TrimSuffix(name, ".sql"), sql: string(body)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	return ms, nil
}

// Migrate applies the pending migrations, each in its own transaction, and
// returns the names of those applied. Applying twice is a no-op. Concurrent
// callers serialise on an advisory lock.
func (s *Store) Migrate(ctx context.Context) ([]string, error) {
	ms, err := migrations()
	if err != nil {
		return nil, err
	}
	if err := s.createSchema(ctx); err != nil {
		return nil, fmt.Errorf("migrate: create schema breachctl: %w", err)
	}
	var applied []string
	for _, m := range ms {
		done, err := s.applyOne(ctx, m)
		if err != nil {
			return applied, fmt.Errorf("migrate %s: %w", m.name, err)
		}
		if done {
			applied = append(applied, m.name)
		}
	}
	return applied, nil
}

const migrationLock = 7310282017 // arbitrary, fixed: breachctl's migration lock

// createSchema creates the schema and the version table, serialised with
// other breachctl processes doing the same (IF NOT EXISTS alone races).
func (s *Store) createSchema(ctx context.Context) error {
	tx, err := s.DB.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `CREATE SCHEMA IF NOT EXISTS breachctl;
		CREATE TABLE IF NOT EXISTS breachctl.schema_migrations (
			version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return err
	}
	return tx.Commit()
}

func (s *Store) applyOne(ctx context.Context, m migration) (bool, error) {
	tx, err := s.DB.BeginTxx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
		return false, err
	}
	var n int
	if err := tx.GetContext(ctx, &n, `SELECT count(*) FROM breachctl.schema_migrations WHERE version = $1`, m.version); err != nil {
		return false, err
	}
	if n > 0 {
		return false, nil
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO breachctl.schema_migrations (version, name) VALUES ($1, $2)`, m.version, m.name); err != nil {
		return false, err
	}
	return true, tx.Commit()
}

// Version returns the highest applied migration.
func (s *Store) Version(ctx context.Context) (int, error) {
	var v sql.NullInt64
	err := s.DB.GetContext(ctx, &v, `SELECT max(version) FROM breachctl.schema_migrations`)
	return int(v.Int64), err
}

// Case is a row of breachctl.cases.
type Case struct {
	ID             string    `db:"id"`
	Title          string    `db:"title"`
	CaseFile       string    `db:"case_file"`
	CaseFileSHA256 string    `db:"case_file_sha256"`
	CreatedAt      time.Time `db:"created_at"`
	UpdatedAt      time.Time `db:"updated_at"`
}

// UpsertCase records a case (or refreshes its title and case-file hash).
func (s *Store) UpsertCase(ctx context.Context, c Case) error {
	_, err := s.DB.ExecContext(ctx, `
		INSERT INTO breachctl.cases (id, title, case_file, case_file_sha256)
		VALUES ($1, $2, $3, $4)
		ON CONFLICT (id) DO UPDATE SET title = EXCLUDED.title, case_file = EXCLUDED.case_file,
			case_file_sha256 = EXCLUDED.case_file_sha256, updated_at = now()`,
		c.ID, c.Title, c.CaseFile, c.CaseFileSHA256)
	if err != nil {
		return fmt.Errorf("record case %s: %w", c.ID, err)
	}
	return nil
}

// GetCase returns a case or ErrNotFound.
func (s *Store) GetCase(ctx context.Context, id string) (*Case, error) {
	var c Case
	err := s.DB.GetContext(ctx, &c, `SELECT id, title, case_file, case_file_sha256, created_at, updated_at FROM breachctl.cases WHERE id = $1`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("case %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("case %s: %w", id, err)
	}
	return &c, nil
}

// IsUniqueViolation reports whether err is a PostgreSQL unique-key violation.
func IsUniqueViolation(err error) bool {
	var pe *pq.Error
	return errors.As(err, &pe) && pe.Code == "23505"
}

// DeleteCase removes a case and everything recorded about it (runs,
// evidence, exposure events, affected accounts, the delivery ledger). Only
// `breachctl demo` uses it, to replace its own earlier simulated case.
func (s *Store) DeleteCase(ctx context.Context, id string) error {
	tx, err := s.DB.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	// exposure_events has no foreign key (see migration 0002): delete it by hand.
	if _, err := tx.ExecContext(ctx, `DELETE FROM breachctl.exposure_events WHERE case_id = $1`, id); err != nil {
		return fmt.Errorf("delete case %s: %w", id, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM breachctl.cases WHERE id = $1`, id); err != nil {
		return fmt.Errorf("delete case %s: %w", id, err)
	}
	return tx.Commit()
}
