package sim

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/breachctl/breachctl/internal/pgtest"
)

// logRec is one parsed log line, reduced as DESIGN.md describes.
type logRec struct {
	file   string
	wt     int64 // ns since the epoch, as written
	pop    string
	ip     string
	method string
	host   string
	path   string
	query  string
	status int
	cache  string // as written
	sid    string // "" when anonymous
}

// Test-only parsers for the exact layouts the simulator writes. A line they
// reject is counted as truncated.

func nginxRegexp(ms bool) *regexp.Regexp {
	q := `"((?:[^"\\]|\\.)*)"`
	re := `^(\S+) - - \[([^\]]+)\] "(GET|POST) (\S+) (HTTP/1\.1|HTTP/2\.0)" (\d{3}) (\d+) ` + q + ` ` + q + ` ` + q + ` ([A-Z]+) (\S+) ([A-Z0-9]+)`
	if ms {
		re += ` (\d+)\.(\d{3})`
	}
	return regexp.MustCompile(re + `$`)
}

func sidFromCookie(c string) string {
	for _, kv := range strings.Split(c, "; ") {
		if v, ok := strings.CutPrefix(kv, "sid="); ok {
			return v
		}
	}
	return ""
}

func parseNginx(re *regexp.Regexp, ms bool, line string) (logRec, error) {
	m := re.FindStringSubmatch(line)
	if m == nil {
		return logRec{}, fmt.Errorf("no match")
	}
	local, err := time.Parse("02/Jan/2006:15:04:05 -0700", m[2])
	if err != nil {
		return logRec{}, err
	}
	if !strings.HasSuffix(m[2], "+0900") {
		return logRec{}, fmt.Errorf("time_local %q not in +0900", m[2])
	}
	r := logRec{wt: local.UnixNano(), ip: m[1], method: m[3], cache: m[11], host: m[12], pop: m[13]}
	r.path, r.query, _ = strings.Cut(m[4], "?")
	r.status, _ = strconv.Atoi(m[6])
	if m[10] != "-" {
		r.sid = sidFromCookie(m[10])
	}
	if ms {
		sec, _ := strconv.ParseInt(m[14], 10, 64)
		msec, _ := strconv.ParseInt(m[15], 10, 64)
		if sec != local.Unix() {
			return logRec{}, fmt.Errorf("$msec %s disagrees with $time_local %s", m[14], m[2])
		}
		r.wt = sec*1e9 + msec*1e6
	}
	return r, nil
}

func parseCloudFront(fields []string, line string) (logRec, error) {
	vals := strings.Split(line, "\t")
	if len(vals) != len(fields) {
		return logRec{}, fmt.Errorf("%d fields, want %d", len(vals), len(fields))
	}
	v := map[string]string{}
	for i, f := range fields {
		v[f] = vals[i]
	}
	t, err := time.Parse("2006-01-02 15:04:05", v["date"]+" "+v["time"])
	if err != nil {
		return logRec{}, err
	}
	r := logRec{wt: t.UnixNano(), pop: v["x-edge-location"], ip: v["c-ip"], method: v["cs-method"],
		host: v["x-host-header"], path: v["cs-uri-stem"], query: v["cs-uri-query"], cache: v["x-edge-result-type"]}
	if r.query == "-" {
		r.query = ""
	}
	if r.status, err = strconv.Atoi(v["sc-status"]); err != nil {
		return logRec{}, err
	}
	if c := v["cs(Cookie)"]; c != "-" {
		dec, err := url.PathUnescape(c)
		if err != nil {
			return logRec{}, err
		}
		r.sid = sidFromCookie(dec)
	}
	if v["x-edge-response-result-type"] != r.cache || v["cs(Host)"] != cloudFrontDistribution {
		return logRec{}, fmt.Errorf("inconsistent line")
	}
	return r, nil
}

func parseCloudflare(ms bool, line string) (logRec, error) {
	var v struct {
		ClientIP, ClientRequestHost, ClientRequestMethod, ClientRequestURI, ClientRequestUserAgent string
		EdgeStartTimestamp                                                                         json.RawMessage
		EdgeResponseStatus                                                                         int
		CacheCacheStatus, EdgeColoCode, RayID                                                      string
		Cookies                                                                                    map[string]string
	}
	if err := json.Unmarshal([]byte(line), &v); err != nil {
		return logRec{}, err
	}
	r := logRec{ip: v.ClientIP, host: v.ClientRequestHost, method: v.ClientRequestMethod, status: v.EdgeResponseStatus,
		cache: v.CacheCacheStatus, pop: v.EdgeColoCode, sid: v.Cookies["sid"]}
	r.path, r.query, _ = strings.Cut(v.ClientRequestURI, "?")
	if ms {
		ns, err := strconv.ParseInt(string(v.EdgeStartTimestamp), 10, 64)
		if err != nil || ns%1e6 != 0 {
			return logRec{}, fmt.Errorf("EdgeStartTimestamp %s: not whole milliseconds in ns", v.EdgeStartTimestamp)
		}
		r.wt = ns
	} else {
		var s string
		if err := json.Unmarshal(v.EdgeStartTimestamp, &s); err != nil {
			return logRec{}, err
		}
		t, err := time.Parse("2006-01-02T15:04:05Z", s)
		if err != nil {
			return logRec{}, err
		}
		r.wt = t.UnixNano()
	}
	if len(v.RayID) != 16 || v.ClientRequestUserAgent == "" {
		return logRec{}, fmt.Errorf("bad RayID or user agent")
	}
	return r, nil
}

func parseJSONL(ms bool, line string) (logRec, error) {
	var v struct {
		TS      string  `json:"ts"`
		Edge    string  `json:"edge"`
		Client  string  `json:"client"`
		Method  string  `json:"method"`
		Host    string  `json:"host"`
		Path    string  `json:"uri_path"`
		QS      *string `json:"qs"`
		Code    int     `json:"code"`
		Cache   string  `json:"cache"`
		Session *string `json:"session"`
		UA      string  `json:"ua"`
	}
	if err := json.Unmarshal([]byte(line), &v); err != nil {
		return logRec{}, err
	}
	layout := "2006-01-02T15:04:05Z"
	if ms {
		layout = "2006-01-02T15:04:05.000Z"
	}
	t, err := time.Parse(layout, v.TS)
	if err != nil {
		return logRec{}, err
	}
	if v.QS == nil || v.UA == "" {
		return logRec{}, fmt.Errorf("missing qs or ua")
	}
	r := logRec{wt: t.UnixNano(), pop: v.Edge, ip: v.Client, method: v.Method, host: v.Host, path: v.Path,
		query: *v.QS, status: v.Code, cache: v.Cache}
	if v.Session != nil {
		r.sid = *v.Session
	}
	return r, nil
}

// readLogs parses every file the truth lists, as a reader of the case file
// would: gunzip by magic bytes, split lines, read CloudFront's headers.
func readLogs(t *testing.T, out string, tr *truth) (recs []logRec, lines, bad int64, unsorted int) {
	t.Helper()
	ms := tr.Precision == PrecisionMillisecond
	re := nginxRegexp(ms)
	for _, name := range tr.Files {
		raw, err := os.ReadFile(filepath.Join(out, filepath.FromSlash(name)))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.HasPrefix(raw, []byte{0x1f, 0x8b}) != strings.HasSuffix(name, ".gz") {
			t.Errorf("%s: gzip magic and name disagree", name)
		}
		if bytes.HasPrefix(raw, []byte{0x1f, 0x8b}) {
			zr, err := gzip.NewReader(bytes.NewReader(raw))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if !zr.ModTime.IsZero() && zr.ModTime.Unix() != 0 || zr.Name != "" {
				t.Errorf("%s: gzip header carries %v %q", name, zr.ModTime, zr.Name)
			}
			if raw, err = io.ReadAll(zr); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
		if len(raw) > 0 && raw[len(raw)-1] != '\n' {
			t.Errorf("%s: last line has no newline", name)
		}
		var fields []string
		var prev int64
		for i, line := range strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n") {
			if line == "" && len(raw) == 0 {
				break
			}
			if tr.Format == FormatCloudFront && strings.HasPrefix(line, "#") {
				switch {
				case i == 0 && line == "#Version: 1.0":
				case i == 1 && strings.HasPrefix(line, "#Fields: "):
					fields = strings.Fields(strings.TrimPrefix(line, "#Fields: "))
				default:
					t.Errorf("%s:%d: unexpected header %q", name, i+1, line)
				}
				continue
			}
			lines++
			var r logRec
			switch tr.Format {
			case FormatNginx:
				r, err = parseNginx(re, ms, line)
			case FormatCloudFront:
				r, err = parseCloudFront(fields, line)
			case FormatCloudflare:
				r, err = parseCloudflare(ms, line)
			default:
				r, err = parseJSONL(ms, line)
			}
			if err != nil {
				bad++
				continue
			}
			r.file = name
			if r.wt < prev {
				unsorted++
			}
			prev = r.wt
			recs = append(recs, r)
		}
	}
	return recs, lines, bad, unsorted
}

// userDB is what the tests read back from the user database.
type userDB struct {
	sessions map[string]string          // session id -> user id
	onFile   map[string]map[string]bool // user id -> categories on file
	userSids map[string][]string        // user id -> session ids
}

func readUserDB(t *testing.T, db *sqlx.DB) *userDB {
	t.Helper()
	u := &userDB{sessions: map[string]string{}, onFile: map[string]map[string]bool{}, userSids: map[string][]string{}}
	var sessions []struct {
		SID  string `db:"session_id"`
		User int64  `db:"user_id"`
	}
	if err := db.Select(&sessions, sessionsQuery, pqArray(t, db, `SELECT array_agg(session_id) FROM sim_sessions`)); err != nil {
		t.Fatal(err)
	}
	for _, s := range sessions {
		id := strconv.FormatInt(s.User, 10)
		u.sessions[s.SID] = id
		u.userSids[id] = append(u.userSids[id], s.SID)
	}
	rows, err := db.Queryx(usersQuery, pqArray(t, db, `SELECT array_agg(id)::text FROM sim_users`))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var email, name, locale, country, region string
		var postal, phone, bank, card, consent bool
		var address sql.NullString
		if err := rows.Scan(&id, &email, &name, &locale, &country, &region, &postal, &phone, &bank, &card, &address, &consent); err != nil {
			t.Fatal(err)
		}
		u.onFile[strconv.FormatInt(id, 10)] = map[string]bool{
			"name": true, "email": true, "purchase_history": true,
			"postal_address": postal, "phone": phone, "bank_account": bank, "payment_card": card,
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return u
}

// pqArray returns a PostgreSQL array literal (text) for the case file's
// ANY($1) queries.
func pqArray(t *testing.T, db *sqlx.DB, q string) string {
	t.Helper()
	var s string
	if err := db.Get(&s, q); err != nil {
		t.Fatal(err)
	}
	return s
}

// routeCats returns the case file's categories for path, nil for a public
// route.
func routeCats(c *caseDoc, path string) []string {
	for _, r := range c.Exposure.Routes {
		if p, ok := strings.CutSuffix(r.Match, "*"); ok && strings.HasPrefix(path, p) || r.Match == path {
			return r.Categories
		}
	}
	return nil
}

func normalised(format, word string) string {
	fill := map[string][]string{
		FormatNginx: {"MISS", "EXPIRED"}, FormatJSONL: {"MISS", "EXPIRED"},
		FormatCloudFront: {"Miss"}, FormatCloudflare: {"miss", "expired"},
	}
	cached := map[string][]string{
		FormatNginx: {"HIT", "STALE", "UPDATING", "REVALIDATED"}, FormatJSONL: {"HIT", "STALE", "UPDATING", "REVALIDATED"},
		FormatCloudFront: {"Hit", "RefreshHit"}, FormatCloudflare: {"hit", "stale", "updating", "revalidated"},
	}
	switch {
	case slices.Contains(fill[format], word):
		return "FILL"
	case slices.Contains(cached[format], word):
		return "CACHED"
	}
	return "ORIGIN"
}

// TestLogsAgreeWithTruth reads back what the simulator wrote and checks the
// truth against an independent application of DESIGN.md's cache lineage.
func TestLogsAgreeWithTruth(t *testing.T) {
	tests := []struct {
		format, precision string
		requests          int
		ttl               time.Duration
	}{
		{FormatNginx, "ms", 30000, 0},
		{FormatNginx, "s", 40000, 2 * time.Minute},
		{FormatCloudFront, "s", 50000, 0},
		{FormatCloudflare, "ms", 30000, 2 * time.Minute},
		{FormatCloudflare, "s", 40000, 0},
		{FormatJSONL, "ms", 20000, 0},
		{FormatJSONL, "s", 40000, time.Minute},
	}
	for _, tc := range tests {
		t.Run(tc.format+"-"+tc.precision, func(t *testing.T) {
			t.Parallel()
			checkAgainstLogs(t, Options{Format: tc.format, Precision: tc.precision, Requests: tc.requests, Users: 2000, TTL: tc.ttl, Seed: 42})
		})
	}
}

func checkAgainstLogs(t *testing.T, o Options) {
	url, db := pgtest.NewDB(t)
	o.Out = filepath.Join(t.TempDir(), "case")
	o.UsersDBURL = url
	res, err := Run(context.Background(), db, o)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	var tr truth
	b, err := os.ReadFile(res.TruthFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &tr); err != nil {
		t.Fatalf("truth.json: %v", err)
	}
	if st, _ := os.Stat(res.TruthFile); st.Mode().Perm() != 0o600 {
		t.Errorf("truth.json mode %v, want 0600", st.Mode().Perm())
	}
	c := readCaseFile(t, res.CaseFile)
	users := readUserDB(t, db)
	ms := tr.Precision == PrecisionMillisecond
	winStart, _ := time.Parse(time.RFC3339, tr.Window.Start)
	winEnd, _ := time.Parse(time.RFC3339, tr.Window.End)
	inWindow := func(wt int64) bool { return wt >= winStart.UnixNano() && wt < winEnd.UnixNano() }
	layout := "2006-01-02T15:04:05Z"
	if ms {
		layout = "2006-01-02T15:04:05.000Z"
	}
	written := func(wt int64) string { return time.Unix(0, wt).UTC().Format(layout) }

	// The files: what is on disk, what the truth lists, what the globs match.
	var onDisk, globbed []string
	_ = filepath.WalkDir(filepath.Join(o.Out, "logs"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(o.Out, p)
			onDisk = append(onDisk, filepath.ToSlash(rel))
		}
		return err
	})
	for _, g := range c.Logs[0].Paths {
		m, _ := filepath.Glob(filepath.Join(o.Out, g))
		if len(m) == 0 {
			t.Errorf("glob %s matches nothing", g)
		}
		for _, p := range m {
			rel, _ := filepath.Rel(o.Out, p)
			globbed = append(globbed, filepath.ToSlash(rel))
		}
	}
	slices.Sort(onDisk)
	slices.Sort(globbed)
	if !slices.Equal(onDisk, tr.Files) || !slices.Equal(globbed, tr.Files) || len(res.LogFiles) != len(tr.Files) {
		t.Errorf("files: on disk %d, globbed %d, truth %d, result %d", len(onDisk), len(globbed), len(tr.Files), len(res.LogFiles))
	}
	if want := 4 * 9; len(tr.Files) != want {
		t.Errorf("%d files, want %d (4 edges, 9 hours)", len(tr.Files), want)
	}

	recs, lines, bad, unsorted := readLogs(t, o.Out, &tr)
	if lines != tr.Lines || lines != int64(o.Requests) || tr.Requests != int64(o.Requests) || res.Lines != lines {
		t.Errorf("data lines: read %d, truth %d, result %d, requests %d", lines, tr.Lines, res.Lines, o.Requests)
	}
	if bad != tr.TruncatedLines || res.TruncatedLines != bad || bad < 1 {
		t.Errorf("truncated lines: read %d, truth %d, result %d, want >= 1", bad, tr.TruncatedLines, res.TruncatedLines)
	}
	if unsorted == 0 {
		t.Errorf("the lines are sorted; want a local shuffle")
	}
	if !slices.Equal(tr.Edges, func() []string {
		var e []string
		for _, s := range edgesFor(o.Format) {
			e = append(e, s.pop)
		}
		return e
	}()) {
		t.Errorf("edges %v", tr.Edges)
	}

	// Per (pop, cache key) lineage, private routes only.
	type cacheKey struct{ pop, host, path, query string }
	groups := map[cacheKey][]*logRec{}
	seenMs := map[string]map[int64]bool{}
	for i := range recs {
		r := &recs[i]
		if !slices.Contains(tr.Edges, r.pop) || r.host != siteHost {
			t.Fatalf("%s: pop %q host %q", r.file, r.pop, r.host)
		}
		if r.sid != "" && users.sessions[r.sid] == "" {
			t.Fatalf("%s: session %q not in sim_sessions", r.file, r.sid)
		}
		if ms {
			if seenMs[r.pop] == nil {
				seenMs[r.pop] = map[int64]bool{}
			}
			if seenMs[r.pop][r.wt] {
				t.Errorf("%s: two lines at %s", r.pop, written(r.wt))
			}
			seenMs[r.pop][r.wt] = true
		}
		if routeCats(c, r.path) != nil {
			if r.method != "GET" {
				t.Errorf("private %s %s", r.method, r.path)
			}
			k := cacheKey{r.pop, r.host, r.path, r.query}
			groups[k] = append(groups[k], r)
		}
	}
	viewerOf := func(r *logRec) string {
		if r.sid == "" {
			return "ip:" + r.ip
		}
		return "user:" + users.sessions[r.sid]
	}
	exposed := func(route []string, victim string) []string {
		cats := []string{}
		for _, c := range route {
			if users.onFile[victim][c] {
				cats = append(cats, c)
			}
		}
		slices.Sort(cats)
		return cats
	}

	// Pages stored in the window, per person (non-empty categories only);
	// for each CACHED line its candidate owners under the one-second rule
	// ("" for a non-personal or unknown object) and, with ms, its owner.
	stored := map[string]map[string]bool{}
	storedByPop := map[string]map[string]map[string]bool{} // pop → person → categories
	type cachedLine struct {
		r          *logRec
		candidates map[string]bool
		owner      string
		used       bool
	}
	var cached []*cachedLine
	ownerOf := func(r *logRec) string {
		if inWindow(r.wt) && r.status == 200 && r.sid != "" {
			return users.sessions[r.sid]
		}
		return "" // a non-personal object
	}
	for _, g := range groups {
		slices.SortStableFunc(g, func(a, b *logRec) int { return cmp.Compare(a.wt, b.wt) })
		prev := "" // the object of the last FILL before the current line (ms) or second (s); "" unknown or non-personal
		for i := 0; i < len(g); {
			// g[i:j]: one line (ms) or every line of one second (s).
			j := i + 1
			for !ms && j < len(g) && g[j].wt/1e9 == g[i].wt/1e9 {
				j++
			}
			fills := map[string]bool{}
			last, hasFill := "", false
			for _, r := range g[i:j] {
				if normalised(o.Format, r.cache) != "FILL" {
					continue
				}
				v := ownerOf(r)
				fills[v], last, hasFill = true, v, true
				if v == "" {
					continue
				}
				if cats := exposed(routeCats(c, r.path), v); len(cats) > 0 {
					if stored[v] == nil {
						stored[v] = map[string]bool{}
					}
					for _, x := range cats {
						stored[v][x] = true
					}
					if storedByPop[r.pop] == nil {
						storedByPop[r.pop] = map[string]map[string]bool{}
					}
					if storedByPop[r.pop][v] == nil {
						storedByPop[r.pop][v] = map[string]bool{}
					}
					for _, x := range cats {
						storedByPop[r.pop][v][x] = true
					}
				}
			}
			for _, r := range g[i:j] {
				if normalised(o.Format, r.cache) != "CACHED" {
					continue
				}
				if !inWindow(r.wt) {
					t.Errorf("%s: cached private page outside the window at %s", r.pop, written(r.wt))
				}
				cl := &cachedLine{r: r, owner: prev, candidates: map[string]bool{prev: true}}
				for f := range fills {
					cl.candidates[f] = true
				}
				cached = append(cached, cl)
			}
			if hasFill {
				prev = last
			}
			i = j
		}
	}

	// Every truth event: a CACHED line with its time, pop, key, viewer and
	// cache word; an earlier-or-same-time FILL by the victim in the window;
	// categories = route ∩ on file.
	idx := map[string][]*cachedLine{}
	lineKey := func(time, pop, path, query, viewer, cache string) string {
		return strings.Join([]string{time, pop, path, query, viewer, cache}, "\x00")
	}
	for _, cl := range cached {
		k := lineKey(written(cl.r.wt), cl.r.pop, cl.r.path, cl.r.query, viewerOf(cl.r), cl.r.cache)
		idx[k] = append(idx[k], cl)
	}
	empty := 0
	for i, ev := range tr.Events {
		if i > 0 {
			p := tr.Events[i-1]
			if cmp.Or(cmp.Compare(p.Time, ev.Time), cmp.Compare(p.Pop, ev.Pop), cmp.Compare(p.Viewer, ev.Viewer)) > 0 {
				t.Errorf("events not sorted at %d", i)
			}
		}
		if len(ev.Categories) == 0 {
			empty++
		}
		if ev.Host != siteHost || ev.Status != 200 || normalised(o.Format, ev.Cache) != "CACHED" {
			t.Errorf("event %d: %+v", i, ev)
		}
		var match *cachedLine
		for _, cl := range idx[lineKey(ev.Time, ev.Pop, ev.Path, ev.Query, ev.Viewer, ev.Cache)] {
			if !cl.used && (ev.ViewerSession == cl.r.sid) {
				match = cl
				break
			}
		}
		if match == nil {
			t.Errorf("event %d (%s %s %s?%s viewer %s): no such cached line", i, ev.Time, ev.Pop, ev.Path, ev.Query, ev.Viewer)
			continue
		}
		match.used = true
		if ev.Viewer == "user:"+ev.Victim {
			t.Errorf("event %d: the victim is the viewer", i)
		}
		fillSeen := false
		for _, r := range groups[cacheKey{ev.Pop, ev.Host, ev.Path, ev.Query}] {
			if r.wt <= match.r.wt && inWindow(r.wt) && normalised(o.Format, r.cache) == "FILL" && r.status == 200 &&
				r.sid != "" && slices.Contains(users.userSids[ev.Victim], r.sid) {
				fillSeen = true
				break
			}
		}
		if !fillSeen {
			t.Errorf("event %d: no fill by victim %s before it", i, ev.Victim)
		}
		if want := exposed(routeCats(c, ev.Path), ev.Victim); !slices.Equal(ev.Categories, want) {
			t.Errorf("event %d: categories %v, want %v", i, ev.Categories, want)
		}
		if ms {
			if match.owner != ev.Victim || ev.Ambiguous {
				t.Errorf("event %d: lineage owner %q, truth victim %s (ambiguous %v)", i, match.owner, ev.Victim, ev.Ambiguous)
			}
		} else {
			if !match.candidates[ev.Victim] {
				t.Errorf("event %d: victim %s not among the candidates %v", i, ev.Victim, match.candidates)
			}
			if want := len(match.candidates) > 1; ev.Ambiguous != want {
				t.Errorf("event %d: ambiguous %v, want %v (candidates %v)", i, ev.Ambiguous, want, match.candidates)
			}
		}
	}
	if empty != tr.EmptyEvents || res.EmptyEvents != empty || res.Events != len(tr.Events) {
		t.Errorf("empty events: counted %d, truth %d, result %d", empty, tr.EmptyEvents, res.EmptyEvents)
	}
	// No exposure the logs prove is missing from the truth.
	for _, cl := range cached {
		if cl.used {
			continue
		}
		viewer := viewerOf(cl.r)
		if ms && cl.owner != "" && "user:"+cl.owner != viewer {
			t.Errorf("%s %s %s?%s: page of %s served to %s, not in the truth", written(cl.r.wt), cl.r.pop, cl.r.path, cl.r.query, cl.owner, viewer)
		}
		if !ms && len(cl.candidates) == 1 {
			for p := range cl.candidates {
				if p != "" && "user:"+p != viewer {
					t.Errorf("%s %s %s?%s: page of %s served to %s, not in the truth", written(cl.r.wt), cl.r.pop, cl.r.path, cl.r.query, p, viewer)
				}
			}
		}
	}

	// The affected people, rebuilt from the events and the stored pages.
	type agg struct {
		confirmed, all map[string]bool
		views          int
		viewers        map[string]bool
		first, last    string
		ruleConfirmed  bool
	}
	people := map[string]*agg{}
	get := func(id string) *agg {
		if people[id] == nil {
			people[id] = &agg{confirmed: map[string]bool{}, all: map[string]bool{}, viewers: map[string]bool{}}
		}
		return people[id]
	}
	for id, cats := range stored {
		for x := range cats {
			get(id).all[x] = true
		}
	}
	for _, ev := range tr.Events {
		if len(ev.Categories) == 0 {
			continue
		}
		a := get(ev.Victim)
		a.views++
		a.viewers[ev.Viewer] = true
		if a.first == "" || ev.Time < a.first {
			a.first = ev.Time
		}
		if ev.Time > a.last {
			a.last = ev.Time
		}
		a.ruleConfirmed = a.ruleConfirmed || !ev.Ambiguous
		for _, x := range ev.Categories {
			a.confirmed[x] = true
			a.all[x] = true
		}
	}
	keys := func(m map[string]bool) []string {
		out := []string{}
		for k := range m {
			out = append(out, k)
		}
		slices.Sort(out)
		return out
	}
	var want []truthAffected
	var counts truthCounts
	for id, a := range people {
		ta := truthAffected{UserID: id, Level: levelPossible, RuleLevel: levelPossible, Categories: keys(a.all),
			ConfirmedCategories: keys(a.confirmed), Views: a.views, Viewers: len(a.viewers)}
		if a.views > 0 {
			first, last := a.first, a.last
			ta.Level, ta.FirstExposed, ta.LastExposed = levelConfirmed, &first, &last
			counts.Confirmed++
		} else {
			counts.Possible++
		}
		if a.ruleConfirmed {
			ta.RuleLevel = levelConfirmed
			counts.RuleConfirmed++
		} else {
			counts.RulePossible++
		}
		want = append(want, ta)
	}
	slices.SortFunc(want, func(a, b truthAffected) int {
		x, _ := strconv.ParseInt(a.UserID, 10, 64)
		y, _ := strconv.ParseInt(b.UserID, 10, 64)
		return cmp.Compare(x, y)
	})
	if len(want) != len(tr.Affected) {
		t.Errorf("affected: %d in truth, %d from the logs", len(tr.Affected), len(want))
	}
	for i := range min(len(want), len(tr.Affected)) {
		if !reflect.DeepEqual(want[i], tr.Affected[i]) {
			t.Errorf("affected[%d]:\n got %+v\nwant %+v", i, tr.Affected[i], want[i])
			break
		}
	}

	// The same per edge: from the edge's own events and stored pages.
	for _, pop := range tr.Edges {
		byID := map[string]*agg{}
		get := func(id string) *agg {
			if byID[id] == nil {
				byID[id] = &agg{confirmed: map[string]bool{}, all: map[string]bool{}, viewers: map[string]bool{}}
			}
			return byID[id]
		}
		for id, cats := range storedByPop[pop] {
			for x := range cats {
				get(id).all[x] = true
			}
		}
		for _, ev := range tr.Events {
			if ev.Pop != pop || len(ev.Categories) == 0 {
				continue
			}
			a := get(ev.Victim)
			a.views++
			a.viewers[ev.Viewer] = true
			if a.first == "" || ev.Time < a.first {
				a.first = ev.Time
			}
			a.last = max(a.last, ev.Time)
			a.ruleConfirmed = a.ruleConfirmed || !ev.Ambiguous
			for _, x := range ev.Categories {
				a.confirmed[x], a.all[x] = true, true
			}
		}
		var want []truthEdgeAffected
		for id, a := range byID {
			e := truthEdgeAffected{UserID: id, Level: levelPossible, RuleLevel: levelPossible, Categories: keys(a.all),
				ConfirmedCategories: keys(a.confirmed), Views: a.views, Viewers: keys(a.viewers)}
			if a.views > 0 {
				first, last := a.first, a.last
				e.Level, e.FirstExposed, e.LastExposed = levelConfirmed, &first, &last
			}
			if a.ruleConfirmed {
				e.RuleLevel = levelConfirmed
			}
			want = append(want, e)
		}
		slices.SortFunc(want, func(a, b truthEdgeAffected) int {
			x, _ := strconv.ParseInt(a.UserID, 10, 64)
			y, _ := strconv.ParseInt(b.UserID, 10, 64)
			return cmp.Compare(x, y)
		})
		got, ok := tr.AffectedByEdge[pop]
		if !ok || len(got) != len(want) {
			t.Errorf("affected_by_edge[%s]: %d in truth (present %v), %d from the logs", pop, len(got), ok, len(want))
		}
		for i := range min(len(want), len(got)) {
			if !reflect.DeepEqual(want[i], got[i]) {
				t.Errorf("affected_by_edge[%s][%d]:\n got %+v\nwant %+v", pop, i, got[i], want[i])
				break
			}
		}
	}
	if len(tr.AffectedByEdge) != len(tr.Edges) {
		t.Errorf("affected_by_edge has %d edges, want %d", len(tr.AffectedByEdge), len(tr.Edges))
	}
	if tr.Counts != counts || res.Confirmed != counts.Confirmed || res.Possible != counts.Possible {
		t.Errorf("counts: truth %+v, result %d/%d, want %+v", tr.Counts, res.Confirmed, res.Possible, counts)
	}
	if ms && (counts.RuleConfirmed != counts.Confirmed) {
		t.Errorf("ms: rule levels differ from the truth: %+v", counts)
	}
	if counts.Confirmed == 0 || counts.Possible == 0 || empty == 0 {
		t.Errorf("a degenerate incident: %+v, %d empty events", counts, empty)
	}
	ambiguous := 0
	for _, ev := range tr.Events {
		if ev.Ambiguous {
			ambiguous++
		}
	}
	if !ms && ambiguous == 0 {
		t.Errorf("no event is ambiguous under the one-second rule; the test does not exercise it")
	}
	t.Logf("%s/%s: %d lines (%d truncated), %d events (%d empty, %d ambiguous), %+v",
		o.Format, tr.Precision, lines, bad, len(tr.Events), empty, ambiguous, counts)
}
