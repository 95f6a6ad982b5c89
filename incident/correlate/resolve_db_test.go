package correlate

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

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
