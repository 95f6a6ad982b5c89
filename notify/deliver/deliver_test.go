package deliver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/breachctl/breachctl/incident/store"
	"github.com/breachctl/breachctl/internal/mailpit"
)

func TestSendMailpit(t *testing.T) {
	const n = 300
	ctx := context.Background()
	mp := mailpit.Start(t)
	l := newLedger(t, n)
	var calls atomic.Int64
	var last atomic.Value
	opts := baseOpts(l, mp.SMTPURL())
	opts.Progress = func(p Progress) { calls.Add(1); last.Store(p) }
	res, err := Send(ctx, opts)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if res.Sent != n || res.Failed != 0 || res.Pending != 0 || res.Total != n {
		t.Errorf("Result = %+v, want %d sent, nothing failed or pending", res, n)
	}
	if c := l.counts(t); c.Sent != n || c.Total != n {
		t.Errorf("ledger counts = %+v, want %d sent", c, n)
	}
	if p, _ := last.Load().(Progress); calls.Load() == 0 || p.Sent != n || p.Total != n {
		t.Errorf("last progress = %+v after %d calls, want Sent = Total = %d", p, calls.Load(), n)
	}
	byTo := map[string][]string{}
	for _, m := range mp.Messages(t) {
		byTo[m.To[0]] = append(byTo[m.To[0]], m.MessageID)
	}
	for i := 0; i < n; i++ {
		u := userID(i)
		got := byTo[address(u)]
		if len(got) != 1 || got[0] != normID(messageID(l.caseID, u)) {
			t.Fatalf("%s: Mailpit has %v, want one message %s", u, got, messageID(l.caseID, u))
		}
	}
	nt := l.notice(t, userID(7))
	if !nt.SentAt.Valid || nt.Attempts != 1 || !strings.HasPrefix(nt.SMTPReply.String, "250") {
		t.Errorf("notice = sent_at %v, attempts %d, reply %q; want sent once with a 250 reply", nt.SentAt, nt.Attempts, nt.SMTPReply.String)
	}
	// Sending again sends nothing.
	res, err = Send(ctx, opts)
	if err != nil || res.Sent != 0 || res.Total != 0 {
		t.Errorf("second Send = %+v, %v; want nothing to do", res, err)
	}
	if got := mp.Count(t); got != n {
		t.Errorf("Mailpit holds %d messages, want %d", got, n)
	}
}

func TestSendRetriesTemporaryFailures(t *testing.T) {
	ctx := context.Background()
	l := newLedger(t, 20)
	fs := startFault(t, &faultServer{
		rcpt: func(to string, try int, _ *smtp.Conn) error {
			switch {
			case to == address(userID(3)) && try <= 2:
				return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
			case to == address(userID(5)) && try == 1:
				return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "too busy, closing"}
			}
			return nil
		},
		data: func(to string, try int, _ *smtp.Conn, _ io.Reader) error {
			if to == address(userID(9)) && try == 1 {
				return &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 3, 1}, Message: "insufficient storage"}
			}
			return nil
		},
	})
	res, err := Send(ctx, baseOpts(l, fs.url()))
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if res.Sent != 20 || res.Retried != 4 || res.Failed != 0 {
		t.Errorf("Result = %+v, want 20 sent, 4 retries", res)
	}
	for i := 0; i < 20; i++ {
		if got := fs.got(address(userID(i))); len(got) != 1 {
			t.Errorf("%s received %d messages, want 1", userID(i), len(got))
		}
	}
	for _, tc := range []struct {
		user     string
		attempts int
		lastErr  string
	}{{userID(3), 3, "451 4.3.0 try again later"}, {userID(5), 2, "421 4.7.0 too busy, closing"}, {userID(9), 2, "452 4.3.1 insufficient storage"}, {userID(1), 1, ""}} {
		nt := l.notice(t, tc.user)
		if nt.State != store.NoticeSent || nt.Attempts != tc.attempts || nt.LastError.String != tc.lastErr {
			t.Errorf("%s: state %s, attempts %d, last error %q; want sent, %d, %q", tc.user, nt.State, nt.Attempts, nt.LastError.String, tc.attempts, tc.lastErr)
		}
	}
}

func TestSendPermanentAndExhausted(t *testing.T) {
	ctx := context.Background()
	l := newLedger(t, 10)
	fs := startFault(t, &faultServer{
		rcpt: func(to string, try int, _ *smtp.Conn) error {
			switch to {
			case address(userID(2)), address(userID(4)):
				return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "<" + to + ">: Recipient address rejected: User unknown"}
			case address(userID(6)):
				return &smtp.SMTPError{Code: 450, EnhancedCode: smtp.EnhancedCode{4, 2, 0}, Message: "mailbox busy"}
			}
			return nil
		},
	})
	opts := baseOpts(l, fs.url())
	opts.Source = fakeSource(l.caseID, map[string]bool{userID(8): true})
	res, err := Send(ctx, opts)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if res.Sent != 6 || res.Failed != 4 {
		t.Errorf("Result = %+v, want 6 sent, 4 failed", res)
	}
	nt := l.notice(t, userID(2))
	wantReply := "550 5.1.1 <(address)>: Recipient address rejected: User unknown"
	if nt.State != store.NoticeFailed || nt.SMTPReply.String != wantReply || nt.Attempts != 1 {
		t.Errorf("u2: state %s, reply %q, attempts %d; want failed, %q, 1", nt.State, nt.SMTPReply.String, nt.Attempts, wantReply)
	}
	if got := fs.rcptTries[address(userID(6))]; got != 3 {
		t.Errorf("u6 (450 each time) tried %d times, want MaxAttempts = 3", got)
	}
	st, err := Status(ctx, l.st, l.caseID, l.run)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.NoticeReason{
		{Reason: wantReply, Count: 2},
		{Reason: "gave up after 3 attempts: 450 4.2.0 mailbox busy", Count: 1},
		{Reason: "invalid email address on file", Count: 1},
	}
	if fmt.Sprint(st.Failures) != fmt.Sprint(want) {
		t.Errorf("Status failures = %v, want %v", st.Failures, want)
	}
	var text, js bytes.Buffer
	if err := WriteStatusText(&text, st); err != nil {
		t.Fatal(err)
	}
	if err := WriteStatusJSON(&js, st); err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{text.String(), js.String()} {
		if strings.Contains(out, "@example.test") {
			t.Errorf("status shows an address:\n%s", out)
		}
	}
	if !strings.Contains(text.String(), "failed            4") || !strings.Contains(text.String(), "2  "+wantReply) {
		t.Errorf("status text:\n%s", text.String())
	}
	var decoded StatusReport
	if err := json.Unmarshal(js.Bytes(), &decoded); err != nil || decoded.Counts.Failed != 4 || decoded.Counts.Sent != 6 {
		t.Errorf("status JSON = %s (%v)", js.String(), err)
	}
}

func TestSendDeadServer(t *testing.T) {
	ctx := context.Background()
	l := newLedger(t, 25)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nobody listens there now
	opts := baseOpts(l, "smtp://mailer:s3cret-pw@"+addr)
	res, err := Send(ctx, opts)
	if err == nil {
		t.Fatal("Send to a dead server: want an error")
	}
	msg := err.Error()
	for _, want := range []string{addr, "nothing sent", "25 notices still pending", "rerun when the server answers"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}
	if strings.Contains(msg, "s3cret-pw") {
		t.Errorf("error shows the password: %q", msg)
	}
	if !errors.Is(err, ErrUnreachable) {
		t.Errorf("errors.Is(err, ErrUnreachable) = false for %v", err)
	}
	if c := l.counts(t); c.Pending != 25 || res.Pending != 25 {
		t.Errorf("ledger = %+v, result %+v; want all 25 pending", c, res)
	}
	if nt := l.notice(t, userID(0)); nt.Attempts != 0 {
		t.Errorf("attempts = %d, want 0: nothing was tried", nt.Attempts)
	}
}

func TestSendServerDiesMidway(t *testing.T) {
	ctx := context.Background()
	l := newLedger(t, 40)
	var fs *faultServer
	fs = startFault(t, &faultServer{
		mail: func(n int, _ *smtp.Conn) error {
			if n == 10 {
				go fs.srv.Close()
				return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 2}, Message: "shutting down"}
			}
			return nil
		},
	})
	opts := baseOpts(l, fs.url())
	opts.Workers = 1
	res, err := Send(ctx, opts)
	if err == nil || !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "9 sent; 31 notices still pending") {
		t.Fatalf("Send = %+v, %v; want an unreachable error with 9 sent, 31 pending", res, err)
	}
	if c := l.counts(t); c.Sending != 0 || c.Sent != 9 || c.Pending != 31 {
		t.Errorf("ledger = %+v", c)
	}
}

func TestSendBrokenConnections(t *testing.T) {
	ctx := context.Background()
	l := newLedger(t, 12)
	fs := startFault(t, &faultServer{
		rcpt: func(to string, try int, c *smtp.Conn) error {
			switch {
			case to == address(userID(1)) && try == 1:
				c.Conn().Close() // dropped before the message: resent at once
			case to == address(userID(2)) && try == 1:
				time.Sleep(9 * time.Second) // stalls past the timeout
			}
			return nil
		},
		data: func(to string, try int, c *smtp.Conn, r io.Reader) error {
			switch {
			case to == address(userID(4)) && try == 1:
				_, _ = io.Copy(io.Discard, r)
				c.Conn().Close() // dropped after the whole message, before the reply
				return errors.New("dropped")
			case to == address(userID(6)) && try == 1:
				_, _ = io.CopyN(io.Discard, r, 50)
				c.Conn().Close() // dropped early in a large message
				return errors.New("dropped")
			}
			return nil
		},
	})
	opts := baseOpts(l, fs.url())
	// Long enough for the 2 MiB message on a loaded machine under -race (a
	// slower transfer ended u6 in doubt; 3 s did, with other jobs on the
	// two cores), shorter than u2's stall.
	opts.Timeout = 6 * time.Second
	src := opts.Source
	opts.Source = func(ctx context.Context, ids []string) (map[string]*Message, map[string]string, error) {
		msgs, bad, err := src(ctx, ids)
		if m := msgs[userID(6)]; m != nil {
			m.Raw = append(m.Raw, bytes.Repeat([]byte(strings.Repeat("x", 998)+"\r\n"), 2<<10)...) // 2 MiB
		}
		return msgs, bad, err
	}
	res, err := Send(ctx, opts)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	// u4's delivery is unknown: this send never sends it again (issue 21);
	// the next one resends it with the same Message-ID.
	if res.Sent != 11 || res.Failed != 0 || res.UncertainNew != 1 || res.UncertainHeld != 1 {
		t.Errorf("first Result = %+v, want 11 sent and u4 left uncertain", res)
	}
	if nt := l.notice(t, userID(4)); nt.State != store.NoticeUncertain || nt.UncertainCount != 1 || nt.Attempts != 1 {
		t.Errorf("u4 after the first send: state %s, uncertain count %d, attempts %d; want uncertain once after 1 attempt", nt.State, nt.UncertainCount, nt.Attempts)
	}
	res2, err := Send(ctx, opts)
	if err != nil {
		t.Fatalf("second Send: %v", err)
	}
	res.Sent += res2.Sent
	res.UncertainResent += res2.UncertainResent
	if res.Sent != 12 || res.Failed != 0 {
		t.Errorf("Result = %+v, want 12 sent", res)
	}
	for i := 0; i < 12; i++ {
		if got := fs.got(address(userID(i))); len(got) != 1 {
			t.Errorf("%s received %d messages, want 1", userID(i), len(got))
		}
	}
	for _, u := range []string{userID(1), userID(2), userID(6)} {
		if nt := l.notice(t, u); nt.State != store.NoticeSent || nt.Attempts != 2 || nt.UncertainCount != 0 {
			t.Errorf("%s: state %s, attempts %d, uncertain %d (%s); want sent on the 2nd attempt, never uncertain", u, nt.State, nt.Attempts, nt.UncertainCount, nt.LastError.String)
		}
	}
	// Mid-DATA, the client cannot tell whether the server kept the message:
	// it is recorded as in doubt and resent with the same Message-ID.
	nt := l.notice(t, userID(4))
	if nt.State != store.NoticeSent || nt.UncertainCount != 1 || res.UncertainNew != 1 || res.UncertainResent != 1 {
		t.Errorf("u4: state %s, uncertain count %d, result %+v; want sent after being in doubt once", nt.State, nt.UncertainCount, res)
	}
	if c := l.counts(t); c.Sending != 0 || c.Uncertain != 0 {
		t.Errorf("ledger = %+v", c)
	}
}

func TestSendCancelLeavesNothingSending(t *testing.T) {
	mp := mailpit.Start(t)
	l := newLedger(t, 200)
	ctx, cancel := context.WithCancel(context.Background())
	opts := baseOpts(l, mp.SMTPURL())
	opts.Rate = 200
	opts.Progress = func(p Progress) {
		if p.Sent >= 30 {
			cancel()
		}
	}
	res, err := Send(ctx, opts)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "still pending; rerun to resume") {
		t.Fatalf("Send = %v, want an interrupted error wrapping context.Canceled", err)
	}
	c := l.counts(t)
	if c.Sending != 0 || c.Uncertain != 0 || c.Sent != res.Sent || c.Pending != 200-res.Sent || res.Sent < 30 || res.Sent > 150 {
		t.Errorf("after cancel: ledger %+v, result %+v", c, res)
	}
	if got := mp.Count(t); got != res.Sent {
		t.Errorf("Mailpit holds %d, ledger says %d sent", got, res.Sent)
	}
	opts.Progress, opts.Rate = nil, 0
	res2, err := Send(context.Background(), opts)
	if err != nil || res.Sent+res2.Sent != 200 {
		t.Fatalf("resume = %+v, %v; want the other %d", res2, err, 200-res.Sent)
	}
	if got := mp.Count(t); got != 200 {
		t.Errorf("Mailpit holds %d, want 200", got)
	}
}

func TestSendSecondSenderRefused(t *testing.T) {
	ctx := context.Background()
	l := newLedger(t, 5)
	release, err := l.st.LockNoticeSender(ctx, l.caseID) // as another process would
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	fs := startFault(t, &faultServer{})
	_, err = Send(ctx, baseOpts(l, fs.url()))
	if !errors.Is(err, store.ErrNoticeSenderBusy) || !strings.Contains(err.Error(), "only one sender per case") {
		t.Fatalf("Send while another sender runs = %v, want ErrNoticeSenderBusy", err)
	}
	if c := l.counts(t); c.Pending != 5 {
		t.Errorf("ledger = %+v, want untouched", c)
	}
}

func TestSendConcurrentSends(t *testing.T) {
	l := newLedger(t, 50)
	fs := startFault(t, &faultServer{})
	opts := baseOpts(l, fs.url())
	opts.Rate = 100
	errs := make(chan error, 2)
	results := make(chan *Result, 2)
	for i := 0; i < 2; i++ {
		go func() {
			r, err := Send(context.Background(), opts)
			results <- r
			errs <- err
		}()
	}
	busy, sent := 0, 0
	for i := 0; i < 2; i++ {
		err := <-errs
		if r := <-results; r != nil {
			sent += r.Sent
		}
		if errors.Is(err, store.ErrNoticeSenderBusy) {
			busy++
		} else if err != nil {
			t.Errorf("Send: %v", err)
		}
	}
	if busy != 1 || sent != 50 || fs.total() != 50 {
		t.Errorf("two concurrent sends: %d refused, %d sent, server got %d; want 1 refused, 50 sent once", busy, sent, fs.total())
	}
}

func TestSendUncertainAfterCrash(t *testing.T) {
	ctx := context.Background()
	l := newLedger(t, 6)
	// A sender died with two notices in sending.
	for _, u := range []string{userID(1), userID(4)} {
		if _, err := l.st.ClaimNotice(ctx, l.caseID, l.run, store.NoticeClaim{UserID: u, State: store.NoticePending}); err != nil {
			t.Fatal(err)
		}
	}
	fs := startFault(t, &faultServer{})
	opts := baseOpts(l, fs.url())
	opts.Uncertain = UncertainSkip
	res, err := Send(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 4 || res.UncertainFound != 2 || res.UncertainHeld != 2 || res.UncertainResent != 0 {
		t.Errorf("skip: Result = %+v, want 4 sent, 2 found and held", res)
	}
	st, err := Status(ctx, l.st, l.caseID, l.run)
	if err != nil || fmt.Sprint(st.Uncertain) != fmt.Sprint([]string{userID(1), userID(4)}) {
		t.Errorf("Status uncertain = %v, %v", st.Uncertain, err)
	}
	opts.Uncertain = ""
	res, err = Send(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 2 || res.UncertainFound != 0 || res.UncertainResent != 2 || res.UncertainHeld != 0 {
		t.Errorf("resend: Result = %+v, want 2 resent", res)
	}
	got := fs.got(address(userID(4)))
	if len(got) != 1 || got[0] != messageID(l.caseID, userID(4)) {
		t.Errorf("u4 received %v, want its own Message-ID", got)
	}
	st, _ = Status(ctx, l.st, l.caseID, l.run)
	if len(st.Uncertain) != 0 || fmt.Sprint(st.SentInDoubt) != fmt.Sprint([]string{userID(1), userID(4)}) {
		t.Errorf("Status = %+v", st)
	}
}

func TestSendLimit(t *testing.T) {
	l := newLedger(t, 30)
	fs := startFault(t, &faultServer{})
	opts := baseOpts(l, fs.url())
	opts.Limit = 7
	res, err := Send(context.Background(), opts)
	if err != nil || res.Sent != 7 || res.Total != 7 || res.Pending != 23 {
		t.Fatalf("Send with limit 7 = %+v, %v", res, err)
	}
}

func TestSendTLSPolicy(t *testing.T) {
	ctx := context.Background()
	plain := startFault(t, &faultServer{})
	serverTLS, clientTLS := testTLS(t, "mail.example.test")
	secure := startFault(t, &faultServer{}, withTLS(serverTLS))

	t.Run("required by default towards a remote server", func(t *testing.T) {
		l := newLedger(t, 3)
		opts := baseOpts(l, "smtp://mail.example.test:587")
		opts.Dial = dialTo(plain.addr)
		_, err := Send(ctx, opts)
		if !errors.Is(err, ErrNoSTARTTLS) || !strings.Contains(err.Error(), "mail.example.test:587") {
			t.Fatalf("Send = %v, want ErrNoSTARTTLS naming the server", err)
		}
		if c := l.counts(t); c.Pending != 3 {
			t.Errorf("ledger = %+v, want untouched", c)
		}
	})
	t.Run("opportunistic sends in clear, without credentials", func(t *testing.T) {
		l := newLedger(t, 3)
		opts := baseOpts(l, "smtp://mail.example.test:587")
		opts.Dial, opts.StartTLS = dialTo(plain.addr), StartTLSOpportunistic
		if res, err := Send(ctx, opts); err != nil || res.Sent != 3 {
			t.Fatalf("Send = %+v, %v", res, err)
		}
	})
	t.Run("no password without TLS", func(t *testing.T) {
		l := newLedger(t, 3)
		opts := baseOpts(l, "smtp://mail.example.test:587")
		opts.Dial, opts.StartTLS = dialTo(plain.addr), StartTLSOpportunistic
		opts.Username, opts.Password = "mailer", "s3cret-pw"
		_, err := Send(ctx, opts)
		if !errors.Is(err, ErrAuth) || strings.Contains(err.Error(), "s3cret-pw") {
			t.Fatalf("Send = %v, want ErrAuth without the password", err)
		}
	})
	t.Run("STARTTLS and AUTH PLAIN", func(t *testing.T) {
		l := newLedger(t, 3)
		opts := baseOpts(l, "smtp://mailer:s3cret-pw@mail.example.test:587")
		opts.Dial, opts.TLSConfig = dialTo(secure.addr), clientTLS
		if res, err := Send(ctx, opts); err != nil || res.Sent != 3 {
			t.Fatalf("Send = %+v, %v", res, err)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		l := newLedger(t, 3)
		opts := baseOpts(l, "smtp://mail.example.test:587")
		opts.Username, opts.Password = "mailer", "wrong-pw"
		opts.Dial, opts.TLSConfig = dialTo(secure.addr), clientTLS
		_, err := Send(ctx, opts)
		if !errors.Is(err, ErrAuth) || strings.Contains(err.Error(), "wrong-pw") || !strings.Contains(err.Error(), "nothing sent; 3 notices still pending") {
			t.Fatalf("Send = %v, want ErrAuth", err)
		}
	})
	t.Run("untrusted certificate", func(t *testing.T) {
		l := newLedger(t, 3)
		opts := baseOpts(l, "smtp://mail.example.test:587")
		opts.Dial = dialTo(secure.addr)
		_, err := Send(ctx, opts)
		if !errors.Is(err, ErrTLS) {
			t.Fatalf("Send = %v, want ErrTLS", err)
		}
	})
}

func TestParseServer(t *testing.T) {
	for _, tc := range []struct {
		url, starttls string
		addr, mode    string
		implicit      bool
		user          string
	}{
		{"smtp://127.0.0.1:1025", "", "127.0.0.1:1025", StartTLSOpportunistic, false, ""},
		{"smtp://localhost", "", "localhost:25", StartTLSOpportunistic, false, ""},
		{"smtp://[::1]:2525", "", "[::1]:2525", StartTLSOpportunistic, false, ""},
		{"smtp://u%40x:p%3Aw@mail.example.jp:587", "", "mail.example.jp:587", StartTLSRequired, false, "u@x"},
		{"smtps://mail.example.jp", "", "mail.example.jp:465", StartTLSRequired, true, ""},
		{"smtp://mail.example.jp:25", "off", "mail.example.jp:25", StartTLSOff, false, ""},
	} {
		s, err := parseServer(&Options{SMTPURL: tc.url, StartTLS: tc.starttls})
		if err != nil {
			t.Errorf("%s: %v", tc.url, err)
			continue
		}
		if s.addr() != tc.addr || s.startTLS != tc.mode || s.implicitTLS != tc.implicit || s.username != tc.user {
			t.Errorf("%s: addr %s, starttls %s, implicit %v, user %q; want %s, %s, %v, %q", tc.url, s.addr(), s.startTLS, s.implicitTLS, s.username, tc.addr, tc.mode, tc.implicit, tc.user)
		}
	}
	for _, bad := range []string{"http://x", "mail.example.jp:25", "smtp://x:notaport"} {
		if _, err := parseServer(&Options{SMTPURL: bad}); err == nil {
			t.Errorf("%s: want an error", bad)
		}
	}
	if _, err := parseServer(&Options{SMTPURL: "smtp://u:topsecret@"}); err == nil || strings.Contains(err.Error(), "topsecret") {
		t.Errorf("error for a URL without host = %v; want one without the password", err)
	}
	if got := redactURL("smtp://u:topsecret@h:25"); strings.Contains(got, "topsecret") {
		t.Errorf("redactURL = %q", got)
	}
}

func TestScrub(t *testing.T) {
	for in, want := range map[string]string{
		"550 5.1.1 <alice.smith+x@example.co.jp>: Recipient address rejected": "550 5.1.1 <(address)>: Recipient address rejected",
		"452 4.2.2 mailbox full (bob@example.com)":                            "452 4.2.2 mailbox full ((address))",
		"250 2.0.0 Ok: queued as 4XyZ\r\n":                                    "250 2.0.0 Ok: queued as 4XyZ",
	} {
		if got := scrub(in); got != want {
			t.Errorf("scrub(%q) = %q, want %q", in, got, want)
		}
	}
}
