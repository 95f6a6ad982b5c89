package main

import (
	"bufio"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/breachctl/breachctl/internal/pgtest"
)

// Issue 21, finding 3: values from log lines, file names, user records and
// SMTP replies reach the terminal through the text outputs. Each test here
// plants them and checks that every text output shows them escaped: no raw
// control byte, no bidi override, no invalid UTF-8, no line forged.

const (
	hostileFile   = "b\n  FAKE LINE: 0 rejected\x1b[2J.log" // a log file name
	hostilePath   = "/mypage/bank\x1b[2J\x1b]0;pwned\x07\rFAKE\u202e"
	hostileRegion = "JP-13\x1b[2J\rFAKE LINE\u202e"
)

// assertInert fails when out holds a control byte other than a newline, a
// bidi control, invalid UTF-8, or a line that starts as a planted value does.
func assertInert(t *testing.T, what, out string) {
	t.Helper()
	if !utf8.ValidString(out) {
		t.Errorf("%s: output is not valid UTF-8: %q", what, out)
	}
	for _, r := range out {
		if (r < 0x20 && r != '\n') || r == 0x7f || (r >= 0x80 && r <= 0x9f) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) {
			t.Errorf("%s: output holds %U raw: %q", what, r, out)
			break
		}
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "FAKE") {
			t.Errorf("%s: a planted value forged the line %q", what, line)
		}
	}
}

// hostileCase writes a case whose logs, file names and user records carry
// terminal escapes: user 1's bank page (a path with ESC, OSC, CR and a bidi
// override) is filled by user 1 and served from the cache to user 2; user 1
// lives in a region with escapes in it; a second log file, whose name holds
// a newline and ESC, has one line that is rejected.
func hostileCase(t *testing.T, edit func(string) string) (caseFile string, env map[string]string) {
	t.Helper()
	usersURL, udb := pgtest.NewDB(t)
	udb.MustExec(`CREATE TABLE users (id bigint PRIMARY KEY, email text, name text, locale text, country text, region text,
		has_postal_address bool, has_phone bool, has_bank_account bool, has_payment_card bool);
		CREATE TABLE sessions (session_id text PRIMARY KEY, user_id bigint)`)
	udb.MustExec(`INSERT INTO users VALUES
		(1, 'taro@example.jp', 'Taro', 'ja', 'JP', $1, true, true, true, true),
		(2, 'hanako@example.jp', 'Hanako', 'ja', 'JP', 'JP-27', true, true, true, true)`, hostileRegion)
	udb.MustExec(`INSERT INTO sessions VALUES ('abc', 1), ('def', 2)`)
	_, usersURL = pgtest.NewReader(t, udb, usersURL, "users", "sessions") // a superuser is refused
	caseURL, _ := pgtest.NewDB(t)
	dir := t.TempDir()
	src, err := os.ReadFile("../../incident/testdata/valid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	const format = `$remote_addr $hostname $host [$time_local] "$request" $status "$upstream_cache_status" "$http_cookie"`
	s := strings.Replace(string(src), "    identity: cookie:sid\n", "    identity: cookie:sid\n    log_format: '"+format+"'\n", 1)
	if edit != nil {
		s = edit(s)
	}
	caseFile = filepath.Join(dir, "incident.yaml")
	if err := os.WriteFile(caseFile, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o700); err != nil {
		t.Fatal(err)
	}
	line := func(ip, at, cache, sid string) string {
		return ip + " nrt1\x1b[2J shop.example\x1b[2J [22/Jun/2017:" + at + " +0900] \"GET " + hostilePath + " HTTP/1.1\" 200 \"" + cache + "\" \"sid=" + sid + "\"\n"
	}
	logs := line("203.0.113.9", "09:41:00", "MISS", "abc") + line("198.51.100.7", "09:42:00", "HIT", "def")
	if err := os.WriteFile(filepath.Join(dir, "logs", "a.log"), []byte(logs), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := line("198.51.100.8", "09:43:00", "HIT", "def") + "203.0.113.10 \x1b[2J\x1b]0;pwned\x07\n"
	if err := os.WriteFile(filepath.Join(dir, "logs", hostileFile), []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	return caseFile, map[string]string{"USERS_DATABASE_URL": usersURL, "BREACHCTL_DATABASE_URL": caseURL}
}

func TestTextOutputsEscapeHostileValues(t *testing.T) {
	caseFile, env := hostileCase(t, nil)
	escapedFile := `logs/b\n  FAKE LINE: 0 rejected\x1b[2J.log`

	r := runCLI(t, env, "ingest", "-f", caseFile)
	if r.code != 0 {
		t.Fatalf("ingest: exit %d\n%q\n%q", r.code, r.out, r.err)
	}
	assertInert(t, "ingest stdout", r.out)
	assertInert(t, "ingest stderr", r.err)
	if want := "  " + escapedFile + ": 1 rejected, first at line 2"; !strings.Contains(r.out, want) {
		t.Errorf("ingest summary lacks %q (the file name, escaped):\n%s", want, r.out)
	}

	r = runCLI(t, env, "triage", "-f", caseFile)
	if r.code != 0 {
		t.Fatalf("triage: exit %d\n%q", r.code, r.err)
	}
	assertInert(t, "triage", r.out)
	// The stored evidence name has its control bytes percent-encoded
	// (logs.Text, as every text field that reaches the case database).
	if want := "  logs/b%0A  FAKE LINE: 0 rejected%1B[2J.log: 1 rejected"; !strings.Contains(r.out, want) {
		t.Errorf("triage lacks %q (the file name, escaped):\n%s", want, r.out)
	}
	if !strings.Contains(r.out, "1 confirmed") {
		t.Errorf("triage: the exposure was not found, the test proves less than it should:\n%s", r.out)
	}

	r = runCLI(t, env, "disclose", "-f", caseFile, "1")
	if r.code != 0 {
		t.Fatalf("disclose: exit %d\n%q", r.code, r.err)
	}
	assertInert(t, "disclose", r.out)
	// The stored path has its control bytes percent-encoded (logs.Text); the
	// bidi override, valid UTF-8, is escaped for the terminal.
	if want := `/mypage/bank%1B[2J%1B]0;pwned%07%0DFAKE\u202e`; !strings.Contains(r.out, want) {
		t.Errorf("disclose lacks the page %q, escaped:\n%s", want, r.out)
	}

	r = runCLI(t, env, "disclose", "-f", caseFile, "9\x1b[2J\nFAKE LINE")
	assertInert(t, "disclose of an unknown id", r.out+r.err)

	r = runCLI(t, env, "report", "-f", caseFile, "--kind", "appi-preliminary")
	if r.code != 0 {
		t.Fatalf("report: exit %d\n%q", r.code, r.err)
	}
	assertInert(t, "report md", r.out)

	r = runCLI(t, env, "obligations", "-f", caseFile)
	assertInert(t, "obligations", r.out+r.err)
}

func TestValidateEscapesFileNames(t *testing.T) {
	caseFile, env := hostileCase(t, func(s string) string {
		s = strings.Replace(s, "format: nginx", "format: cloudflare", 1)
		i := strings.Index(s, "    log_format:")
		j := strings.Index(s[i:], "\n")
		return s[:i] + s[i+j+1:]
	})
	r := runCLI(t, env, "validate", "-f", caseFile)
	if r.code != 1 {
		t.Fatalf("validate: exit %d, want 1 (a log not in the declared format)\n%q\n%q", r.code, r.out, r.err)
	}
	assertInert(t, "validate", r.out+r.err)
	if want := `FAIL  logs/b\n  FAKE LINE: 0 rejected\x1b[2J.log: `; !strings.Contains(r.out, want) {
		t.Errorf("validate lacks %q (the file name, escaped):\n%s", want, r.out)
	}
}

func TestErrorLineEscapesValues(t *testing.T) {
	r := runCLI(t, nil, "validate", "-f", "/nonexistent/x\x1b[2J\nFAKE LINE.yaml")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1: %q", r.code, r.err)
	}
	assertInert(t, "error", r.err)
	if strings.Count(r.err, "\n") != 1 {
		t.Errorf("the error is not one line: %q", r.err)
	}
}

// rawSMTP is a scripted SMTP server on 127.0.0.1, written on a raw
// listener so that its replies can carry any bytes. rcpt, when set, is the
// (possibly multi-line) reply to every RCPT; with dropAfterData it takes
// each message whole and closes the connection before answering it,
// counting the messages in taken.
type rawSMTP struct {
	rcpt          []string
	dropAfterData bool
	taken         atomic.Int64
}

func (rs *rawSMTP) start(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go rs.serve(c)
		}
	}()
	return "smtp://" + ln.Addr().String()
}

func (rs *rawSMTP) serve(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	w := bufio.NewWriter(c)
	say := func(s string) { w.WriteString(s + "\r\n"); w.Flush() }
	say("220 mx.test ESMTP")
	sc := bufio.NewScanner(c)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	inData := false
	for sc.Scan() {
		line := sc.Text()
		if inData {
			if line == "." {
				rs.taken.Add(1)
				return // the message is whole; no reply
			}
			continue
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
			say("250 mx.test")
		case strings.HasPrefix(cmd, "RCPT") && rs.rcpt != nil:
			for _, r := range rs.rcpt {
				say(r)
			}
		case cmd == "DATA" && rs.dropAfterData:
			say("354 go ahead")
			inData = true
		case strings.HasPrefix(cmd, "QUIT"):
			say("221 bye")
			return
		default:
			say("250 ok")
		}
	}
}

// smtpRejecting is an SMTP server on 127.0.0.1 that refuses every
// recipient with a reply carrying terminal escapes over two lines.
func smtpRejecting(t *testing.T) string {
	rs := &rawSMTP{rcpt: []string{"550-5.1.1 mailbox unknown\x1b[2J\x1b]0;pwned\x07\rFAKE\u202e", "550 FAKE LINE: 0 failed"}}
	return rs.start(t)
}

func TestNotifyStatusEscapesSMTPReplies(t *testing.T) {
	caseFile, env := hostileCase(t, nil)
	if r := runCLI(t, env, "ingest", "-f", caseFile); r.code != 0 {
		t.Fatalf("ingest: exit %d\n%q", r.code, r.err)
	}
	r := runCLI(t, env, "notify", "send", "-f", caseFile, "--smtp", smtpRejecting(t), "--timeout", "10s", "--workers", "1")
	if r.code != 1 {
		t.Fatalf("notify send: exit %d, want 1 (every recipient refused)\n%q\n%q", r.code, r.out, r.err)
	}
	assertInert(t, "notify send", r.out+r.err)
	r = runCLI(t, env, "notify", "status", "-f", caseFile)
	if r.code != 0 {
		t.Fatalf("notify status: exit %d\n%q", r.code, r.err)
	}
	assertInert(t, "notify status", r.out)
	if !strings.Contains(r.out, `\x1b[2J\x1b]0;pwned\x07`) {
		t.Errorf("notify status does not show the reply, escaped:\n%s", r.out)
	}
}
