package serve

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"

	"github.com/breachctl/breachctl/incident/store"
)

// BcryptCost is the cost of new password hashes (tests lower it to
// bcrypt.MinCost).
var BcryptCost = 12

// MinPasswordLen is the shortest password an account may have, in
// characters.
const MinPasswordLen = 12

// maxPasswordBytes: bcrypt reads at most 72 bytes.
const maxPasswordBytes = 72

// HashPassword checks a new password's length and returns its bcrypt hash.
func HashPassword(pw string) (string, error) {
	if utf8.RuneCountInString(pw) < MinPasswordLen {
		return "", fmt.Errorf("the password is too short: use at least %d characters", MinPasswordLen)
	}
	if len(pw) > maxPasswordBytes {
		return "", fmt.Errorf("the password is too long: use at most %d bytes", maxPasswordBytes)
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), BcryptCost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

const (
	sessionCookie   = "breachctl_session"
	loginCSRFCookie = "breachctl_login_csrf"
	csrfField       = "csrf"
	// sessionCacheTTL: a session read from the case database is trusted
	// this long. Sign-out and account changes made on this server take
	// effect at once (the cache entries are dropped); an account changed
	// elsewhere (`breachctl serve users ...` on the command line) loses its
	// sessions here at most this much later.
	sessionCacheTTL = 5 * time.Second
	maxFormBytes    = 64 << 10
)

// randomToken is 32 random bytes, base64url.
func randomToken() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported systems
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func tokenHash(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

func sameToken(a, b string) bool {
	return a != "" && b != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// remoteHost is the client's address (X-Forwarded-For is not trusted).
func remoteHost(r *http.Request) string {
	if h, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return h
	}
	return r.RemoteAddr
}

// sameOrigin: a POST whose Origin header is present must name this host.
func sameOrigin(r *http.Request) bool {
	// Browsers say where a request comes from in Sec-Fetch-Site, which a
	// page cannot set.
	switch r.Header.Get("Sec-Fetch-Site") {
	case "same-origin", "none":
		return true
	case "":
	default: // same-site, cross-site
		return false
	}
	// An older browser: its Origin header. Under Referrer-Policy
	// no-referrer (ours) a browser sends "null" even for this site's own
	// forms: that cannot tell, so the form's CSRF token and the
	// SameSite=Strict cookies decide.
	o := r.Header.Get("Origin")
	if o == "" || o == "null" {
		return true
	}
	u, err := url.Parse(o)
	if err != nil || u.Host == "" {
		return false
	}
	return strings.EqualFold(u.Host, r.Host)
}

// localNext accepts only a path on this site as the place to go after
// signing in.
func localNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return "/"
	}
	return next
}

// sessionCache keeps sessions read from the case database for a few
// seconds, keyed by the token's SHA-256.
type sessionCache struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[string]cachedSession
}

type cachedSession struct {
	ss      store.StaffSession
	checked time.Time
}

func newSessionCache(ttl time.Duration) *sessionCache {
	return &sessionCache{ttl: ttl, m: map[string]cachedSession{}}
}

func (c *sessionCache) get(hash string, now time.Time) (*store.StaffSession, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[hash]
	if !ok || now.Sub(e.checked) > c.ttl || !now.Before(e.ss.ExpiresAt) {
		return nil, false
	}
	ss := e.ss
	return &ss, true
}

func (c *sessionCache) put(ss *store.StaffSession, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) > 10000 {
		for k, e := range c.m {
			if now.Sub(e.checked) > c.ttl {
				delete(c.m, k)
			}
		}
	}
	c.m[ss.TokenSHA256] = cachedSession{ss: *ss, checked: now}
}

func (c *sessionCache) drop(hash string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, hash)
}

// dropStaff forgets every cached session of an account (its role,
// password or disabled flag changed: the store ended its sessions).
func (c *sessionCache) dropStaff(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.m {
		if e.ss.Staff == name {
			delete(c.m, k)
		}
	}
}

// session is the request's live session, or nil.
func (s *Server) session(r *http.Request) (*store.StaffSession, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" || len(c.Value) > 128 {
		return nil, nil
	}
	h := tokenHash(c.Value)
	now := s.now()
	if ss, ok := s.staff.sessions.get(h, now); ok {
		return ss, nil
	}
	if s.st == nil {
		return nil, errors.New("no case database")
	}
	ss, err := s.st.GetSession(r.Context(), h)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	s.staff.sessions.put(ss, now)
	return ss, nil
}

type sessionKey struct{}

// sessionOf is the signed-in account of a request that went through page
// or action.
func sessionOf(r *http.Request) *store.StaffSession {
	ss, _ := r.Context().Value(sessionKey{}).(*store.StaffSession)
	return ss
}

// page wraps a GET page: no session → 303 to /login?next=...; a role below
// min → 403.
func (s *Server) page(min string, h http.HandlerFunc) http.Handler {
	return s.guard(min, false, h)
}

// action wraps a POST: no session → 401; cross-origin or a bad CSRF token
// → 403; a role below min → 403.
func (s *Server) action(min string, h http.HandlerFunc) http.Handler {
	return s.guard(min, true, h)
}

func (s *Server) guard(min string, post bool, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if post && !sameOrigin(r) {
			s.errorPage(w, r, http.StatusForbidden, "This form was sent from another site.")
			return
		}
		ss, err := s.session(r)
		if err != nil {
			s.log.Error("read session", "err", err)
			s.errorPage(w, r, http.StatusInternalServerError, "The case database does not answer.")
			return
		}
		if ss == nil {
			if post || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
				s.errorPage(w, r, http.StatusUnauthorized, "Please sign in again.")
				return
			}
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		infoOf(r).staff = ss.Staff
		if post {
			r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
			if err := r.ParseForm(); err != nil {
				s.errorPage(w, r, http.StatusBadRequest, "The form could not be read.")
				return
			}
			if !sameToken(r.PostForm.Get(csrfField), ss.CSRF) {
				s.errorPage(w, r, http.StatusForbidden, "The form's security token is missing or out of date: go back, reload the page and try again.")
				return
			}
		}
		r = r.WithContext(context.WithValue(r.Context(), sessionKey{}, ss))
		if store.RoleRank(ss.Role) < store.RoleRank(min) {
			s.errorPage(w, r, http.StatusForbidden, "Your account's role does not allow this page.")
			return
		}
		h(w, r)
	})
}

type loginView struct {
	Next  string
	CSRF  string
	Name  string
	Error string
}

// loginCSRF returns the login form's double-submit token, setting its
// cookie when there is none.
func (s *Server) loginCSRF(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(loginCSRFCookie); err == nil && len(c.Value) == 43 {
		return c.Value
	}
	tok := randomToken()
	http.SetCookie(w, &http.Cookie{Name: loginCSRFCookie, Value: tok, Path: "/login", HttpOnly: true,
		Secure: s.cfg.TLS, SameSite: http.SameSiteStrictMode, MaxAge: 3600})
	return tok
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	next := localNext(r.URL.Query().Get("next"))
	if ss, err := s.session(r); err == nil && ss != nil {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	s.render(w, r, http.StatusOK, "login", "Sign in", loginView{Next: next, CSRF: s.loginCSRF(w, r)})
}

const loginRefused = "Wrong account name or password."

func (s *Server) loginSubmit(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		s.errorPage(w, r, http.StatusForbidden, "This form was sent from another site.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		s.errorPage(w, r, http.StatusBadRequest, "The form could not be read.")
		return
	}
	c, err := r.Cookie(loginCSRFCookie)
	if err != nil || !sameToken(r.PostForm.Get(csrfField), c.Value) {
		s.errorPage(w, r, http.StatusForbidden, "The sign-in form's security token is missing or out of date: reload the sign-in page and try again.")
		return
	}
	name := strings.TrimSpace(r.PostForm.Get("name"))
	pw := r.PostForm.Get("password")
	next := localNext(r.PostForm.Get("next"))
	now := s.now()
	host := remoteHost(r)
	validName := store.ValidStaffName(name) && len(pw) <= maxPasswordBytes
	nameKey := "name:" + strings.ToLower(name)
	wait := s.staff.limit.allow("addr:"+addressKey(r.RemoteAddr), now)
	if wait == 0 && validName {
		wait = s.staff.names.wait(nameKey, now)
	}
	if wait > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
		s.log.Warn("sign-in rate limited", "remote", host)
		s.errorPage(w, r, http.StatusTooManyRequests, "Too many sign-in attempts: wait a few minutes and try again.")
		return
	}
	refuse := func() {
		if validName {
			s.staff.names.allow(nameKey, now)
		}
		view := loginView{Next: next, CSRF: c.Value, Error: loginRefused}
		if validName {
			view.Name = name
		}
		s.render(w, r, http.StatusUnauthorized, "login", "Sign in", view)
	}
	var acct *store.Staff
	if validName {
		acct, err = s.st.GetStaff(r.Context(), name)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			s.log.Error("sign-in: read account", "err", err)
			s.errorPage(w, r, http.StatusInternalServerError, "The case database does not answer.")
			return
		}
	}
	hash := s.staff.dummyHash
	if acct != nil {
		hash = []byte(acct.PasswordHash)
	}
	// Unknown accounts are checked against a dummy hash (the same time);
	// a few checks at once at most, so a flood of attempts queues here
	// instead of taking every core.
	select {
	case s.staff.bcrypt <- struct{}{}:
	case <-r.Context().Done():
		return
	}
	bad := bcrypt.CompareHashAndPassword(hash, []byte(pw)) != nil
	<-s.staff.bcrypt
	if acct == nil {
		s.log.Info("sign-in refused: no such account", "remote", host)
		refuse()
		return
	}
	if bad || acct.Disabled {
		s.log.Info("sign-in refused", "staff", acct.Name, "disabled", acct.Disabled, "remote", host)
		refuse()
		return
	}
	tok, csrf := randomToken(), randomToken()
	expires := now.Add(s.cfg.SessionTTL)
	if err := s.st.CreateSession(r.Context(), tokenHash(tok), acct.Name, csrf, host, expires); err != nil {
		s.log.Error("sign-in: create session", "staff", acct.Name, "err", err)
		s.errorPage(w, r, http.StatusInternalServerError, "The case database does not answer.")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: tok, Path: "/", HttpOnly: true, Secure: s.cfg.TLS,
		SameSite: http.SameSiteStrictMode, Expires: expires, MaxAge: int(s.cfg.SessionTTL / time.Second)})
	http.SetCookie(w, &http.Cookie{Name: loginCSRFCookie, Value: "", Path: "/login", HttpOnly: true, Secure: s.cfg.TLS,
		SameSite: http.SameSiteStrictMode, MaxAge: -1})
	infoOf(r).staff = acct.Name
	s.log.Info("signed in", "staff", acct.Name, "role", acct.Role, "remote", host)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	ss := sessionOf(r)
	s.staff.sessions.drop(ss.TokenSHA256)
	if err := s.st.DeleteSession(r.Context(), ss.TokenSHA256); err != nil {
		s.log.Error("sign-out", "staff", ss.Staff, "err", err)
		s.errorPage(w, r, http.StatusInternalServerError, "The case database does not answer: you may still be signed in.")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true, Secure: s.cfg.TLS,
		SameSite: http.SameSiteStrictMode, MaxAge: -1})
	s.log.Info("signed out", "staff", ss.Staff)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
