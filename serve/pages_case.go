package serve

import (
	"bytes"
	"net/http"
	"strings"

	"github.com/breachctl/breachctl/incident/report"
	"github.com/breachctl/breachctl/incident/revision"
	"github.com/breachctl/breachctl/incident/store"
	"github.com/breachctl/breachctl/notify/deliver"
)

type runsView struct{ Runs []revision.RunInfo }

func (s *Server) runsPage(w http.ResponseWriter, r *http.Request) {
	rs, err := s.data.Runs(r.Context())
	if err != nil {
		s.dataError(w, r, "the runs", err)
		return
	}
	s.render(w, r, http.StatusOK, "runs", "Runs", runsView{Runs: rs})
}

// triageBackLink is put at the top of the triage page (which is the
// self-contained page `triage --html` writes).
const triageBackLink = `<p style="font:14px sans-serif;margin:8px"><a href="/case/">&larr; back to the case</a></p>`

func (s *Server) triagePage(w http.ResponseWriter, r *http.Request) {
	run, ok := s.pageRun(w, r)
	if !ok {
		return
	}
	var p BufferedPage
	if err := s.data.TriageHTML(r.Context(), run, &p); err != nil {
		s.dataError(w, r, "the triage page", err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(withBackLink(p.B))
}

// withBackLink inserts the back link just inside <body>, or in front when
// there is no body tag.
func withBackLink(page []byte) []byte {
	lower := bytes.ToLower(page)
	i := bytes.Index(lower, []byte("<body"))
	if i < 0 {
		return append([]byte(triageBackLink), page...)
	}
	j := bytes.IndexByte(page[i:], '>')
	if j < 0 {
		return append([]byte(triageBackLink), page...)
	}
	at := i + j + 1
	out := make([]byte, 0, len(page)+len(triageBackLink))
	out = append(out, page[:at]...)
	out = append(out, triageBackLink...)
	return append(out, page[at:]...)
}

type diffView struct {
	From, To int
	All      bool
	Text     string
}

func (s *Server) diffPage(w http.ResponseWriter, r *http.Request) {
	from, ok1 := runParam(r, "from")
	to, ok2 := runParam(r, "to")
	if !ok1 || !ok2 {
		s.errorPage(w, r, http.StatusBadRequest, "The runs must be numbers.")
		return
	}
	d, err := s.data.Diff(r.Context(), from, to)
	if err != nil {
		s.dataError(w, r, "the diff of those runs", err)
		return
	}
	all := r.URL.Query().Get("all") == "1"
	var b strings.Builder
	if err := d.WriteText(&b, revision.TextOptions{All: all}); err != nil {
		s.dataError(w, r, "the diff of those runs", err)
		return
	}
	s.render(w, r, http.StatusOK, "diff", "Diff", diffView{From: d.From, To: d.To, All: all, Text: b.String()})
}

type ledgerView struct {
	Run int
	L   *deliver.StatusReport
}

func (s *Server) ledgerPage(w http.ResponseWriter, r *http.Request) {
	run, ok := s.pageRun(w, r)
	if !ok {
		return
	}
	l, err := s.data.Ledger(r.Context(), run)
	if err != nil {
		s.dataError(w, r, "the delivery ledger", err)
		return
	}
	s.render(w, r, http.StatusOK, "ledger", "Delivery ledger", ledgerView{Run: run, L: l})
}

type obligationsView struct {
	Run  int
	Obs  []report.Obligation
	Next int // index of the next due one; -1 when none
}

func (s *Server) obligationsPage(w http.ResponseWriter, r *http.Request) {
	run, ok := s.pageRun(w, r)
	if !ok {
		return
	}
	obs, err := s.data.Obligations(r.Context(), run, s.now())
	if err != nil {
		s.dataError(w, r, "the obligations", err)
		return
	}
	s.render(w, r, http.StatusOK, "obligations", "Obligations", obligationsView{Run: run, Obs: obs, Next: nextDue(obs)})
}

// nextDue is the duty not done with the soonest deadline (-1: none).
func nextDue(obs []report.Obligation) int {
	next := -1
	for i, o := range obs {
		if o.Status == report.StatusDone || o.Deadline.IsZero() {
			continue
		}
		if next < 0 || o.Deadline.Before(obs[next].Deadline) {
			next = i
		}
	}
	return next
}

type auditView struct {
	UserID  string
	Actor   string
	Entries []store.AuditEntry
	Limit   int
}

const auditPageLimit = 500

func (s *Server) auditPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	v := auditView{Limit: auditPageLimit}
	v.UserID, _ = cleanQuery(q.Get("user"))
	if a := strings.TrimSpace(q.Get("actor")); store.ValidStaffName(a) {
		v.Actor = a
	}
	es, err := s.st.AuditLog(r.Context(), s.data.CaseID(), store.AuditFilter{UserID: v.UserID, Actor: v.Actor, Limit: auditPageLimit})
	if err != nil {
		s.dataError(w, r, "the audit log", err)
		return
	}
	// Newest first on the page.
	for i, j := 0, len(es)-1; i < j; i, j = i+1, j-1 {
		es[i], es[j] = es[j], es[i]
	}
	v.Entries = es
	s.render(w, r, http.StatusOK, "audit", "Audit log", v)
}
