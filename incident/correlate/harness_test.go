package correlate_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/breachctl/breachctl/incident"
	"github.com/breachctl/breachctl/incident/correlate"
	"github.com/breachctl/breachctl/incident/logs"
)

// The case the tests correlate: the valid.yaml case (window 09:41–15:38 JST,
// cache key pop+host+path+query, status 200 cacheable, two private routes).
const sessionCaseYAML = `id: web-cache-2017-06
title: Customer pages served to other customers by the CDN
timezone: Asia/Tokyo
window:
  start: 2017-06-22T09:41:00+09:00
  end:   2017-06-22T15:38:00+09:00
discovered_at: 2017-06-22T14:41:00+09:00
contained_at:  2017-06-22T15:38:00+09:00
organization:
  name: Example Market K.K.
  contact_email: privacy@example.jp
  contact_phone: "+81-3-0000-0000"
  website: https://www.example.jp
  address: 1-1 Example, Chiyoda-ku, Tokyo
  dpo_email: dpo@example.jp
cause_kind: misconfiguration
narrative:
  cause: A CDN configuration change cached pages that must never be cached.
  measures: The change was reverted and the cache purged.
  consequences: Other customers may have seen names, addresses and bank details.
logs:
  - paths: ["logs/*.log"]
    format: nginx
    identity: cookie:sid
identity_kind: session
users:
  database_url: postgres://reader@db.internal/users
  sessions_query: SELECT session_id, user_id FROM sessions WHERE session_id = ANY($1)
  users_query: >-
    SELECT id, email, name, locale, country, region,
           has_postal_address, has_phone, has_bank_account, has_payment_card
    FROM users WHERE id = ANY($1)
exposure:
  cache_key: [pop, host, path, query]
  cacheable_status: [200]
  routes:
    - {match: /mypage/profile, categories: [name, postal_address, phone]}
    - {match: "/mypage/bank*", categories: [bank_account]}
notify:
  from: Example Market Privacy Office <privacy@example.jp>
  default_locale: ja
`

const (
	profile = "/mypage/profile"
	bank    = "/mypage/bank/account"
	host    = "www.example.jp"
)

var (
	profileCats = []incident.Category{incident.CatName, incident.CatPostalAddress, incident.CatPhone}
	bankCats    = []incident.Category{incident.CatBankAccount}
	tokyo       = time.FixedZone("JST", 9*3600)
)

// loadCase parses the test case file with identity_kind session or user.
func loadCase(t testing.TB, identityKind string) *incident.Case {
	t.Helper()
	src := sessionCaseYAML
	if identityKind == "user" {
		src = strings.Replace(src, "identity_kind: session", "identity_kind: user", 1)
		src = strings.Replace(src, "  sessions_query: SELECT session_id, user_id FROM sessions WHERE session_id = ANY($1)\n", "", 1)
	}
	c, err := incident.Parse([]byte(src), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("incident.Parse(test case, %s) = %v, want no error", identityKind, err)
	}
	return c
}

// at is a time on 2017-06-22 in Tokyo ("10:00:05.100"), as Unix ns.
func at(hms string) int64 {
	t, err := time.ParseInLocation("2006-01-02 15:04:05.999999999", "2017-06-22 "+hms, tokyo)
	if err != nil {
		panic(err)
	}
	return t.UnixNano()
}

// clock shows Unix ns as a Tokyo time of day ("-" for none).
func clock(ns int64) string {
	if ns == 0 {
		return "-"
	}
	t := time.Unix(0, ns).In(tokyo)
	if t.Format("2006-01-02") != "2017-06-22" {
		return t.Format(time.RFC3339Nano)
	}
	return t.Format("15:04:05.999999999")
}

// rrec is one access-log line of a scenario.
type rrec struct {
	at     string // Tokyo time of day on 2017-06-22
	cache  logs.Cache
	ident  string // "" anonymous
	path   string
	pop    string // default NRT
	query  string
	status int    // default 200
	ip     string // default 198.51.100.7
	coarse bool   // one-second timestamp
	file   int
	subj   string // logs[].subject: whose data the response carried
	ua     string // user agent
}

func fill(hms, ident, path string) rrec {
	return rrec{at: hms, cache: logs.CacheFill, ident: ident, path: path}
}
func hit(hms, ident, path string) rrec {
	return rrec{at: hms, cache: logs.CacheCached, ident: ident, path: path}
}
func origin(hms, ident, path string) rrec {
	return rrec{at: hms, cache: logs.CacheOrigin, ident: ident, path: path}
}

func (r rrec) on(pop string) rrec          { r.pop = pop; return r }
func (r rrec) st(status int) rrec          { r.status = status; return r }
func (r rrec) from(ip string) rrec         { r.ip = ip; return r }
func (r rrec) q(query string) rrec         { r.query = query; return r }
func (r rrec) sec() rrec                   { r.coarse = true; return r }
func (r rrec) inFile(file int) rrec        { r.file = file; return r }
func (r rrec) withCache(c logs.Cache) rrec { r.cache = c; return r }
func (r rrec) subject(s string) rrec       { r.subj = s; return r }
func (r rrec) agent(ua string) rrec        { r.ua = ua; return r }

func (r rrec) popName() string {
	if r.pop == "" {
		return "NRT"
	}
	return r.pop
}

func (r rrec) statusCode() int {
	if r.status == 0 {
		return 200
	}
	return r.status
}

// record is what a log parser would hand the sink for r.
func (r rrec) record() *logs.Record {
	ip := r.ip
	if ip == "" {
		ip = "198.51.100.7"
	}
	return &logs.Record{Time: at(r.at), Coarse: r.coarse, Pop: []byte(r.popName()), Host: []byte(host),
		Method: []byte("GET"), Path: []byte(r.path), Query: []byte(r.query), Status: r.statusCode(),
		Cache: r.cache, CacheRaw: []byte(r.cache.String()), Identity: []byte(r.ident), ClientIP: []byte(ip),
		Subject: []byte(r.subj), UserAgent: []byte(r.ua)}
}

// The people of the tests: sessions and user records.
var testSessions = map[string]string{
	"sess-a": "1", "sess-a2": "1", // one person, two sessions
	"sess-b": "2", "sess-c": "3", "sess-d": "4",
	"sess-e": "5", // user 5 has no user record
	// sess-x and sess-y are in no sessions table.
}

func testUsers(notOnFile map[string][]incident.Category) map[string]*correlate.UserRecord {
	out := map[string]*correlate.UserRecord{}
	for _, u := range []correlate.UserRecord{
		{ID: "1", Locale: "ja", Country: "JP", Region: "JP-13"},
		{ID: "2", Locale: "en", Country: "US", Region: "US-CA"},
		{ID: "3", Locale: "ja", Country: "JP", Region: "JP-27"},
		{ID: "4", Locale: "de", Country: "DE", Region: "DE-BE"},
	} {
		u := u
		for _, c := range notOnFile[u.ID] {
			if u.NotOnFile == nil {
				u.NotOnFile = map[incident.Category]bool{}
			}
			u.NotOnFile[c] = true
		}
		out[u.ID] = &u
	}
	return out
}

// fakeResolver answers from maps and checks what it is asked.
type fakeResolver struct {
	t        testing.TB
	sessions map[string]string
	users    map[string]*correlate.UserRecord
	err      error
}

func newResolver(t testing.TB, notOnFile map[string][]incident.Category) *fakeResolver {
	return &fakeResolver{t: t, sessions: testSessions, users: testUsers(notOnFile)}
}

func (f *fakeResolver) checkIDs(what string, ids []string) {
	seen := map[string]bool{}
	for _, id := range ids {
		if id == "" || seen[id] {
			f.t.Errorf("%s(%q): got an empty or repeated id %q, want distinct non-empty ids", what, ids, id)
		}
		seen[id] = true
	}
}

func (f *fakeResolver) Sessions(ctx context.Context, ids []string) (map[string]string, error) {
	f.checkIDs("Sessions", ids)
	if f.err != nil {
		return nil, f.err
	}
	out := map[string]string{}
	for _, id := range ids {
		if uid, ok := f.sessions[id]; ok {
			out[id] = uid
		}
	}
	return out, nil
}

// streamingResolver answers sessions through EachSession, from two
// goroutines at once with a reused buffer, as DBResolver does.
type streamingResolver struct{ *fakeResolver }

func (s streamingResolver) EachSession(ctx context.Context, ids []string, fn func(sids, uids [][]byte)) error {
	found, err := s.Sessions(ctx, ids)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	for half := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Chunks of one to three rows, copied into a reused buffer.
			var buf []byte
			var sids, uids [][]byte
			send := func() {
				if len(sids) > 0 {
					fn(sids, uids)
				}
				clear(buf) // the callee must not keep it
				buf, sids, uids = buf[:0:0], sids[:0], uids[:0]
			}
			for i, id := range ids {
				if uid, ok := found[id]; ok && i%2 == half {
					buf = append(buf, id...)
					sids = append(sids, buf[len(buf)-len(id):])
					buf = append(buf, uid...)
					uids = append(uids, buf[len(buf)-len(uid):])
					if len(sids) == 1+i%3 {
						send()
					}
				}
			}
			send()
		}()
	}
	wg.Wait()
	return nil
}

func (f *fakeResolver) Users(ctx context.Context, ids []string) (map[string]*correlate.UserRecord, error) {
	f.checkIDs("Users", ids)
	if f.err != nil {
		return nil, f.err
	}
	out := map[string]*correlate.UserRecord{}
	for _, id := range ids {
		if u, ok := f.users[id]; ok {
			cp := *u
			out[id] = &cp
		}
	}
	return out, nil
}

// runOnce feeds recs to a fresh collector and runs it. With split, the
// records go in reverse order to two sinks fed concurrently (as two reader
// workers would); else in the given order to one sink. Line = index+1.
func runOnce(t testing.TB, c *incident.Case, recs []rrec, res correlate.Resolver, split bool) *correlate.Result {
	t.Helper()
	col, err := correlate.NewCollector(c)
	if err != nil {
		t.Fatalf("NewCollector() = %v, want no error", err)
	}
	if !split {
		s := col.Sink(0)
		for i, r := range recs {
			s.Record(r.file, int64(i+1), r.record())
		}
	} else {
		sinks := []logs.Sink{col.Sink(0), col.Sink(1)}
		var wg sync.WaitGroup
		for w, s := range sinks {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := len(recs) - 1; i >= 0; i-- {
					if i%2 == w {
						s.Record(recs[i].file, int64(i+1), recs[i].record())
					}
				}
			}()
		}
		wg.Wait()
	}
	out, err := col.Run(context.Background(), c, res)
	if err != nil {
		t.Fatalf("Run() = %v, want no error", err)
	}
	return out
}

// sameResult compares everything of two results but the timings.
func sameResult(t testing.TB, what string, got, want *correlate.Result) {
	t.Helper()
	if !reflect.DeepEqual(got.Events(), want.Events()) {
		t.Errorf("%s: Events differ:\ngot  %s\nwant %s", what, strings.Join(eventStrings(got.Events()), "\n     "), strings.Join(eventStrings(want.Events()), "\n     "))
	}
	if !reflect.DeepEqual(got.Affected, want.Affected) {
		t.Errorf("%s: Affected differ:\ngot  %s\nwant %s", what, strings.Join(affectedStrings(got.Affected), "\n     "), strings.Join(affectedStrings(want.Affected), "\n     "))
	}
	if got.Counts != want.Counts {
		t.Errorf("%s: Counts = %+v, want %+v", what, got.Counts, want.Counts)
	}
	if !reflect.DeepEqual(got.Summary, want.Summary) {
		t.Errorf("%s: Summary = %+v, want %+v", what, got.Summary, want.Summary)
	}
}

func catList(cs []incident.Category) string {
	s := make([]string, len(cs))
	for i, c := range cs {
		s[i] = string(c)
	}
	slices.Sort(s)
	return strings.Join(s, ",")
}

func eventString(e correlate.Event) string {
	return fmt.Sprintf("%s file=%d line=%d at=%s pop=%s key=%q path=%s status=%d victim=%q level=%q viewer=%s cats=[%s]",
		e.Kind, e.File, e.Line, clock(e.At), e.Pop, e.CacheKey, e.Path, e.Status, e.Victim, e.Level, e.Viewer, catList(e.Categories))
}

func eventStrings(es []correlate.Event) []string {
	out := []string{}
	for _, e := range es {
		out = append(out, eventString(e))
	}
	return out
}

func affectedString(a correlate.Affected) string {
	var levels []string
	for c, l := range a.CategoryLevels {
		levels = append(levels, string(c)+"="+l)
	}
	slices.Sort(levels)
	return fmt.Sprintf("user=%s level=%s cats=%s levels=%s views=%d viewers=%d first=%s last=%s locale=%s country=%s region=%s",
		a.UserID, a.Level, joinCats(a.Categories), strings.Join(levels, ","), a.Views, a.Viewers, clock(a.First), clock(a.Last),
		a.Locale, a.Country, a.Region)
}

// joinCats keeps the order (Affected.Categories must already be sorted).
func joinCats(cs []incident.Category) string {
	s := make([]string, len(cs))
	for i, c := range cs {
		s[i] = string(c)
	}
	return strings.Join(s, ",")
}

func affectedStrings(as []correlate.Affected) []string {
	out := []string{}
	for _, a := range as {
		out = append(out, affectedString(a))
	}
	return out
}

// identityViewer is how a viewer whose identity resolves to nobody is shown.
func identityViewer(ident string) string {
	h := sha256.Sum256([]byte(ident))
	return "identity:" + hex.EncodeToString(h[:6])
}
