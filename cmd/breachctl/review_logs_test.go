package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"
	"github.com/klauspost/compress/gzip"

	"github.com/breachctl/breachctl/internal/pgtest"
)

// hostileBytesCase writes valid.yaml with one logs[] entry (format and the
// given extra keys), the log file logs/<name>, and a user database where
// sessions a, b and c are users 1, 2 and 3, all with a bank account on file.
func hostileBytesCase(t *testing.T, format, extra, name string, log []byte) (path string, env map[string]string, caseDB *sqlx.DB) {
	t.Helper()
	usersURL, udb := pgtest.NewDB(t)
	udb.MustExec(`CREATE TABLE users (id bigint PRIMARY KEY, email text, name text, locale text, country text, region text,
		has_postal_address bool, has_phone bool, has_bank_account bool, has_payment_card bool);
		CREATE TABLE sessions (session_id text PRIMARY KEY, user_id bigint);
		INSERT INTO users VALUES
			(1, 'one@example.jp', 'One', 'ja', 'JP', 'JP-13', true, true, true, true),
			(2, 'two@example.jp', 'Two', 'ja', 'JP', 'JP-13', true, true, true, true),
			(3, 'three@example.jp', 'Three', 'ja', 'JP', 'JP-13', true, true, true, true);
		INSERT INTO sessions VALUES ('a', 1), ('b', 2), ('c', 3)`)
	_, usersURL = pgtest.NewReader(t, udb, usersURL, "users", "sessions") // a superuser is refused
	caseURL, cdb := pgtest.NewDB(t)
	dir := t.TempDir()
	src, err := os.ReadFile("../../incident/testdata/valid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(src), "  - paths: [\"logs/*.log\"]\n    format: nginx\n    identity: cookie:sid\n",
		"  - paths: [\"logs/*\"]\n    format: "+format+"\n    identity: cookie:sid\n"+extra, 1)
	s = strings.Replace(s, `{match: "/mypage/bank*", categories: [bank_account]}`, `{match: "/mypage/bank*", categories: [bank_account]}
    - {match: "/mypage/search*", categories: [purchase_history]}`, 1)
	path = filepath.Join(dir, "incident.yaml")
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "logs", name), log, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, map[string]string{"USERS_DATABASE_URL": usersURL, "BREACHCTL_DATABASE_URL": caseURL}, cdb
}

// storedEvent is what the case database holds of one exposure event.
type storedEvent struct {
	Pop      string  `db:"pop"`
	CacheKey string  `db:"cache_key"`
	Path     string  `db:"path"`
	Victim   *string `db:"victim_user_id"`
	Viewer   string  `db:"viewer"`
	Kind     string  `db:"kind"`
}

// TestIngestHostileBytes performs the attack of issue 21 item 2: a private
// request whose path or query holds bytes that are not UTF-8 (a Shift_JIS
// search term, a raw 0x93, a NUL) used to fail every ingest at the store
// step, naming no file or line, or to truncate the stored path at the NUL.
// Now the ingest succeeds, the exposure is found on the raw cache key, and
// every stored and printed text is valid UTF-8 with the odd bytes as %XX.
func TestIngestHostileBytes(t *testing.T) {
	const cfHeader = "#Version: 1.0\n#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher x-edge-response-result-type cs-protocol-version fle-status fle-encrypted-fields c-port time-to-first-byte x-edge-detailed-result-type sc-content-type sc-content-len sc-range-start sc-range-end\n"
	cf := func(tm, ip, path, query, sid, result string) string {
		return strings.Join([]string{"2017-06-22", tm, "NRT57-C1", "512", ip, "GET", "d111.cloudfront.net", path, "200", "-", "Mozilla/5.0",
			query, "sid=" + sid, result, "id", "www.example.jp", "https", "100", "0.001", "-", "TLSv1.2", "ECDHE", result, "HTTP/1.1",
			"-", "-", "443", "0.001", result, "text/html", "512", "-", "-"}, "\t") + "\n"
	}
	ng := func(tm, path, sid, status string) string {
		return `203.0.113.9 - - [22/Jun/2017:` + tm + ` +0900] "GET ` + path + ` HTTP/1.1" 200 512 "-" "Mozilla/5.0" "sid=` + sid + `" ` + status + "\n"
	}
	tests := []struct {
		name, format, extra string
		log                 string
		// want: stored (path, victim, viewer) of each exposure event, in order.
		want [][3]string
		// wantKey: a text the stored cache keys must contain.
		wantKey string
	}{
		{
			name: "cloudfront Shift_JIS query", format: "cloudfront", extra: "",
			log: cfHeader +
				cf("01:00:00", "203.0.113.1", "/mypage/search", "q=%93%8C%8B%9E", "a", "Miss") +
				cf("01:00:05", "203.0.113.2", "/mypage/search", "q=%93%8C%8B%9E", "b", "Hit"),
			want:    [][3]string{{"/mypage/search", "1", "user:2"}},
			wantKey: "/mypage/search?q=%93%8C%8B%9E",
		},
		{
			// A raw 0x93 and a literal "%93" are different cache objects:
			// user 3's page under the literal name is not what user 2 saw.
			name: "nginx raw 0x93 and NUL", format: "nginx",
			extra: "    log_format: '" + combinedWithCookie + ` $upstream_cache_status` + "'\n",
			log: ng("10:00:00", "/mypage/bank\x93", "a", "MISS") +
				ng("10:00:01", "/mypage/bank%93", "c", "MISS") +
				ng("10:00:05", "/mypage/bank\x93", "b", "HIT") +
				ng("10:01:00", "/mypage/bank\x00x?q=1", "c", "MISS") +
				ng("10:01:05", "/mypage/bank\x00x?q=1", "a", "HIT"),
			want:    [][3]string{{"/mypage/bank%93", "1", "user:2"}, {"/mypage/bank%00x", "3", "user:1"}},
			wantKey: "/mypage/bank%00x?q=1",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path, env, cdb := hostileBytesCase(t, tc.format, tc.extra, "access.log", []byte(tc.log))
			r := runCLI(t, env, "ingest", "-f", path)
			if r.code != 0 {
				t.Fatalf("ingest: exit %d, want 0\nout:\n%s\nerr:\n%s", r.code, r.out, r.err)
			}
			var evs []storedEvent
			if err := cdb.Select(&evs, `SELECT pop, cache_key, path, victim_user_id, viewer, kind FROM breachctl.exposure_events ORDER BY at, event_no`); err != nil {
				t.Fatal(err)
			}
			var got [][3]string
			var keys []string
			for _, e := range evs {
				v := ""
				if e.Victim != nil {
					v = *e.Victim
				}
				got = append(got, [3]string{e.Path, v, e.Viewer})
				keys = append(keys, e.CacheKey)
				for _, s := range []string{e.Pop, e.CacheKey, e.Path, e.Viewer} {
					if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
						t.Errorf("stored text %q is not valid UTF-8 without NUL", s)
					}
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("stored events (path, victim, viewer):\n got %q\nwant %q", got, tc.want)
			}
			if !slices.ContainsFunc(keys, func(k string) bool { return strings.Contains(k, tc.wantKey) }) {
				t.Errorf("stored cache keys %q, want one containing %q", keys, tc.wantKey)
			}
			for _, args := range [][]string{
				{"triage", "-f", path, "--format", "json"},
				{"triage", "-f", path},
				{"affected", "-f", path, "--format", "jsonl"},
				{"disclose", "-f", path, "1"},
			} {
				r := runCLI(t, env, args...)
				if r.code != 0 {
					t.Errorf("%s: exit %d: %s", args[0], r.code, r.err)
				}
				if !utf8.ValidString(r.out) || strings.ContainsRune(r.out, 0) {
					t.Errorf("%s output is not valid UTF-8 without NUL:\n%q", args[0], r.out)
				}
			}
		})
	}
}

// TestIngestFileNameNotUTF8: a log file whose name is not UTF-8 (a Latin-1
// name from an old server) is evidence like any other; its recorded path is
// the name as logs.Text, not a failed ingest.
func TestIngestFileNameNotUTF8(t *testing.T) {
	line := `203.0.113.9 - - [22/Jun/2017:10:00:00 +0900] "GET /mypage/profile HTTP/1.1" 200 512 "-" "Mozilla/5.0" "sid=a"` + "\n"
	path, env, _ := hostileBytesCase(t, "nginx", "    log_format: '"+combinedWithCookie+"'\n    accept_missing: [cache]\n", "acc\xe8s.log", []byte(line))
	if r := runCLI(t, env, "ingest", "-f", path); r.code != 0 {
		t.Fatalf("ingest: exit %d, want 0\n%s", r.code, r.err)
	}
	tj := triageOf(t, env, path)
	if len(tj.Evidence) != 1 || tj.Evidence[0].Path != "logs/acc%E8s.log" || tj.Evidence[0].Lines != 1 {
		t.Errorf("evidence %+v, want logs/acc%%E8s.log with 1 line", tj.Evidence)
	}
}

// TestIngestGzipTrailingData (issue 21 item 6): plain lines appended to a
// .gz file used to vanish with igzip (exit 0) while the built-in reader
// flagged the file. Both now fail the ingest naming the file and why.
func TestIngestGzipTrailingData(t *testing.T) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	for i := 0; i < 50; i++ {
		fmt.Fprintf(zw, "203.0.113.9 - - [22/Jun/2017:10:00:%02d +0900] \"GET /mypage/profile HTTP/1.1\" 200 512 \"-\" \"Mozilla/5.0\" \"sid=a\"\n", i)
	}
	zw.Close()
	buf.WriteString("203.0.113.9 - - [22/Jun/2017:10:01:00 +0900] \"GET /mypage/profile HTTP/1.1\" 200 512 \"-\" \"Mozilla/5.0\" \"sid=b\"\n")
	gunzips := []string{"builtin"}
	if p, err := exec.LookPath("igzip"); err == nil {
		gunzips = append(gunzips, p)
	} else {
		t.Logf("igzip is not installed (Debian package isal): only the built-in reader is tested")
	}
	for _, gz := range gunzips {
		t.Run(filepath.Base(gz), func(t *testing.T) {
			path, env, _ := hostileBytesCase(t, "nginx", "    log_format: '"+combinedWithCookie+"'\n    accept_missing: [cache]\n", "a.log.gz", buf.Bytes())
			env["BREACHCTL_GUNZIP"] = gz
			r := runCLI(t, env, "ingest", "-f", path)
			want := "TRUNCATED logs/a.log.gz: data after the end of the gzip stream that is not gzip"
			if r.code != 1 || !strings.Contains(r.out+r.err, want) {
				t.Errorf("ingest: exit %d, want 1 and %q\nout:\n%s\nerr:\n%s", r.code, want, r.out, r.err)
			}
		})
	}
}
