package deliver

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/breachctl/breachctl/incident/store"
)

// TestSendSenderRefused: a 5xx to MAIL FROM refuses us, not the recipient:
// the send stops with ErrSenderRefused, nothing is marked failed, and the
// notices stay pending for a rerun once the sender is fixed.
func TestSendSenderRefused(t *testing.T) {
	ctx := context.Background()
	l := newLedger(t, 8)
	fs := startFault(t, &faultServer{
		mail: func(int, *smtp.Conn) error {
			return &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Sender address rejected: not owned by user"}
		},
	})
	_, err := Send(ctx, baseOpts(l, fs.url()))
	if !errors.Is(err, ErrSenderRefused) {
		t.Fatalf("Send = %v, want ErrSenderRefused", err)
	}
	if c := l.counts(t); c.Pending != 8 || c.Failed != 0 || c.Sending != 0 {
		t.Errorf("ledger %+v: want all 8 pending, none failed", c)
	}
	if nt := l.notice(t, userID(0)); nt.Attempts != 0 {
		t.Errorf("attempts = %d, want 0: the refusal was not the recipient's", nt.Attempts)
	}
}

// TestSendRetryFailed: --retry-failed puts failed notices back and sends them.
func TestSendRetryFailed(t *testing.T) {
	ctx := context.Background()
	l := newLedger(t, 4)
	refuse := true
	fs := startFault(t, &faultServer{
		rcpt: func(to string, _ int, _ *smtp.Conn) error {
			if refuse && to == address(userID(1)) {
				return &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 2, 2}, Message: "mailbox full"}
			}
			return nil
		},
	})
	if res, err := Send(ctx, baseOpts(l, fs.url())); err != nil || res.Failed != 1 {
		t.Fatalf("first send = %+v, %v; want one failed", res, err)
	}
	refuse = false
	opts := baseOpts(l, fs.url())
	opts.RetryFailed = true
	res, err := Send(ctx, opts)
	if err != nil || res.FailedRetried != 1 || res.Sent != 1 {
		t.Fatalf("retry send = %+v, %v; want the failed one retried and sent", res, err)
	}
	if c := l.counts(t); c.Sent != 4 {
		t.Errorf("ledger %+v, want 4 sent", c)
	}
}

// TestSendAcrossRuns: a person sent in one run is never sent again from
// another run (a revised count, or an operator going back to an older
// run), and one whose notice is uncertain in another run is uncertain in
// this one too.
func TestSendAcrossRuns(t *testing.T) {
	ctx := context.Background()
	l := newLedger(t, 3) // run 1: u00000..u00002
	fs := startFault(t, &faultServer{})
	// Run 1: u0 sent; u1 left in sending by a crash.
	opts := baseOpts(l, fs.url())
	opts.Limit = 1
	if _, err := Send(ctx, opts); err != nil {
		t.Fatal(err)
	}
	if _, err := l.st.ClaimNotice(ctx, l.caseID, l.run, store.NoticeClaim{UserID: userID(1), State: store.NoticePending}); err != nil {
		t.Fatal(err)
	}
	// Run 2 of the same case, seeded with u0..u3.
	run2, err := l.st.NewRun(ctx, l.caseID, "sha", 0)
	if err != nil {
		t.Fatal(err)
	}
	var seeds []store.NoticeSeed
	for i := range 4 {
		seeds = append(seeds, store.NoticeSeed{UserID: userID(i), MessageID: messageID(l.caseID, userID(i)), State: store.NoticePending})
	}
	if _, err := l.st.SeedNotices(ctx, l.caseID, run2, seeds); err != nil {
		t.Fatal(err)
	}
	before := fs.total()
	opts2 := baseOpts(l, fs.url())
	opts2.Run = run2
	opts2.Uncertain = UncertainSkip
	res, err := Send(ctx, opts2)
	if err != nil {
		t.Fatal(err)
	}
	// u0 was sent in run 1; u1 is uncertain from run 1 (held: skip);
	// u2 and u3 are sent now.
	if got := fs.total() - before; got != 2 || res.Sent != 2 || res.DoubtFromOtherRun != 1 || res.UncertainHeld != 1 {
		t.Errorf("run 2: %d messages, result %+v; want 2 sent, u1 in doubt and held", got, res)
	}
	for _, u := range []string{userID(2), userID(3)} {
		if n := len(fs.got(address(u))); n != 1 {
			t.Errorf("%s received %d messages, want 1", u, n)
		}
	}
	// Back to run 1: u2 (pending there) was sent in run 2: not sent again.
	before = fs.total()
	res, err = Send(ctx, baseOpts(l, fs.url()))
	if err != nil {
		t.Fatal(err)
	}
	// Only u1, uncertain in run 1 since the crash, is resent (same Message-ID).
	if got := fs.total() - before; got != 1 || res.UncertainResent != 1 {
		t.Errorf("run 1 again sent %d messages, result %+v; want only the uncertain u1 resent", got, res)
	}
	if n := len(fs.got(address(userID(2)))); n != 1 {
		t.Errorf("u2 received %d messages after going back to run 1, want 1", n)
	}
	if res.SentInOtherRun < 1 {
		t.Errorf("run 1 again: result %+v, want u2 recorded as sent in another run", res)
	}
}

// TestRedactMalformedURL: a malformed --smtp value with credentials is never echoed.
func TestRedactMalformedURL(t *testing.T) {
	for _, raw := range []string{"smtp:user:secret@host:25", "user:secret@host:25"} {
		_, err := parseServer(&Options{SMTPURL: raw})
		if err == nil || strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: error %v; want one without the password", raw, err)
		}
	}
}
