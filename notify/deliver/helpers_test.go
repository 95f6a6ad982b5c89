package deliver

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/breachctl/breachctl/incident/store"
	"github.com/breachctl/breachctl/internal/pgtest"
)

const testCase = "web-cache-test"

// ledger is a case store with one run seeded with n people.
type ledger struct {
	st     *store.Store
	url    string
	caseID string
	run    int
}

func newLedger(t testing.TB, n int) *ledger {
	t.Helper()
	ctx := context.Background()
	url, _ := pgtest.NewDB(t)
	st, err := store.Open(ctx, url)
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.UpsertCase(ctx, store.Case{ID: testCase, Title: "test", CaseFile: "incident.yaml", CaseFileSHA256: "0"}); err != nil {
		t.Fatal(err)
	}
	run, err := st.NewRun(ctx, testCase, "0", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	l := &ledger{st: st, url: url, caseID: testCase, run: run}
	l.seed(t, n)
	return l
}

func (l *ledger) seed(t testing.TB, n int) {
	t.Helper()
	seeds := make([]store.NoticeSeed, n)
	for i := range seeds {
		u := userID(i)
		seeds[i] = store.NoticeSeed{UserID: u, MessageID: messageID(l.caseID, u), State: store.NoticePending}
	}
	if _, err := l.st.SeedNotices(context.Background(), l.caseID, l.run, seeds); err != nil {
		t.Fatalf("SeedNotices: %v", err)
	}
}

func (l *ledger) counts(t testing.TB) store.NoticeCounts {
	t.Helper()
	c, err := l.st.CountNotices(context.Background(), l.caseID, l.run)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (l *ledger) notice(t testing.TB, user string) *store.Notice {
	t.Helper()
	n, err := l.st.GetNotice(context.Background(), l.caseID, l.run, user)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func userID(i int) string             { return fmt.Sprintf("u%05d", i) }
func address(user string) string      { return user + "@example.test" }
func messageID(c, user string) string { return fmt.Sprintf("<%s.%s@notices.example.test>", c, user) }

// fakeSource makes a deterministic minimal message per person; users in
// invalid get no message.
func fakeSource(caseID string, invalid map[string]bool) Source {
	return func(ctx context.Context, ids []string) (map[string]*Message, map[string]string, error) {
		msgs := make(map[string]*Message, len(ids))
		bad := map[string]string{}
		for _, u := range ids {
			if invalid[u] {
				bad[u] = "invalid email address on file"
				continue
			}
			id := messageID(caseID, u)
			raw := "From: Example Privacy Office <privacy@example.test>\r\n" +
				"To: <" + address(u) + ">\r\n" +
				"Subject: Notice about your personal data\r\n" +
				"Date: Thu, 22 Jun 2017 18:00:00 +0900\r\n" +
				"Message-ID: " + id + "\r\n" +
				"MIME-Version: 1.0\r\n" +
				"Content-Type: text/plain; charset=utf-8\r\n" +
				"\r\n" +
				"We are sorry. Part of your account page was shown to another customer.\r\n" +
				".A line starting with a dot.\r\n"
			msgs[u] = &Message{UserID: u, MessageID: id, EnvelopeFrom: "privacy@example.test", To: address(u), Raw: []byte(raw)}
		}
		return msgs, bad, nil
	}
}

// faultServer is an in-process SMTP server whose answers a test scripts.
type faultServer struct {
	addr string
	srv  *smtp.Server

	mu        sync.Mutex
	received  map[string][]string // recipient → Message-IDs accepted
	rcptTries map[string]int
	dataTries map[string]int
	mails     int
	// rcpt and data decide the answer for a recipient's n-th try (1-based).
	rcpt func(to string, try int, c *smtp.Conn) error
	data func(to string, try int, c *smtp.Conn, r io.Reader) error
	mail func(n int, c *smtp.Conn) error
}

type faultOpt func(*smtp.Server)

func withTLS(cfg *tls.Config) faultOpt { return func(s *smtp.Server) { s.TLSConfig = cfg } }

func startFault(t testing.TB, fs *faultServer, opts ...faultOpt) *faultServer {
	t.Helper()
	fs.received = map[string][]string{}
	fs.rcptTries = map[string]int{}
	fs.dataTries = map[string]int{}
	s := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &faultSession{fs: fs, c: c}, nil
	}))
	s.Domain = "fault.test"
	s.AllowInsecureAuth = true
	s.ErrorLog = quietLog{}
	for _, o := range opts {
		o(s)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fs.addr = l.Addr().String()
	fs.srv = s
	go s.Serve(l) //nolint:errcheck // ends at Close
	t.Cleanup(func() { s.Close() })
	return fs
}

type quietLog struct{}

func (quietLog) Printf(string, ...any) {}
func (quietLog) Println(...any)        {}

func (fs *faultServer) url() string { return "smtp://" + fs.addr }

func (fs *faultServer) got(to string) []string {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return append([]string(nil), fs.received[to]...)
}

func (fs *faultServer) total() int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	n := 0
	for _, ids := range fs.received {
		n += len(ids)
	}
	return n
}

type faultSession struct {
	fs   *faultServer
	c    *smtp.Conn
	to   string
	auth bool
}

func (s *faultSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *faultSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != "mailer" || password != "s3cret-pw" {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "bad credentials"}
		}
		s.auth = true
		return nil
	}), nil
}

func (s *faultSession) Mail(from string, _ *smtp.MailOptions) error {
	s.fs.mu.Lock()
	s.fs.mails++
	n := s.fs.mails
	s.fs.mu.Unlock()
	if s.fs.mail != nil {
		return s.fs.mail(n, s.c)
	}
	return nil
}

func (s *faultSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = to
	s.fs.mu.Lock()
	s.fs.rcptTries[to]++
	try := s.fs.rcptTries[to]
	s.fs.mu.Unlock()
	if s.fs.rcpt != nil {
		return s.fs.rcpt(to, try, s.c)
	}
	return nil
}

func (s *faultSession) Data(r io.Reader) error {
	s.fs.mu.Lock()
	s.fs.dataTries[s.to]++
	try := s.fs.dataTries[s.to]
	s.fs.mu.Unlock()
	if s.fs.data != nil {
		if err := s.fs.data(s.to, try, s.c, r); err != nil {
			return err
		}
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	id := ""
	for _, line := range strings.Split(string(b), "\r\n") {
		if v, ok := strings.CutPrefix(line, "Message-ID: "); ok {
			id = v
		}
	}
	s.fs.mu.Lock()
	s.fs.received[s.to] = append(s.fs.received[s.to], id)
	s.fs.mu.Unlock()
	return nil
}

func (s *faultSession) Reset()        {}
func (s *faultSession) Logout() error { return nil }

// testTLS returns a server config with a fresh self-signed certificate for
// name, and a client config that trusts it.
func testTLS(t testing.TB, name string) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: name},
		DNSNames:     []string{name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	client = &tls.Config{RootCAs: pool}
	return server, client
}

// dialTo sends every connection to addr, whatever host the URL names.
func dialTo(addr string) func(ctx context.Context, network, _ string) (net.Conn, error) {
	return func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
}

// baseOpts are quick options for a test ledger and server.
func baseOpts(l *ledger, smtpURL string) Options {
	return Options{
		Store: l.st, CaseID: l.caseID, Run: l.run,
		SMTPURL: smtpURL, Workers: 4,
		MaxAttempts: 3, Backoff: 20 * time.Millisecond, Timeout: 5 * time.Second,
		Source: fakeSource(l.caseID, nil),
	}
}
