package sim

import (
	"cmp"
	"context"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/breachctl/breachctl/incident/users"
)

// Scenarios: the kinds of incident simulate writes.
const (
	ScenarioCache       = "cache"
	ScenarioEnumeration = "enumeration"
	ScenarioMixup       = "mixup"
	ScenarioTakeover    = "takeover"
	ScenarioBucket      = "bucket"
)

// Scenarios lists the scenarios with one line each, in the order help
// shows them.
var Scenarios = []struct{ Name, Summary string }{
	{ScenarioCache, "a CDN cached private pages and served them to other customers (cache rule)"},
	{ScenarioEnumeration, "an account and an anonymous scanner walk user and order ids on the API (object rule)"},
	{ScenarioMixup, "responses carried another customer's data, as an upstream X-User-Id shows (owner rule; nginx, jsonl)"},
	{ScenarioTakeover, "credential stuffing from a network and a noisy address, taken-over sessions (actor rule)"},
	{ScenarioBucket, "a file store made public: anonymous downloads of customers' documents (object rule, owners_query)"},
}

// scenarioFormats lists the formats a scenario can be written in, when
// not all.
var scenarioFormats = map[string][]string{
	ScenarioMixup: {FormatNginx, FormatJSONL},
}

// CheckScenarioFormat says whether scenario can be written in format: an
// owner rule needs logs that name whose data each response carried.
func CheckScenarioFormat(scenario, format string) error {
	if fs, ok := scenarioFormats[scenario]; ok && !slices.Contains(fs, format) {
		return fmt.Errorf("scenario %s needs logs that name whose data each response carried (an upstream X-User-Id header); %s logs cannot carry it: use --format %s", scenario, format, strings.Join(fs, " or "))
	}
	return nil
}

// background says how a scenario's ordinary site traffic differs from the
// cache incident's, and carries the scenario's own requests.
type background struct {
	extras    [][]*sreq // per edge, in written-time order
	subjects  bool      // the logs carry the upstream X-User-Id
	loginFail int       // status of a failed login
	// failFrom, failTo: count failed logins per address in [failFrom,
	// failTo) (a login threshold); equal: do not count.
	failFrom, failTo int64
}

// What a scenario request is for its rule (the truth follows
// common.md's semantics for each).
const (
	evNone         uint8 = iota
	evObject             // victims: the users the request names (or the object's owners)
	evOwner              // victims[0]: the subject the log carries
	evActorView          // victims[0]: the user of the session, from the attacker's infrastructure
	evActorLogin         // victims[0]: the account a successful login took over
	evUnattributed       // an object rule's object with no owner
)

// sreq is one request a scenario adds to the logs, with what it means.
type sreq struct {
	line lineIn
	edge int

	rule      string  // the rule it counts for ("" none)
	kind      uint8   // ev*
	victims   []int32 // user indices
	requester int32   // the user the request's identity resolves to, -1 none
	listed    bool    // the requester is in the rule's viewers list
	cats      catMask // the matching route's categories (login: login.categories)
	near      string  // a near miss: why it must not count ("" when it is not one)
}

// client is who sends a scenario request.
type client struct {
	ip     string
	ua     uint8
	h2     bool
	sid    string // "" none
	cookie string
	user   int32 // the user sid resolves to, -1 none
}

// scen builds a scenario's requests, tables and case file.
type scen struct {
	o      Options
	pop    *population
	r      *rand.Rand
	prec   int64
	ws, we int64 // the window, ns
	reqs   []*sreq
	tables []ownerTable
	spec   caseSpec
	bg     background
	// private is the members' area pages (the site's private keys).
	private []key
	// check, when set, verifies the generated traffic against the
	// scenario's assumptions (a login threshold no ordinary client
	// reaches, say).
	check func(results []*edgeResult) error
}

// ownerTable is an owners_query table: object id → user.
type ownerTable struct {
	name string
	rows []ownerRow
}

type ownerRow struct {
	object string
	user   int32
}

func newScen(o Options, pop *population) *scen {
	sc := &scen{
		o:    o,
		pop:  pop,
		r:    newRand(o.Seed, streamScenario),
		prec: int64(time.Millisecond),
		ws:   windowStart.UnixNano(),
		we:   windowEnd.UnixNano(),
		bg:   background{loginFail: 401},
	}
	sc.private = newSiteKeys().keys[:numPrivateKeys:numPrivateKeys]
	if o.Precision == PrecisionSecond {
		sc.prec = int64(time.Second)
	}
	return sc
}

// between returns a random time in [a, b), ns.
func (sc *scen) between(a, b int64) int64 { return a + sc.r.Int64N(b-a) }

// written is t as the logs write it.
func (sc *scen) written(t int64) int64 { return t - t%sc.prec }

// userClient is user u on their first device.
func (sc *scen) userClient(u int32) client {
	s := &sc.pop.sessions[sc.pop.users[u].firstSess]
	return client{ip: s.ip, ua: s.ua, h2: s.h2, sid: s.id, cookie: s.cookie, user: u}
}

// anonymous is a client without a session.
func anonymous(ip string, ua uint8) client { return client{ip: ip, ua: ua, user: -1} }

// edgeFor returns the edge a client address reaches: stable per address,
// weighted like the traffic.
func edgeFor(ip string) int {
	h := fnv.New64a()
	h.Write([]byte(ip))
	x := int(splitmix(h.Sum64()) % 100)
	for e, w := range []int{38, 27, 22, 13} {
		if x < w {
			return e
		}
		x -= w
	}
	return 0
}

// add appends a request at time t (ns; written at the precision).
func (sc *scen) add(t int64, c client, post bool, path, query string, status, bytes int) *sreq {
	x := &sreq{edge: edgeFor(c.ip), requester: c.user}
	x.line = lineIn{
		wt: sc.written(t), ip: c.ip, post: post, k: newKey(path, query), status: status, bytes: bytes,
		cache: resOrigin, ua: c.ua, h2: c.h2, sid: c.sid, cookie: c.cookie,
	}
	if post {
		x.line.cache = resPost
	}
	if c.user >= 0 {
		x.line.subject = sc.pop.users[c.user].idString()
	}
	sc.reqs = append(sc.reqs, x)
	return x
}

func (u *user) idString() string { return fmt.Sprint(u.id) }

// split sorts the requests by written time and deals them to the edges.
func (sc *scen) split(edges int) [][]*sreq {
	slices.SortStableFunc(sc.reqs, func(a, b *sreq) int { return cmp.Compare(a.line.wt, b.line.wt) })
	out := make([][]*sreq, edges)
	for _, x := range sc.reqs {
		out[x.edge] = append(out[x.edge], x)
	}
	return out
}

// inSpan reports whether every request falls inside the logs' span.
func (sc *scen) inSpan() error {
	lo, hi := windowStart.Add(-logMargin).UnixNano(), windowEnd.Add(logMargin).UnixNano()
	for _, x := range sc.reqs {
		if x.line.wt < lo || x.line.wt >= hi {
			return fmt.Errorf("simulate: internal: a %s request at %s is outside the logs' span", sc.o.Scenario, time.Unix(0, x.line.wt).UTC())
		}
	}
	return nil
}

// buildScenario builds o.Scenario's requests on pop (adding sessions when
// the scenario needs them).
func buildScenario(o Options, pop *population) (*scen, error) {
	sc := newScen(o, pop)
	switch o.Scenario {
	case ScenarioEnumeration:
		sc.enumeration()
	case ScenarioMixup:
		sc.mixup()
	case ScenarioTakeover:
		sc.takeover()
	case ScenarioBucket:
		sc.bucket()
	default:
		return nil, fmt.Errorf("simulate: unknown scenario %q", o.Scenario)
	}
	if err := sc.inSpan(); err != nil {
		return nil, err
	}
	return sc, nil
}

// runScenario is run for the scenarios other than cache.
func runScenario(ctx context.Context, db *sqlx.DB, o Options) (*Result, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	pop := newPopulation(o.Seed, o.Users)
	sc, err := buildScenario(o, pop)
	if err != nil {
		return nil, err
	}

	dbDone := make(chan error, 1)
	go func() {
		err := loadPopulation(ctx, db, pop)
		if err == nil {
			err = loadOwnerTables(ctx, db, pop, sc.tables)
		}
		dbDone <- err
	}()

	tr, genErr := sc.generate(ctx)
	if genErr != nil {
		cancel()
	}
	dbErr := <-dbDone
	if genErr != nil {
		return nil, genErr
	}
	if dbErr != nil {
		return nil, dbErr
	}
	if o.ReaderRole != "" && !strings.Contains(o.UsersDBURL, "${") {
		tables := []string{"sim_users", "sim_sessions"}
		for _, t := range sc.tables {
			tables = append(tables, t.name)
		}
		if err := users.GrantReader(ctx, db, o.ReaderRole, tables...); err != nil {
			return nil, fmt.Errorf("simulate: the read-only role for the case file: %w (connect as a role that may create roles and grant on its tables)", err)
		}
		if o.UsersDBURL, err = users.WithUser(o.UsersDBURL, o.ReaderRole); err != nil {
			return nil, fmt.Errorf("simulate: %w", err)
		}
	}

	res := &Result{
		CaseFile:       filepath.Join(o.Out, "incident.yaml"),
		TruthFile:      filepath.Join(o.Out, "truth.json"),
		Lines:          tr.Lines,
		Events:         len(tr.Events) + tr.EmptyEvents,
		EmptyEvents:    tr.EmptyEvents,
		Confirmed:      tr.Counts.Confirmed,
		Possible:       tr.Counts.Possible,
		Users:          len(pop.users),
		Sessions:       len(pop.sessions),
		TruncatedLines: tr.TruncatedLines,
	}
	for _, f := range tr.Files {
		res.LogFiles = append(res.LogFiles, filepath.Join(o.Out, filepath.FromSlash(f)))
	}
	if err := writeCaseText(res.CaseFile, caseText(o, sc.spec)); err != nil {
		return nil, err
	}
	if err := writeScenarioTruth(res.TruthFile, tr); err != nil {
		return nil, err
	}
	return res, nil
}

// generate writes the logs: the site's ordinary traffic with the
// scenario's requests merged in.
func (sc *scen) generate(ctx context.Context) (*scenarioTruth, error) {
	p, err := newPlan(sc.o, sc.pop)
	if err != nil {
		return nil, err
	}
	bg := sc.bg
	bg.extras = sc.split(len(p.edges))
	p.bg = &bg
	results, err := p.runEdges(ctx)
	if err != nil {
		return nil, err
	}
	if sc.check != nil {
		if err := sc.check(results); err != nil {
			return nil, err
		}
	}
	return sc.buildTruth(p, results)
}

// loadOwnerTables recreates the scenario's owners_query tables
// (object_id text, user_id bigint) and fills them.
func loadOwnerTables(ctx context.Context, db *sqlx.DB, pop *population, tables []ownerTable) error {
	for _, t := range tables {
		if err := loadOwnerTable(ctx, db, pop, t); err != nil {
			return fmt.Errorf("simulate: load %s: %w", t.name, err)
		}
	}
	return nil
}

func loadOwnerTable(ctx context.Context, db *sqlx.DB, pop *population, t ownerTable) error {
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	for _, q := range []string{
		`DROP TABLE IF EXISTS ` + t.name,
		`CREATE TABLE ` + t.name + ` (object_id text NOT NULL, user_id bigint NOT NULL)`,
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	st, err := tx.PrepareContext(ctx, `COPY `+t.name+` (object_id, user_id) FROM STDIN`)
	if err != nil {
		return err
	}
	for _, row := range t.rows {
		if _, err := st.ExecContext(ctx, row.object, pop.users[row.user].id); err != nil {
			_ = st.Close()
			return err
		}
	}
	if _, err := st.ExecContext(ctx); err != nil {
		_ = st.Close()
		return err
	}
	if err := st.Close(); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `ALTER TABLE `+t.name+` ADD PRIMARY KEY (object_id, user_id)`); err != nil {
		return err
	}
	return tx.Commit()
}
