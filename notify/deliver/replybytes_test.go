package deliver

import (
	"context"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-smtp"

	"github.com/breachctl/breachctl/incident/store"
)

// TestSendReplyNotUTF8: a server whose replies carry bytes that are not
// UTF-8 (a Shift_JIS error text, or a long reply cut in the middle of a
// character) must not stop the send at the ledger ("pq: invalid byte
// sequence"), leaving the notice in `sending` to be resent as uncertain.
// The reply is recorded, valid UTF-8, still naming the bytes.
func TestSendReplyNotUTF8(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	l := newLedger(t, 4)
	long := strings.Repeat("x", 490) + strings.Repeat("é", 20) // 500 bytes falls inside an é
	fs := startFault(t, &faultServer{
		rcpt: func(to string, _ int, _ *smtp.Conn) error {
			switch to {
			case address(userID(0)):
				return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "\x93\x8c\x8b\x9e unknown \x1b[2J"}
			case address(userID(1)):
				return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: long}
			}
			return nil
		},
	})
	opts := baseOpts(l, fs.url())
	res, err := Send(ctx, opts)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if res.Sent != 2 || res.Failed != 2 {
		t.Errorf("Result = %+v, want 2 sent, 2 failed", res)
	}
	for _, u := range []string{userID(0), userID(1)} {
		nt := l.notice(t, u)
		if nt.State != store.NoticeFailed {
			t.Errorf("%s: state %s, want failed", u, nt.State)
		}
		r := nt.SMTPReply.String
		if !utf8.ValidString(r) || strings.ContainsAny(r, "\x1b\r\n") || len(r) > 500 {
			t.Errorf("%s: stored reply %q is not clean UTF-8 of at most 500 bytes", u, r)
		}
	}
	if r := l.notice(t, userID(0)).SMTPReply.String; !strings.Contains(r, `\x93\x8c\x8b\x9e unknown \x1b[2J`) {
		t.Errorf("reply %q does not name the bytes it had", r)
	}
}
