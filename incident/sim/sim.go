// Package sim writes a realistic CDN cache-leak incident: users and sessions
// in the user database, per-edge CDN access logs, a case file, and the ground
// truth (truth.json) that the ingest and correlation engine is measured
// against.
//
// The incident follows the June 2017 case in DESIGN.md: during the declared
// window the CDN cached private "My Page" responses and served them to other
// customers. The simulated caches follow DESIGN.md's cache-lineage rules
// literally, and every time recorded in the truth is the time as written to
// the logs, so the truth can be compared with the engine's output exactly.
//
// Everything is deterministic for a seed: the same Options produce the same
// bytes in every file, whatever the machine.
package sim

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/breachctl/breachctl/incident/users"
)

// Log formats the simulator writes.
const (
	FormatNginx      = "nginx"
	FormatCloudFront = "cloudfront"
	FormatCloudflare = "cloudflare"
	FormatJSONL      = "jsonl"
)

// Timestamp precisions.
const (
	PrecisionMillisecond = "ms"
	PrecisionSecond      = "s"
)

// Defaults for the zero values of Options.
const (
	DefaultUsers    = 10000
	DefaultRequests = 200000
	DefaultCaseID   = "sim-cache-leak"
	DefaultTTL      = 30 * time.Second
	DefaultFormat   = FormatNginx
)

// MinScenarioUsers is the fewest users the scenarios other than cache
// take: their attackers walk and pick among them.
const MinScenarioUsers = 100

// MaxRequests bounds Options.Requests: every request of an edge gets its own
// millisecond of the covered span, and the busiest edge has about 4 in 10
// requests.
const MaxRequests = 50_000_000

// ErrOutNotEmpty is returned when Options.Out exists and is not an empty
// directory.
var ErrOutNotEmpty = errors.New("output directory exists and is not empty")

// Options configures a simulation. Zero values mean the defaults.
type Options struct {
	Out      string // output directory (created 0700); must be empty or not exist
	Users    int    // number of users; default 10000
	Requests int    // total requests (one log line each); default 200000
	Format   string // nginx | cloudfront | cloudflare | jsonl; default nginx
	// Scenario is the kind of incident (Scenarios); default cache.
	Scenario  string
	Precision string // "ms" or "s"; default "ms", except "s" for cloudfront (which has no sub-second time)
	Seed      uint64
	CaseID    string // default "sim-cache-leak" (cache), else "sim-" + the scenario
	// UsersDBURL is written literally into the case file as
	// users.database_url; empty writes the placeholder ${USERS_DATABASE_URL}.
	UsersDBURL string
	TTL        time.Duration // cache TTL of private pages in the window; default 30s
	// ReaderRole, when set, is a role (created, LOGIN, no password, if
	// missing) given SELECT on the simulator's tables and nothing else;
	// the case file connects as it (UsersDBURL with its user replaced), as
	// a real one should: ingest refuses a role that could write.
	ReaderRole string
}

// Result summarises a simulation.
type Result struct {
	CaseFile, TruthFile   string
	LogFiles              []string
	Lines, TruncatedLines int64
	Events, EmptyEvents   int // exposure events (EmptyEvents of them exposed no category)
	Confirmed, Possible   int
	Users, Sessions       int
	Elapsed               time.Duration
}

// The incident's fixed timeline (DESIGN.md's motivating case). Read-only.
var (
	jst          = time.FixedZone("JST", 9*3600) // Asia/Tokyo; no DST since 1951
	windowStart  = time.Date(2017, 6, 22, 9, 41, 0, 0, jst)
	windowEnd    = time.Date(2017, 6, 22, 15, 38, 0, 0, jst)
	discoveredAt = time.Date(2017, 6, 22, 14, 41, 0, 0, jst)
)

const (
	logMargin    = time.Hour // the logs cover the window ± logMargin
	defaultDBURL = "${USERS_DATABASE_URL}"
)

var (
	caseIDPattern = regexp.MustCompile(`^[a-z0-9-]+$`)
	errNoUsersDB  = errors.New("simulate: no user database")
)

// normalize validates opts and fills in defaults.
func (o Options) normalize() (Options, error) {
	if o.Out == "" {
		return o, errors.New("simulate: output directory is required")
	}
	switch o.Scenario {
	case "":
		o.Scenario = ScenarioCache
	case ScenarioCache, ScenarioEnumeration, ScenarioMixup, ScenarioTakeover, ScenarioBucket:
	default:
		return o, fmt.Errorf("simulate: unknown scenario %q (want cache, enumeration, mixup, takeover or bucket)", o.Scenario)
	}
	switch o.Format {
	case "":
		o.Format = DefaultFormat
	case FormatNginx, FormatCloudFront, FormatCloudflare, FormatJSONL:
	default:
		return o, fmt.Errorf("simulate: unknown format %q (want nginx, cloudfront, cloudflare or jsonl)", o.Format)
	}
	if err := CheckScenarioFormat(o.Scenario, o.Format); err != nil {
		return o, fmt.Errorf("simulate: %w", err)
	}
	switch o.Precision {
	case "":
		o.Precision = PrecisionMillisecond
		if o.Format == FormatCloudFront {
			o.Precision = PrecisionSecond
		}
	case PrecisionMillisecond:
		if o.Format == FormatCloudFront {
			return o, errors.New(`simulate: precision "ms" is impossible with cloudfront: its log format has one-second times (use "s")`)
		}
	case PrecisionSecond:
	default:
		return o, fmt.Errorf(`simulate: unknown precision %q (want "ms" or "s")`, o.Precision)
	}
	switch {
	case o.Users == 0:
		o.Users = DefaultUsers
	case o.Users < 0:
		return o, fmt.Errorf("simulate: users must be positive, got %d", o.Users)
	}
	if o.Scenario != ScenarioCache && o.Users < MinScenarioUsers {
		return o, fmt.Errorf("simulate: scenario %s needs at least %d users, got %d", o.Scenario, MinScenarioUsers, o.Users)
	}
	switch {
	case o.Requests == 0:
		o.Requests = DefaultRequests
	case o.Requests < 0:
		return o, fmt.Errorf("simulate: requests must be positive, got %d", o.Requests)
	case o.Requests > MaxRequests:
		return o, fmt.Errorf("simulate: requests must be at most %d, got %d", MaxRequests, o.Requests)
	}
	switch {
	case o.TTL == 0:
		o.TTL = DefaultTTL
	case o.TTL < 0:
		return o, fmt.Errorf("simulate: ttl must be positive, got %s", o.TTL)
	case o.TTL > windowEnd.Sub(windowStart):
		return o, fmt.Errorf("simulate: ttl %s is longer than the incident window", o.TTL)
	}
	if o.CaseID == "" {
		o.CaseID = DefaultCaseID
		if o.Scenario != ScenarioCache {
			o.CaseID = "sim-" + o.Scenario
		}
	}
	if !caseIDPattern.MatchString(o.CaseID) {
		return o, fmt.Errorf("simulate: case id %q must match [a-z0-9-]+", o.CaseID)
	}
	if o.UsersDBURL == "" {
		o.UsersDBURL = defaultDBURL
	}
	return o, nil
}

// Run simulates the incident described by opts: it recreates the tables
// sim_users and sim_sessions in db (the user database) and writes the logs,
// the case file (incident.yaml) and the truth (truth.json) under opts.Out.
// On failure it removes what it wrote.
func Run(ctx context.Context, db *sqlx.DB, opts Options) (*Result, error) {
	began := time.Now()
	o, err := opts.normalize()
	if err != nil {
		return nil, err
	}
	if db == nil {
		return nil, errNoUsersDB
	}
	created, err := prepareOut(o.Out)
	if err != nil {
		return nil, err
	}
	var res *Result
	if o.Scenario == ScenarioCache {
		res, err = run(ctx, db, o)
	} else {
		res, err = runScenario(ctx, db, o)
	}
	if err != nil {
		cleanOut(o.Out, created)
		return nil, err
	}
	res.Elapsed = time.Since(began)
	return res, nil
}

func run(ctx context.Context, db *sqlx.DB, o Options) (*Result, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	pop := newPopulation(o.Seed, o.Users)

	// The user database and the logs are independent: load one while
	// writing the other.
	dbDone := make(chan error, 1)
	go func() { dbDone <- loadPopulation(ctx, db, pop) }()

	g, genErr := generate(ctx, o, pop)
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
		if err := users.GrantReader(ctx, db, o.ReaderRole, "sim_users", "sim_sessions"); err != nil {
			return nil, fmt.Errorf("simulate: the read-only role for the case file: %w (connect as a role that may create roles and grant on its tables)", err)
		}
		var err error
		if o.UsersDBURL, err = users.WithUser(o.UsersDBURL, o.ReaderRole); err != nil {
			return nil, fmt.Errorf("simulate: %w", err)
		}
	}

	res := &Result{
		CaseFile:       filepath.Join(o.Out, "incident.yaml"),
		TruthFile:      filepath.Join(o.Out, "truth.json"),
		Lines:          g.truth.Lines,
		TruncatedLines: g.truth.TruncatedLines,
		Events:         len(g.truth.Events),
		EmptyEvents:    g.truth.EmptyEvents,
		Confirmed:      g.truth.Counts.Confirmed,
		Possible:       g.truth.Counts.Possible,
		Users:          len(pop.users),
		Sessions:       len(pop.sessions),
	}
	for _, f := range g.truth.Files {
		res.LogFiles = append(res.LogFiles, filepath.Join(o.Out, filepath.FromSlash(f)))
	}
	if err := writeCaseFile(res.CaseFile, o); err != nil {
		return nil, err
	}
	if err := writeTruth(res.TruthFile, g.truth); err != nil {
		return nil, err
	}
	return res, nil
}

// prepareOut makes sure dir is an empty directory, creating it if needed.
// created reports whether it did not exist before.
func prepareOut(dir string) (created bool, err error) {
	entries, err := os.ReadDir(dir)
	switch {
	case err == nil:
		if len(entries) > 0 {
			return false, fmt.Errorf("simulate: %s: %w", dir, ErrOutNotEmpty)
		}
		return false, nil
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return false, fmt.Errorf("simulate: create output directory: %w", err)
		}
		return true, nil
	default:
		return false, fmt.Errorf("simulate: output directory %s: %w", dir, err)
	}
}

// cleanOut removes what a failed run wrote into dir (dir itself only if the
// run created it).
func cleanOut(dir string, created bool) {
	if created {
		_ = os.RemoveAll(dir)
		return
	}
	for _, name := range []string{"logs", "incident.yaml", "truth.json"} {
		_ = os.RemoveAll(filepath.Join(dir, name))
	}
}
