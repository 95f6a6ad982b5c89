package serve

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/lib/pq"

	"github.com/breachctl/breachctl/incident/store"
	"github.com/breachctl/breachctl/incident/triage"
)

// maxQueryLen bounds a user id or an e-mail address typed into the lookup.
const maxQueryLen = 320

type lookupView struct {
	UserID string
	Email  string
	Error  string
}

func (s *Server) lookupPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "lookup", "Look someone up", lookupView{})
}

// cleanQuery trims a typed user id or address; false when it is empty,
// too long or holds control characters.
func cleanQuery(v string) (string, bool) {
	v = strings.TrimSpace(v)
	if v == "" || len(v) > maxQueryLen || !utf8.ValidString(v) || strings.IndexFunc(v, unicode.IsControl) >= 0 {
		return v, false
	}
	return v, true
}

type foundView struct {
	Email string
	IDs   []string
	Run   int
}

// lookupSubmit looks a person up by user id or by e-mail address (a POST,
// so the address never reaches a URL or a log). The look is audited before
// anything is shown; the address is never recorded.
func (s *Server) lookupSubmit(w http.ResponseWriter, r *http.Request) {
	run, ok := atoiRun(r.PostForm.Get("run"))
	if !ok {
		s.errorPage(w, r, http.StatusBadRequest, "The run must be a number.")
		return
	}
	userID, email := r.PostForm.Get("user"), r.PostForm.Get("email")
	if strings.Contains(userID, "@") && strings.TrimSpace(email) == "" {
		// An address typed in the user id box: looked up as an address, so
		// it is never recorded or shown as a user id.
		userID, email = "", userID
	}
	switch {
	case strings.TrimSpace(userID) != "":
		id, ok := cleanQuery(userID)
		if !ok {
			s.render(w, r, http.StatusBadRequest, "lookup", "Look someone up", lookupView{UserID: id, Error: "That is not a user id."})
			return
		}
		if run, ok = s.resolveRun(w, r, run); !ok {
			return
		}
		s.showPerson(w, r, run, id, store.AuditLookupID, "by user id, run "+strconv.Itoa(run))
	case strings.TrimSpace(email) != "":
		addr, ok := cleanQuery(email)
		if !ok || !strings.Contains(addr, "@") {
			s.render(w, r, http.StatusBadRequest, "lookup", "Look someone up", lookupView{Email: addr, Error: "That is not an e-mail address."})
			return
		}
		if run, ok = s.resolveRun(w, r, run); !ok {
			return
		}
		ids, err := s.data.LookupEmail(r.Context(), addr)
		if errors.Is(err, ErrNoLookupQuery) {
			s.render(w, r, http.StatusOK, "lookup", "Look someone up", lookupView{Email: addr, Error: ErrNoLookupQuery.Error()})
			return
		}
		if err != nil {
			s.dataError(w, r, "the user database (lookup by e-mail address)", withoutArgument(err, addr))
			return
		}
		detail := fmt.Sprintf("by e-mail: %d found, run %d", len(ids), run)
		if len(ids) == 1 {
			s.showPerson(w, r, run, ids[0], store.AuditLookupEmail, detail)
			return
		}
		rows := []auditRow{{"", detail}}
		if len(ids) > 0 {
			rows = rows[:0]
			for _, id := range ids {
				rows = append(rows, auditRow{id, detail})
			}
		}
		if !s.audit(w, r, store.AuditLookupEmail, rows...) {
			return
		}
		s.render(w, r, http.StatusOK, "found", "Look-up by e-mail address", foundView{Email: addr, IDs: ids, Run: run})
	default:
		s.render(w, r, http.StatusBadRequest, "lookup", "Look someone up", lookupView{Error: "Type a user id or an e-mail address."})
	}
}

// withoutArgument is a lookup's error fit for the log: the database's
// message may quote the query's argument (the address, in any case or
// form), so a database error is told by its SQLSTATE only, and any other
// error has the address taken out, whatever its case.
func withoutArgument(err error, arg string) error {
	var pe *pq.Error
	if errors.As(err, &pe) {
		return fmt.Errorf("users.lookup_query failed: %s (SQLSTATE %s)", pe.Code.Name(), pe.Code)
	}
	msg := err.Error()
	if arg != "" {
		msg = regexp.MustCompile(`(?i)`+regexp.QuoteMeta(arg)).ReplaceAllLiteralString(msg, "<address>")
	}
	return errors.New(msg)
}

func atoiRun(v string) (int, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, true
	}
	n, err := strconv.Atoi(v)
	return n, err == nil && n >= 0
}

type personView struct {
	Run        int
	UserID     string
	D          *triage.Disclosure
	Notices    []store.Notice
	Zone       string
	LocalFirst string
	LocalLast  string
}

// personPage is GET /person?user=ID&run=N (a link from a lookup list or
// the audit page), audited as a look at the person.
func (s *Server) personPage(w http.ResponseWriter, r *http.Request) {
	id, ok := s.userParam(w, r)
	if !ok {
		return
	}
	run, ok := s.pageRun(w, r)
	if !ok {
		return
	}
	s.showPerson(w, r, run, id, store.AuditPerson, "run "+strconv.Itoa(run))
}

// showPerson audits the look, then shows the person's disclosure and
// notices.
func (s *Server) showPerson(w http.ResponseWriter, r *http.Request, run int, userID, action, detail string) {
	if !s.audit(w, r, action, auditRow{userID, detail}) {
		return
	}
	d, err := s.data.Disclose(r.Context(), run, userID)
	if err != nil {
		s.dataError(w, r, "the person's disclosure", err)
		return
	}
	ns, err := s.data.PersonNotices(r.Context(), userID)
	if err != nil {
		s.dataError(w, r, "the person's notices", err)
		return
	}
	v := personView{Run: run, UserID: userID, D: d, Notices: ns, Zone: d.TimeZone}
	if loc, err := time.LoadLocation(d.TimeZone); err == nil && d.TimeZone != "" && d.TimeZone != "UTC" {
		if d.FirstExposed != nil {
			v.LocalFirst = d.FirstExposed.In(loc).Format("2006-01-02 15:04:05 MST")
		}
		if d.LastExposed != nil {
			v.LocalLast = d.LastExposed.In(loc).Format("2006-01-02 15:04:05 MST")
		}
	}
	s.render(w, r, http.StatusOK, "person", "Person "+userID, v)
}

type noticeView struct {
	UserID string
	N      *RenderedNotice
	RawURL string
}

func (s *Server) noticeParams(w http.ResponseWriter, r *http.Request) (string, int, bool) {
	id, ok := s.userParam(w, r)
	if !ok {
		return "", 0, false
	}
	run, ok := runParam(r, "run")
	if !ok || run == 0 {
		s.errorPage(w, r, http.StatusBadRequest, "Give the notice's run (?run=N).")
		return "", 0, false
	}
	return id, run, true
}

// userParam reads ?user=ID: a user id, never an e-mail address (it would
// be kept in URLs, the audit log and the server's log as an id).
func (s *Server) userParam(w http.ResponseWriter, r *http.Request) (string, bool) {
	id, ok := cleanQuery(r.URL.Query().Get("user"))
	if !ok {
		s.errorPage(w, r, http.StatusBadRequest, "Give a user id (?user=...).")
		return "", false
	}
	if strings.Contains(id, "@") {
		s.errorPage(w, r, http.StatusBadRequest, "That looks like an e-mail address, not a user id: use the look-up form (an address never goes in a URL).")
		return "", false
	}
	return id, true
}

// noticePage shows a person's notice of a run as it was sent.
func (s *Server) noticePage(w http.ResponseWriter, r *http.Request) {
	id, run, ok := s.noticeParams(w, r)
	if !ok {
		return
	}
	if !s.audit(w, r, store.AuditNotice, auditRow{id, "run " + strconv.Itoa(run)}) {
		return
	}
	n, err := s.data.Notice(r.Context(), run, id)
	if err != nil {
		s.dataError(w, r, "the notice", err)
		return
	}
	raw := "/notice/raw?" + url.Values{"user": {id}, "run": {strconv.Itoa(run)}}.Encode()
	s.render(w, r, http.StatusOK, "notice", fmt.Sprintf("Notice of run %d", run), noticeView{UserID: id, N: n, RawURL: raw})
}

// noticeRaw downloads the message (message/rfc822), audited too.
func (s *Server) noticeRaw(w http.ResponseWriter, r *http.Request) {
	id, run, ok := s.noticeParams(w, r)
	if !ok {
		return
	}
	if !s.audit(w, r, store.AuditNotice, auditRow{id, "run " + strconv.Itoa(run) + ": raw message downloaded"}) {
		return
	}
	n, err := s.data.Notice(r.Context(), run, id)
	if err != nil {
		s.dataError(w, r, "the notice", err)
		return
	}
	w.Header().Set("Content-Type", "message/rfc822")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="notice-run%d.eml"`, run))
	w.Header().Set("Content-Length", strconv.Itoa(len(n.Raw)))
	w.Write(n.Raw)
}
