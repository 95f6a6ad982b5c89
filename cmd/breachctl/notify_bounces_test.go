package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"
)

// dsn is a Postfix-style DSN about the message msgID to addr.
func dsn(msgID, addr, action, status string) string {
	return fmt.Sprintf(`From: MAILER-DAEMON@mail.example.jp (Mail Delivery System)
To: notices@example.jp
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b1"

--b1
Content-Type: text/plain

Your message to <%[2]s> could not be delivered.

--b1
Content-Type: message/delivery-status

Reporting-MTA: dns; mail.example.jp

Final-Recipient: rfc822; %[2]s
Action: %[3]s
Status: %[4]s
Diagnostic-Code: smtp; 550 %[4]s <%[2]s>: Recipient address rejected

--b1
Content-Type: text/rfc822-headers

To: <%[2]s>
Message-ID: %[1]s

--b1--
`, msgID, addr, action, status)
}

// TestNotifyBounces seeds a simulated case's ledger (a send to a dead
// server), reads an mbox of DSNs about three of its notices, one unknown
// Message-ID and an auto-reply twice: the second read records nothing new;
// notify status lists the permanently bounced user ids and no address.
func TestNotifyBounces(t *testing.T) {
	caseFile, env, _ := simulateCase(t, "nginx")
	if r := runCLI(t, env, "ingest", "-f", caseFile); r.code != 0 {
		t.Fatalf("ingest: exit %d: %s", r.code, r.err)
	}
	if r := runCLI(t, env, "notify", "send", "-f", caseFile, "--smtp", "smtp://127.0.0.1:1", "--timeout", "2s"); r.code != 1 {
		t.Fatalf("send to a dead server: exit %d: %s", r.code, r.err)
	}
	db, err := sqlx.Open("postgres", env["BREACHCTL_DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var notices []struct {
		UserID    string `db:"user_id"`
		MessageID string `db:"message_id"`
	}
	if err := db.Select(&notices, `SELECT user_id, message_id FROM breachctl.notices WHERE channel = 'email' ORDER BY user_id LIMIT 3`); err != nil || len(notices) < 3 {
		t.Fatalf("ledger: %d notices, %v; want at least 3", len(notices), err)
	}
	msgs := []string{
		dsn(notices[0].MessageID, "first.person@example.net", "failed", "5.1.1"),
		dsn(notices[1].MessageID, "second.person@example.net", "delayed", "4.4.1"),
		"From: someone@example.net\nSubject: Out of office\nContent-Type: text/plain\n\nAway.\n",
		dsn("<unknown.1@elsewhere.example>", "x@example.net", "failed", "5.1.1"),
		dsn(notices[2].MessageID, "third.person@example.net", "failed", "5.7.1"),
	}
	var mb strings.Builder
	for _, m := range msgs {
		mb.WriteString("From MAILER-DAEMON Fri Jun 23 10:00:05 2017\n" + m + "\n")
	}
	path := filepath.Join(t.TempDir(), "bounces.mbox")
	if err := os.WriteFile(path, []byte(mb.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	for i, recorded := range []string{"3 newly recorded, 0 recorded before", "0 newly recorded, 3 recorded before"} {
		r := runCLI(t, env, "notify", "bounces", "-f", caseFile, "--mbox", path)
		if r.code != 0 {
			t.Fatalf("bounces #%d: exit %d: %s", i+1, r.code, r.err)
		}
		for _, want := range []string{"read 5 messages from 1 file\n", "DSNs                    4", "not DSNs                1",
			"failed recipients       4", "matched                 3  (2 permanent, 1 temporary; " + recorded + ")",
			"unmatched               1", path + " message 4"} {
			if !strings.Contains(r.out, want) {
				t.Errorf("bounces #%d: output lacks %q:\n%s", i+1, want, r.out)
			}
		}
		if i == 0 {
			t.Logf("notify bounces:\n%s", r.out)
		}
	}
	var n int
	if err := db.Get(&n, `SELECT count(*) FROM breachctl.notice_bounces WHERE diagnostic LIKE '%@%'`); err != nil || n != 0 {
		t.Errorf("%d bounces store an address in their diagnostic (%v)", n, err)
	}
	perm := []string{notices[0].UserID, notices[2].UserID}
	sort.Strings(perm)
	r := runCLI(t, env, "notify", "status", "-f", caseFile)
	if r.code != 0 {
		t.Fatalf("status: exit %d: %s", r.code, r.err)
	}
	if !strings.Contains(r.out, "2 people with a permanent bounce, 1 with temporary ones only") ||
		!strings.Contains(r.out, strings.Join(perm, " ")) {
		t.Errorf("status lacks the bounces (%v permanent):\n%s", perm, r.out)
	}
	r2 := runCLI(t, env, "notify", "status", "-f", caseFile, "--format", "json")
	if r2.code != 0 {
		t.Fatalf("status json: exit %d: %s", r2.code, r2.err)
	}
	var st struct {
		Bounces struct {
			Permanent      int      `json:"permanent"`
			Temporary      int      `json:"temporary"`
			PermanentUsers []string `json:"permanent_users"`
		} `json:"bounces"`
	}
	if err := json.Unmarshal([]byte(r2.out), &st); err != nil {
		t.Fatal(err)
	}
	if st.Bounces.Permanent != 2 || st.Bounces.Temporary != 1 || strings.Join(st.Bounces.PermanentUsers, " ") != strings.Join(perm, " ") {
		t.Errorf("status json bounces = %+v; want 2 permanent %v, 1 temporary", st.Bounces, perm)
	}
	addr := regexp.MustCompile(`[^\s<>@]+@[^\s<>@]+\.[a-z]+`)
	for _, out := range []string{r.out, r2.out} {
		if a := addr.FindString(out); a != "" {
			t.Errorf("status shows an e-mail address %q", a)
		}
	}
}

func TestNotifyBouncesBadInput(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "x.eml")
	if err := os.WriteFile(bad, []byte("Content-Type: multipart/report; report-type=delivery-status; boundary=b\n\n--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; x\n\nFinal-Recipient: rfc822; a@b.c\nAction: gone\nStatus: 5.1.1\n\n--b--\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"neither", []string{"notify", "bounces", "-f", "x.yaml"}, 2, "needs --mbox FILE or --dir DIR"},
		{"both", []string{"notify", "bounces", "-f", "x.yaml", "--mbox", "a", "--dir", "b"}, 2, "needs --mbox FILE or --dir DIR"},
		{"empty dir", []string{"notify", "bounces", "-f", "x.yaml", "--dir", t.TempDir()}, 1, "no .eml files in"},
		{"malformed", []string{"notify", "bounces", "-f", "x.yaml", "--dir", dir}, 1, bad + ` message 1: not a readable delivery status notification: message/delivery-status part: recipient group 1: Action "gone"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, nil, tc.args...)
			if r.code != tc.wantCode || !strings.Contains(r.err, tc.wantErr) || strings.Count(strings.TrimSpace(r.err), "\n") != 0 {
				t.Errorf("exit %d, stderr %q; want exit %d and one line containing %q", r.code, r.err, tc.wantCode, tc.wantErr)
			}
		})
	}
}
