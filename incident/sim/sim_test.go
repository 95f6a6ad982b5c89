package sim

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"go.yaml.in/yaml/v3"

	"github.com/breachctl/breachctl/internal/pgtest"
)

func TestOptionsValidation(t *testing.T) {
	// No connection is made: every case fails before the database is used.
	db, err := sqlx.Open("postgres", pgtest.AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	full := t.TempDir()
	if err := os.WriteFile(filepath.Join(full, "keep.txt"), []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	out := func() string { return filepath.Join(t.TempDir(), "out") }

	tests := []struct {
		name string
		opts Options
		db   *sqlx.DB
		want string // substring of the error
		is   error
	}{
		{name: "no out", opts: Options{}, db: db, want: "output directory is required"},
		{name: "unknown format", opts: Options{Out: out(), Format: "apache"}, db: db, want: `unknown format "apache"`},
		{name: "bad precision", opts: Options{Out: out(), Precision: "us"}, db: db, want: `unknown precision "us"`},
		{name: "ms with cloudfront", opts: Options{Out: out(), Format: FormatCloudFront, Precision: "ms"}, db: db, want: "impossible with cloudfront"},
		{name: "negative users", opts: Options{Out: out(), Users: -1}, db: db, want: "users must be positive"},
		{name: "negative requests", opts: Options{Out: out(), Requests: -5}, db: db, want: "requests must be positive"},
		{name: "too many requests", opts: Options{Out: out(), Requests: MaxRequests + 1}, db: db, want: "requests must be at most"},
		{name: "negative ttl", opts: Options{Out: out(), TTL: -time.Second}, db: db, want: "ttl must be positive"},
		{name: "ttl longer than window", opts: Options{Out: out(), TTL: 7 * time.Hour}, db: db, want: "longer than the incident window"},
		{name: "bad case id", opts: Options{Out: out(), CaseID: "Web Cache"}, db: db, want: "must match [a-z0-9-]+"},
		{name: "no database", opts: Options{Out: out()}, db: nil, want: "no user database"},
		{name: "out not empty", opts: Options{Out: full}, db: db, want: "not empty", is: ErrOutNotEmpty},
		{name: "out is a file", opts: Options{Out: file}, db: db, want: "output directory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Run(context.Background(), tc.db, tc.opts)
			if err == nil {
				t.Fatalf("Run: got result %+v, want error containing %q", res, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Run: got error %q, want it to contain %q", err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("Run: got error %v, want errors.Is %v", err, tc.is)
			}
		})
	}
	if b, err := os.ReadFile(filepath.Join(full, "keep.txt")); err != nil || string(b) != "mine" {
		t.Errorf("a refused run touched the existing directory: %q, %v", b, err)
	}
}

func TestNormalizeDefaults(t *testing.T) {
	tests := []struct {
		format, precision, wantPrecision string
	}{
		{"", "", "ms"},
		{FormatNginx, "", "ms"},
		{FormatCloudflare, "", "ms"},
		{FormatJSONL, "s", "s"},
		{FormatCloudFront, "", "s"},
		{FormatCloudFront, "s", "s"},
	}
	for _, tc := range tests {
		o, err := Options{Out: "x", Format: tc.format, Precision: tc.precision}.normalize()
		if err != nil {
			t.Fatalf("normalize(%q, %q): %v", tc.format, tc.precision, err)
		}
		if o.Precision != tc.wantPrecision {
			t.Errorf("normalize(%q, %q): precision %q, want %q", tc.format, tc.precision, o.Precision, tc.wantPrecision)
		}
		if o.Users != DefaultUsers || o.Requests != DefaultRequests || o.TTL != DefaultTTL || o.CaseID != DefaultCaseID {
			t.Errorf("normalize: defaults not applied: %+v", o)
		}
	}
}

// readTree returns every regular file under dir by relative path.
func readTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		files[rel] = b
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// tablesDigest summarises the user tables' contents.
func tablesDigest(t *testing.T, db *sqlx.DB) string {
	t.Helper()
	var d string
	err := db.Get(&d, `SELECT md5(
		(SELECT string_agg(concat_ws('|', id, email, name, locale, country, region, has_postal_address,
			has_phone, has_bank_account, has_payment_card), E'\n' ORDER BY id) FROM sim_users) ||
		(SELECT string_agg(session_id || '|' || user_id, E'\n' ORDER BY session_id) FROM sim_sessions))`)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDeterminism(t *testing.T) {
	url, db := pgtest.NewDB(t)
	ctx := context.Background()
	run := func(seed uint64, format string) (map[string][]byte, string) {
		out := filepath.Join(t.TempDir(), "out")
		if _, err := Run(ctx, db, Options{Out: out, Users: 500, Requests: 12000, Format: format, Seed: seed, UsersDBURL: url}); err != nil {
			t.Fatalf("Run(seed %d, %s): %v", seed, format, err)
		}
		return readTree(t, out), tablesDigest(t, db)
	}
	for _, format := range []string{FormatNginx, FormatCloudFront} {
		t.Run(format, func(t *testing.T) {
			a, digestA := run(7, format)
			b, digestB := run(7, format)
			if len(a) != len(b) {
				t.Fatalf("same seed: %d files, then %d", len(a), len(b))
			}
			for name, content := range a {
				if !bytes.Equal(content, b[name]) {
					t.Errorf("same seed: %s differs between runs", name)
				}
			}
			if digestA != digestB {
				t.Errorf("same seed: user tables differ: %s vs %s", digestA, digestB)
			}

			c, digestC := run(8, format)
			if bytes.Equal(a["truth.json"], c["truth.json"]) {
				t.Errorf("seeds 7 and 8 gave the same truth")
			}
			same := 0
			for name, content := range a {
				if strings.HasPrefix(name, "logs") && bytes.Equal(content, c[name]) {
					same++
				}
			}
			if same > 0 {
				t.Errorf("seeds 7 and 8: %d log files identical", same)
			}
			if digestA == digestC {
				t.Errorf("seeds 7 and 8 gave the same user tables")
			}
		})
	}
}

func TestUserTables(t *testing.T) {
	url, db := pgtest.NewDB(t)
	// A schema of its own through search_path: the tables are unqualified.
	if _, err := db.Exec(`CREATE SCHEMA org`); err != nil {
		t.Fatal(err)
	}
	schemaURL := url + "?sslmode=disable&search_path=org"
	if strings.Contains(url, "?") {
		schemaURL = url + "&search_path=org"
	}
	sdb, err := sqlx.Open("postgres", schemaURL)
	if err != nil {
		t.Fatal(err)
	}
	defer sdb.Close()

	const users = 3000
	out := filepath.Join(t.TempDir(), "out")
	res, err := Run(context.Background(), sdb, Options{Out: out, Users: users, Requests: 5000, Seed: 3, UsersDBURL: schemaURL})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	// Run twice: the tables are dropped and recreated.
	if _, err := Run(context.Background(), sdb, Options{Out: out + "2", Users: users, Requests: 5000, Seed: 3, UsersDBURL: schemaURL}); err != nil {
		t.Fatalf("second Run: %v", err)
	}

	var n struct {
		Users, Sessions, Emails, Orphans, Public int
	}
	err = db.Get(&n, `SELECT
		(SELECT count(*) FROM org.sim_users) AS users,
		(SELECT count(*) FROM org.sim_sessions) AS sessions,
		(SELECT count(DISTINCT email) FROM org.sim_users) AS emails,
		(SELECT count(*) FROM org.sim_sessions s LEFT JOIN org.sim_users u ON u.id = s.user_id WHERE u.id IS NULL) AS orphans,
		(SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public' AND table_name LIKE 'sim_%') AS public`)
	if err != nil {
		t.Fatal(err)
	}
	if n.Users != users || res.Users != users {
		t.Errorf("users: table %d, result %d, want %d", n.Users, res.Users, users)
	}
	if n.Sessions != res.Sessions || n.Sessions < users*110/100 || n.Sessions > users*120/100 {
		t.Errorf("sessions: table %d, result %d, want about %d", n.Sessions, res.Sessions, users*115/100)
	}
	if n.Emails != users {
		t.Errorf("distinct emails: %d, want %d", n.Emails, users)
	}
	if n.Orphans != 0 {
		t.Errorf("%d sessions without a user", n.Orphans)
	}
	if n.Public != 0 {
		t.Errorf("%d sim_ tables in public despite search_path", n.Public)
	}

	var rows []struct {
		ID      int64  `db:"id"`
		Email   string `db:"email"`
		Name    string `db:"name"`
		Locale  string `db:"locale"`
		Country string `db:"country"`
		Region  string `db:"region"`
		Postal  bool   `db:"has_postal_address"`
		Phone   bool   `db:"has_phone"`
		Bank    bool   `db:"has_bank_account"`
		Card    bool   `db:"has_payment_card"`
		Address string `db:"postal_address"`
		Consent bool   `db:"email_consent"`
	}
	if err := db.Select(&rows, `SELECT * FROM org.sim_users ORDER BY id`); err != nil {
		t.Fatal(err)
	}
	countries, locales := map[string]int{}, map[string]int{}
	var postal, phone, bank, card, kanji, apostrophe, consent int
	emailRe := regexp.MustCompile(`^[a-z0-9._]+@example\.(jp|com|net)$`)
	for _, u := range rows {
		countries[u.Country]++
		switch want, eu := euCountryLocale[u.Country]; {
		case eu && u.Locale != want:
			t.Errorf("user %d in %s: locale %q, want %q", u.ID, u.Country, u.Locale, want)
		case u.Country == "JP" && u.Locale != "ja" && u.Locale != "en":
			t.Errorf("user %d in JP: locale %q, want ja or en", u.ID, u.Locale)
		case !eu && u.Country != "JP" && u.Locale != "en":
			t.Errorf("user %d in %s: locale %q, want en", u.ID, u.Country, u.Locale)
		}
		locales[u.Locale]++
		if !regexp.MustCompile(`^[A-Z]{2}$`).MatchString(u.Country) || !strings.HasPrefix(u.Region, u.Country+"-") || len(u.Region) < 4 {
			t.Errorf("user %d: country %q region %q", u.ID, u.Country, u.Region)
		}
		if !emailRe.MatchString(u.Email) {
			t.Errorf("user %d: email %q", u.ID, u.Email)
		}
		// A postal address of three lines, ending in the country.
		lastLine := map[string]string{"JP": "日本", "US": "USA", "DE": "DEUTSCHLAND", "FR": "FRANCE", "IE": "IRELAND",
			"NL": "NEDERLAND", "ES": "ESPAÑA", "IT": "ITALIA"}[u.Country]
		if lines := strings.Split(u.Address, "\n"); len(lines) != 3 || lines[2] != lastLine || strings.TrimSpace(lines[0]) == "" {
			t.Errorf("user %d in %s: postal address %q", u.ID, u.Region, u.Address)
		}
		if u.Consent {
			consent++
		}
		if strings.TrimSpace(u.Name) == "" || !strings.Contains(u.Name, " ") {
			t.Errorf("user %d: name %q", u.ID, u.Name)
		}
		if u.Country == "JP" && regexp.MustCompile(`\p{Han}`).MatchString(u.Name) {
			kanji++
		}
		if strings.ContainsAny(u.Name, "'éüöñ") {
			apostrophe++
		}
		for _, f := range []struct {
			on bool
			n  *int
		}{{u.Postal, &postal}, {u.Phone, &phone}, {u.Bank, &bank}, {u.Card, &card}} {
			if f.on {
				*f.n++
			}
		}
	}
	share := func(n int) int { return n * 100 / len(rows) }
	for _, c := range []struct {
		what      string
		got, want int
	}{
		{"JP", share(countries["JP"]), 60}, {"US", share(countries["US"]), 25},
		{"postal", share(postal), 85}, {"phone", share(phone), 70}, {"bank", share(bank), 40}, {"card", share(card), 55},
		{"e-mail consent", share(consent), 33},
	} {
		if c.got < c.want-5 || c.got > c.want+5 {
			t.Errorf("%s: %d%%, want about %d%%", c.what, c.got, c.want)
		}
	}
	if kanji != countries["JP"] {
		t.Errorf("%d of %d Japanese names in kanji", kanji, countries["JP"])
	}
	if apostrophe == 0 {
		t.Errorf("no Latin name with an apostrophe or accent")
	}
	for _, loc := range []string{"ja", "en", "de", "fr", "es", "it", "nl"} {
		if locales[loc] == 0 {
			t.Errorf("no user with locale %s: %v", loc, locales)
		}
	}

	var sids []string
	if err := db.Select(&sids, `SELECT session_id FROM org.sim_sessions`); err != nil {
		t.Fatal(err)
	}
	hex32 := regexp.MustCompile(`^[0-9a-f]{32}$`)
	for _, s := range sids {
		if !hex32.MatchString(s) {
			t.Errorf("session id %q is not 32 hex chars", s)
		}
	}
}

// euCountryLocale is the notice language each EU country of the simulation
// should have on record.
var euCountryLocale = map[string]string{"DE": "de", "FR": "fr", "ES": "es", "IT": "it", "NL": "nl", "IE": "en"}

// TestEULocaleCoversRegions fails when euRegions gains a country whose
// language the locale test does not know.
func TestEULocaleCoversRegions(t *testing.T) {
	for _, w := range euRegions {
		c := w.v[:2]
		want, ok := euCountryLocale[c]
		if !ok {
			t.Errorf("euRegions has %s (%s): add its language to euCountryLocale", c, w.v)
			continue
		}
		if got := euLocale(c); got != want {
			t.Errorf("euLocale(%s) = %q, want %q", c, got, want)
		}
	}
}

// caseDoc is the part of the case file the tests read back.
type caseDoc struct {
	ID       string `yaml:"id"`
	Timezone string `yaml:"timezone"`
	Window   struct {
		Start time.Time `yaml:"start"`
		End   time.Time `yaml:"end"`
	} `yaml:"window"`
	ContainedAt  time.Time         `yaml:"contained_at"`
	Organization map[string]string `yaml:"organization"`
	CauseKind    string            `yaml:"cause_kind"`
	Narrative    map[string]string `yaml:"narrative"`
	Logs         []struct {
		Paths     []string          `yaml:"paths"`
		Format    string            `yaml:"format"`
		LogFormat string            `yaml:"log_format"`
		Identity  string            `yaml:"identity"`
		Fields    map[string]string `yaml:"fields"`
	} `yaml:"logs"`
	IdentityKind string `yaml:"identity_kind"`
	Users        struct {
		DatabaseURL   string `yaml:"database_url"`
		SessionsQuery string `yaml:"sessions_query"`
		UsersQuery    string `yaml:"users_query"`
	} `yaml:"users"`
	Exposure struct {
		CacheKey        []string `yaml:"cache_key"`
		CacheableStatus []int    `yaml:"cacheable_status"`
		Routes          []struct {
			Match      string   `yaml:"match"`
			Categories []string `yaml:"categories"`
		} `yaml:"routes"`
	} `yaml:"exposure"`
	Notify struct {
		From          string `yaml:"from"`
		DefaultLocale string `yaml:"default_locale"`
	} `yaml:"notify"`
}

func readCaseFile(t *testing.T, path string) *caseDoc {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("%s: mode %v, want 0600", path, st.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var c caseDoc
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("case file is not YAML: %v\n%s", err, b)
	}
	return &c
}

func TestCaseFile(t *testing.T) {
	for _, tc := range []struct {
		o         Options
		logFormat string
		paths     []string
	}{
		{Options{Format: FormatNginx, Precision: "ms", UsersDBURL: `postgres://u:p'"@h/db?search_path=org`},
			nginxLogFormat + " $msec", []string{"logs/*/*.log", "logs/*/*.log.gz"}},
		{Options{Format: FormatNginx, Precision: "s"}, nginxLogFormat, []string{"logs/*/*.log", "logs/*/*.log.gz"}},
		{Options{Format: FormatCloudFront}, "", []string{"logs/*/*.log.gz"}},
		{Options{Format: FormatCloudflare}, "", []string{"logs/*/*.log.gz"}},
		{Options{Format: FormatJSONL, CaseID: "web-cache-2017-06"}, "", []string{"logs/*/*.log", "logs/*/*.log.gz"}},
	} {
		t.Run(tc.o.Format+"-"+tc.o.Precision, func(t *testing.T) {
			tc.o.Out = "x"
			o, err := tc.o.normalize()
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "incident.yaml")
			if err := writeCaseFile(path, o); err != nil {
				t.Fatal(err)
			}
			c := readCaseFile(t, path)
			if c.ID != o.CaseID || c.Timezone != "Asia/Tokyo" || c.CauseKind != "misconfiguration" || c.IdentityKind != "session" {
				t.Errorf("header: %+v", c)
			}
			if !c.Window.Start.Equal(windowStart) || !c.Window.End.Equal(windowEnd) || !c.ContainedAt.Equal(windowEnd) {
				t.Errorf("window %v..%v contained %v", c.Window.Start, c.Window.End, c.ContainedAt)
			}
			if c.Organization["contact_phone"] != "+81-3-0000-0000" || c.Organization["name"] != "Example Market K.K." || len(c.Organization) != 6 {
				t.Errorf("organization: %v", c.Organization)
			}
			if len(c.Narrative) != 3 {
				t.Errorf("narrative: %v", c.Narrative)
			}
			if len(c.Logs) != 1 {
				t.Fatalf("logs: %+v", c.Logs)
			}
			l := c.Logs[0]
			if l.Format != o.Format || l.LogFormat != tc.logFormat || strings.Join(l.Paths, ",") != strings.Join(tc.paths, ",") {
				t.Errorf("logs: %+v", l)
			}
			wantIdentity := "cookie:sid"
			if o.Format == FormatJSONL {
				wantIdentity = "field:session"
				want := map[string]string{"time": "ts", "ip": "client", "method": "method", "host": "host", "path": "uri_path", "query": "qs", "status": "code", "cache": "cache", "pop": "edge"}
				if len(l.Fields) != len(want) {
					t.Errorf("fields: %v", l.Fields)
				}
				for k, v := range want {
					if l.Fields[k] != v {
						t.Errorf("fields[%s] = %q, want %q", k, l.Fields[k], v)
					}
				}
			}
			if l.Identity != wantIdentity {
				t.Errorf("identity %q, want %q", l.Identity, wantIdentity)
			}
			if c.Users.DatabaseURL != o.UsersDBURL || c.Users.SessionsQuery != sessionsQuery || c.Users.UsersQuery != usersQuery {
				t.Errorf("users: %+v", c.Users)
			}
			if tc.o.UsersDBURL == "" && c.Users.DatabaseURL != "${USERS_DATABASE_URL}" {
				t.Errorf("default database_url %q", c.Users.DatabaseURL)
			}
			e := c.Exposure
			if strings.Join(e.CacheKey, ",") != "pop,host,path,query" || len(e.CacheableStatus) != 1 || e.CacheableStatus[0] != 200 || len(e.Routes) != 4 {
				t.Errorf("exposure: %+v", e)
			}
			if e.Routes[1].Match != "/mypage/bank*" || strings.Join(e.Routes[3].Categories, ",") != "purchase_history,postal_address" {
				t.Errorf("routes: %+v", e.Routes)
			}
			if c.Notify.From != "Example Market Privacy Office <privacy@example-market.jp>" || c.Notify.DefaultLocale != "ja" {
				t.Errorf("notify: %+v", c.Notify)
			}
		})
	}
}

func TestTinyAndCancelled(t *testing.T) {
	url, db := pgtest.NewDB(t)
	ctx := context.Background()

	// A run smaller than the edges: empty hour files are still written.
	out := filepath.Join(t.TempDir(), "tiny")
	res, err := Run(ctx, db, Options{Out: out, Users: 1, Requests: 3, Seed: 1, UsersDBURL: url})
	if err != nil {
		t.Fatalf("tiny Run: %v", err)
	}
	if res.Lines != 3 || res.Users != 1 || res.TruncatedLines != 0 || len(res.LogFiles) != 36 {
		t.Errorf("tiny Run: %+v", res)
	}

	// A cancelled run fails and leaves nothing behind.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	gone := filepath.Join(t.TempDir(), "cancelled")
	if _, err := Run(cctx, db, Options{Out: gone, Requests: 20000, UsersDBURL: url}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Run: got %v, want context.Canceled", err)
	}
	if _, err := os.Stat(gone); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("cancelled Run left %s behind (%v)", gone, err)
	}
	// An existing empty directory is kept, emptied.
	empty := t.TempDir()
	if _, err := Run(cctx, db, Options{Out: empty, UsersDBURL: url}); err == nil {
		t.Fatal("cancelled Run succeeded")
	}
	if entries, err := os.ReadDir(empty); err != nil || len(entries) != 0 {
		t.Errorf("cancelled Run into an empty directory left %v (%v)", entries, err)
	}
}
