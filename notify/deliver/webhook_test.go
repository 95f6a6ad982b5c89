package deliver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/breachctl/breachctl/incident/store"
)

func TestWebhookSend(t *testing.T) {
	const n = 300
	ctx := context.Background()
	l := newHookLedger(t, n)
	hs := startHook(t, testSecret, nil)
	// The e-mail ledger of the same run is not the webhook's: it stays
	// untouched (and no SMTP server is needed).
	l.seed(t, 5)
	opts := hookOpts(l, hs)
	res, err := Send(ctx, opts)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if res.Sent != n || res.Failed != 0 || res.Pending != 0 || res.Total != n || res.Retried != 0 {
		t.Errorf("Result = %+v, want %d sent, nothing failed, retried or pending", res, n)
	}
	if c := l.counts(t); c.Sent != n || c.Total != n {
		t.Errorf("webhook ledger counts = %+v, want %d sent", c, n)
	}
	if c := l.ledger.counts(t); c.Pending != 5 || c.Total != 5 {
		t.Errorf("e-mail ledger counts = %+v, want its 5 notices pending", c)
	}
	if reqs, stored := hs.total(); reqs != n || stored != n {
		t.Errorf("the endpoint received %d requests and stored %d notices, want %d and %d", reqs, stored, n, n)
	}
	// Keep-alive: about one connection per worker (a worker idle for a
	// second on a loaded machine starts a new one).
	if got := hs.conns.Load(); got > n/10 {
		t.Errorf("%d connections for %d requests: want them kept alive", got, n)
	}
	msgs, _, _ := hookSource(l.caseID, nil, nil)(ctx, []string{userID(7)})
	sum := sha256.Sum256(msgs[userID(7)].Raw)
	nt := l.notice(t, userID(7))
	if nt.State != store.NoticeSent || nt.Attempts != 1 || nt.SMTPReply.String != "HTTP 200 OK" ||
		nt.MessageSHA256.String != hex.EncodeToString(sum[:]) || !nt.MessageDate.Time.Equal(hookDate) {
		t.Errorf("notice = %s, attempts %d, reply %q, sha256 %s, date %v; want sent once, HTTP 200 OK, the body's SHA-256 and date",
			nt.State, nt.Attempts, nt.SMTPReply.String, nt.MessageSHA256.String, nt.MessageDate.Time)
	}
	hs.checkStored(t, l, n)
	// Sending again sends nothing.
	res, err = Send(ctx, opts)
	if err != nil || res.Sent != 0 || res.Total != 0 {
		t.Errorf("second Send = %+v, %v; want nothing to do", res, err)
	}
	if reqs, _ := hs.total(); reqs != n {
		t.Errorf("the endpoint received %d requests, want %d", reqs, n)
	}
}

type noticeWant struct {
	state               string
	attempts, uncertain int
	lastError, reply    string
}

// TestWebhookFaults: the endpoint fails one person's requests (u1, or
// everyone's) in the ways a real one does; the ledger and the endpoint's
// records must agree.
func TestWebhookFaults(t *testing.T) {
	const n = 6
	u1 := userID(1)
	stored := noticeWant{state: store.NoticeSent, attempts: 1, reply: "HTTP 200 OK"}
	inDoubt := noticeWant{state: store.NoticeSent, attempts: 2, uncertain: 1, reply: "HTTP 200 OK",
		lastError: "connection lost after the message was handed over, before the server confirmed it"}
	for _, tc := range []struct {
		name    string
		fault   func(try int) hookAction
		all     bool // the fault is everyone's, not only u1's
		workers int
		big     int           // u1's text, bytes
		timeout time.Duration // Options.Timeout
		wantErr error
		errSays string
		first   Result // Sent, Failed, Retried, UncertainNew, UncertainHeld of the first send
		resend  bool   // u1 is uncertain: a second send resends it
		u1      noticeWant
		// u1's requests at the endpoint: complete, cut short, received
		// again after it was stored.
		reqs, cut, resent int
		minGap            time.Duration // between u1's first two requests
	}{
		{name: "500 then stored", fault: onTry(1, hookAction{status: 500}),
			first: Result{Sent: n, Retried: 1}, reqs: 2,
			u1: noticeWant{state: store.NoticeSent, attempts: 2, lastError: "HTTP 500 Internal Server Error", reply: "HTTP 200 OK"}},
		{name: "503 with Retry-After in seconds", fault: onTry(1, hookAction{status: 503, retryAfter: "1"}),
			first: Result{Sent: n, Retried: 1}, reqs: 2, minGap: time.Second,
			u1: noticeWant{state: store.NoticeSent, attempts: 2, lastError: "HTTP 503 Service Unavailable", reply: "HTTP 200 OK"}},
		{name: "503 with Retry-After as an HTTP-date", fault: func(try int) hookAction {
			if try == 1 {
				// To the second: at least a second from now.
				return hookAction{status: 503, retryAfter: time.Now().Add(2 * time.Second).UTC().Format(http.TimeFormat)}
			}
			return hookAction{}
		}, first: Result{Sent: n, Retried: 1}, reqs: 2, minGap: 900 * time.Millisecond,
			u1: noticeWant{state: store.NoticeSent, attempts: 2, lastError: "HTTP 503 Service Unavailable", reply: "HTTP 200 OK"}},
		{name: "429 twice", fault: onTry(2, hookAction{status: 429}),
			first: Result{Sent: n, Retried: 2}, reqs: 3,
			u1: noticeWant{state: store.NoticeSent, attempts: 3, lastError: "HTTP 429 Too Many Requests", reply: "HTTP 200 OK"}},
		{name: "500 every time", fault: onTry(99, hookAction{status: 500}),
			first: Result{Sent: n - 1, Failed: 1, Retried: 2}, reqs: 3,
			u1: noticeWant{state: store.NoticeFailed, attempts: 3, lastError: "gave up after 3 attempts: HTTP 500 Internal Server Error", reply: "HTTP 500 Internal Server Error"}},
		{name: "404: unknown in the app", fault: onTry(99, hookAction{status: 404}),
			first: Result{Sent: n - 1, Failed: 1}, reqs: 1,
			u1: noticeWant{state: store.NoticeFailed, attempts: 1, lastError: "HTTP 404 Not Found", reply: "HTTP 404 Not Found"}},
		{name: "410 gone", fault: onTry(99, hookAction{status: 410}),
			first: Result{Sent: n - 1, Failed: 1}, reqs: 1,
			u1: noticeWant{state: store.NoticeFailed, attempts: 1, lastError: "HTTP 410 Gone", reply: "HTTP 410 Gone"}},
		{name: "stored, then no answer before the timeout", fault: onTry(1, hookAction{stall: true}), timeout: 2 * time.Second,
			first: Result{Sent: n - 1, UncertainNew: 1, UncertainHeld: 1}, resend: true, reqs: 2, resent: 1, u1: inDoubt},
		// One worker: u1's request goes on a connection used before,
		// which net/http would retry by itself if it could.
		{name: "stored, then the connection dropped", fault: onTry(1, hookAction{drop: true}), workers: 1,
			first: Result{Sent: n - 1, UncertainNew: 1, UncertainHeld: 1}, resend: true, reqs: 2, resent: 1, u1: inDoubt},
		{name: "stored, then a malformed response", fault: onTry(1, hookAction{malformed: true}), workers: 1,
			first: Result{Sent: n - 1, UncertainNew: 1, UncertainHeld: 1}, resend: true, reqs: 2, resent: 1, u1: inDoubt},
		{name: "dropped before the request was read whole", fault: onTry(1, hookAction{dropEarly: true}), big: 8 << 20,
			first: Result{Sent: n, Retried: 1}, reqs: 1, cut: 1,
			u1: noticeWant{state: store.NoticeSent, attempts: 2, reply: "HTTP 200 OK"}},
		{name: "slow but in time", fault: onTry(1, hookAction{delay: 500 * time.Millisecond}), timeout: 4 * time.Second,
			first: Result{Sent: n}, reqs: 1, u1: stored},
		{name: "a long response body", fault: onTry(1, hookAction{bigReply: 1 << 20}),
			first: Result{Sent: n}, reqs: 1, u1: stored},
		{name: "401 for everyone: the send stops", fault: onTry(99, hookAction{status: 401}), all: true,
			wantErr: ErrWebhookRefused, errSays: "check the URL and BREACHCTL_WEBHOOK_SECRET",
			u1: noticeWant{state: store.NoticePending, lastError: "HTTP 401 Unauthorized", reply: "HTTP 401 Unauthorized"}},
		{name: "403 for u1: the send stops there", fault: onTry(99, hookAction{status: 403}), workers: 1,
			wantErr: ErrWebhookRefused, errSays: "check the URL and BREACHCTL_WEBHOOK_SECRET", first: Result{Sent: 1}, reqs: 1,
			u1: noticeWant{state: store.NoticePending, lastError: "HTTP 403 Forbidden", reply: "HTTP 403 Forbidden"}},
		{name: "a redirect: not followed, the send stops", fault: onTry(99, hookAction{status: 307, location: "https://elsewhere.example.test/hook"}), all: true,
			wantErr: ErrWebhookRefused, errSays: "307 Temporary Redirect to elsewhere.example.test: redirects are not followed (the notice would go elsewhere); give the final URL",
			u1: noticeWant{state: store.NoticePending, lastError: "HTTP 307 Temporary Redirect", reply: "HTTP 307 Temporary Redirect"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			l := newHookLedger(t, n)
			key := hookKey(l.caseID, u1)
			fault := forUser(l.caseID, u1, tc.fault)
			if tc.all {
				fault = func(_ string, try int) hookAction { return tc.fault(try) }
			}
			hs := startHook(t, testSecret, fault)
			opts := hookOpts(l, hs)
			if tc.workers > 0 {
				opts.Workers = tc.workers
			}
			if tc.timeout > 0 {
				opts.Timeout = tc.timeout
			}
			opts.Source = hookSource(l.caseID, nil, map[string]int{u1: tc.big})
			res, err := Send(ctx, opts)
			switch {
			case tc.wantErr == nil && err != nil:
				t.Fatalf("Send: %v", err)
			case tc.wantErr != nil && (!errors.Is(err, tc.wantErr) || !strings.Contains(fmt.Sprint(err), tc.errSays)):
				t.Fatalf("Send = %v, want %v saying %q", err, tc.wantErr, tc.errSays)
			case tc.wantErr != nil && (!errors.Is(err, ErrSenderRefused) || strings.Contains(err.Error(), "tenant=jp")):
				t.Errorf("Send = %v: want an ErrSenderRefused too, without the URL's query", err)
			}
			got := Result{Sent: res.Sent, Failed: res.Failed, Retried: res.Retried, UncertainNew: res.UncertainNew, UncertainHeld: res.UncertainHeld}
			if tc.all {
				tc.reqs = len(hs.requests(key)) // one, or none when another worker's refusal came first
			}
			if got != tc.first {
				t.Errorf("first Result = %+v, want %+v", res, tc.first)
			}
			if tc.resend {
				if nt := l.notice(t, u1); nt.State != store.NoticeUncertain || nt.UncertainCount != 1 {
					t.Errorf("u1 after the first send: %s, uncertain %d; want uncertain once", nt.State, nt.UncertainCount)
				}
				res, err := Send(ctx, opts)
				if err != nil || res.Sent != 1 || res.UncertainResent != 1 {
					t.Fatalf("second Send = %+v, %v; want u1 resent", res, err)
				}
			}
			c := l.counts(t)
			if c.Sending != 0 || c.Uncertain != 0 {
				t.Errorf("ledger %+v: want nothing sending or uncertain", c)
			}
			if tc.wantErr != nil && (c.Failed != 0 || c.Sent+c.Pending != n) {
				t.Errorf("ledger %+v after a refusal: want nothing failed, the rest pending", c)
			}
			nt := l.notice(t, u1)
			w := tc.u1
			if tc.all && tc.reqs == 0 {
				w = noticeWant{state: store.NoticePending} // another worker's refusal stopped the send first
			}
			if nt.State != w.state || nt.Attempts != w.attempts || nt.UncertainCount != w.uncertain ||
				!strings.HasPrefix(nt.LastError.String, w.lastError) || (w.lastError == "") != (nt.LastError.String == "") || nt.SMTPReply.String != w.reply {
				t.Errorf("u1: %s, attempts %d, uncertain %d, last error %q, reply %q; want %s, %d, %d, %q, %q",
					nt.State, nt.Attempts, nt.UncertainCount, nt.LastError.String, nt.SMTPReply.String, w.state, w.attempts, w.uncertain, w.lastError, w.reply)
			}
			if strings.Contains(nt.LastError.String, "@") {
				t.Errorf("u1's last error shows an address: %q", nt.LastError.String)
			}
			var reqs, cut, resent int
			var at []time.Time
			for _, r := range hs.requests(key) {
				switch {
				case !r.complete:
					cut++
				case r.resent:
					resent++
				}
				if r.complete {
					reqs++
					at = append(at, r.at)
				}
			}
			if reqs != tc.reqs || cut != tc.cut || resent != tc.resent {
				t.Errorf("the endpoint received u1's notice %d times (and %d cut short), %d of them after storing it; want %d (%d), %d",
					reqs, cut, resent, tc.reqs, tc.cut, tc.resent)
			}
			if tc.minGap > 0 && len(at) >= 2 && at[1].Sub(at[0]) < tc.minGap {
				t.Errorf("u1 was tried again %v after the Retry-After answer, want at least %v", at[1].Sub(at[0]), tc.minGap)
			}
			hs.checkStored(t, l, n)
		})
	}
}

func TestWebhookEndpointDown(t *testing.T) {
	ctx := context.Background()
	l := newHookLedger(t, 6)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nobody listens there now
	opts := hookOpts(l, &hookServer{addr: addr})
	opts.WebhookURL += "&token=s3cret-token"
	res, err := Send(ctx, opts)
	if err == nil {
		t.Fatal("Send to a dead endpoint: want an error")
	}
	if !errors.Is(err, ErrWebhookUnreachable) || !errors.Is(err, ErrUnreachable) {
		t.Errorf("Send = %v, want ErrWebhookUnreachable and ErrUnreachable", err)
	}
	for _, want := range []string{"webhook " + addr, "webhook endpoint unreachable", "nothing sent", "6 notices still pending", "rerun when the server answers"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "s3cret-token") || strings.Contains(err.Error(), "SMTP") {
		t.Errorf("error %q shows the URL's query, or speaks of SMTP", err)
	}
	if c := l.counts(t); c.Pending != 6 || res.Pending != 6 {
		t.Errorf("ledger = %+v, result %+v; want all 6 pending", c, res)
	}
	if nt := l.notice(t, userID(0)); nt.Attempts != 0 {
		t.Errorf("attempts = %d, want 0: nothing was tried", nt.Attempts)
	}
}

// TestWebhookWrongSecret: an endpoint that does not take our signature
// answers 401: the send stops and nothing is marked failed.
func TestWebhookWrongSecret(t *testing.T) {
	l := newHookLedger(t, 5)
	hs := startHook(t, []byte("the endpoint's own secret, 32 bytes or more"), nil)
	_, err := Send(context.Background(), hookOpts(l, hs))
	if !errors.Is(err, ErrWebhookRefused) || !strings.Contains(err.Error(), "401 Unauthorized") {
		t.Fatalf("Send = %v, want ErrWebhookRefused after a 401", err)
	}
	if c := l.counts(t); c.Pending != 5 || c.Failed != 0 || c.Sending != 0 {
		t.Errorf("ledger %+v: want all 5 pending, none failed", c)
	}
	reqs, stored := hs.total()
	if reqs == 0 || reqs > 4 || stored != 0 {
		t.Errorf("the endpoint received %d requests and stored %d; want one per worker at most, none stored", reqs, stored)
	}
	for _, r := range hs.requests(hookKey(l.caseID, userID(0))) {
		if !errors.Is(r.sigErr, ErrWebhookSignature) {
			t.Errorf("the endpoint's check of a request signed with another secret: %v, want ErrWebhookSignature", r.sigErr)
		}
	}
}

func TestWebhookTLS(t *testing.T) {
	serverTLS, clientTLS := testTLS(t, "app.example.test")
	hs := startHook(t, testSecret, nil, serverTLS)
	t.Run("trusted certificate", func(t *testing.T) {
		l := newHookLedger(t, 3)
		opts := hookOpts(l, hs)
		opts.WebhookURL = "https://app.example.test/hooks/breach-notice?tenant=jp"
		opts.Dial, opts.TLSConfig = dialTo(hs.addr), clientTLS
		if res, err := Send(context.Background(), opts); err != nil || res.Sent != 3 {
			t.Fatalf("Send = %+v, %v", res, err)
		}
		hs.checkStored(t, l, 3)
	})
	t.Run("untrusted certificate", func(t *testing.T) {
		l := newHookLedger(t, 3)
		opts := hookOpts(l, hs)
		opts.WebhookURL = "https://app.example.test/hooks/breach-notice?tenant=jp"
		opts.Dial = dialTo(hs.addr)
		_, err := Send(context.Background(), opts)
		if !errors.Is(err, ErrTLS) || !strings.Contains(err.Error(), "nothing sent; 3 notices still pending") {
			t.Fatalf("Send = %v, want ErrTLS with nothing sent", err)
		}
		if c := l.counts(t); c.Pending != 3 {
			t.Errorf("ledger = %+v, want untouched", c)
		}
	})
}

func TestParseWebhook(t *testing.T) {
	for _, tc := range []struct {
		url    string
		secret []byte
		addr   string
		tls    bool
		err    string // what the error says; "" for none
	}{
		{"https://app.example.test/hooks/notice", testSecret, "app.example.test:443", true, ""},
		{"https://app.example.test:8443/hooks?tenant=jp#frag", testSecret, "app.example.test:8443", true, ""},
		{"HTTPS://App.Example.Test/h", testSecret, "App.Example.Test:443", true, ""},
		{"http://127.0.0.1:8080/hook", testSecret, "127.0.0.1:8080", false, ""},
		{"http://localhost/hook", testSecret, "localhost:80", false, ""},
		{"http://[::1]:9000/hook", testSecret, "[::1]:9000", false, ""},
		{"http://app.example.test/hook", testSecret, "", false, "webhook app.example.test:80: http:// is allowed only to a loopback host: the notices would cross the network unencrypted; use https://"},
		{"http://10.1.2.3:8080/hook", testSecret, "", false, "http:// is allowed only to a loopback host"},
		{"ftp://app.example.test/hook", testSecret, "", false, `scheme "ftp", want https`},
		{"app.example.test/hook", testSecret, "", false, "want https://host[:port]/path"},
		{"https://svc:pa55word@app.example.test/hook", testSecret, "", false, "credentials in the URL are not used"},
		{"https://app.example.test:99999/hook?token=s3cret", testSecret, "", false, `bad port "99999"`},
		{"", testSecret, "", false, "no webhook URL"},
		{"https://app.example.test/hook", nil, "", false, "no webhook secret: set BREACHCTL_WEBHOOK_SECRET"},
		{"https://app.example.test/hook", testSecret[:31], "", false, "the webhook secret is 31 bytes, want at least 32"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			w, err := parseWebhook(&Options{WebhookURL: tc.url, WebhookSecret: tc.secret, Timeout: time.Second})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("parseWebhook = %v, want an error saying %q", err, tc.err)
				}
				for _, secret := range []string{"pa55word", "s3cret", string(testSecret[:31])} {
					if strings.Contains(err.Error(), secret) {
						t.Errorf("error %q shows %q", err, secret)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("parseWebhook: %v", err)
			}
			if w.addr() != tc.addr || w.tls != tc.tls || strings.Contains(w.url, "#") {
				t.Errorf("addr %s, tls %v, url %s; want %s, %v, no fragment", w.addr(), w.tls, w.url, tc.addr, tc.tls)
			}
		})
	}
	if !errors.Is(func() error {
		_, err := parseWebhook(&Options{WebhookURL: "http://app.example.test/", WebhookSecret: testSecret})
		return err
	}(), ErrWebhookInsecure) {
		t.Error("http:// to a remote host: want ErrWebhookInsecure")
	}
}

// TestSendChannelOptions: the webhook channel needs no SMTP server, the
// e-mail one still does, and a channel without a transport is refused.
func TestSendChannelOptions(t *testing.T) {
	l := newHookLedger(t, 1)
	base := Options{Store: l.st, CaseID: l.caseID, Run: l.run, Source: hookSource(l.caseID, nil, nil)}
	for _, tc := range []struct {
		name string
		edit func(*Options)
		want string
	}{
		{"webhook without a URL", func(o *Options) { o.Channel = store.ChannelWebhook; o.SMTPURL = "smtp://127.0.0.1:25" }, "no webhook URL"},
		{"webhook without a secret", func(o *Options) { o.Channel, o.WebhookURL = store.ChannelWebhook, "http://127.0.0.1:1/h" }, "no webhook secret"},
		{"e-mail without an SMTP server", func(o *Options) { o.WebhookURL, o.WebhookSecret = "http://127.0.0.1:1/h", testSecret }, "no SMTP server"},
		{"letters are not sent here", func(o *Options) { o.Channel = store.ChannelLetter; o.SMTPURL = "smtp://127.0.0.1:25" }, `channel "letter" is not sent by notify send`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := base
			tc.edit(&o)
			if _, err := Send(context.Background(), o); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Send = %v, want an error saying %q", err, tc.want)
			}
		})
	}
	if c := l.counts(t); c.Pending != 1 {
		t.Errorf("ledger %+v: want untouched", c)
	}
}

func TestWebhookClassify(t *testing.T) {
	w := &webhook{host: "app.example.test", port: "443"}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		code       int
		header     http.Header
		kind       txKind
		reply      string
		retryAfter time.Duration
		err        string
	}{
		{200, nil, txSent, "HTTP 200 OK", 0, ""},
		{202, nil, txSent, "HTTP 202 Accepted", 0, ""},
		{204, nil, txSent, "HTTP 204 No Content", 0, ""},
		{299, nil, txSent, "HTTP 299", 0, ""},
		{408, nil, txTemporary, "HTTP 408 Request Timeout", 0, ""},
		{425, nil, txTemporary, "HTTP 425 Too Early", 0, ""},
		{429, http.Header{"Retry-After": {"120"}}, txTemporary, "HTTP 429 Too Many Requests", 2 * time.Minute, ""},
		{500, nil, txTemporary, "HTTP 500 Internal Server Error", 0, ""},
		{502, nil, txTemporary, "HTTP 502 Bad Gateway", 0, ""},
		{503, http.Header{"Retry-After": {"Sun, 01 Mar 2026 12:00:30 GMT"}}, txTemporary, "HTTP 503 Service Unavailable", 30 * time.Second, ""},
		{599, nil, txTemporary, "HTTP 599", 0, ""},
		{401, nil, txSenderRefused, "HTTP 401 Unauthorized", 0, "the webhook endpoint refused the request: webhook app.example.test:443 answered HTTP 401 Unauthorized (check the URL and BREACHCTL_WEBHOOK_SECRET, then rerun)"},
		{403, nil, txSenderRefused, "HTTP 403 Forbidden", 0, "check the URL and BREACHCTL_WEBHOOK_SECRET"},
		{301, http.Header{"Location": {"https://new.example.test/hook?k=v"}}, txSenderRefused, "HTTP 301 Moved Permanently", 0, "answered HTTP 301 Moved Permanently to new.example.test: redirects are not followed"},
		{308, nil, txSenderRefused, "HTTP 308 Permanent Redirect", 0, "give the final URL with --url"},
		{400, nil, txPermanent, "HTTP 400 Bad Request", 0, ""},
		{404, nil, txPermanent, "HTTP 404 Not Found", 0, ""},
		{410, nil, txPermanent, "HTTP 410 Gone", 0, ""},
		{422, http.Header{"Retry-After": {"5"}}, txPermanent, "HTTP 422 Unprocessable Entity", 0, ""},
		{101, nil, txTemporary, "HTTP 101 Switching Protocols", 0, ""},
	} {
		t.Run(fmt.Sprint(tc.code), func(t *testing.T) {
			resp := &http.Response{StatusCode: tc.code, Header: tc.header, Request: &http.Request{URL: &url.URL{Scheme: "https", Host: "app.example.test"}}}
			if resp.Header == nil {
				resp.Header = http.Header{}
			}
			r := w.classify(resp, now)
			if r.kind != tc.kind || r.reply != tc.reply || r.retryAfter != tc.retryAfter {
				t.Errorf("classify = kind %d, reply %q, retry after %v; want %d, %q, %v", r.kind, r.reply, r.retryAfter, tc.kind, tc.reply, tc.retryAfter)
			}
			if (tc.err == "") != (r.err == nil) || (r.err != nil && (!strings.Contains(r.err.Error(), tc.err) || !errors.Is(r.err, ErrWebhookRefused))) {
				t.Errorf("classify error = %v, want one saying %q", r.err, tc.err)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"1", time.Second},
		{" 90 ", 90 * time.Second},
		{"3600", time.Hour},
		{"86400", time.Hour}, // capped
		{"99999999999999999999", time.Hour},
		{"-5", 0},
		{"1.5", 0},
		{"soon", 0},
		{"Sun, 01 Mar 2026 12:02:00 GMT", 2 * time.Minute},
		{"Sunday, 01-Mar-26 12:00:10 GMT", 10 * time.Second}, // RFC 850
		{"Sun Mar  1 12:00:05 2026", 5 * time.Second},        // asctime
		{"Sun, 01 Mar 2026 11:59:00 GMT", 0},                 // past
		{"Mon, 02 Mar 2026 12:00:00 GMT", time.Hour},         // capped
	} {
		if got := parseRetryAfter(tc.in, now); got != tc.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// TestWebhookBadBody: a body that is not the notice's (not JSON, or made
// for someone else) is a program error: never sent, the notice stays
// pending, and the send stops.
func TestWebhookBadBody(t *testing.T) {
	u1 := userID(1)
	for _, tc := range []struct {
		name string
		body func(caseID string) []byte
		says string
	}{
		{"not JSON", func(string) []byte { return []byte("Subject: an e-mail\r\n\r\nnot JSON\r\n") }, "the message source made a body that is not JSON"},
		{"another person's body", func(caseID string) []byte {
			b, _ := WebhookBody(WebhookPayload{MessageID: hookMessageID(caseID, u1), UserID: userID(2), Date: hookDate})
			return b
		}, "the body's message_id or user_id is not the notice's"},
		{"another notice's body", func(caseID string) []byte {
			b, _ := WebhookBody(WebhookPayload{MessageID: hookMessageID(caseID, userID(2)), UserID: u1, Date: hookDate})
			return b
		}, "the body's message_id or user_id is not the notice's"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newHookLedger(t, 4)
			hs := startHook(t, testSecret, nil)
			opts := hookOpts(l, hs)
			opts.Workers = 1
			src := opts.Source
			opts.Source = func(ctx context.Context, ids []string) (map[string]*Message, map[string]string, error) {
				msgs, bad, err := src(ctx, ids)
				if m := msgs[u1]; m != nil {
					m.Raw = tc.body(l.caseID)
				}
				return msgs, bad, err
			}
			res, err := Send(context.Background(), opts)
			if err == nil || !strings.Contains(err.Error(), "notice for user "+u1+": "+tc.says) {
				t.Fatalf("Send = %+v, %v; want an error saying %q", res, err, tc.says)
			}
			if c := l.counts(t); c.Sent != 1 || c.Pending != 3 || c.Failed != 0 || c.Sending != 0 {
				t.Errorf("ledger %+v: want u0 sent, the rest pending", c)
			}
			if nt := l.notice(t, u1); nt.Attempts != 0 || !strings.Contains(nt.LastError.String, tc.says) {
				t.Errorf("u1: attempts %d, last error %q; want 0, saying %q", nt.Attempts, nt.LastError.String, tc.says)
			}
			if got := hs.requests(hookKey(l.caseID, u1)); len(got) != 0 {
				t.Errorf("the endpoint received u1's notice %d times, want never", len(got))
			}
		})
	}
}
