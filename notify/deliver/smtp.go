package deliver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"net/textproto"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/breachctl/breachctl/internal/textsafe"
)

// STARTTLS policies (Options.StartTLS).
const (
	StartTLSRequired      = "required"
	StartTLSOpportunistic = "opportunistic"
	StartTLSOff           = "off"
)

// Errors a caller can test with errors.Is.
var (
	// ErrUnreachable: no SMTP connection could be made (refused, timed
	// out, or the server turned the connection away). A webhook's
	// ErrWebhookUnreachable is one too.
	ErrUnreachable = errors.New("SMTP server unreachable")
	// ErrNoSTARTTLS: STARTTLS is required and the server does not offer it.
	ErrNoSTARTTLS = errors.New("the server does not offer STARTTLS")
	// ErrTLS: the TLS handshake failed (certificate, protocol).
	ErrTLS = errors.New("TLS handshake failed")
	// ErrAuth: the server refused the credentials, or they would have been
	// sent without TLS.
	ErrAuth = errors.New("SMTP authentication failed")
	// ErrSenderRefused: the server refused the sender (a 5xx to MAIL FROM,
	// or authentication required): no notice can go out until it is fixed.
	// A webhook's ErrWebhookRefused is one too.
	ErrSenderRefused = errors.New("the SMTP server refused the sender")
)

// server is where and how to connect; it never holds a URL with a password
// in a form that is printed.
type server struct {
	host, port  string
	implicitTLS bool
	startTLS    string
	username    string
	password    string
	loopback    bool
	helo        string
	timeout     time.Duration
	dial        func(ctx context.Context, network, addr string) (net.Conn, error)
	tlsConfig   *tls.Config
}

// addr is host:port, safe to show.
func (s *server) addr() string { return net.JoinHostPort(s.host, s.port) }

func (s *server) name() string { return "SMTP" }

// parseServer reads smtp://[user:pass@]host[:port] or smtps://...; the
// credentials in the URL win over opts.Username/Password.
func parseServer(opts *Options) (*server, error) {
	u, err := url.Parse(opts.SMTPURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("--smtp %s: want smtp://[user:pass@]host:port or smtps://[user:pass@]host:port", redactURL(opts.SMTPURL))
	}
	s := &server{startTLS: opts.StartTLS, timeout: opts.Timeout, dial: opts.Dial, tlsConfig: opts.TLSConfig,
		username: opts.Username, password: opts.Password}
	switch strings.ToLower(u.Scheme) {
	case "smtp":
		s.port = "25"
	case "smtps":
		s.port = "465"
		s.implicitTLS = true
	default:
		return nil, fmt.Errorf("--smtp %s: scheme %q, want smtp or smtps", redactURL(opts.SMTPURL), u.Scheme)
	}
	s.host = u.Hostname()
	if p := u.Port(); p != "" {
		if _, err := strconv.Atoi(p); err != nil {
			return nil, fmt.Errorf("--smtp %s: bad port %q", redactURL(opts.SMTPURL), p)
		}
		s.port = p
	}
	if u.User != nil {
		s.username = u.User.Username()
		s.password, _ = u.User.Password()
	}
	s.loopback = isLoopback(s.host)
	switch s.startTLS {
	case "":
		s.startTLS = StartTLSRequired
		if s.loopback {
			s.startTLS = StartTLSOpportunistic
		}
	case StartTLSRequired, StartTLSOpportunistic, StartTLSOff:
	default:
		return nil, fmt.Errorf("--starttls %q: want required, opportunistic or off", s.startTLS)
	}
	if s.dial == nil {
		d := &net.Dialer{Timeout: s.timeout, KeepAlive: 30 * time.Second}
		s.dial = d.DialContext
	}
	s.helo = heloName()
	return s, nil
}

// redactURL hides the password of an SMTP URL.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.User == nil && strings.Contains(raw, "@")) {
		if strings.Contains(raw, "@") {
			// Malformed, perhaps with a password in it: never echo it.
			return "(an SMTP URL with credentials, not shown)"
		}
		return raw
	}
	if u.User != nil {
		u.User = url.User(u.User.Username())
		if _, has := u.User.Password(); !has {
			return strings.Replace(u.String(), "@", ":xxxxx@", 1)
		}
	}
	return u.String()
}

func isLoopback(host string) bool {
	h := strings.TrimSuffix(strings.ToLower(host), ".")
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

var heloRe = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$`)

func heloName() string {
	h, err := os.Hostname()
	if err != nil || !heloRe.MatchString(h) {
		return "localhost"
	}
	return h
}

// conn is one persistent SMTP connection.
type conn struct {
	raw      net.Conn
	c        *smtp.Client
	tls      bool
	lastUsed time.Time
}

// connError is a failed connection attempt; permanent ones (TLS policy,
// credentials) stop the send, others are retried.
type connError struct {
	permanent bool
	err       error
}

func (e *connError) Error() string { return e.err.Error() }
func (e *connError) Unwrap() error { return e.err }

// connect dials, reads the greeting, says EHLO, upgrades to TLS and
// authenticates. ctx bounds only the dial.
func (s *server) connect(ctx context.Context) (session, error) {
	where := "smtp server " + s.addr()
	dctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	raw, err := s.dial(dctx, "tcp", s.addr())
	if err != nil {
		return nil, &connError{err: fmt.Errorf("%s: %w: %v", where, ErrUnreachable, scrubErr(err))}
	}
	_ = raw.SetDeadline(time.Now().Add(s.timeout))
	nc := raw
	isTLS := false
	if s.implicitTLS {
		tc := tls.Client(raw, s.tlsClientConfig())
		if err := tc.HandshakeContext(dctx); err != nil {
			raw.Close()
			return nil, &connError{permanent: isCertError(err), err: fmt.Errorf("%s: %w: %v", where, ErrTLS, err)}
		}
		nc, isTLS = tc, true
	}
	c, err := smtp.NewClient(nc, s.host)
	if err != nil {
		raw.Close()
		return nil, &connError{permanent: replyCode(err) >= 500, err: fmt.Errorf("%s: %w: greeting: %v", where, ErrUnreachable, scrubErr(err))}
	}
	fail := func(permanent bool, err error) (session, error) {
		c.Close()
		return nil, &connError{permanent: permanent, err: err}
	}
	if err := c.Hello(s.helo); err != nil {
		return fail(replyCode(err) >= 500, fmt.Errorf("%s: %w: EHLO: %v", where, ErrUnreachable, scrubErr(err)))
	}
	if !isTLS && s.startTLS != StartTLSOff {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(s.tlsClientConfig()); err != nil {
				var te *textproto.Error
				if errors.As(err, &te) {
					return fail(te.Code >= 500, fmt.Errorf("%s: %w: STARTTLS: %v", where, ErrTLS, scrubErr(err)))
				}
				return fail(isCertError(err), fmt.Errorf("%s: %w: %v", where, ErrTLS, err))
			}
			isTLS = true
		} else if s.startTLS == StartTLSRequired {
			return fail(true, fmt.Errorf("%s: %w, and --starttls=required (the default for servers other than loopback); "+
				"use a server with TLS, smtps://, or --starttls=opportunistic only on a network you trust", where, ErrNoSTARTTLS))
		}
	}
	if s.username != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			return fail(true, fmt.Errorf("%s: %w: credentials given but the server does not offer AUTH", where, ErrAuth))
		}
		if err := c.Auth(&plainAuth{username: s.username, password: s.password, loopback: s.loopback}); err != nil {
			var te *textproto.Error
			if errors.As(err, &te) && te.Code < 500 {
				return fail(false, fmt.Errorf("%s: AUTH: %v", where, scrubErr(err)))
			}
			return fail(true, fmt.Errorf("%s: %w for user %q: %v (check the URL or BREACHCTL_SMTP_USERNAME / BREACHCTL_SMTP_PASSWORD)",
				where, ErrAuth, s.username, scrubErr(err)))
		}
	}
	_ = raw.SetDeadline(time.Time{})
	return &conn{raw: raw, c: c, tls: isTLS, lastUsed: time.Now()}, nil
}

func (s *server) tlsClientConfig() *tls.Config { return tlsClientConfig(s.tlsConfig, s.host) }

// tlsClientConfig is base (or the defaults) for host, TLS 1.2 at least.
func tlsClientConfig(base *tls.Config, host string) *tls.Config {
	var cfg *tls.Config
	if base != nil {
		cfg = base.Clone()
	} else {
		cfg = &tls.Config{}
	}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	if cfg.MinVersion == 0 {
		cfg.MinVersion = tls.VersionTLS12
	}
	return cfg
}

func isCertError(err error) bool {
	var (
		unk  x509.UnknownAuthorityError
		host x509.HostnameError
		inv  x509.CertificateInvalidError
		ver  *tls.CertificateVerificationError
	)
	return errors.As(err, &ver) || errors.As(err, &unk) || errors.As(err, &host) || errors.As(err, &inv)
}

// plainAuth is AUTH PLAIN, only over TLS or to a loopback server.
type plainAuth struct {
	username, password string
	loopback           bool
}

func (a *plainAuth) Start(si *smtp.ServerInfo) (string, []byte, error) {
	if !si.TLS && !a.loopback {
		return "", nil, errors.New("refusing to send the password without TLS")
	}
	offered := false
	for _, m := range si.Auth {
		if strings.EqualFold(m, "PLAIN") {
			offered = true
		}
	}
	if !offered {
		return "", nil, fmt.Errorf("the server does not offer AUTH PLAIN (offers %s)", strings.Join(si.Auth, ", "))
	}
	return "PLAIN", []byte("\x00" + a.username + "\x00" + a.password), nil
}

func (a *plainAuth) Next(_ []byte, more bool) ([]byte, error) {
	if more {
		return nil, errors.New("unexpected server challenge after AUTH PLAIN")
	}
	return nil, nil
}

func (cn *conn) idle() time.Duration { return time.Since(cn.lastUsed) }

// close ends the connection politely, without waiting long.
func (cn *conn) close() {
	_ = cn.raw.SetDeadline(time.Now().Add(2 * time.Second))
	_ = cn.c.Quit()
	_ = cn.c.Close()
}

// alive checks an idle connection with NOOP.
func (cn *conn) alive(timeout time.Duration) bool {
	_ = cn.raw.SetDeadline(time.Now().Add(min(timeout, 10*time.Second)))
	defer cn.raw.SetDeadline(time.Time{}) //nolint:errcheck // best effort
	return cn.c.Noop() == nil
}

// send runs one MAIL/RCPT/DATA transaction. It is bounded by timeout, never
// by a context: a cancelled send lets the transaction finish.
func (cn *conn) send(m *Message, timeout time.Duration) txResult {
	cn.lastUsed = time.Now()
	_ = cn.raw.SetDeadline(time.Now().Add(timeout))
	defer cn.raw.SetDeadline(time.Time{}) //nolint:errcheck // the next use sets its own
	if r, bad := cn.step("MAIL FROM", cn.c.Mail(m.EnvelopeFrom)); bad {
		if r.kind == txPermanent && r.reply != "" {
			r = senderRefused(r)
		}
		return r
	}
	if r, bad := cn.step("RCPT TO", cn.c.Rcpt(m.To)); bad {
		if r.kind == txPermanent && authRefused(r.reply) {
			r = senderRefused(r)
		}
		return r
	}
	id, err := cn.c.Text.Cmd("DATA")
	if err != nil {
		return txResult{kind: txLostEarly, err: scrubErr(err), close: true}
	}
	cn.c.Text.StartResponse(id)
	_, _, err = cn.c.Text.ReadResponse(354)
	cn.c.Text.EndResponse(id)
	if r, bad := cn.step("DATA", err); bad {
		return r
	}
	w := cn.c.Text.DotWriter()
	if _, err := w.Write(m.Raw); err != nil {
		return txResult{kind: txLostEarly, err: scrubErr(err), close: true}
	}
	if err := w.Close(); err != nil {
		return txResult{kind: txLostEarly, err: scrubErr(err), close: true}
	}
	code, msg, err := cn.c.Text.ReadResponse(250)
	if err != nil {
		var te *textproto.Error
		if errors.As(err, &te) {
			if te.Code >= 200 && te.Code < 300 {
				// Any 2xx after the message means it was accepted.
				return txResult{kind: txSent, reply: scrub(strconv.Itoa(te.Code) + " " + te.Msg)}
			}
			return replyResult(te)
		}
		return txResult{kind: txLostLate, err: scrubErr(err), close: true}
	}
	return txResult{kind: txSent, reply: scrub(strconv.Itoa(code) + " " + msg)}
}

// senderRefused makes a reply refusing us, not the recipient (a sender
// address or credentials the server does not accept), a txSenderRefused.
func senderRefused(r txResult) txResult {
	r.kind = txSenderRefused
	r.err = fmt.Errorf("%w: %s (check notify.from and the SMTP credentials, then rerun)", ErrSenderRefused, r.reply)
	return r
}

// step classifies the error of one command before the message body.
func (cn *conn) step(what string, err error) (txResult, bool) {
	if err == nil {
		return txResult{}, false
	}
	var te *textproto.Error
	if errors.As(err, &te) {
		r := replyResult(te)
		if !r.close {
			_ = cn.c.Reset()
		}
		return r, true
	}
	if strings.HasPrefix(err.Error(), "smtp: A line must not contain") {
		return txResult{kind: txPermanent, err: fmt.Errorf("%s: the address contains a line break", what)}, true
	}
	return txResult{kind: txLostEarly, err: fmt.Errorf("%s: %w", what, scrubErr(err)), close: true}, true
}

func replyResult(te *textproto.Error) txResult {
	r := txResult{reply: scrub(strconv.Itoa(te.Code) + " " + te.Msg)}
	switch {
	case te.Code >= 500:
		r.kind = txPermanent
	case te.Code >= 400:
		r.kind = txTemporary
		r.close = te.Code == 421
	default:
		r.kind = txTemporary // an unexpected positive reply: treat as temporary
		r.close = true
	}
	return r
}

// authRefused reports a reply that refuses the sender's authentication
// (530 authentication required, 535 credentials invalid).
func authRefused(reply string) bool {
	return strings.HasPrefix(reply, "530") || strings.HasPrefix(reply, "535")
}

func replyCode(err error) int {
	var te *textproto.Error
	if errors.As(err, &te) {
		return te.Code
	}
	return 0
}

var addrRe = regexp.MustCompile(`[^\s<>@"'(),;:\[\]]+@[^\s<>@"'(),;:\[\]]+`)

// scrub removes email addresses from server replies and errors, so the
// ledger and the logs hold no personal data, and makes them one line of
// valid UTF-8 (control characters and bytes that are not UTF-8 shown as
// escapes such as \x93) of at most maxReply bytes, cut between characters:
// a reply is the server's text, and the ledger's columns take only UTF-8.
func scrub(s string) string {
	s = addrRe.ReplaceAllString(s, "(address)")
	s = textsafe.Term(strings.Join(strings.Fields(s), " "))
	if len(s) > maxReply {
		cut := maxReply
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	return s
}

// maxReply is the most of a server reply or error the ledger keeps.
const maxReply = 500

type scrubbed struct {
	msg string
	err error
}

func (e *scrubbed) Error() string { return e.msg }
func (e *scrubbed) Unwrap() error { return e.err }

func scrubErr(err error) error {
	if err == nil {
		return nil
	}
	m := err.Error()
	if s := scrub(m); s != m {
		return &scrubbed{msg: s, err: err}
	}
	return err
}
