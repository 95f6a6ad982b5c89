// Package serve is `breachctl serve`: the support desk's "was I affected?"
// and the team's live case in a browser, and the self-check API the
// company's own site calls for one signed-in person.
//
// Staff pages need a session (accounts in the case database, roles
// support < analyst < admin); every look at one person's data is audited in
// the case database before it is answered. The self-check API answers for
// one person only, on a token the company's backend signed. Logs name user
// ids and account names, never e-mail addresses, names or postal
// addresses.
//
// A self-check token (token.go has the details and an example) travels in
// "Authorization: Bearer <token>" and reads
//
//	base64url(user id) "." expiry (Unix seconds) ["." base64url(nonce)] "." base64url(HMAC-SHA256(secret, all before the last dot))
//
// with base64url unpadded (RFC 4648 §5), an expiry at most 15 minutes
// ahead, and a secret of at least 32 bytes (BREACHCTL_SELFCHECK_SECRET). A
// token answers once.
package serve

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/breachctl/breachctl/incident/report"
	"github.com/breachctl/breachctl/incident/revision"
	"github.com/breachctl/breachctl/incident/store"
	"github.com/breachctl/breachctl/incident/triage"
	"github.com/breachctl/breachctl/notify/deliver"
	"golang.org/x/time/rate"
)

// Data is what the pages show, read from the case database (and, for a
// lookup by e-mail address and a rendered notice, the user database).
// Run 0 means the latest completed run. Errors wrapping store.ErrNotFound
// are shown as "not found".
type Data interface {
	// CaseID and Title name the case.
	CaseID() string
	Title() string
	// LatestRun is the latest completed run (store.ErrNotFound: none yet).
	LatestRun(ctx context.Context) (int, error)
	// Runs lists every run, oldest first.
	Runs(ctx context.Context) ([]revision.RunInfo, error)
	// TriageHTML writes the run's triage page (triage --html).
	TriageHTML(ctx context.Context, run int, w *BufferedPage) error
	// Diff compares two completed runs (from 0 and to 0: the two latest).
	Diff(ctx context.Context, from, to int) (*revision.Diff, error)
	// Disclose is one person's disclosure in a run (`disclose`).
	Disclose(ctx context.Context, run int, userID string) (*triage.Disclosure, error)
	// PersonNotices lists the person's notices in every run, oldest first.
	PersonNotices(ctx context.Context, userID string) ([]store.Notice, error)
	// Notice renders the person's notice of a run as it was sent.
	Notice(ctx context.Context, run int, userID string) (*RenderedNotice, error)
	// Ledger is a run's delivery ledger (`notify status`).
	Ledger(ctx context.Context, run int) (*deliver.StatusReport, error)
	// Obligations are the run's duties with their status now.
	Obligations(ctx context.Context, run int, now time.Time) ([]report.Obligation, error)
	// LookupEmail resolves an e-mail address to user ids through the case
	// file's users.lookup_query (read-only; the address is never stored).
	// ErrNoLookupQuery when the case file has none.
	LookupEmail(ctx context.Context, email string) ([]string, error)
	// SelfCheck is what the self-check API tells one person (of the latest
	// completed run). A person the run does not name is an answer with
	// Affected false, not an error; store.ErrNotFound means no run has
	// completed yet.
	SelfCheck(ctx context.Context, userID string) (*SelfCheck, error)
}

// BufferedPage collects a page before it is sent, so an error halfway
// becomes an error page, not half a page.
type BufferedPage struct{ B []byte }

func (p *BufferedPage) Write(b []byte) (int, error) { p.B = append(p.B, b...); return len(b), nil }

// RenderedNotice is a notice as the person received it: re-rendered from
// the same run with the Date recorded at sending, and compared with the
// SHA-256 recorded then.
type RenderedNotice struct {
	Run       int
	Kind      string // first, update, correction
	State     string // the ledger's state
	MessageID string
	Subject   string
	Date      time.Time
	// Headers are the message's headers as (name, value) pairs, decoded.
	Headers [][2]string
	// Text is the text/plain part, decoded.
	Text string
	// Raw is the whole message (it holds the person's address and name:
	// shown only to staff, never logged).
	Raw []byte
	// Verified: the re-rendering has the SHA-256 recorded when the notice
	// was handed to the SMTP server, so it is byte for byte what was sent.
	// When false, Note says why it may differ.
	Verified bool
	Note     string
}

// SelfCheck is the self-check API's answer for one person: nothing about
// anyone else.
type SelfCheck struct {
	Case           string            `json:"case"`
	Run            int               `json:"run"`
	UserID         string            `json:"user_id"`
	Affected       bool              `json:"affected"`
	Level          string            `json:"level,omitempty"`
	Categories     []string          `json:"categories"`
	CategoryLevels map[string]string `json:"category_levels,omitempty"`
	FirstExposed   *time.Time        `json:"first_exposed"`
	LastExposed    *time.Time        `json:"last_exposed"`
	TimeZone       string            `json:"time_zone"`
	// Notice is the person's latest notice, nil when none was planned.
	Notice *SelfCheckNotice `json:"notice"`
}

// SelfCheckNotice is the state of a person's notice.
type SelfCheckNotice struct {
	Run    int        `json:"run"`
	Kind   string     `json:"kind"`
	State  string     `json:"state"` // pending, sending, sent, failed, uncertain
	SentAt *time.Time `json:"sent_at"`
}

// Config configures a Server.
type Config struct {
	Data Data
	// Store holds the staff accounts, sessions, the audit log and the
	// self-check replay list (the case database).
	Store *store.Store
	// TLS: the server is reached over HTTPS (cookies are Secure, HSTS is
	// sent), by itself or through a TLS-terminating proxy.
	TLS bool
	// TrustedProxies are the reverse proxies in front of the server: for a
	// request from one of them, the client's address (sign-in and
	// self-check limits, the audit log) is taken from X-Forwarded-For.
	TrustedProxies []netip.Prefix
	// SelfCheckSecret signs self-check tokens (HMAC-SHA256); nil turns the
	// self-check API off (503). New refuses one shorter than 32 bytes.
	SelfCheckSecret []byte
	// SelfCheckMaxTTL is how far ahead a self-check token's expiry may be
	// (default 15 min): the replay list keeps a used token until then.
	SelfCheckMaxTTL time.Duration
	// Self-check rate limits, per token (default 5 a minute, bursts of 5)
	// and per client address (an IPv6 /64; default 20 a second, bursts of
	// 40). rate.Inf turns one off (load tests).
	SelfCheckTokenRate  rate.Limit
	SelfCheckTokenBurst int
	SelfCheckAddrRate   rate.Limit
	SelfCheckAddrBurst  int
	// SessionTTL is how long a sign-in lasts (default 8h).
	SessionTTL time.Duration
	Logger     *slog.Logger
	// Now is the clock (tests); time.Now when nil.
	Now func() time.Time
}

// Server serves the staff pages and the self-check API.
type Server struct {
	cfg   Config
	data  Data
	st    *store.Store
	log   *slog.Logger
	now   func() time.Time
	mux   *http.ServeMux
	staff *staffState     // web.go: sessions, login limits, templates
	self  *selfCheckState // selfcheck.go: secret, limits, counters
}

// New builds a server.
func New(cfg Config) (*Server, error) {
	s := &Server{cfg: cfg, data: cfg.Data, st: cfg.Store, log: cfg.Logger, now: cfg.Now, mux: http.NewServeMux()}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.cfg.SessionTTL <= 0 {
		s.cfg.SessionTTL = 8 * time.Hour
	}
	var err error
	if s.staff, err = newStaffState(s); err != nil {
		return nil, err
	}
	if s.self, err = newSelfCheckState(s); err != nil {
		return nil, err
	}
	s.routes()
	return s, nil
}

// Handler is the whole site, with the security headers on every response.
func (s *Server) Handler() http.Handler { return s.secure(s.mux) }

func (s *Server) routes() {
	s.mux.HandleFunc("GET /healthz", s.healthz)
	// Any method: GET is answered, the others get a JSON 405.
	s.mux.Handle("/api/v1/self-check", s.selfCheckHandler())
	s.staffRoutes(s.mux) // web.go
}

// ErrNoLookupQuery: the case file has no users.lookup_query, so a lookup
// by e-mail address cannot be made.
var ErrNoLookupQuery = errors.New("the case file has no users.lookup_query: look people up by user id, or add one (e.g. SELECT id FROM users WHERE lower(email) = lower($1))")
