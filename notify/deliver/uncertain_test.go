package deliver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/breachctl/breachctl/incident/store"
)

// dataTries is how many times the server saw a DATA transaction for a
// recipient (accepted or not): the transmissions of their message.
func (fs *faultServer) dataTriesOf(to string) int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.dataTries[to]
}

// TestSendUncertainIsBounded is issue 21 item 1: a server that takes the
// message and then drops the connection (after the whole message, or in
// the middle of it) made `notify send` resend the same notice without end.
// An uncertain outcome is an attempt: it waits its backoff, is never sent
// again by the same send, and at --max-attempts ends failed with its
// delivery unknown (reported by Status), which --retry-failed can undo.
func TestSendUncertainIsBounded(t *testing.T) {
	const (
		n           = 20
		maxAttempts = 3
	)
	for _, tc := range []struct {
		name string
		drop func(c *smtp.Conn, r io.Reader)
	}{
		{"drop after DATA content, before the reply", func(c *smtp.Conn, r io.Reader) {
			_, _ = io.Copy(io.Discard, r)
			c.Conn().Close()
		}},
		{"drop mid-DATA", func(c *smtp.Conn, r io.Reader) {
			_, _ = io.CopyN(io.Discard, r, 50)
			c.Conn().Close()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLedger(t, n)
			// Every even-numbered person's message is dropped; the others
			// are accepted.
			dropped := map[string]bool{}
			for i := 0; i < n; i += 2 {
				dropped[address(userID(i))] = true
			}
			var faulty atomic.Bool
			faulty.Store(true)
			fs := startFault(t, &faultServer{
				data: func(to string, _ int, c *smtp.Conn, r io.Reader) error {
					if faulty.Load() && dropped[to] {
						tc.drop(c, r)
						return errors.New("dropped")
					}
					return nil
				},
			})
			opts := baseOpts(l, fs.url())
			opts.MaxAttempts = maxAttempts
			// A backoff far shorter than a send: only the rule "never twice
			// in one send" keeps a notice from being sent again in it.
			opts.Backoff = time.Millisecond
			opts.Timeout = 2 * time.Second

			// send runs one bounded Send and returns, per person, how many
			// times their message went out during it.
			send := func(label string, o Options) (*Result, map[string]int) {
				t.Helper()
				before := map[string]int{}
				for i := 0; i < n; i++ {
					before[userID(i)] = fs.dataTriesOf(address(userID(i)))
				}
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				res, err := Send(ctx, o)
				if ctx.Err() != nil {
					t.Fatalf("%s: Send still running after 20s (result %+v, error %v): it keeps resending; server saw %d transmissions for %s",
						label, res, err, fs.dataTriesOf(address(userID(0))), userID(0))
				}
				if err != nil {
					t.Fatalf("%s: Send: %v", label, err)
				}
				delta := map[string]int{}
				for i := 0; i < n; i++ {
					delta[userID(i)] = fs.dataTriesOf(address(userID(i))) - before[userID(i)]
				}
				return res, delta
			}

			for s := 1; s <= maxAttempts+1; s++ {
				label := fmt.Sprintf("send %d", s)
				res, delta := send(label, opts)
				for i := 0; i < n; i++ {
					u := userID(i)
					want := 0
					switch {
					case s == 1:
						want = 1 // everyone once
					case dropped[address(u)] && s <= maxAttempts:
						want = 1 // the uncertain ones once more per send, up to max attempts
					}
					if delta[u] != want {
						t.Errorf("%s: %s's message went out %d times, want %d", label, u, delta[u], want)
					}
				}
				wantSent := 0
				if s == 1 {
					wantSent = n / 2
				}
				if res.Sent != wantSent {
					t.Errorf("%s: result %+v: sent %d, want %d", label, res, res.Sent, wantSent)
				}
				switch {
				case s < maxAttempts:
					if res.UncertainNew != n/2 || res.UncertainHeld != n/2 || res.Failed != 0 {
						t.Errorf("%s: result %+v: want %d new uncertain, %d left uncertain, none failed", label, res, n/2, n/2)
					}
				case s == maxAttempts:
					if res.Failed != n/2 || res.FailedUncertain != n/2 || res.UncertainHeld != 0 {
						t.Errorf("%s: result %+v: want %d failed with delivery unknown, none left uncertain", label, res, n/2)
					}
				default:
					if res.Total != 0 {
						t.Errorf("%s: result %+v: want nothing to do", label, res)
					}
				}
				for i := 0; i < n; i++ {
					u := userID(i)
					nt := l.notice(t, u)
					if !dropped[address(u)] {
						if nt.State != store.NoticeSent || nt.Attempts != 1 || nt.UncertainCount != 0 {
							t.Errorf("%s: %s: state %s, attempts %d, uncertain %d; want sent once, never uncertain", label, u, nt.State, nt.Attempts, nt.UncertainCount)
						}
						continue
					}
					k := min(s, maxAttempts)
					wantState := store.NoticeUncertain
					if s >= maxAttempts {
						wantState = store.NoticeFailed
					}
					if nt.State != wantState || nt.Attempts != k || nt.UncertainCount != k {
						t.Errorf("%s: %s: state %s, attempts %d, uncertain %d (%s); want %s, %d, %d",
							label, u, nt.State, nt.Attempts, nt.UncertainCount, nt.LastError.String, wantState, k, k)
					}
					// Its backoff, doubled per attempt, counts from the try
					// (the claim's time, sending_at, is before it).
					if wantNext := nt.SendingAt.Time.Add(backoff(opts.Backoff, k) - time.Microsecond); s < maxAttempts &&
						(!nt.NextAttemptAt.Valid || nt.NextAttemptAt.Time.Before(wantNext)) {
						t.Errorf("%s: %s: next attempt at %v, tried at %v; want a backoff of %v after the uncertain try",
							label, u, nt.NextAttemptAt, nt.SendingAt.Time, backoff(opts.Backoff, k))
					}
				}
			}

			// notify status tells these apart from plain failures, by user id.
			var wantIDs []string
			for i := 0; i < n; i += 2 {
				wantIDs = append(wantIDs, userID(i))
			}
			st, err := Status(context.Background(), l.st, l.caseID, l.run)
			if err != nil {
				t.Fatal(err)
			}
			if c := st.Counts; c.Failed != n/2 || c.FailedUncertain != n/2 || c.Uncertain != 0 || c.Sent != n/2 {
				t.Errorf("status counts %+v: want %d sent, %d failed all with delivery unknown", c, n/2, n/2)
			}
			if strings.Join(st.FailedUncertain, " ") != strings.Join(wantIDs, " ") {
				t.Errorf("status failed_uncertain = %v, want %v", st.FailedUncertain, wantIDs)
			}
			if len(st.Failures) != 1 || st.Failures[0].Count != n/2 || !strings.Contains(st.Failures[0].Reason, "may or may not have been delivered") {
				t.Errorf("status failures = %+v, want one reason for all %d, saying delivery is unknown", st.Failures, n/2)
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
			if !strings.Contains(text.String(), "failed, delivery unknown") || !strings.Contains(text.String(), strings.Join(wantIDs, " ")) {
				t.Errorf("status text does not list the failed notices whose delivery is unknown by user id:\n%s", text.String())
			}
			var decoded struct {
				Counts          map[string]int `json:"counts"`
				FailedUncertain []string       `json:"failed_uncertain"`
			}
			if err := json.Unmarshal(js.Bytes(), &decoded); err != nil || decoded.Counts["failed_uncertain"] != n/2 || len(decoded.FailedUncertain) != n/2 {
				t.Errorf("status JSON (%v):\n%s\nwant counts.failed_uncertain = %d and %d ids in failed_uncertain", err, js.String(), n/2, n/2)
			}

			// --retry-failed puts them back; the server now accepts them:
			// each is sent once more, under its own Message-ID, and stays
			// marked as possibly received twice.
			faulty.Store(false)
			retry := opts
			retry.RetryFailed = true
			res, delta := send("retry", retry)
			if res.FailedRetried != n/2 || res.Sent != n/2 || res.UncertainResent != n/2 || res.Failed != 0 {
				t.Errorf("retry: result %+v: want %d put back and resent with their Message-ID", res, n/2)
			}
			for i := 0; i < n; i++ {
				u := userID(i)
				want := 0
				if dropped[address(u)] {
					want = 1
				}
				if delta[u] != want {
					t.Errorf("retry: %s's message went out %d times, want %d", u, delta[u], want)
				}
				if got := fs.got(address(u)); len(got) != 1 || got[0] != messageID(l.caseID, u) {
					t.Errorf("retry: %s received %v, want once its own Message-ID", u, got)
				}
			}
			if st, err := Status(context.Background(), l.st, l.caseID, l.run); err != nil ||
				st.Counts.Sent != n || st.Counts.FailedUncertain != 0 || strings.Join(st.SentInDoubt, " ") != strings.Join(wantIDs, " ") {
				t.Errorf("status after retry: %+v, %v: want all sent, the retried ones in doubt", st, err)
			}
		})
	}
}

// TestSendUncertainWaitsItsBackoff: the notice made uncertain waits its
// backoff like a 4xx, so a later send does not resend it at once.
func TestSendUncertainWaitsItsBackoff(t *testing.T) {
	l := newLedger(t, 3)
	fs := startFault(t, &faultServer{
		data: func(_ string, _ int, c *smtp.Conn, r io.Reader) error {
			_, _ = io.Copy(io.Discard, r)
			c.Conn().Close()
			return errors.New("dropped")
		},
	})
	opts := baseOpts(l, fs.url())
	opts.MaxAttempts, opts.Backoff = 5, time.Hour
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := Send(ctx, opts)
	if ctx.Err() != nil || err != nil {
		t.Fatalf("Send = %+v, %v; want it to end with the 3 notices uncertain", res, err)
	}
	if res.UncertainNew != 3 || res.UncertainHeld != 3 || fs.dataTriesOf(address(userID(0))) != 1 {
		t.Errorf("result %+v, %d transmissions to u0; want 3 uncertain, each sent once", res, fs.dataTriesOf(address(userID(0))))
	}
	for i := 0; i < 3; i++ {
		nt := l.notice(t, userID(i))
		if !nt.NextAttemptAt.Valid || nt.NextAttemptAt.Time.Before(nt.SendingAt.Time.Add(time.Hour-time.Microsecond)) {
			t.Errorf("%s: next attempt at %v, tried at %v; want an hour later", userID(i), nt.NextAttemptAt, nt.SendingAt.Time)
		}
	}
	if wait, ok, err := l.st.NextDue(context.Background(), l.caseID, l.run, true, nil, nil); err != nil || !ok || wait < 50*time.Minute {
		t.Errorf("NextDue = %v, %v, %v; want about an hour", wait, ok, err)
	}
}

// TestSendUncertainWithoutMessageEnds: an uncertain notice whose message
// can no longer be made keeps its state (it may have been delivered) and
// the send ends, rather than asking the source for it again and again.
func TestSendUncertainWithoutMessageEnds(t *testing.T) {
	l := newLedger(t, 3)
	// A sender died with u1 in sending.
	if _, err := l.st.ClaimNotice(context.Background(), l.caseID, l.run, store.NoticeClaim{UserID: userID(1), State: store.NoticePending}); err != nil {
		t.Fatal(err)
	}
	fs := startFault(t, &faultServer{})
	opts := baseOpts(l, fs.url())
	var asked atomic.Int64
	src := fakeSource(l.caseID, map[string]bool{userID(1): true})
	opts.Source = func(ctx context.Context, ids []string) (map[string]*Message, map[string]string, error) {
		for _, id := range ids {
			if id == userID(1) {
				asked.Add(1)
			}
		}
		return src(ctx, ids)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := Send(ctx, opts)
	if ctx.Err() != nil || err != nil {
		t.Fatalf("Send = %+v, %v after asking the source %d times for u1; want it to end", res, err, asked.Load())
	}
	if n := asked.Load(); n != 1 {
		t.Errorf("the source was asked %d times for u1, want 1", n)
	}
	if nt := l.notice(t, userID(1)); nt.State != store.NoticeUncertain || fs.total() != 2 || res.Sent != 2 {
		t.Errorf("u1: state %s; server got %d, result %+v; want u1 uncertain, the 2 others sent", nt.State, fs.total(), res)
	}
}
