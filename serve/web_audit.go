package serve

import (
	"context"
	"net/http"

	"github.com/breachctl/breachctl/incident/store"
)

// auditBatcher group-commits audit rows (batcher): each lookup is answered
// only once the transaction holding its row has committed.
type auditBatcher struct {
	b *batcher[store.AuditEntry, struct{}]
}

func newAuditBatcher(add func(context.Context, []store.AuditEntry) error) *auditBatcher {
	return &auditBatcher{newBatcher(func(ctx context.Context, es []store.AuditEntry) ([]struct{}, error) {
		if err := add(ctx, es); err != nil {
			return nil, err
		}
		return make([]struct{}, len(es)), nil
	})}
}

// record returns once the entries are committed (nil), or with the error
// that kept them from being committed.
func (b *auditBatcher) record(ctx context.Context, es ...store.AuditEntry) error {
	_, err := b.b.do(ctx, es...)
	return err
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
