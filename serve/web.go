package serve

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/breachctl/breachctl/incident/store"
)

// staffState: sessions, login limits, page templates.
type staffState struct {
	pages    *pageSet
	sessions *sessionCache
	// limit counts sign-in attempts per remote address and per account
	// name.
	limit *loginLimiter
	// names counts failed sign-ins per account name.
	names *loginLimiter
	// bcrypt bounds the password checks running at once.
	bcrypt chan struct{}
	// audit group-commits audit rows: each lookup waits for the commit of
	// the batch its row went into.
	audit *auditBatcher
	// dummyHash is compared against for unknown account names, so the time
	// a refusal takes does not say whether the account exists.
	dummyHash []byte
}

func newStaffState(s *Server) (*staffState, error) {
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	dummy, err := HashPassword(randomToken())
	if err != nil {
		return nil, fmt.Errorf("serve: dummy password hash: %w", err)
	}
	st := &staffState{
		pages:     pages,
		sessions:  newSessionCache(sessionCacheTTL),
		limit:     newLoginLimiter(loginBurst, loginWindow),
		names:     newLoginLimiter(loginNameBurst, loginWindow),
		bcrypt:    make(chan struct{}, bcryptSlots),
		dummyHash: []byte(dummy),
	}
	st.audit = newAuditBatcher(func(ctx context.Context, es []store.AuditEntry) error {
		if s.st == nil {
			return errors.New("no case database")
		}
		return s.st.AddAudit(ctx, es)
	})
	return st, nil
}

// staffRoutes registers the staff pages. The minimum role of each is in
// the wrapper: page (GET) and action (POST, CSRF-checked).
func (s *Server) staffRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /static/app.css", s.staticCSS)
	mux.HandleFunc("GET /login", s.loginPage)
	mux.HandleFunc("POST /login", s.loginSubmit)
	mux.Handle("POST /logout", s.action(store.RoleSupport, s.logout))

	mux.Handle("GET /{$}", s.page(store.RoleSupport, s.home))
	mux.Handle("GET /lookup", s.page(store.RoleSupport, s.lookupPage))
	mux.Handle("POST /lookup", s.action(store.RoleSupport, s.lookupSubmit))
	mux.Handle("GET /person", s.page(store.RoleSupport, s.personPage))
	mux.Handle("GET /notice", s.page(store.RoleSupport, s.noticePage))
	mux.Handle("GET /notice/raw", s.page(store.RoleSupport, s.noticeRaw))

	mux.Handle("GET /case/{$}", s.page(store.RoleAnalyst, s.runsPage))
	mux.Handle("GET /case/triage", s.page(store.RoleAnalyst, s.triagePage))
	mux.Handle("GET /case/diff", s.page(store.RoleAnalyst, s.diffPage))
	mux.Handle("GET /case/ledger", s.page(store.RoleAnalyst, s.ledgerPage))
	mux.Handle("GET /case/obligations", s.page(store.RoleAnalyst, s.obligationsPage))
	mux.Handle("GET /audit", s.page(store.RoleAnalyst, s.auditPage))

	mux.Handle("GET /admin/accounts", s.page(store.RoleAdmin, s.accountsPage))
	mux.Handle("POST /admin/accounts", s.action(store.RoleAdmin, s.accountAdd))
	mux.Handle("POST /admin/accounts/update", s.action(store.RoleAdmin, s.accountUpdate))
}

// healthz answers 200 when the case database answers a ping within 2 s.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if s.st == nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("no case database\n"))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.st.DB.PingContext(ctx); err != nil {
		s.log.Warn("healthz: case database does not answer", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("case database does not answer\n"))
		return
	}
	w.Write([]byte("ok\n"))
}

// contentSecurityPolicy: no inline script anywhere (the triage page has
// inline style and SVG only).
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// reqInfo is filled in by the handlers for the request log line.
type reqInfo struct{ staff string }

type reqInfoKey struct{}

func infoOf(r *http.Request) *reqInfo {
	if i, ok := r.Context().Value(reqInfoKey{}).(*reqInfo); ok {
		return i
	}
	return &reqInfo{}
}

// statusWriter remembers the status for the log and whether anything was
// written (a panic after that cannot become an error page).
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.status, w.wrote = http.StatusOK, true
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// secure sets the security headers on every response (pages, errors, 404s,
// /healthz), turns a panic into a 500 page and logs one line per request:
// method, route pattern, status, duration and account, never the query
// string.
func (s *Server) secure(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		hd := w.Header()
		hd.Set("Content-Security-Policy", contentSecurityPolicy)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Cache-Control", "no-store")
		if s.cfg.TLS {
			hd.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
		}
		if len(s.cfg.TrustedProxies) > 0 {
			r.RemoteAddr = s.clientAddr(r)
		}
		info := &reqInfo{}
		r = r.WithContext(context.WithValue(r.Context(), reqInfoKey{}, info))
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("panic in handler", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v))
				if !sw.wrote {
					s.errorPage(sw, r, http.StatusInternalServerError, "Something went wrong on our side. It has been logged.")
				}
			}
			route := r.Pattern
			if route == "" {
				route = "(none)"
			}
			s.log.Info("request", "method", r.Method, "route", route, "status", sw.status,
				"duration", time.Since(start), "staff", info.staff)
		}()
		h.ServeHTTP(sw, r)
	})
}

// Run serves on ln (HTTPS when certFile and keyFile are given) until ctx
// is cancelled, then shuts down gracefully, waiting at most 10 s for the
// requests in flight. It returns nil on a clean shutdown.
func (s *Server) Run(ctx context.Context, ln net.Listener, certFile, keyFile string) error {
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	tlsOn := certFile != "" && keyFile != ""
	if tlsOn {
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	} else if certFile != "" || keyFile != "" {
		return errors.New("serve: give both a certificate and a key file, or neither")
	}
	errc := make(chan error, 1)
	go func() {
		if tlsOn {
			errc <- srv.ServeTLS(ln, certFile, keyFile)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	s.log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
		return fmt.Errorf("serve: shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// clientAddr is the client's address behind a trusted proxy: the peer's
// when it is not one of Config.TrustedProxies, else the rightmost address
// of X-Forwarded-For that is not a trusted proxy (what the first trusted
// proxy saw; anything left of it the client may have written). Port 0.
func (s *Server) clientAddr(r *http.Request) string {
	trusted := func(a netip.Addr) bool {
		for _, p := range s.cfg.TrustedProxies {
			if p.Contains(a.Unmap()) {
				return true
			}
		}
		return false
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !trusted(peer) {
		return r.RemoteAddr
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // not an address: stop trusting the chain here
		}
		if !trusted(a) {
			return net.JoinHostPort(a.Unmap().String(), "0")
		}
	}
	return r.RemoteAddr
}
