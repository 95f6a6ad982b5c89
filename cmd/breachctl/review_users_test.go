package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/breachctl/breachctl/internal/pgtest"
)

// Issue 21, items 5, 9 and 10: the user database.

const reviewLogFormat = `$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" "$http_cookie" $upstream_cache_status $host $hostname $msec`

// reviewLine is one request in reviewLogFormat, sec seconds after 10:00:00 JST.
func reviewLine(sec int, sid, path, cache string) string {
	return fmt.Sprintf(`203.0.113.%d - - [22/Jun/2017:10:00:%02d +0900] "GET %s HTTP/1.1" 200 512 "-" "Mozilla/5.0" "sid=%s" %s www.example.jp edge1 %d.000`,
		sec+1, sec, path, sid, cache, 1498093200+sec) + "\n"
}

// writeReviewCase writes valid.yaml with reviewLogFormat, logs lines and,
// when edit is set, its edit of the case file; USERS_DATABASE_URL is usersURL.
func writeReviewCase(t *testing.T, usersURL string, lines []string, edit func(string) string) (path string, env map[string]string) {
	t.Helper()
	caseURL, _ := pgtest.NewDB(t)
	dir := t.TempDir()
	src, err := os.ReadFile("../../incident/testdata/valid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(src), "    identity: cookie:sid\n", "    identity: cookie:sid\n    log_format: '"+reviewLogFormat+"'\n", 1)
	if edit != nil {
		s = edit(s)
	}
	path = filepath.Join(dir, "incident.yaml")
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "logs", "a.log"), []byte(strings.Join(lines, "")), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, map[string]string{"USERS_DATABASE_URL": usersURL, "BREACHCTL_DATABASE_URL": caseURL}
}

const reviewUsersTables = `CREATE TABLE users (id bigint, email text, name text, locale text, country text, region text,
		has_postal_address bool, has_phone bool, has_bank_account bool, has_payment_card bool);
	CREATE TABLE sessions (session_id text, user_id bigint)`

// TestReviewPrivilegedRole (item 5): a users_query that writes through
// dblink_exec changed a row although the transaction was READ ONLY, and
// validate passed. validate and ingest must refuse a role that can write
// (a superuser, a role with write privileges) before any query runs,
// unless users.allow_privileged_role: true.
func TestReviewPrivilegedRole(t *testing.T) {
	usersURL, udb := pgtest.NewDB(t)
	udb.MustExec(reviewUsersTables)
	udb.MustExec(`CREATE EXTENSION dblink`)
	udb.MustExec(`INSERT INTO users VALUES (1, 'one@example.com', 'One', 'en', 'US', 'US-CA', true, true, true, true);
		INSERT INTO sessions VALUES ('s1', 1), ('s4', 4)`)
	var dbname string
	if err := udb.Get(&dbname, `SELECT current_database()`); err != nil {
		t.Fatal(err)
	}
	_, readerURL := pgtest.NewReader(t, udb, usersURL, "users", "sessions")
	_, updaterURL := pgtest.NewRole(t, udb, usersURL, "GRANT USAGE ON SCHEMA public TO {role}",
		"GRANT SELECT ON users, sessions TO {role}", "GRANT UPDATE (email) ON users TO {role}")
	_, fileWriterURL := pgtest.NewRole(t, udb, usersURL, "GRANT USAGE ON SCHEMA public TO {role}",
		"GRANT SELECT ON users, sessions TO {role}", "GRANT pg_write_server_files TO {role}")
	// The attack: dblink opens a second session, outside the READ ONLY
	// transaction, and writes. It runs even for an empty batch.
	attack := fmt.Sprintf(`users_query: >-
    SELECT u.id, u.email, u.name, u.locale, u.country, u.region,
           u.has_postal_address, u.has_phone, u.has_bank_account, u.has_payment_card
    FROM (SELECT dblink_exec('dbname=%s user=postgres host=127.0.0.1', 'UPDATE users SET email = ''attacker@evil.example''') AS r OFFSET 0) x
    LEFT JOIN users u ON u.id = ANY($1)
exposure:`, dbname)
	withAttack := func(s string) string {
		i, j := strings.Index(s, "users_query:"), strings.Index(s, "exposure:")
		return s[:i] + attack + s[j+len("exposure:"):]
	}
	allow := func(s string) string {
		return strings.Replace(s, "users:\n", "users:\n  allow_privileged_role: true\n", 1)
	}
	lines := []string{reviewLine(0, "s1", "/mypage/profile", "MISS"), reviewLine(1, "s4", "/mypage/profile", "HIT")}
	tests := []struct {
		name     string
		url      string
		edit     func(string) string
		wantCode int      // of validate
		wantOut  []string // in validate's output
		refused  bool     // ingest refuses the role too
	}{
		{"superuser, attack", usersURL, withAttack, 1,
			[]string{`FAIL  user database: users.database_url connects as role "postgres", which is a superuser`, "users.allow_privileged_role: true", "GRANT SELECT"}, true},
		{"superuser, plain query", usersURL, nil, 1, []string{`role "postgres", which is a superuser`}, true},
		{"role with UPDATE on a column", updaterURL, nil, 1, []string{"may write to table users (UPDATE)"}, true},
		{"role that may write server files", fileWriterURL, nil, 1, []string{"is a member of pg_write_server_files"}, true},
		{"superuser allowed", usersURL, allow, 0, []string{`ok    user database: reachable`, `role "postgres" is privileged`, "accepted by users.allow_privileged_role"}, false},
		{"read-only role", readerURL, nil, 0, []string{"ok    user database: reachable"}, false},
		{"read-only role, attack", readerURL, withAttack, 1, []string{"FAIL  user database: users.users_query:"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path, env := writeReviewCase(t, tc.url, lines, tc.edit)
			r := runCLI(t, env, "validate", "-f", path)
			if r.code != tc.wantCode {
				t.Errorf("validate: exit %d, want %d\nout:\n%s\nerr:\n%s", r.code, tc.wantCode, r.out, r.err)
			}
			for _, want := range tc.wantOut {
				if !strings.Contains(r.out, want) {
					t.Errorf("validate output lacks %q:\n%s", want, r.out)
				}
			}
			if tc.refused {
				r := runCLI(t, env, "ingest", "-f", path)
				if r.code != 1 || !strings.Contains(r.err, "users.allow_privileged_role: true") {
					t.Errorf("ingest: exit %d, want 1 with the role's reason; err:\n%s", r.code, r.err)
				}
			}
			var email string
			if err := udb.Get(&email, `SELECT email FROM users WHERE id = 1`); err != nil {
				t.Fatal(err)
			}
			if email != "one@example.com" {
				t.Errorf("the users_query wrote to the user database: email is now %q", email)
				udb.MustExec(`UPDATE users SET email = 'one@example.com' WHERE id = 1`)
			}
		})
	}
}

// TestReviewRefusedPeople (items 9 and 10): a users_query that returns two
// rows for one id (the notice went to the second address), a record that
// is not valid UTF-8 (the whole ingest failed, naming no row), and a
// session that sessions_query maps to two users. Each such person is
// refused: no record used, no notice, counted and listed by user id with
// the reason in the ingest summary and triage; everyone else is unaffected.
func TestReviewRefusedPeople(t *testing.T) {
	usersURL, udb := pgtest.NewDBWith(t, "ENCODING 'SQL_ASCII' TEMPLATE template0")
	udb.MustExec(reviewUsersTables)
	insert := func(db *sqlx.DB, id int, email, name, region string) {
		db.MustExec(`INSERT INTO users VALUES ($1, $2, $3, 'en', 'US', $4, true, true, true, true)`, id, email, name, region)
	}
	insert(udb, 1, "one@example.com", "One", "US-CA")
	insert(udb, 2, "first-of-two@example.com", "Two", "US-CA")
	insert(udb, 2, "second-of-two@example.com", "Two Again", "US-CA")
	udb.MustExec("INSERT INTO users VALUES (3, 'three@example.com', convert_from('\\x9351756f74657394'::bytea, 'SQL_ASCII'), 'en', 'US', 'US-NY', true, true, true, true)")
	insert(udb, 4, "four@example.com", "Four", "US-CA")
	insert(udb, 5, "five@example.com", "Five", "US-CA")
	insert(udb, 6, "six@example.com", "Six", "US-CA")
	insert(udb, 7, "seven@example.com", "Seven", "US-CA")
	udb.MustExec("UPDATE users SET region = convert_from('\\x55532dff'::bytea, 'SQL_ASCII') WHERE id = 7")
	udb.MustExec(`INSERT INTO sessions VALUES ('s1', 1), ('s2', 2), ('s3', 3), ('s4', 4), ('s5', 5), ('s5', 6), ('s7', 7)`)
	var enc string
	if err := udb.Get(&enc, `SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = current_database()`); err != nil || enc != "SQL_ASCII" {
		t.Fatalf("user database encoding %q (%v), want SQL_ASCII", enc, err)
	}
	_, readerURL := pgtest.NewReader(t, udb, usersURL, "users", "sessions")
	var lines []string
	for i, sid := range []string{"s1", "s2", "s3", "s5", "s7"} {
		path := fmt.Sprintf("/mypage/profile?u=%d", i)
		lines = append(lines, reviewLine(2*i, sid, path, "MISS"), reviewLine(2*i+1, "s4", path, "HIT"))
	}
	path, env := writeReviewCase(t, readerURL, lines, nil)

	r := runCLI(t, env, "ingest", "-f", path)
	if r.code != 0 {
		t.Fatalf("ingest: exit %d, want 0\nout:\n%s\nerr:\n%s", r.code, r.out, r.err)
	}
	refusedWant := []struct{ id, reason string }{
		{"2", "users_query returned 2 rows for this id"},
		{"3", "column name is not valid UTF-8"},
		{"5", "sessions_query returned users 5 and 6 for one session"},
		{"6", "sessions_query returned users 5 and 6 for one session"},
		{"7", "column region is not valid UTF-8"},
	}
	for _, want := range append([]string{"refused 5 people"}, func() []string {
		var s []string
		for _, rw := range refusedWant {
			s = append(s, "user "+rw.id+": "+rw.reason)
		}
		return s
	}()...) {
		if !strings.Contains(r.out, want) {
			t.Errorf("ingest output lacks %q:\n%s", want, r.out)
		}
	}
	for _, pd := range []string{"second-of-two", "first-of-two", "Quotes", "Two Again", "six@"} {
		if strings.Contains(r.out+r.err, pd) {
			t.Errorf("ingest printed personal data %q:\n%s%s", pd, r.out, r.err)
		}
	}

	// Only user 1 is affected; the refused get no notice.
	r = runCLI(t, env, "affected", "-f", path)
	if r.code != 0 {
		t.Fatalf("affected: exit %d: %s", r.code, r.err)
	}
	var ids []string
	for _, l := range strings.Split(strings.TrimSpace(r.out), "\n")[1:] {
		ids = append(ids, strings.SplitN(l, ",", 2)[0])
	}
	if strings.Join(ids, " ") != "1" {
		t.Errorf("affected users %v, want [1] (the refused are not notified)", ids)
	}
	out := t.TempDir()
	if r = runCLI(t, env, "notify", "render", "-f", path, "--out", out); r.code != 0 {
		t.Fatalf("notify render: exit %d: %s", r.code, r.err)
	}
	for _, id := range []string{"2", "3", "5", "6", "7"} {
		if _, err := os.Stat(filepath.Join(out, "web-cache-2017-06", id+".eml")); err == nil {
			t.Errorf("a notice was rendered for refused user %s", id)
		}
	}

	// Triage shows them, JSON and text.
	r = runCLI(t, env, "triage", "-f", path, "--format", "json")
	if r.code != 0 {
		t.Fatalf("triage: exit %d: %s", r.code, r.err)
	}
	var tj struct {
		Refused []struct {
			UserID string `json:"user_id"`
			Reason string `json:"reason"`
		} `json:"refused"`
	}
	if err := json.Unmarshal([]byte(r.out), &tj); err != nil {
		t.Fatal(err)
	}
	if len(tj.Refused) != len(refusedWant) {
		t.Fatalf("triage JSON refused = %+v, want %d people", tj.Refused, len(refusedWant))
	}
	for i, rw := range refusedWant {
		if got := tj.Refused[i]; got.UserID != rw.id || !strings.Contains(got.Reason, rw.reason) {
			t.Errorf("triage JSON refused[%d] = %+v, want user %s, %q", i, got, rw.id, rw.reason)
		}
	}
	r = runCLI(t, env, "triage", "-f", path)
	for _, want := range []string{"Refused    5 people", "user 2: users_query returned 2 rows for this id"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("triage text lacks %q:\n%s", want, r.out)
		}
	}
}
