package bounce

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		file    string
		want    *DSN
		notDSN  bool
		wantErr string
	}{
		{file: "postfix_511.eml", want: &DSN{MessageID: "<breachctl.c1.aaaa1111@example.jp>", Recipients: []Recipient{
			{Action: "failed", Status: "5.1.1", Diagnostic: "smtp; 550 5.1.1 <address>: Recipient address rejected: User unknown in virtual mailbox table"},
		}}},
		{file: "exim_rfc822.eml", want: &DSN{MessageID: "<breachctl.c1.bbbb2222@example.jp>", Recipients: []Recipient{
			{Action: "failed", Status: "5.2.2", Diagnostic: "X-Exim; mailbox is full (MTA-imposed quota exceeded while writing to file /var/mail/john.smith): retry timeout exceeded"},
		}}},
		{file: "delayed_4xx.eml", want: &DSN{MessageID: "<breachctl.c1.cccc3333@example.jp>", Recipients: []Recipient{
			{Action: "delayed", Status: "4.4.1", Diagnostic: "X-Postfix; connect to mx.example.co.jp[192.0.2.25]:25: Connection timed out"},
		}}},
		{file: "multi_recipient.eml", want: &DSN{MessageID: "<breachctl.c1.dddd4444@example.jp>", Recipients: []Recipient{
			{Action: "delivered", Status: "2.0.0"},
			{Action: "failed", Status: "5.1.10", Diagnostic: "smtp;550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient <address> not found by SMTP address lookup"},
			{Action: "failed", Status: "4.2.0", Diagnostic: "smtp;452 4.2.0 mailbox temporarily disabled"},
		}}},
		{file: "autoreply.eml", notDSN: true},
		{file: "malformed.eml", wantErr: `Action "bounced"`},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			got, err := Parse(raw)
			switch {
			case tc.notDSN:
				if !errors.Is(err, ErrNotDSN) {
					t.Fatalf("Parse = %+v, %v; want ErrNotDSN", got, err)
				}
			case tc.wantErr != "":
				if err == nil || errors.Is(err, ErrNotDSN) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Parse error = %v; want one containing %q", err, tc.wantErr)
				}
			default:
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if !reflect.DeepEqual(got, tc.want) {
					t.Errorf("Parse =\n%+v\nwant\n%+v", got, tc.want)
				}
			}
		})
	}
}

func TestRecipientClass(t *testing.T) {
	tests := []struct {
		r               Recipient
		failed, permant bool
	}{
		{Recipient{Action: "failed", Status: "5.1.1"}, true, true},
		{Recipient{Action: "failed", Status: "4.4.7"}, true, false},
		{Recipient{Action: "delayed", Status: "4.4.1"}, true, false},
		{Recipient{Action: "delivered", Status: "2.0.0"}, false, false},
	}
	for _, tc := range tests {
		if tc.r.Failed() != tc.failed || tc.r.Permanent() != tc.permant {
			t.Errorf("%+v: Failed %v Permanent %v; want %v %v", tc.r, tc.r.Failed(), tc.r.Permanent(), tc.failed, tc.permant)
		}
	}
}

func TestClean(t *testing.T) {
	tests := []struct{ in, want string }{
		{"smtp; 550 <a.b@example.com>: no such user", "smtp; 550 <address>: no such user"},
		{"550 mailto:x@y.z unknown", "550 <address> unknown"},
		{"bad\x1b[31m red\r\nInjected: line\x00", "bad[31m red Injected: line"},
		{"split\x00ad\x07dr@example.com here", "<address> here"},
		{"  many   spaces\t", "many spaces"},
		{strings.Repeat("é", 400), strings.Repeat("é", 150)},
	}
	for _, tc := range tests {
		if got := Clean(tc.in); got != tc.want {
			t.Errorf("Clean(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// mbox joins messages as an mboxrd file: From_ lines, body From lines quoted.
func mbox(msgs ...[]byte) []byte {
	var b bytes.Buffer
	for _, m := range msgs {
		b.WriteString("From MAILER-DAEMON Fri Jun 23 10:00:05 2017\n")
		for _, l := range strings.SplitAfter(string(m), "\n") {
			if strings.HasPrefix(strings.TrimLeft(l, ">"), "From ") {
				b.WriteString(">")
			}
			b.WriteString(l)
		}
		if !bytes.HasSuffix(m, []byte("\n")) {
			b.WriteString("\n")
		}
		b.WriteString("\n")
	}
	return b.Bytes()
}

func TestReadSourceMbox(t *testing.T) {
	var msgs [][]byte
	for _, f := range []string{"postfix_511.eml", "autoreply.eml", "exim_rfc822.eml", "multi_recipient.eml"} {
		raw, err := os.ReadFile(filepath.Join("testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, raw)
	}
	// A body line starting "From " (quoted in the mbox) stays in its message.
	msgs[1] = append(msgs[1], []byte("\nFrom me, with regards\n")...)
	path := filepath.Join(t.TempDir(), "bounces.mbox")
	if err := os.WriteFile(path, mbox(msgs...), 0o600); err != nil {
		t.Fatal(err)
	}
	src, err := ReadSource(context.Background(), path, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(src.Messages) != 4 || len(src.SHA256) != 64 {
		t.Fatalf("%d messages, sha256 %q; want 4 and a hash", len(src.Messages), src.SHA256)
	}
	for i, m := range src.Messages {
		if m.Position != i+1 || m.NotDSN != (i == 1) || (m.DSN == nil) != (i == 1) {
			t.Errorf("message %d = %+v", i+1, m)
		}
	}
	// The same messages as a directory: the malformed one is an error
	// naming the file and the message.
	_, err = ReadSource(context.Background(), filepath.Join("testdata", "malformed.eml"), false)
	var me *MessageError
	if !errors.As(err, &me) || me.Position != 1 || !strings.Contains(err.Error(), "malformed.eml message 1") {
		t.Errorf("malformed.eml: %v; want a MessageError naming the file and message 1", err)
	}
	bad := filepath.Join(t.TempDir(), "not.mbox")
	if err := os.WriteFile(bad, []byte("Subject: hi\n\nbody\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadSource(context.Background(), bad, true); err == nil || !strings.Contains(err.Error(), "not.mbox: line 1: not an mbox") {
		t.Errorf("not an mbox: %v", err)
	}
}
