package deliver

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/breachctl/breachctl/incident/store"
)

// hookLedger is a test ledger whose run is seeded on the webhook channel.
type hookLedger struct {
	*ledger
	lg *store.Ledger
}

func newHookLedger(t testing.TB, n int) *hookLedger {
	t.Helper()
	l := &hookLedger{ledger: newLedger(t, 0)}
	l.lg = l.st.Ledger(store.ChannelWebhook)
	seeds := make([]store.NoticeSeed, n)
	for i := range seeds {
		u := userID(i)
		seeds[i] = store.NoticeSeed{UserID: u, MessageID: hookMessageID(l.caseID, u), State: store.NoticePending}
	}
	if _, err := l.lg.SeedNotices(context.Background(), l.caseID, l.run, seeds); err != nil {
		t.Fatalf("SeedNotices (webhook): %v", err)
	}
	return l
}

func (l *hookLedger) counts(t testing.TB) store.NoticeCounts {
	t.Helper()
	c, err := l.lg.CountNotices(context.Background(), l.caseID, l.run)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (l *hookLedger) notice(t testing.TB, user string) *store.Notice {
	t.Helper()
	n, err := l.lg.GetNotice(context.Background(), l.caseID, l.run, user)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// hookMessageID is a webhook notice's Message-ID (not the e-mail one), and
// hookKey the Idempotency-Key it is sent with.
func hookMessageID(c, user string) string {
	return fmt.Sprintf("<%s.%s.app@notices.example.test>", c, user)
}
func hookKey(c, user string) string { return normID(hookMessageID(c, user)) }

var hookDate = time.Date(2017, 6, 22, 9, 0, 0, 0, time.UTC)

// hookSource is fakeSource for the webhook channel: the body is made by
// WebhookBody. Users in invalid get no message; users in big get a text
// of that many bytes.
func hookSource(caseID string, invalid map[string]bool, big map[string]int) Source {
	return func(ctx context.Context, ids []string) (map[string]*Message, map[string]string, error) {
		msgs := make(map[string]*Message, len(ids))
		bad := map[string]string{}
		for _, u := range ids {
			if invalid[u] {
				bad[u] = "no account in the app"
				continue
			}
			text := "We are sorry. Part of your account page was shown to another customer."
			if n := big[u]; n > 0 {
				text += strings.Repeat("x", n)
			}
			body, err := WebhookBody(WebhookPayload{
				MessageID: hookMessageID(caseID, u), UserID: u, Locale: "en", Kind: store.NoticeFirst,
				Subject: "Notice about your personal data", Text: text, HTML: "<p>" + text + "</p>", Date: hookDate,
			})
			if err != nil {
				return nil, nil, err
			}
			msgs[u] = &Message{UserID: u, MessageID: hookMessageID(caseID, u), Raw: body, Date: hookDate}
		}
		return msgs, bad, nil
	}
}

// hookAction is how the test endpoint answers one request.
type hookAction struct {
	status     int    // answer this (not 2xx) without storing the notice
	retryAfter string // with this Retry-After
	location   string // with this Location
	dropEarly  bool   // read a little of the body, then drop the connection
	// The notice is stored, then:
	drop      bool          // drop the connection without an answer
	malformed bool          // answer something that is not HTTP
	stall     bool          // never answer (until the client hangs up)
	delay     time.Duration // answer 200 after this long
	bigReply  int           // answer 200 with a body of this many bytes
}

// hookRequest is a request the endpoint received.
type hookRequest struct {
	at       time.Time
	key      string // Idempotency-Key
	user     string // the body's user_id
	complete bool   // the body was read whole
	sha      string // of the body
	sigErr   error  // VerifyWebhookSignature
	hdrErr   error  // method, path, headers, key and body disagreeing
	resent   bool   // the key was already stored: a resend
	status   int    // answered (0: dropped)
}

// hookServer is the company's in-app endpoint as a test sees it: it checks
// the signature, stores each notice once by Idempotency-Key, and records
// every request. fault decides, per key and try (1-based), how it fails.
type hookServer struct {
	secret []byte
	addr   string
	srv    *http.Server
	fault  func(key string, try int) hookAction
	conns  atomic.Int64 // connections accepted

	mu       sync.Mutex
	tries    map[string]int
	reqs     []hookRequest
	stored   map[string]string   // key → body SHA-256
	storedBy map[string][]string // user id → keys stored
}

// startHook starts the endpoint on loopback, with TLS when given a config.
func startHook(t testing.TB, secret []byte, fault func(key string, try int) hookAction, tlsConfig ...*tls.Config) *hookServer {
	t.Helper()
	hs := &hookServer{secret: secret, fault: fault, tries: map[string]int{}, stored: map[string]string{}, storedBy: map[string][]string{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs.addr = ln.Addr().String()
	if len(tlsConfig) > 0 {
		ln = tls.NewListener(ln, tlsConfig[0])
	}
	hs.srv = &http.Server{Handler: hs, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0),
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				hs.conns.Add(1)
			}
		}}
	go hs.srv.Serve(ln) //nolint:errcheck // ends at Close
	t.Cleanup(func() { hs.srv.Close() })
	return hs
}

func (hs *hookServer) url() string { return "http://" + hs.addr + "/hooks/breach-notice?tenant=jp" }

func (hs *hookServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("Idempotency-Key")
	hs.mu.Lock()
	hs.tries[key]++
	try := hs.tries[key]
	hs.mu.Unlock()
	var act hookAction
	if hs.fault != nil {
		act = hs.fault(key, try)
	}
	rec := hookRequest{at: time.Now(), key: key}
	if act.dropEarly {
		_, _ = io.CopyN(io.Discard, r.Body, 1024)
		hs.add(rec)
		hijackClose(w)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	if err != nil {
		hs.add(rec)
		return
	}
	rec.complete = true
	sum := sha256.Sum256(body)
	rec.sha = hex.EncodeToString(sum[:])
	rec.sigErr = VerifyWebhookSignature(hs.secret, r.Header.Get(WebhookSignatureHeader), body, time.Now(), time.Minute)
	var p struct {
		MessageID string `json:"message_id"`
		UserID    string `json:"user_id"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		rec.hdrErr = fmt.Errorf("body: %v", err)
	}
	rec.user = p.UserID
	switch {
	case r.Method != http.MethodPost || r.URL.Path != "/hooks/breach-notice" || r.URL.RawQuery != "tenant=jp":
		rec.hdrErr = fmt.Errorf("request %s %s", r.Method, r.URL)
	case r.Header.Get("Content-Type") != "application/json" || r.Header.Get("User-Agent") != "breachctl":
		rec.hdrErr = fmt.Errorf("headers %v", r.Header)
	case key == "" || key != p.MessageID || strings.ContainsAny(key, "<>"):
		rec.hdrErr = fmt.Errorf("Idempotency-Key %q for message_id %q", key, p.MessageID)
	}
	if rec.sigErr != nil {
		rec.status = http.StatusUnauthorized
		hs.add(rec)
		http.Error(w, "bad signature", rec.status)
		return
	}
	if act.status != 0 {
		rec.status = act.status
		hs.add(rec)
		if act.retryAfter != "" {
			w.Header().Set("Retry-After", act.retryAfter)
		}
		if act.location != "" {
			w.Header().Set("Location", act.location)
		}
		http.Error(w, "not now, "+address(p.UserID), act.status)
		return
	}
	// Store once per key; a resend is answered as a success.
	rec.status = http.StatusOK
	if act.drop || act.malformed {
		rec.status = 0
	}
	hs.mu.Lock()
	if _, dup := hs.stored[key]; dup {
		rec.resent = true
	} else if rec.hdrErr == nil {
		hs.stored[key] = rec.sha
		hs.storedBy[p.UserID] = append(hs.storedBy[p.UserID], key)
	}
	hs.reqs = append(hs.reqs, rec)
	hs.mu.Unlock()
	switch {
	case act.drop:
		hijackClose(w)
		return
	case act.malformed:
		if c, bw, err := w.(http.Hijacker).Hijack(); err == nil {
			_, _ = bw.WriteString("HTTP/1.1 2OO Okay\r\nContent-Length: 2\r\n\r\nok")
			_ = bw.Flush()
			c.Close()
		}
		return
	case act.stall:
		select {
		case <-r.Context().Done():
		case <-time.After(time.Minute):
		}
		return
	case act.delay > 0:
		time.Sleep(act.delay)
	}
	w.Header().Set("Content-Type", "application/json")
	if act.bigReply > 0 {
		_, _ = w.Write(bytes.Repeat([]byte(" "), act.bigReply))
		return
	}
	_, _ = io.WriteString(w, `{"stored":true}`)
}

func (hs *hookServer) add(rec hookRequest) {
	hs.mu.Lock()
	hs.reqs = append(hs.reqs, rec)
	hs.mu.Unlock()
}

// hijackClose drops the connection under the request, unread data and all.
func hijackClose(w http.ResponseWriter) {
	if c, _, err := w.(http.Hijacker).Hijack(); err == nil {
		c.Close()
	}
}

// requests returns the requests received with a key.
func (hs *hookServer) requests(key string) []hookRequest {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	var out []hookRequest
	for _, r := range hs.reqs {
		if r.key == key {
			out = append(out, r)
		}
	}
	return out
}

func (hs *hookServer) total() (reqs, stored int) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	return len(hs.reqs), len(hs.stored)
}

// checkStored checks the endpoint against the ledger: every notice the
// ledger says sent was stored once, under its own key, with the body whose
// SHA-256 the ledger recorded; nothing else was stored; every request was
// signed and well formed; and a key was received again after it was stored
// only for a notice the ledger recorded in doubt, at most once per doubt.
func (hs *hookServer) checkStored(t testing.TB, l *hookLedger, n int) {
	t.Helper()
	var rows []struct {
		UserID    string         `db:"user_id"`
		State     string         `db:"state"`
		Uncertain int            `db:"uncertain_count"`
		SHA       sql.NullString `db:"message_sha256"`
	}
	if err := l.st.DB.Select(&rows, `SELECT user_id, state, uncertain_count, message_sha256 FROM breachctl.notices
		WHERE case_id = $1 AND run = $2 AND channel = 'webhook' ORDER BY user_id`, l.caseID, l.run); err != nil {
		t.Fatal(err)
	}
	if len(rows) != n {
		t.Fatalf("%d webhook notices in the ledger, want %d", len(rows), n)
	}
	hs.mu.Lock()
	defer hs.mu.Unlock()
	byKey := map[string][]hookRequest{}
	for _, r := range hs.reqs {
		byKey[r.key] = append(byKey[r.key], r)
		if r.complete && (r.sigErr != nil || r.hdrErr != nil) {
			t.Errorf("request with key %q: signature %v, form %v", r.key, r.sigErr, r.hdrErr)
		}
	}
	seen := map[string]bool{}
	for _, row := range rows {
		key := hookKey(l.caseID, row.UserID)
		seen[key] = true
		stored := hs.storedBy[row.UserID]
		switch {
		case row.State == store.NoticeSent && (len(stored) != 1 || stored[0] != key):
			t.Errorf("%s: sent, the endpoint stored %v, want once %s", row.UserID, stored, key)
		case row.State == store.NoticeSent && hs.stored[key] != row.SHA.String:
			t.Errorf("%s: the endpoint stored a body with SHA-256 %s, the ledger recorded %s", row.UserID, hs.stored[key], row.SHA.String)
		case row.State != store.NoticeSent && row.Uncertain == 0 && len(stored) != 0:
			t.Errorf("%s: %s and never in doubt, yet the endpoint stored %v", row.UserID, row.State, stored)
		}
		resent := 0
		for _, r := range byKey[key] {
			if r.complete && r.sha != row.SHA.String && row.SHA.Valid {
				t.Errorf("%s: a request's body has SHA-256 %s, the ledger recorded %s", row.UserID, r.sha, row.SHA.String)
			}
			if r.resent {
				resent++
			}
		}
		if resent > row.Uncertain {
			t.Errorf("%s: received %d times after it was stored, the ledger recorded %d doubts", row.UserID, resent, row.Uncertain)
		}
	}
	for key := range byKey {
		if !seen[key] {
			t.Errorf("requests with a key of no notice: %q", key)
		}
	}
}

// hookOpts are quick options for a webhook test ledger and endpoint.
func hookOpts(l *hookLedger, hs *hookServer) Options {
	return Options{
		Store: l.st, CaseID: l.caseID, Run: l.run, Channel: store.ChannelWebhook,
		WebhookURL: hs.url(), WebhookSecret: testSecret, Workers: 4,
		MaxAttempts: 3, Backoff: 20 * time.Millisecond, Timeout: 5 * time.Second,
		Source: hookSource(l.caseID, nil, nil),
	}
}

// forUser applies f to one person's requests; the others are stored.
func forUser(caseID, user string, f func(try int) hookAction) func(key string, try int) hookAction {
	key := hookKey(caseID, user)
	return func(k string, try int) hookAction {
		if k == key {
			return f(try)
		}
		return hookAction{}
	}
}

// onTry is an action on the first tries, then success.
func onTry(tries int, a hookAction) func(int) hookAction {
	return func(try int) hookAction {
		if try <= tries {
			return a
		}
		return hookAction{}
	}
}
