package correlate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"

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
	// Refused, when not empty, says why the record cannot be used (two
	// rows for the id, a column that is not valid UTF-8): the person is
	// not resolved, gets no notice, and is listed with this reason.
	Refused string
}

// Refusal is a person whose user record was refused, and why. Refusals are
// listed by user id (never with personal data) in the ingest summary and
// in triage.
type Refusal struct {
	UserID string `json:"user_id"`
	Reason string `json:"reason"`
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
//
// Before its first query it checks the role it connects as (see
// users.CheckRole) and refuses one that could write to the user database,
// unless AllowPrivilegedRole (users.allow_privileged_role).
type DBResolver struct {
	DB                  *sqlx.DB
	SessionsQuery       string
	UsersQuery          string
	Batch               int
	Timeout             time.Duration
	AllowPrivilegedRole bool

	roleOnce sync.Once
	roleErr  error
}

// checkRole checks the role once.
func (r *DBResolver) checkRole(ctx context.Context) error {
	if r.AllowPrivilegedRole {
		return nil
	}
	r.roleOnce.Do(func() { _, r.roleErr = users.CheckRole(ctx, r.DB) })
	return r.roleErr
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

// SessionStreamer is a Resolver that can hand over sessions' users as their
// rows arrive, instead of building a map of them all (DBResolver can).
type SessionStreamer interface {
	// EachSession calls fn with the sessions the sessions query finds, a
	// few hundred at a time: the user of sessionIDs[i] is userIDs[i]. fn
	// may be called from several goroutines at once; the slices and their
	// bytes are only valid during the call.
	EachSession(ctx context.Context, sessionIDs []string, fn func(sessionIDs, userIDs [][]byte)) error
}

// rowChunk is how many session rows EachSession hands over at once: enough
// for the callee to look many up at a time (their cache misses overlap), few
// enough to stay in cache.
const rowChunk = 256

// eachRow runs query over ids in batches, each in a read-only transaction,
// calls columns once per batch with the result's column names, then, for
// each batch, newRow once and its row for every result row with the row's
// values (nil is NULL; valid only during the call), and its flush (if not
// nil) after the last. Two batches run at once on two connections, so the
// database server and the driver use both cores: columns is called under a
// lock, the rest is the caller's to lock where it needs to.
func (r *DBResolver) eachRow(ctx context.Context, query string, ids []string, columns func(cols []string) error, newRow func() (row func(vals []sql.RawBytes), flush func())) error {
	if err := r.checkRole(ctx); err != nil {
		return err
	}
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
			err := r.batchRows(ctx, query, part, &mu, columns, newRow)
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
func (r *DBResolver) batchRows(ctx context.Context, query string, part []string, mu *sync.Mutex, columns func(cols []string) error, newRow func() (row func(vals []sql.RawBytes), flush func())) error {
	return users.ReadOnly(ctx, r.DB, r.Timeout, func(tx *sqlx.Tx) error {
		rows, err := tx.QueryContext(ctx, query, arrayLiteral(part))
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
		row, flush := newRow()
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				return err
			}
			row(vals)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if flush != nil {
			flush()
		}
		return nil
	})
}

// arrayLiteral is ids as a PostgreSQL array literal, every element quoted:
// what pq.StringArray sends, built without looking at each byte again when
// an id has nothing to escape (session ids rarely do).
func arrayLiteral(ids []string) string {
	n := 2
	for _, id := range ids {
		n += len(id) + 3
	}
	b := make([]byte, 0, n)
	b = append(b, '{')
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		if strings.ContainsAny(id, `"\`) {
			for j := 0; j < len(id); j++ {
				if id[j] == '"' || id[j] == '\\' {
					b = append(b, '\\')
				}
				b = append(b, id[j])
			}
		} else {
			b = append(b, id...)
		}
		b = append(b, '"')
	}
	b = append(b, '}')
	return string(b)
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
	err := r.EachSession(ctx, ids, func(sids, uids [][]byte) {
		mu.Lock()
		for i, sid := range sids {
			out[string(sid)] = string(uids[i])
		}
		mu.Unlock()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// EachSession implements SessionStreamer.
func (r *DBResolver) EachSession(ctx context.Context, ids []string, fn func(sids, uids [][]byte)) error {
	// Both batches' columns are the same query's: set once, read after.
	var (
		once   sync.Once
		si, ui int
	)
	err := r.eachRow(ctx, r.SessionsQuery, ids, func(cols []string) error {
		var err error
		once.Do(func() { si, ui, err = sessionColumns(cols) })
		if err == nil && (si < 0 || ui < 0) {
			_, _, err = sessionColumns(cols)
		}
		return err
	}, func() (func(vals []sql.RawBytes), func()) {
		// Rows are copied into a chunk (the driver reuses vals), handed
		// over rowChunk at a time.
		var (
			buf        []byte
			ends       []int
			sids, uids [][]byte
		)
		flush := func() {
			sids, uids = sids[:0], uids[:0]
			for k, start := 0, 0; k < len(ends); k += 2 {
				sids = append(sids, buf[start:ends[k]])
				uids = append(uids, buf[ends[k]:ends[k+1]])
				start = ends[k+1]
			}
			if len(sids) > 0 {
				fn(sids, uids)
			}
			buf, ends = buf[:0], ends[:0]
		}
		return func(vals []sql.RawBytes) {
			if vals[si] == nil || vals[ui] == nil || !utf8.Valid(vals[ui]) {
				// No user, or a user id that cannot be stored or shown
				// (a SQL_ASCII database): unresolved, and counted so.
				return
			}
			buf = append(buf, vals[si]...)
			ends = append(ends, len(buf))
			buf = append(buf, vals[ui]...)
			ends = append(ends, len(buf))
			if len(ends) == 2*rowChunk {
				flush()
			}
		}, flush
	})
	if err != nil {
		return queryErr("users.sessions_query", err)
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
	var mu sync.Mutex
	err := r.eachRow(ctx, r.UsersQuery, ids, func(cols []string) error {
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
	}, lockedRow(&mu, func(vals []sql.RawBytes) {
		id := string(vals[idx["id"]])
		if prev, dup := out[id]; dup {
			out[id] = duplicate(id, prev)
			return
		}
		if col := invalidColumn(vals, idx); col != "" {
			out[id] = &UserRecord{ID: id, Refused: fmt.Sprintf("column %s is not valid UTF-8 (is the user database SQL_ASCII? fix the record or convert it in users_query)", col)}
			return
		}
		u := &UserRecord{ID: id, Locale: string(vals[idx["locale"]]),
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
	}))
	if err != nil {
		return nil, queryErr("users.users_query", err)
	}
	return out, nil
}

// duplicate is the record of an id that users_query returned once more
// than prev counts: refused, since which row is right (which address a
// notice should go to) cannot be told.
func duplicate(id string, prev *UserRecord) *UserRecord {
	n := 2
	if _, err := fmt.Sscanf(prev.Refused, dupReason, &n); err == nil {
		n++
	}
	return &UserRecord{ID: id, Refused: fmt.Sprintf(dupReason, n)}
}

const dupReason = "users_query returned %d rows for this id"

// invalidColumn names the first of users.RequiredUserColumns whose value
// in vals is not valid UTF-8, or returns "".
func invalidColumn(vals []sql.RawBytes, idx map[string]int) string {
	for _, c := range users.RequiredUserColumns {
		if !utf8.Valid(vals[idx[c]]) {
			return c
		}
	}
	return ""
}

// queryErr says which query failed, unless it is the role that is refused
// (no query ran).
func queryErr(field string, err error) error {
	if errors.Is(err, users.ErrPrivilegedRole) {
		return err
	}
	return fmt.Errorf("%s: %w", field, err)
}

// lockedRow is a newRow for eachRow whose every batch calls row under mu.
func lockedRow(mu *sync.Mutex, row func(vals []sql.RawBytes)) func() (func(vals []sql.RawBytes), func()) {
	return func() (func(vals []sql.RawBytes), func()) {
		return func(vals []sql.RawBytes) {
			mu.Lock()
			row(vals)
			mu.Unlock()
		}, nil
	}
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
	// PostalAddress is the optional column postal_address: the lines of
	// the person's postal address as the post wants them (newline
	// separated, without the name), for letters. HasPostal says whether
	// users_query returns the column at all.
	PostalAddress string
	HasPostal     bool
	// EmailConsent is the optional column email_consent: true when the
	// person agreed to receive notices electronically (E-SIGN, HIPAA
	// §164.404(d)(1)(i)); false or NULL, or no such column, means not.
	EmailConsent bool
}

// Contacts returns the contact details of the given user ids (unknown ids
// are absent), read with users_query in read-only batches.
func (r *DBResolver) Contacts(ctx context.Context, ids []string) (map[string]Contact, error) {
	out := make(map[string]Contact, len(ids))
	refused := map[string]bool{}
	idx := map[string]int{}
	postal, consent := -1, -1
	var mu sync.Mutex
	err := r.eachRow(ctx, r.UsersQuery, ids, func(cols []string) error {
		for _, c := range users.RequiredUserColumns {
			if idx[c] = indexOf(cols, c); idx[c] < 0 {
				return fmt.Errorf("returns %s but not %s", strings.Join(cols, ", "), c)
			}
		}
		postal, consent = indexOf(cols, "postal_address"), indexOf(cols, "email_consent")
		return nil
	}, lockedRow(&mu, func(vals []sql.RawBytes) {
		// A duplicated id or a record that is not valid UTF-8 gives no
		// contact (ingest refused the person already): never a guess.
		id := string(vals[idx["id"]])
		if _, dup := out[id]; dup || refused[id] || invalidColumn(vals, idx) != "" {
			delete(out, id)
			refused[id] = true
			return
		}
		c := Contact{ID: string(vals[idx["id"]]), Email: string(vals[idx["email"]]), Name: string(vals[idx["name"]]),
			Locale:  strings.ToLower(string(vals[idx["locale"]])),
			Country: strings.ToUpper(string(vals[idx["country"]])), Region: strings.ToUpper(string(vals[idx["region"]]))}
		if i := postal; i >= 0 {
			c.HasPostal = true
			if !utf8.Valid(vals[i]) {
				// An address that is not text cannot be printed: no
				// address, so the letter fails with a reason.
				c.PostalAddress = ""
			} else {
				c.PostalAddress = string(vals[i])
			}
		}
		if i := consent; i >= 0 {
			v := strings.ToLower(string(vals[i]))
			c.EmailConsent = vals[i] != nil && (v == "true" || v == "t" || v == "1" || v == "yes")
		}
		out[c.ID] = c
	}))
	if err != nil {
		return nil, queryErr("users.users_query", err)
	}
	return out, nil
}

// OwnerResolver maps objects to the people they belong to (an object
// rule's owners_query).
type OwnerResolver interface {
	// Owners runs query (SELECT object_id, user_id ... WHERE object_id =
	// ANY($1)) over ids: each object's owners, in the order returned
	// (unknown objects are absent).
	Owners(ctx context.Context, query string, ids []string) (map[string][]string, error)
}

// Owners implements OwnerResolver, in read-only transactions like the
// other queries. A NULL or empty user id is no owner.
func (r *DBResolver) Owners(ctx context.Context, query string, ids []string) (map[string][]string, error) {
	out := map[string][]string{}
	oi, ui := -1, -1
	var mu sync.Mutex
	err := r.eachRow(ctx, query, ids, func(cols []string) error {
		oi, ui = indexOf(cols, "object_id"), indexOf(cols, "user_id")
		if oi < 0 || ui < 0 {
			return fmt.Errorf("returns %s; it must return object_id and user_id", strings.Join(cols, ", "))
		}
		return nil
	}, lockedRow(&mu, func(vals []sql.RawBytes) {
		if vals[oi] == nil || len(vals[ui]) == 0 {
			return
		}
		o, u := string(vals[oi]), string(vals[ui])
		if !slices.Contains(out[o], u) {
			out[o] = append(out[o], u)
		}
	}))
	if err != nil {
		return nil, err
	}
	return out, nil
}
