// Package users reads the organisation's user database. It only ever reads,
// inside READ ONLY transactions with a statement timeout.
package users

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// DefaultStatementTimeout bounds every query against the user database.
const DefaultStatementTimeout = 60 * time.Second

// RequiredUserColumns must be returned by users_query.
var RequiredUserColumns = []string{"id", "email", "name", "locale", "country", "region"}

// RequiredSessionColumns must be returned by sessions_query.
var RequiredSessionColumns = []string{"session_id", "user_id"}

// ReadOnly runs fn inside a READ ONLY transaction with a statement timeout,
// and always rolls back: nothing can be written to the user database.
func ReadOnly(ctx context.Context, db *sqlx.DB, timeout time.Duration, fn func(tx *sqlx.Tx) error) error {
	tx, err := db.BeginTxx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("user database: begin read-only transaction: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only: rollback is the only ending
	if timeout <= 0 {
		timeout = DefaultStatementTimeout
	}
	// A SQL_ASCII database stores any bytes, and the server refuses to
	// send a row that is not valid UTF-8 to a UTF-8 client, failing the
	// whole query without naming the row: its bytes are taken as they are
	// instead, and checked by whoever reads them (correlate), which can name
	// the person and the column. Any other server encoding converts.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf(`SELECT set_config('statement_timeout', '%d', true),
		CASE WHEN current_setting('server_encoding') = 'SQL_ASCII' THEN set_config('client_encoding', 'SQL_ASCII', true) END`,
		timeout.Milliseconds())); err != nil {
		return fmt.Errorf("user database: set statement_timeout: %w", err)
	}
	return fn(tx)
}

// CheckQuery runs query with an empty batch, inside a read-only transaction,
// and checks that it returns the required columns. It names what is missing.
func CheckQuery(ctx context.Context, db *sqlx.DB, query string, required []string) ([]string, error) {
	var cols []string
	err := ReadOnly(ctx, db, 10*time.Second, func(tx *sqlx.Tx) error {
		rows, err := tx.QueryxContext(ctx, query, pq.StringArray{})
		if err != nil {
			return err
		}
		defer rows.Close()
		cols, err = rows.Columns()
		return err
	})
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, r := range required {
		found := false
		for _, c := range cols {
			if strings.EqualFold(c, r) {
				found = true
			}
		}
		if !found {
			missing = append(missing, r)
		}
	}
	if len(missing) > 0 {
		return cols, fmt.Errorf("returns %s but not %s", strings.Join(cols, ", "), strings.Join(missing, ", "))
	}
	return cols, nil
}

// LookupIDs runs a lookup query (users.lookup_query: a SELECT returning
// id, taking one text argument, such as an e-mail address) inside a
// read-only transaction and returns the ids it found, sorted and without
// repeats.
func LookupIDs(ctx context.Context, db *sqlx.DB, query, arg string) ([]string, error) {
	var ids []string
	err := ReadOnly(ctx, db, 10*time.Second, func(tx *sqlx.Tx) error {
		rows, err := tx.QueryxContext(ctx, query, arg)
		if err != nil {
			return err
		}
		defer rows.Close()
		cols, err := rows.Columns()
		if err != nil {
			return err
		}
		at := -1
		for i, c := range cols {
			if strings.EqualFold(c, "id") {
				at = i
			}
		}
		if at < 0 {
			return fmt.Errorf("returns %s but not id", strings.Join(cols, ", "))
		}
		vals := make([]any, len(cols))
		for rows.Next() {
			var id sql.NullString
			for i := range vals {
				vals[i] = new(any)
			}
			vals[at] = &id
			if err := rows.Scan(vals...); err != nil {
				return err
			}
			if id.Valid {
				ids = append(ids, id.String)
			}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(ids)
	return slices.Compact(ids), nil
}
