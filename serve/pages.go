package serve

import (
	"bytes"
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/breachctl/breachctl/incident/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static/app.css
var appCSS []byte

var appCSSTag = func() string { h := sha256.Sum256(appCSS); return hex.EncodeToString(h[:6]) }()

// pageNames are the page templates (templates/NAME.html), each laid out
// by templates/base.html. A test checks that this list and the directory
// agree and that every page is rendered somewhere.
var pageNames = []string{"login", "error", "home", "lookup", "found", "person", "notice",
	"runs", "diff", "ledger", "obligations", "audit", "accounts"}

type pageSet struct{ t map[string]*template.Template }

var pageFuncs = template.FuncMap{
	"when": fmtTime,
	"rank": store.RoleRank,
	"thousands": func(n int) string {
		s := strconv.Itoa(n)
		neg := strings.HasPrefix(s, "-")
		s = strings.TrimPrefix(s, "-")
		var b strings.Builder
		for i, c := range s {
			if i > 0 && (len(s)-i)%3 == 0 {
				b.WriteByte(',')
			}
			b.WriteRune(c)
		}
		if neg {
			return "-" + b.String()
		}
		return b.String()
	},
}

func parsePages() (*pageSet, error) {
	base, err := template.New("base.html").Funcs(pageFuncs).ParseFS(templateFS, "templates/base.html")
	if err != nil {
		return nil, fmt.Errorf("serve: parse templates/base.html: %w", err)
	}
	ps := &pageSet{t: map[string]*template.Template{}}
	for _, name := range pageNames {
		t, err := base.Clone()
		if err != nil {
			return nil, err
		}
		if _, err := t.ParseFS(templateFS, "templates/"+name+".html"); err != nil {
			return nil, fmt.Errorf("serve: parse templates/%s.html: %w", name, err)
		}
		ps.t[name] = t
	}
	return ps, nil
}

// templateFiles lists the embedded templates (for the test that every
// file is used).
func templateFiles() ([]string, error) {
	return fs.Glob(templateFS, "templates/*.html")
}

// fmtTime shows a time in UTC, ISO-like; "" for none.
func fmtTime(v any) string {
	var t time.Time
	switch x := v.(type) {
	case time.Time:
		t = x
	case *time.Time:
		if x == nil {
			return ""
		}
		t = *x
	case sql.NullTime:
		if !x.Valid {
			return ""
		}
		t = x.Time
	default:
		return ""
	}
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// layout is what base.html needs around every page.
type layout struct {
	Title     string
	CaseID    string
	CaseTitle string
	Staff     string
	Role      string
	CSRF      string
	CSSTag    string
	Page      any
}

// render executes a page into a buffer, then sends it: an error halfway
// becomes an error page, not half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name, title string, page any) {
	l := layout{Title: title, CaseID: s.data.CaseID(), CaseTitle: s.data.Title(), CSSTag: appCSSTag, Page: page}
	if ss := sessionOf(r); ss != nil {
		l.Staff, l.Role, l.CSRF = ss.Staff, ss.Role, ss.CSRF
	}
	var buf bytes.Buffer
	t := s.staff.pages.t[name]
	if t == nil {
		panic("serve: no page template " + name)
	}
	if err := t.ExecuteTemplate(&buf, "base", l); err != nil {
		s.log.Error("render page", "page", name, "err", err)
		if name != "error" {
			s.errorPage(w, r, http.StatusInternalServerError, "The page could not be shown.")
		} else {
			http.Error(w, "internal error", http.StatusInternalServerError)
		}
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

type errorView struct {
	Status  int
	Text    string
	Message string
}

func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, status int, msg string) {
	s.render(w, r, status, "error", http.StatusText(status), errorView{Status: status, Text: http.StatusText(status), Message: msg})
}

// dataError shows an error from Data: "not found" for store.ErrNotFound,
// else a 500 (logged without the request's data).
func (s *Server) dataError(w http.ResponseWriter, r *http.Request, what string, err error) {
	if errors.Is(err, store.ErrNotFound) {
		s.errorPage(w, r, http.StatusNotFound, "Not found: "+what+".")
		return
	}
	s.log.Error("read "+what, "staff", infoOf(r).staff, "err", err)
	s.errorPage(w, r, http.StatusInternalServerError, "Could not read "+what+".")
}

func (s *Server) staticCSS(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	if r.URL.Query().Get("v") == appCSSTag {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "public, max-age=300")
	}
	w.Write(appCSS)
}

// pageRun is the page's ?run=N, 0 resolved to the latest completed run;
// false when it has answered (a bad number, no such run).
func (s *Server) pageRun(w http.ResponseWriter, r *http.Request) (int, bool) {
	run, ok := runParam(r, "run")
	if !ok {
		s.errorPage(w, r, http.StatusBadRequest, "The run must be a number.")
		return 0, false
	}
	return s.resolveRun(w, r, run)
}

// runParam reads ?NAME=N (0 when absent); ok false when it is not a
// number ≥ 0.
func runParam(r *http.Request, name string) (int, bool) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// resolveRun turns run 0 into the latest completed run.
func (s *Server) resolveRun(w http.ResponseWriter, r *http.Request, run int) (int, bool) {
	if run > 0 {
		return run, true
	}
	n, err := s.data.LatestRun(r.Context())
	if errors.Is(err, store.ErrNotFound) {
		s.errorPage(w, r, http.StatusNotFound, "The case has no completed run yet.")
		return 0, false
	}
	if err != nil {
		s.dataError(w, r, "the latest run", err)
		return 0, false
	}
	return n, true
}

func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "home", "Home", nil)
}
