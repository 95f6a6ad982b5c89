package correlate

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/breachctl/breachctl/incident"
	"github.com/breachctl/breachctl/incident/users"
)

// UserRecord is what correlation keeps of a person: no name, no email.
type UserRecord struct {
	ID      string
	Locale  string
	Country string
	Region  string
	// NotOnFile lists the categories whose has_<category> column was false.
	NotOnFile map[incident.Category]bool
}

// OnFile reports whether category c may be on file for the person: it is,
// unless users_query returned has_<c> = false.
func (u *UserRecord) OnFile(c incident.Category) bool { return !u.NotOnFile[c] }

// Resolver turns identities into user records.
type Resolver interface {
	// Sessions maps session ids to user ids (unknown ids are absent).
	Sessions(ctx context.Context, sessionIDs []string) (map[string]string, error)
	// Users returns the records of the given user ids (unknown ids are absent).
	Users(ctx context.Context, ids []string) (map[string]*UserRecord, error)
}

// DefaultBatch is how many ids go into one = ANY($1) query. PostgreSQL
// answers a large one by hashing the array and scanning the table once, so
// fewer, larger batches cost it less (900,000 session ids against 1.15 M
// sessions, two batches at a time: 1.15 s in batches of 100,000, 1.0 s of
// 225,000, 0.91 s of 450,000).
const DefaultBatch = 250_000

// DBResolver runs the case file's queries against the user database, in
// batches, each inside a READ ONLY transaction with a statement timeout.
type DBResolver struct {
	DB            *sqlx.DB
	SessionsQuery string
	UsersQuery    string
	Batch         int
	Timeout       time.Duration
}

func (r *DBResolver) batch() int {
	if r.Batch <= 0 {
		return DefaultBatch
	}
	return r.Batch
}

// batchSize splits n ids into batches of at most limit, their number a
// multiple of parallel so that no batch runs alone at the end — unless that
// makes them smaller than 20,000 ids, where fewer queries are cheaper.
func batchSize(n, limit, parallel int) int {
	if n <= 0 {
		return 1
	}
	nb := (n + limit - 1) / limit
	nb = (nb + parallel - 1) / parallel * parallel
	size := (n + nb - 1) / nb
	if size < 20_000 {
		size = min(n, limit)
	}
	return size
}

// SessionStreamer is a Resolver that can hand over each session's user as
// its row arrives, instead of building a map of them all (DBResolver can).
type SessionStreamer interface {
	// EachSession calls fn for every session id the sessions query finds.
	// fn may be called from several goroutines at once; sessionID is only
	// valid during the call.
	EachSession(ctx context.Context, sessionIDs []string, fn func(sessionID []byte, userID string)) error
}

// eachRow runs query over ids in batches, each in a read-only transaction,
// calls columns once per batch with the result's column names, then row for
// every result row with its values (nil is NULL; valid only during the
// call). Two batches run at once on two connections, so the database server
// and the driver use both cores. columns is called under a lock; so is row,
// unless concurrent is set, when it may run in both batches at once.
func (r *DBResolver) eachRow(ctx context.Context, query string, ids []string, concurrent bool, columns func(cols []string) error, row func(vals []sql.RawBytes)) error {
	const parallel = 2
	size := batchSize(len(ids), r.batch(), parallel)
	var (
		mu       sync.Mutex
		wg       sync.WaitGroup
		firstErr error
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, parallel)
	for i := 0; i < len(ids); i += size {
		part := ids[i:min(i+size, len(ids))]
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			err := r.batchRows(ctx, query, part, &mu, concurrent, columns, row)
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
				cancel()
			}
		}()
	}
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return firstErr
}

// batchRows runs one batch. The ids are sent as they are: for a large
// = ANY($1) PostgreSQL hashes the array and scans the table once, so their
// order does not matter to it.
func (r *DBResolver) batchRows(ctx context.Context, query string, part []string, mu *sync.Mutex, concurrent bool, columns func(cols []string) error, row func(vals []sql.RawBytes)) error {
	return users.ReadOnly(ctx, r.DB, r.Timeout, func(tx *sqlx.Tx) error {
		rows, err := tx.QueryContext(ctx, query, pq.StringArray(part))
		if err != nil {
			return err
		}
		defer rows.Close()
		cols, err := rows.Columns()
		if err != nil {
			return err
		}
		mu.Lock()
		err = columns(cols)
		mu.Unlock()
		if err != nil {
			return err
		}
		vals := make([]sql.RawBytes, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				return err
			}
			if concurrent {
				row(vals)
				continue
			}
			mu.Lock()
			row(vals)
			mu.Unlock()
		}
		return rows.Err()
	})
}

// sessionColumns finds session_id and user_id among a sessions query's columns.
func sessionColumns(cols []string) (si, ui int, err error) {
	si, ui = indexOf(cols, "session_id"), indexOf(cols, "user_id")
	if si < 0 || ui < 0 {
		return si, ui, fmt.Errorf("returns %s; it must return session_id and user_id", strings.Join(cols, ", "))
	}
	return si, ui, nil
}

// Sessions implements Resolver.
func (r *DBResolver) Sessions(ctx context.Context, ids []string) (map[string]string, error) {
	out := make(map[string]string, len(ids))
	var mu sync.Mutex
	err := r.EachSession(ctx, ids, func(sid []byte, uid string) {
		mu.Lock()
		out[string(sid)] = uid
		mu.Unlock()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// EachSession implements SessionStreamer.
func (r *DBResolver) EachSession(ctx context.Context, ids []string, fn func(sid []byte, uid string)) error {
	// Both batches' columns are the same query's: set once, read after.
	var (
		once   sync.Once
		si, ui int
	)
	err := r.eachRow(ctx, r.SessionsQuery, ids, true, func(cols []string) error {
		var err error
		once.Do(func() { si, ui, err = sessionColumns(cols) })
		if err == nil && (si < 0 || ui < 0) {
			_, _, err = sessionColumns(cols)
		}
		return err
	}, func(vals []sql.RawBytes) {
		if vals[si] != nil && vals[ui] != nil {
			fn(vals[si], string(vals[ui]))
		}
	})
	if err != nil {
		return fmt.Errorf("users.sessions_query: %w", err)
	}
	return nil
}

// Users implements Resolver.
func (r *DBResolver) Users(ctx context.Context, ids []string) (map[string]*UserRecord, error) {
	out := make(map[string]*UserRecord, len(ids))
	type hasCol struct {
		i   int
		cat incident.Category
	}
	var has []hasCol
	idx := map[string]int{}
	err := r.eachRow(ctx, r.UsersQuery, ids, false, func(cols []string) error {
		for _, c := range users.RequiredUserColumns {
			if idx[c] = indexOf(cols, c); idx[c] < 0 {
				return fmt.Errorf("returns %s but not %s", strings.Join(cols, ", "), c)
			}
		}
		has = has[:0]
		for i, c := range cols {
			if cat, ok := strings.CutPrefix(strings.ToLower(c), "has_"); ok && incident.ValidCategory(cat) {
				has = append(has, hasCol{i, incident.Category(cat)})
			}
		}
		return nil
	}, func(vals []sql.RawBytes) {
		u := &UserRecord{ID: string(vals[idx["id"]]), Locale: string(vals[idx["locale"]]),
			Country: strings.ToUpper(string(vals[idx["country"]])), Region: strings.ToUpper(string(vals[idx["region"]]))}
		for _, h := range has {
			// A has_ column that is false (PostgreSQL sends "false" or "f")
			// means the category was not on file; NULL means unknown, so on file.
			if v := string(vals[h.i]); vals[h.i] != nil && (v == "false" || v == "f" || v == "0") {
				if u.NotOnFile == nil {
					u.NotOnFile = map[incident.Category]bool{}
				}
				u.NotOnFile[h.cat] = true
			}
		}
		out[u.ID] = u
	})
	if err != nil {
		return nil, fmt.Errorf("users.users_query: %w", err)
	}
	return out, nil
}

func indexOf(cols []string, name string) int {
	for i, c := range cols {
		if strings.EqualFold(c, name) {
			return i
		}
	}
	return -1
}

// Contact is how to reach a person: what a notice needs and correlation
// never keeps. It is read from users_query when notices are rendered.
type Contact struct {
	ID      string
	Email   string
	Name    string
	Locale  string
	Country string
	Region  string
}

// Contacts returns the contact details of the given user ids (unknown ids
// are absent), read with users_query in read-only batches.
func (r *DBResolver) Contacts(ctx context.Context, ids []string) (map[string]Contact, error) {
	out := make(map[string]Contact, len(ids))
	idx := map[string]int{}
	err := r.eachRow(ctx, r.UsersQuery, ids, false, func(cols []string) error {
		for _, c := range users.RequiredUserColumns {
			if idx[c] = indexOf(cols, c); idx[c] < 0 {
				return fmt.Errorf("returns %s but not %s", strings.Join(cols, ", "), c)
			}
		}
		return nil
	}, func(vals []sql.RawBytes) {
		c := Contact{ID: string(vals[idx["id"]]), Email: string(vals[idx["email"]]), Name: string(vals[idx["name"]]),
			Locale:  strings.ToLower(string(vals[idx["locale"]])),
			Country: strings.ToUpper(string(vals[idx["country"]])), Region: strings.ToUpper(string(vals[idx["region"]]))}
		out[c.ID] = c
	})
	if err != nil {
		return nil, fmt.Errorf("users.users_query: %w", err)
	}
	return out, nil
}
