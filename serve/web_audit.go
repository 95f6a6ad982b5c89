package serve

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/breachctl/breachctl/incident/store"
)

// maxAuditBatch bounds one group commit.
const maxAuditBatch = 500

// auditBatcher group-commits audit rows: entries that arrive while a
// commit is in flight wait and go together in the next one, so many
// concurrent lookups cost one transaction, and each lookup is answered
// only once the transaction holding its row has committed. A committer
// goroutine runs only while there are entries waiting.
type auditBatcher struct {
	add     func(context.Context, []store.AuditEntry) error
	mu      sync.Mutex
	pending []*auditWait
	running bool
}

type auditWait struct {
	e    store.AuditEntry
	done chan error
}

func newAuditBatcher(add func(context.Context, []store.AuditEntry) error) *auditBatcher {
	return &auditBatcher{add: add}
}

// record returns once the entries are committed (nil), or with the error
// that kept them from being committed.
func (b *auditBatcher) record(ctx context.Context, es ...store.AuditEntry) error {
	ws := make([]*auditWait, len(es))
	b.mu.Lock()
	for i, e := range es {
		ws[i] = &auditWait{e: e, done: make(chan error, 1)}
		b.pending = append(b.pending, ws[i])
	}
	if !b.running && len(ws) > 0 {
		b.running = true
		go b.commit()
	}
	b.mu.Unlock()
	for _, w := range ws {
		select {
		case err := <-w.done:
			if err != nil {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (b *auditBatcher) commit() {
	for {
		b.mu.Lock()
		n := min(len(b.pending), maxAuditBatch)
		if n == 0 {
			b.running = false
			b.mu.Unlock()
			return
		}
		batch := b.pending[:n:n]
		b.pending = b.pending[n:]
		b.mu.Unlock()
		es := make([]store.AuditEntry, len(batch))
		for i, w := range batch {
			es[i] = w.e
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := b.add(ctx, es)
		cancel()
		for _, w := range batch {
			w.done <- err
		}
	}
}

// audit records looks at one person's data by the request's account,
// before anything is sent. When it fails the caller must refuse (fail
// closed): it has already written the 500 page then, and returns false.
func (s *Server) audit(w http.ResponseWriter, r *http.Request, action string, entries ...auditRow) bool {
	ss := sessionOf(r)
	now := s.now()
	es := make([]store.AuditEntry, len(entries))
	for i, a := range entries {
		es[i] = store.AuditEntry{CaseID: s.data.CaseID(), At: now, Actor: ss.Staff, Role: ss.Role,
			Action: action, UserID: a.userID, Remote: remoteHost(r), Detail: a.detail}
	}
	if err := s.staff.audit.record(r.Context(), es...); err != nil {
		s.log.Error("audit write failed: lookup refused", "staff", ss.Staff, "action", action, "err", err)
		s.errorPage(w, r, http.StatusInternalServerError, "The look-up could not be recorded in the audit log, so it is not shown. Try again, or tell the case's administrator.")
		return false
	}
	return true
}

type auditRow struct{ userID, detail string }
