package incident

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

func testEnv(name string) (string, bool) {
	if name == "USERS_DATABASE_URL" {
		return "postgres://reader@db.internal/users", true
	}
	return "", false
}

func readValid(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("testdata/valid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseValid(t *testing.T) {
	c, err := Parse([]byte(readValid(t)), testEnv)
	if err != nil {
		t.Fatalf("Parse(valid.yaml) = %v, want no error", err)
	}
	if c.Users.DatabaseURL != "postgres://reader@db.internal/users" {
		t.Errorf("database_url = %q, want the expanded ${USERS_DATABASE_URL}", c.Users.DatabaseURL)
	}
	wantStart := time.Date(2017, 6, 22, 0, 41, 0, 0, time.UTC)
	if !c.Start.Equal(wantStart) {
		t.Errorf("Start = %v, want %v", c.Start, wantStart)
	}
	if got := c.End.Sub(c.Start); got != 5*time.Hour+57*time.Minute {
		t.Errorf("window length = %v, want 5h57m", got)
	}
	if c.Location == nil || c.Location.String() != "Asia/Tokyo" {
		t.Errorf("Location = %v, want Asia/Tokyo", c.Location)
	}
	if len(c.Exposure.Routes) != 2 || c.Exposure.Routes[1].Categories[0] != CatBankAccount {
		t.Errorf("routes = %+v", c.Exposure.Routes)
	}
	if len(c.SHA256) != 64 {
		t.Errorf("SHA256 = %q, want 64 hex digits", c.SHA256)
	}
	// $1 in SQL is not an environment reference.
	if !strings.Contains(c.Users.UsersQuery, "ANY($1)") {
		t.Errorf("users_query lost its $1: %q", c.Users.UsersQuery)
	}
}

// TestClocks: first_signal_at and determined_at are optional; given, they
// are read with their offsets.
func TestClocks(t *testing.T) {
	c, err := Parse([]byte(readValid(t)), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	if !c.FirstSignal.IsZero() || !c.Determined.IsZero() {
		t.Errorf("without the fields: FirstSignal %v, Determined %v, want zero", c.FirstSignal, c.Determined)
	}
	src := repl("discovered_at:", "first_signal_at: 2017-06-22T14:41:00+09:00\ndetermined_at: 2017-06-23T10:00:00+09:00\ndiscovered_at:")(readValid(t))
	if c, err = Parse([]byte(src), testEnv); err != nil {
		t.Fatalf("Parse with both clocks = %v", err)
	}
	if want := time.Date(2017, 6, 22, 5, 41, 0, 0, time.UTC); !c.FirstSignal.Equal(want) || !c.FirstSignal.Equal(c.Aware) {
		t.Errorf("FirstSignal = %v, want %v (equal to discovered_at is allowed)", c.FirstSignal, want)
	}
	if want := time.Date(2017, 6, 23, 1, 0, 0, 0, time.UTC); !c.Determined.Equal(want) {
		t.Errorf("Determined = %v, want %v", c.Determined, want)
	}
}

// TestScopeAndCalendar: the scope flags, decision clocks and holidays are
// optional; given, they are read.
func TestScopeAndCalendar(t *testing.T) {
	c, err := Parse([]byte(readValid(t)), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	if o := c.Organization; o.USListed || o.NIS2 != "" || o.DORA || o.China != "" || !c.Material.IsZero() || c.Calendar.Holidays != nil {
		t.Errorf("without the fields: %+v, material %v, calendar %v; want all unset", o, c.Material, c.Calendar)
	}
	src := repl("discovered_at:", "materiality_determined_at: 2017-06-23T10:00:00+09:00\nassessed_at: 2017-06-24T10:00:00+09:00\n"+
		"classified_at: 2017-06-22T16:00:00+09:00\ncalendar: {holidays: {US: [2017-07-04], BR: []}}\ndiscovered_at:")(readValid(t))
	src = repl("  dpo_email:", "  us_listed: true\n  nis2: essential\n  dora: true\n  nydfs: true\n  glba_nonbank: true\n  phr_vendor: true\n  china: cii\n  dpo_email:")(src)
	if c, err = Parse([]byte(src), testEnv); err != nil {
		t.Fatalf("Parse with every field = %v", err)
	}
	o := c.Organization
	if !o.USListed || o.NIS2 != "essential" || !o.DORA || !o.NYDFS || !o.GLBANonbank || !o.PHRVendor || o.China != "cii" {
		t.Errorf("organization = %+v, want every flag set", o)
	}
	if want := time.Date(2017, 6, 23, 1, 0, 0, 0, time.UTC); !c.Material.Equal(want) {
		t.Errorf("Material = %v, want %v", c.Material, want)
	}
	if c.Assessed.IsZero() || c.Classified.IsZero() {
		t.Errorf("Assessed %v, Classified %v: want both set", c.Assessed, c.Classified)
	}
	for _, tc := range []struct {
		country, date   string
		holiday, listed bool
	}{{"US", "2017-07-04", true, true}, {"US", "2017-07-05", false, true}, {"BR", "2017-07-04", false, true}, {"GB", "2017-07-04", false, false}} {
		if h, l := c.Holiday(tc.country, tc.date); h != tc.holiday || l != tc.listed {
			t.Errorf("Holiday(%s, %s) = %v, %v; want %v, %v", tc.country, tc.date, h, l, tc.holiday, tc.listed)
		}
	}
}

// TestValidationRules breaks valid.yaml one rule at a time (and several at
// once) and checks each problem is reported with its path and line.
func TestValidationRules(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(string) string
		env     Getenv
		want    []string // each must appear in the error, in this order
		wantNot []string
	}{
		{"end before start", repl("end:   2017-06-22T15:38:00+09:00", "end:   2017-06-22T08:00:00+09:00"), nil,
			[]string{"window.end (line 6): must be after window.start"}, nil},
		{"unknown top-level key", repl("cause_kind:", "causekind:"), nil,
			[]string{`causekind (line 16): unknown key "causekind"; expected one of: id, title`}, nil},
		{"unknown nested key", repl("  dpo_email:", "  dpo_mail:"), nil,
			[]string{`organization.dpo_mail (line 15): unknown key "dpo_mail"`}, nil},
		{"unknown key in flow mapping", repl("{match: /mypage/profile,", "{match: /mypage/profile, categorys: [name],"), nil,
			[]string{`exposure.routes[0].categorys (line 37): unknown key`}, nil},
		{"bad category", repl("[name, postal_address, phone]", "[name, address, phone]"), nil,
			[]string{`exposure.routes[0].categories[1] (line 37): "address" is not a data category; use one of: name, email`}, nil},
		{"bad time zone", repl("timezone: Asia/Tokyo", "timezone: Asia/Tokio"), nil,
			[]string{`timezone (line 3): "Asia/Tokio" is not in the time zone database`}, nil},
		{"time without offset", repl("discovered_at: 2017-06-22T14:41:00+09:00", "discovered_at: 2017-06-22 14:41"), nil,
			[]string{`discovered_at (line 7): "2017-06-22 14:41" is not an RFC 3339 time with a UTC offset`}, nil},
		{"discovered before the window", repl("discovered_at: 2017-06-22T14:41:00+09:00", "discovered_at: 2017-06-21T14:41:00+09:00"), nil,
			[]string{`discovered_at (line 7): must not be before window.start`}, nil},
		{"first signal not a time", repl("discovered_at:", "first_signal_at: yesterday\ndiscovered_at:"), nil,
			[]string{`first_signal_at (line 7): "yesterday" is not an RFC 3339 time with a UTC offset`}, nil},
		{"first signal before the window", repl("discovered_at:", "first_signal_at: 2017-06-22T09:00:00+09:00\ndiscovered_at:"), nil,
			[]string{`first_signal_at (line 7): must not be before window.start`}, nil},
		{"first signal after discovery", repl("discovered_at:", "first_signal_at: 2017-06-22T14:42:00+09:00\ndiscovered_at:"), nil,
			[]string{`first_signal_at (line 7): must not be after discovered_at`}, nil},
		{"determined before discovery", repl("discovered_at:", "determined_at: 2017-06-22T14:40:00+09:00\ndiscovered_at:"), nil,
			[]string{`determined_at (line 7): must not be before discovered_at`}, nil},
		{"determined before the window", repl("discovered_at:", "determined_at: 2017-06-21T14:40:00+09:00\ndiscovered_at:"), nil,
			[]string{`determined_at (line 7): must not be before window.start`}, []string{"before discovered_at"}},
		{"determined without offset", repl("discovered_at:", "determined_at: 2017-06-23 10:00\ndiscovered_at:"), nil,
			[]string{`determined_at (line 7): "2017-06-23 10:00" is not an RFC 3339 time with a UTC offset`}, nil},
		{"materiality before discovery", repl("discovered_at:", "materiality_determined_at: 2017-06-22T14:40:00+09:00\ndiscovered_at:"), nil,
			[]string{`materiality_determined_at (line 7): must not be before discovered_at`}, nil},
		{"assessed not a time", repl("discovered_at:", "assessed_at: soon\ndiscovered_at:"), nil,
			[]string{`assessed_at (line 7): "soon" is not an RFC 3339 time`}, nil},
		{"classified before discovery", repl("discovered_at:", "classified_at: 2017-06-22T10:00:00+09:00\ndiscovered_at:"), nil,
			[]string{`classified_at (line 7): must not be before discovered_at`}, nil},
		{"bad nis2 kind", repl("  dpo_email:", "  nis2: yes\n  dpo_email:"), nil,
			[]string{`organization.nis2 (line 15): "yes" is not one of: essential, important`}, nil},
		{"bad china kind", repl("  dpo_email:", "  china: cii_operator\n  dpo_email:"), nil,
			[]string{`organization.china (line 15): "cii_operator" is not one of: network_operator, cii`}, nil},
		{"scope flag not a boolean", repl("  dpo_email:", "  us_listed: nasdaq\n  dpo_email:"), nil,
			[]string{`organization.us_listed (line 15):`, "must be"}, nil},
		{"holiday country not a code", repl("discovered_at:", "calendar: {holidays: {usa: [2026-12-25]}}\ndiscovered_at:"), nil,
			[]string{`calendar.holidays.usa (line 7): "usa" is not an ISO 3166-1 country code`}, nil},
		{"holiday not a date", repl("discovered_at:", "calendar:\n  holidays:\n    BR: [2026-12-25, 25/12/2026]\ndiscovered_at:"), nil,
			[]string{`calendar.holidays.BR[1] (line 9): "25/12/2026" is not a date written 2026-12-25`}, nil},
		{"bad identity", repl("identity: cookie:sid", "identity: header"), nil,
			[]string{`logs[0].identity (line 24): "header" must be cookie:NAME, field:NAME or remote_user`}, nil},
		{"no logs", repl(`  - paths: ["logs/*.log"]
    format: nginx
    identity: cookie:sid
`, "  []\n"), nil, []string{`logs (line 22): required: at least one entry`}, nil},
		{"bad glob", repl(`["logs/*.log"]`, `["logs/[.log"]`), nil, []string{`logs[0].paths[0] (line 22): "logs/[.log" is not a valid glob`}, nil},
		{"missing env var", nil, func(string) (string, bool) { return "", false },
			[]string{`users.database_url (line 27): environment variable USERS_DATABASE_URL is not set`}, nil},
		{"bad id", repl("id: web-cache-2017-06", "id: Web Cache"), nil, []string{`id (line 1): "Web Cache" must match [a-z0-9-]+`}, nil},
		{"missing title", repl("title: Customer pages served to other customers by the CDN\n", ""), nil, []string{`title: required`}, nil},
		{"bad email", repl("contact_email: privacy@example.jp", "contact_email: privacy at example"), nil,
			[]string{`organization.contact_email (line 11): not a valid email address`}, nil},
		{"bad cause kind", repl("cause_kind: misconfiguration", "cause_kind: hackers"), nil,
			[]string{`cause_kind (line 16): "hackers" is not one of: misconfiguration, unauthorized_access, insider, loss, other`}, nil},
		{"query without $1", repl("FROM users WHERE id = ANY($1)", "FROM users"), nil,
			[]string{`users.users_query (line 29): must take the batch of ids as $1`}, nil},
		{"lookup query without $1", repl("  users_query:", "  lookup_query: SELECT id FROM users WHERE email = 'x'\n  users_query:"), nil,
			[]string{`users.lookup_query (line 29): must take the e-mail address as $1 and nothing else`}, nil},
		{"lookup query with $2", repl("  users_query:", "  lookup_query: SELECT id FROM users WHERE email = $1 OR id = $2\n  users_query:"), nil,
			[]string{`users.lookup_query (line 29): must take the e-mail address as $1 and nothing else`}, nil},
		{"lookup query that writes", repl("  users_query:", "  lookup_query: DELETE FROM users WHERE email = $1\n  users_query:"), nil,
			[]string{`users.lookup_query (line 29): must be a SELECT`}, nil},
		{"query that writes", repl("sessions_query: SELECT", "sessions_query: DELETE"), nil,
			[]string{`users.sessions_query (line 28): must be a SELECT`}, nil},
		{"bad cache key", repl("cache_key: [pop, host, path, query]", "cache_key: [pop, url]"), nil,
			[]string{`exposure.cache_key[1] (line 34): "url" is not a cache key part`}, nil},
		{"bad status type", repl("cacheable_status: [200]", "cacheable_status: [ok]"), nil,
			[]string{`(line 35): ` + "`ok` must be a whole number"}, nil},
		{"bad status value", repl("cacheable_status: [200]", "cacheable_status: [2000]"), nil,
			[]string{`exposure.cacheable_status[0] (line 35): 2000 is not an HTTP status`}, nil},
		{"bad route", repl(`"/mypage/bank*"`, `"/mypage/*/bank"`), nil,
			[]string{`exposure.routes[1].match (line 38): "/mypage/*/bank": * is only allowed at the end`}, nil},
		{"bad regexp route", repl(`"/mypage/bank*"`, `"re:^/mypage/(bank"`), nil,
			[]string{`exposure.routes[1].match (line 38): "^/mypage/(bank" is not a valid regular expression`}, nil},
		{"route without categories", repl("categories: [bank_account]", "categories: []"), nil,
			[]string{`exposure.routes[1].categories (line 38): required`}, nil},
		{"header injection in from", repl("from: Example Market Privacy Office <privacy@example.jp>", `from: "Privacy <privacy@example.jp>\r\nBcc: x@evil.example"`), nil,
			[]string{`notify.from (line 40): the address contains a line break`}, nil},
		{"unknown locale", repl("default_locale: ja", "default_locale: klingon"), nil,
			[]string{`notify.default_locale (line 41): "klingon" has no templates`}, nil},
		{"mapping where a list is expected", repl(`paths: ["logs/*.log"]`, `paths: {a: b}`), nil,
			[]string{`logs[0].paths (line 22): expected a list, found a mapping`}, []string{"problems", "required"}},
		{"not YAML", func(string) string { return "id: [unclosed\n" }, nil, []string{"not valid YAML"}, nil},
		{"empty file", func(string) string { return "" }, nil, []string{"the file is empty"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := readValid(t)
			if tc.edit != nil {
				src = tc.edit(src)
			}
			env := tc.env
			if env == nil {
				env = testEnv
			}
			_, err := Parse([]byte(src), env)
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Parse() error = %v, want a *ValidationError", err)
			}
			msg := err.Error()
			pos := 0
			for _, w := range tc.want {
				i := strings.Index(msg[pos:], w)
				if i < 0 {
					t.Fatalf("error does not contain %q (in order)\ngot:\n%s", w, msg)
				}
				pos += i + len(w)
			}
			for _, w := range tc.wantNot {
				if strings.Contains(msg, w) {
					t.Errorf("error contains %q, want it reported once only\ngot:\n%s", w, msg)
				}
			}
			if strings.Contains(msg, "privacy@example.jp>\r") {
				t.Errorf("error repeats the raw header value: %s", msg)
			}
		})
	}
}

func repl(old, new string) func(string) string {
	return func(s string) string {
		if !strings.Contains(s, old) {
			panic("test edit: " + old + " not in valid.yaml")
		}
		return strings.Replace(s, old, new, 1)
	}
}

func TestRouteMatcher(t *testing.T) {
	tests := []struct {
		match, path string
		want        bool
	}{
		{"/mypage/profile", "/mypage/profile", true},
		{"/mypage/profile", "/mypage/profile/edit", false},
		{"/mypage/bank*", "/mypage/bank", true},
		{"/mypage/bank*", "/mypage/bank/edit", true},
		{"/mypage/bank*", "/mypage/ban", false},
		{`re:^/users/[0-9]+/card$`, "/users/42/card", true},
		{`re:^/users/[0-9]+/card$`, "/users/x/card", false},
	}
	for _, tc := range tests {
		m, err := CompileRoute(tc.match)
		if err != nil {
			t.Fatalf("CompileRoute(%q): %v", tc.match, err)
		}
		if got := m.Match(tc.path); got != tc.want {
			t.Errorf("CompileRoute(%q).Match(%q) = %v, want %v", tc.match, tc.path, got, tc.want)
		}
	}
}
