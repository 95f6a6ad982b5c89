package deliver

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Errors of the webhook channel a caller can test with errors.Is.
var (
	// ErrWebhookUnreachable: no connection to the webhook endpoint could
	// be made. errors.Is(err, ErrUnreachable) holds too.
	ErrWebhookUnreachable error = &aliasError{msg: "webhook endpoint unreachable", is: ErrUnreachable}
	// ErrWebhookRefused: the endpoint answered 401 or 403 (it does not
	// take our signature), or redirected elsewhere: no notice can go out
	// until it is fixed. errors.Is(err, ErrSenderRefused) holds too.
	ErrWebhookRefused error = &aliasError{msg: "the webhook endpoint refused the request", is: ErrSenderRefused}
	// ErrWebhookInsecure: an http:// URL to a host other than loopback.
	ErrWebhookInsecure = errors.New("http:// is allowed only to a loopback host")
)

// aliasError is an error of its own that errors.Is also takes for another
// (a webhook's ErrWebhookUnreachable is an ErrUnreachable).
type aliasError struct {
	msg string
	is  error
}

func (e *aliasError) Error() string        { return e.msg }
func (e *aliasError) Is(target error) bool { return target == e.is }

const (
	// maxWebhookResponse is how much of a response body is read (and
	// discarded) so that the connection can be used again.
	maxWebhookResponse = 64 << 10
	// maxRetryAfter caps a Retry-After.
	maxRetryAfter = time.Hour
	// wroteWait bounds the wait for net/http to say whether a request
	// that failed was written whole; without an answer it is in doubt.
	wroteWait = 2 * time.Second
	// webhookIdle: a connection idle for longer is not used again. A
	// server may close an idle connection at any moment (gunicorn after
	// 2 s, Node.js after 5 s), and a request written on it as it does
	// would be in doubt; a new connection costs little.
	webhookIdle = time.Second
)

// webhook is the endpoint the in-app notices are POSTed to. Its URL is
// never shown whole (its path or query may hold a token): errors name
// host:port.
type webhook struct {
	url        string
	host, port string
	tls        bool
	secret     []byte
	timeout    time.Duration
	dial       func(ctx context.Context, network, addr string) (net.Conn, error)
	tlsConfig  *tls.Config
	now        func() time.Time
}

func (w *webhook) addr() string { return net.JoinHostPort(w.host, w.port) }
func (w *webhook) name() string { return "webhook" }

// parseWebhook checks the URL (https://, or http:// to a loopback host)
// and the secret.
func parseWebhook(opts *Options) (*webhook, error) {
	raw := opts.WebhookURL
	if raw == "" {
		return nil, errors.New("no webhook URL: give --url https://host/path")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return nil, fmt.Errorf("--url %s: want https://host[:port]/path, or http:// to a loopback host", showURL(raw))
	}
	if u.User != nil {
		return nil, fmt.Errorf("--url %s: credentials in the URL are not used: the requests are signed with BREACHCTL_WEBHOOK_SECRET; remove them", showURL(raw))
	}
	w := &webhook{timeout: opts.Timeout, dial: opts.Dial, tlsConfig: opts.TLSConfig, now: time.Now}
	switch strings.ToLower(u.Scheme) {
	case "https":
		w.port, w.tls = "443", true
	case "http":
		w.port = "80"
	default:
		return nil, fmt.Errorf("--url %s: scheme %q, want https (or http to a loopback host)", showURL(raw), u.Scheme)
	}
	w.host = u.Hostname()
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n <= 0 || n > 65535 {
			return nil, fmt.Errorf("--url %s: bad port %q", showURL(raw), p)
		}
		w.port = p
	}
	if !w.tls && !isLoopback(w.host) {
		return nil, fmt.Errorf("webhook %s: %w: the notices would cross the network unencrypted; use https://", w.addr(), ErrWebhookInsecure)
	}
	u.Fragment, u.RawFragment = "", ""
	w.url = u.String()
	switch n := len(opts.WebhookSecret); {
	case n == 0:
		return nil, fmt.Errorf("no webhook secret: set BREACHCTL_WEBHOOK_SECRET (at least %d random bytes, shared with the receiving service, which verifies each request's %s)",
			MinWebhookSecret, WebhookSignatureHeader)
	case n < MinWebhookSecret:
		return nil, fmt.Errorf("the webhook secret is %d bytes, want at least %d (BREACHCTL_WEBHOOK_SECRET; e.g. openssl rand -hex 32)", n, MinWebhookSecret)
	}
	w.secret = bytes.Clone(opts.WebhookSecret)
	if w.dial == nil {
		d := &net.Dialer{Timeout: w.timeout, KeepAlive: 30 * time.Second}
		w.dial = d.DialContext
	}
	return w, nil
}

// showURL is a webhook URL safe to show: scheme, host and path, no
// credentials, no query.
func showURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if strings.ContainsAny(raw, "@?") {
			return "(a URL with credentials or a query, not shown)"
		}
		return raw
	}
	u.User = nil
	if u.RawQuery != "" || u.ForceQuery {
		u.RawQuery, u.ForceQuery = "", false
		return u.String() + "?(query not shown)"
	}
	return u.String()
}

// dialConn opens a connection to the endpoint, TLS included. ctx may have
// no deadline: the timeout bounds the dial and the handshake.
func (w *webhook) dialConn(ctx context.Context) (net.Conn, error) {
	where := "webhook " + w.addr()
	dctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	raw, err := w.dial(dctx, "tcp", w.addr())
	if err != nil {
		return nil, &connError{err: fmt.Errorf("%s: %w: %v", where, ErrWebhookUnreachable, scrubErr(err))}
	}
	if !w.tls {
		return raw, nil
	}
	cfg := tlsClientConfig(w.tlsConfig, w.host)
	cfg.NextProtos = []string{"http/1.1"}
	tc := tls.Client(raw, cfg)
	if err := tc.HandshakeContext(dctx); err != nil {
		raw.Close()
		return nil, &connError{permanent: isCertError(err), err: fmt.Errorf("%s: %w: %v", where, ErrTLS, err)}
	}
	return tc, nil
}

// connect makes a worker's session, with one connection made at once: an
// endpoint that cannot be reached, or a TLS failure, is known before a
// notice is claimed. The session's HTTP transport keeps its connection
// alive between requests and makes a new one when it is lost.
func (w *webhook) connect(ctx context.Context) (session, error) {
	c, err := w.dialConn(ctx)
	if err != nil {
		return nil, err
	}
	s := &webhookSession{w: w, pre: c, preAt: time.Now(), lastUsed: time.Now()}
	s.tr = &http.Transport{
		Proxy:               nil, // the endpoint is reached directly: a proxy would blur what was written
		MaxIdleConns:        1,
		MaxIdleConnsPerHost: 1,
		MaxConnsPerHost:     1,
		IdleConnTimeout:     webhookIdle,
		DisableCompression:  true,
		// HTTP/1.1 only: one request in flight per worker.
		TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{},
	}
	if w.tls {
		s.tr.DialTLSContext = s.dialConn
	} else {
		s.tr.DialContext = s.dialConn
	}
	return s, nil
}

// webhookSession is one worker's HTTP client: one request at a time.
type webhookSession struct {
	w        *webhook
	tr       *http.Transport
	lastUsed time.Time

	mu    sync.Mutex
	pre   net.Conn // made by connect, handed to the transport's first dial
	preAt time.Time
}

func (s *webhookSession) dialConn(ctx context.Context, _, _ string) (net.Conn, error) {
	s.mu.Lock()
	c, fresh := s.pre, time.Since(s.preAt) <= webhookIdle
	s.pre = nil
	s.mu.Unlock()
	if c != nil && fresh {
		return c, nil
	}
	if c != nil {
		c.Close()
	}
	return s.w.dialConn(ctx)
}

func (s *webhookSession) idle() time.Duration { return time.Since(s.lastUsed) }

// alive says no: an idle keep-alive connection may have been closed by the
// server in the meantime, and a request written on it then could not be
// told from one the server read and dropped (in doubt). A session idle
// for a while starts again on a new connection.
func (s *webhookSession) alive(time.Duration) bool { return false }

func (s *webhookSession) close() {
	s.mu.Lock()
	c := s.pre
	s.pre = nil
	s.mu.Unlock()
	if c != nil {
		c.Close()
	}
	s.tr.CloseIdleConnections()
}

// wroteTrace learns from net/http whether a request was written whole.
type wroteTrace struct {
	gotConn atomic.Bool
	wrote   chan error // WroteRequest's Err
}

func (t *wroteTrace) clientTrace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		GotConn: func(httptrace.GotConnInfo) { t.gotConn.Store(true) },
		WroteRequest: func(i httptrace.WroteRequestInfo) {
			select {
			case t.wrote <- i.Err:
			default:
			}
		},
	}
}

// written tells, after a failed round trip, whether the request had been
// written whole. It was not when no connection was had, or when writing
// it failed; when net/http does not say within wroteWait, it may have
// been: in doubt.
func (t *wroteTrace) written() bool {
	if !t.gotConn.Load() {
		return false
	}
	timer := time.NewTimer(wroteWait)
	defer timer.Stop()
	select {
	case err := <-t.wrote:
		return err == nil
	case <-timer.C:
		return true
	}
}

// send POSTs one notice. See the package comment for the classification.
func (s *webhookSession) send(m *Message, timeout time.Duration) txResult {
	s.lastUsed = time.Now()
	defer func() { s.lastUsed = time.Now() }()
	key := normID(m.MessageID)
	if err := checkWebhookBody(m, key); err != nil {
		// A program error (the Source's): nobody could send it. Back to
		// pending, and stop.
		return txResult{kind: txSenderRefused, err: err}
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	tr := &wroteTrace{wrote: make(chan error, 1)}
	ctx = httptrace.WithClientTrace(ctx, tr.clientTrace())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.w.url, bytes.NewReader(m.Raw))
	if err != nil {
		return txResult{kind: txSenderRefused, err: fmt.Errorf("webhook %s: %w", s.w.addr(), err)}
	}
	// net/http may send a request again by itself when it has an
	// Idempotency-Key and a way to rewind its body; a resend is the
	// ledger's decision (uncertain first), never a library's.
	req.GetBody = nil
	req.Header = http.Header{
		"Content-Type":         {"application/json"},
		"Idempotency-Key":      {key},
		"User-Agent":           {"breachctl"},
		WebhookSignatureHeader: {signWebhook(s.w.secret, m.Raw, s.w.now())},
	}
	resp, err := s.tr.RoundTrip(req)
	if err != nil {
		kind := txLostEarly
		if tr.written() {
			kind = txLostLate
		}
		return txResult{kind: kind, err: scrubErr(err), close: true}
	}
	// Read (and drop) some of the body so the connection can be used
	// again; a longer one closes it. The body is never kept.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxWebhookResponse))
	resp.Body.Close()
	return s.w.classify(resp, s.w.now())
}

// checkWebhookBody checks that a message is a webhook body (WebhookBody)
// for its notice: JSON with the notice's message id and user id.
func checkWebhookBody(m *Message, key string) error {
	var b struct {
		MessageID string `json:"message_id"`
		UserID    string `json:"user_id"`
	}
	if err := json.Unmarshal(m.Raw, &b); err != nil {
		return fmt.Errorf("notice for user %s: the message source made a body that is not JSON (want WebhookBody): not sent", m.UserID)
	}
	if normID(b.MessageID) != key || b.UserID != m.UserID {
		return fmt.Errorf("notice for user %s: the body's message_id or user_id is not the notice's: not sent", m.UserID)
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; c < 0x20 || c == 0x7f {
			return fmt.Errorf("notice for user %s: its Message-ID cannot be an Idempotency-Key (control character): not sent", m.UserID)
		}
	}
	return nil
}

// classify maps an HTTP response to the outcome of a try (the table is in
// the package comment).
func (w *webhook) classify(resp *http.Response, now time.Time) txResult {
	code := resp.StatusCode
	reply := "HTTP " + strconv.Itoa(code)
	if t := http.StatusText(code); t != "" {
		reply += " " + t
	}
	r := txResult{reply: reply}
	switch {
	case code >= 200 && code < 300:
		r.kind = txSent
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		r.kind = txSenderRefused
		r.err = fmt.Errorf("%w: webhook %s answered %s (check the URL and BREACHCTL_WEBHOOK_SECRET, then rerun)", ErrWebhookRefused, w.addr(), reply)
	case code >= 300 && code < 400:
		r.kind = txSenderRefused
		to := ""
		if loc, err := resp.Location(); err == nil && loc.Host != "" {
			to = " to " + scrub(loc.Host)
		}
		r.err = fmt.Errorf("%w: webhook %s answered %s%s: redirects are not followed (the notice would go elsewhere); give the final URL with --url, then rerun",
			ErrWebhookRefused, w.addr(), reply, to)
	case code == http.StatusRequestTimeout || code == http.StatusTooEarly || code == http.StatusTooManyRequests || (code >= 500 && code < 600):
		r.kind = txTemporary
		r.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), now)
	case code >= 400 && code < 500:
		r.kind = txPermanent
	default:
		r.kind, r.close = txTemporary, true
	}
	return r
}

// parseRetryAfter reads a Retry-After of seconds or an HTTP-date, capped
// at maxRetryAfter; 0 when absent, past or unreadable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if strings.Trim(v, "0123456789") == "" {
		secs, err := strconv.ParseUint(v, 10, 64)
		if err != nil || secs > uint64(maxRetryAfter/time.Second) {
			return maxRetryAfter // too many digits for a uint64 is long too
		}
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}
