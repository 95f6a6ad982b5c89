package correlate

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/breachctl/breachctl/incident/users"
	"github.com/breachctl/breachctl/internal/pgtest"
)

// TestDBResolverSessions resolves through a real PostgreSQL: session ids
// that need escaping in an array literal, enough ids for several batches on
// two connections and several chunks per batch, ids that match nothing, and
// a NULL user (unresolved, never an empty user).
func TestDBResolverSessions(t *testing.T) {
	url, db := pgtest.NewDB(t)
	db.MustExec(`CREATE TABLE sessions (session_id text PRIMARY KEY, user_id bigint)`)
	awkward := []string{`a"b`, `back\slash`, `comma,brace{}`, `sp ace`, `NULL`, `'single'`, "tab\there", `\"both\"`, "ünïcödé", `{`, `}`}
	want := map[string]string{}
	for i, sid := range awkward {
		want[sid] = fmt.Sprint(900 + i)
	}
	for i := range 3000 {
		want[fmt.Sprintf("%032x", i*7919)] = fmt.Sprint(i % 1234) // one user, several sessions
	}
	for sid, uid := range want {
		db.MustExec(`INSERT INTO sessions VALUES ($1, $2)`, sid, uid)
	}
	db.MustExec(`INSERT INTO sessions VALUES ('no-user', NULL)`)
	ids := []string{"no-user", "absent", `absent"too`, ""} // the awkward ones are among want
	for sid := range want {
		ids = append(ids, sid)
	}
	// Through a role that can only read, as a case file should.
	_, readerURL := pgtest.NewReader(t, db, url, "sessions")
	reader := sqlx.MustOpen("postgres", readerURL)
	defer reader.Close()
	r := &DBResolver{DB: reader, SessionsQuery: `SELECT session_id, user_id FROM sessions WHERE session_id = ANY($1)`,
		Batch: 700, Timeout: time.Minute}
	got := map[string]string{}
	var mu sync.Mutex
	chunks := 0
	err := r.EachSession(context.Background(), ids, func(sids, uids [][]byte) {
		mu.Lock()
		defer mu.Unlock()
		chunks++
		if len(sids) != len(uids) || len(sids) == 0 || len(sids) > rowChunk {
			t.Errorf("a chunk of %d sessions and %d users", len(sids), len(uids))
		}
		for i, sid := range sids {
			if _, dup := got[string(sid)]; dup {
				t.Errorf("session %q answered twice", sid)
			}
			got[string(sid)] = string(uids[i])
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(got, want) {
		for sid, uid := range want {
			if got[sid] != uid {
				t.Errorf("session %q: user %q, want %q", sid, got[sid], uid)
			}
		}
		t.Fatalf("%d sessions answered, want %d", len(got), len(want))
	}
	if chunks < len(want)/rowChunk {
		t.Errorf("%d chunks for %d sessions", chunks, len(want))
	}
	// Sessions (the map) agrees.
	m, err := r.Sessions(context.Background(), ids)
	if err != nil || !maps.Equal(m, want) {
		t.Errorf("Sessions: %d answers (%v), want %d", len(m), err, len(want))
	}
}

// TestFindAll: findAll answers what find answers, for present, absent and
// empty strings, in groups that are not a multiple of its own.
func TestFindAll(t *testing.T) {
	si := newSharedInterner()
	var bs [][]byte
	for i := range 5000 {
		b := fmt.Appendf(nil, "id-%d", i*31)
		if i%3 != 0 {
			si.id(b) // two in three are added
		}
		bs = append(bs, b)
	}
	bs = append(bs, nil, []byte{}, []byte("x"))
	for _, n := range []int{0, 1, 15, 16, 17, 257, len(bs)} {
		ids, ok := make([]uint32, n), make([]bool, n)
		si.findAll(bs[:n], ids, ok)
		for i, b := range bs[:n] {
			if id, found := si.find(b); ids[i] != id || ok[i] != found {
				t.Fatalf("findAll of %d, string %d (%q): %d, %v; find: %d, %v", n, i, b, ids[i], ok[i], id, found)
			}
		}
	}
}

// TestDBResolverRefusesRecords: users_query returning two rows for one id
// (last-row-wins sent a notice to the second address) or a record that is
// not valid UTF-8 (a SQL_ASCII database: the whole query failed, naming no
// row) gives a refused record with the reason, for that person only, and
// no contact; the others are read as before. A role that could write is
// refused before any query runs, unless allowed.
func TestDBResolverRefusesRecords(t *testing.T) {
	url, db := pgtest.NewDBWith(t, "ENCODING 'SQL_ASCII' TEMPLATE template0")
	db.MustExec(`CREATE TABLE users (id text, email text, name text, locale text, country text, region text)`)
	db.MustExec(`INSERT INTO users VALUES ('1', 'one@example.com', 'One', 'en', 'us', 'us-ca'),
		('2', 'a@example.com', 'Two', 'en', 'US', 'US-CA'), ('2', 'b@example.com', 'Two', 'en', 'US', 'US-CA'),
		('3', 'c@example.com', 'Three', 'en', 'US', 'US-CA'), ('3', 'c@example.com', 'Three', 'en', 'US', 'US-CA'), ('3', 'c@example.com', 'Three', 'en', 'US', 'US-CA'),
		('4', 'd@example.com', convert_from('\x934e616d6594'::bytea, 'SQL_ASCII'), 'en', 'US', 'US-CA'),
		('5', convert_from('\x65ff40782e6a70'::bytea, 'SQL_ASCII'), 'Five', 'en', 'US', 'US-CA')`)
	_, readerURL := pgtest.NewReader(t, db, url, "users")
	reader := sqlx.MustOpen("postgres", readerURL)
	defer reader.Close()
	ctx := context.Background()
	q := `SELECT id, email, name, locale, country, region FROM users WHERE id = ANY($1)`
	r := &DBResolver{DB: reader, UsersQuery: q, Timeout: time.Minute}
	ids := []string{"1", "2", "3", "4", "5", "6"}
	recs, err := r.Users(ctx, ids)
	if err != nil {
		t.Fatalf("Users: %v", err)
	}
	want := map[string]string{ // id: reason ("" for a usable record)
		"1": "",
		"2": "users_query returned 2 rows for this id",
		"3": "users_query returned 3 rows for this id",
		"4": "column name is not valid UTF-8",
		"5": "column email is not valid UTF-8",
	}
	if len(recs) != len(want) {
		t.Errorf("%d records, want %d", len(recs), len(want))
	}
	for id, reason := range want {
		rec := recs[id]
		switch {
		case rec == nil:
			t.Errorf("user %s: no record", id)
		case reason == "" && (rec.Refused != "" || rec.Region != "US-CA"):
			t.Errorf("user %s: %+v, want a usable record", id, rec)
		case reason != "" && !strings.HasPrefix(rec.Refused, reason):
			t.Errorf("user %s: refused %q, want %q", id, rec.Refused, reason)
		}
	}
	contacts, err := r.Contacts(ctx, ids)
	if err != nil {
		t.Fatalf("Contacts: %v", err)
	}
	if len(contacts) != 1 || contacts["1"].Email != "one@example.com" {
		t.Errorf("contacts of %d people (%v), want only user 1's: never a guess between two rows", len(contacts), slices.Sorted(maps.Keys(contacts)))
	}

	// The superuser the test database was made with: refused, unless allowed.
	su := &DBResolver{DB: db, UsersQuery: q, Timeout: time.Minute}
	if _, err := su.Users(ctx, ids); !errors.Is(err, users.ErrPrivilegedRole) {
		t.Errorf("Users as a superuser: err = %v, want the role refused", err)
	}
	su = &DBResolver{DB: db, UsersQuery: q, Timeout: time.Minute, AllowPrivilegedRole: true}
	if recs, err := su.Users(ctx, ids); err != nil || recs["1"] == nil {
		t.Errorf("Users as an allowed superuser: %d records, %v", len(recs), err)
	}
}
