package incident

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // time zones work on machines without /usr/share/zoneinfo

	"go.yaml.in/yaml/v3"
)

// Case is a loaded and validated case file (incident.yaml).
type Case struct {
	ID           string `yaml:"id"`
	Title        string `yaml:"title"`
	Timezone     string `yaml:"timezone"`
	Window       Window `yaml:"window"`
	DiscoveredAt string `yaml:"discovered_at"`
	ContainedAt  string `yaml:"contained_at"`
	// FirstSignalAt (optional): the first sign of the incident (an alert, a
	// customer's message), before it was recognised as one.
	FirstSignalAt string `yaml:"first_signal_at"`
	// DeterminedAt (optional): when the scope (or materiality) was
	// determined; a run's own determination time overrides it.
	DeterminedAt string `yaml:"determined_at"`
	// MaterialityDeterminedAt, AssessedAt and ClassifiedAt (optional) start
	// the clocks of the laws that count from a decision, not from
	// awareness: the SEC's 8-K Item 1.05 (the incident determined
	// material), Singapore's PDPA (assessed as notifiable), DORA (classified
	// as major). None may be before discovered_at.
	MaterialityDeterminedAt string       `yaml:"materiality_determined_at"`
	AssessedAt              string       `yaml:"assessed_at"`
	ClassifiedAt            string       `yaml:"classified_at"`
	Calendar                Calendar     `yaml:"calendar"`
	Organization            Organization `yaml:"organization"`
	CauseKind               string       `yaml:"cause_kind"`
	Narrative               Narrative    `yaml:"narrative"`
	Logs                    []LogSource  `yaml:"logs"`
	IdentityKind            string       `yaml:"identity_kind"`
	Users                   UsersConfig  `yaml:"users"`
	Exposure                Exposure     `yaml:"exposure"`
	Notify                  NotifyConfig `yaml:"notify"`

	// Derived when the file is loaded.
	Path     string         `yaml:"-"` // the case file as given
	Dir      string         `yaml:"-"` // globs are relative to it
	SHA256   string         `yaml:"-"` // of the file's bytes, before ${VAR} expansion
	Location *time.Location `yaml:"-"`
	Start    time.Time      `yaml:"-"` // window.start
	End      time.Time      `yaml:"-"` // window.end
	Aware    time.Time      `yaml:"-"` // discovered_at: every legal clock runs from it
	Contain  time.Time      `yaml:"-"` // contained_at, zero when not given
	// FirstSignal and Determined: first_signal_at and determined_at, zero
	// when not given. Some clocks run from a determination, not awareness.
	FirstSignal time.Time `yaml:"-"`
	Determined  time.Time `yaml:"-"`
	// Material, Assessed and Classified: materiality_determined_at,
	// assessed_at and classified_at, zero when not given.
	Material   time.Time `yaml:"-"`
	Assessed   time.Time `yaml:"-"`
	Classified time.Time `yaml:"-"`

	lines map[string]int // YAML path -> line, for problems found after loading

	// Warnings are things in the case file that work but are probably not
	// what was meant (two rules taking the same paths, say): validate and
	// ingest print them.
	Warnings []Problem `yaml:"-"`
}

// LineOf returns the line of a YAML path in the case file (0 when unknown).
func (c *Case) LineOf(path string) int {
	for p := path; p != ""; p = parentPath(p) {
		if l, ok := c.lines[p]; ok {
			return l
		}
	}
	return 0
}

// Window is when the faulty configuration was live, as declared.
type Window struct {
	Start string `yaml:"start"`
	End   string `yaml:"end"`
}

// Organization is the controller: who notifies and who to contact.
type Organization struct {
	Name         string `yaml:"name"`
	ContactEmail string `yaml:"contact_email"`
	ContactPhone string `yaml:"contact_phone"`
	Website      string `yaml:"website"`
	Address      string `yaml:"address"`
	DPOEmail     string `yaml:"dpo_email"`

	// Scope flags (all optional) for the laws that bind some organisations
	// only; unset means the law is not taken to apply.
	USListed    bool   `yaml:"us_listed"`    // SEC registrant: Form 8-K Item 1.05
	NIS2        string `yaml:"nis2"`         // essential | important: an NIS2 entity
	DORA        bool   `yaml:"dora"`         // a DORA financial entity
	NYDFS       bool   `yaml:"nydfs"`        // regulated by NY DFS: 23 NYCRR 500.17
	GLBANonbank bool   `yaml:"glba_nonbank"` // FTC Safeguards Rule
	PHRVendor   bool   `yaml:"phr_vendor"`   // FTC Health Breach Notification Rule
	China       string `yaml:"china"`        // network_operator | cii: CAC reporting measures
}

// Calendar holds what a business-day count needs and the case file alone
// can say: the public holidays of each country (ISO 3166-1 alpha-2 key,
// dates as 2006-01-02), counted in the case's time zone.
type Calendar struct {
	Holidays map[string][]string `yaml:"holidays"`
}

// Holiday reports whether date (2006-01-02) is a listed holiday of country,
// and whether the case lists any holidays for that country at all.
func (c *Case) Holiday(country, date string) (holiday, listed bool) {
	days, ok := c.Calendar.Holidays[country]
	if !ok {
		return false, false
	}
	for _, d := range days {
		if d == date {
			return true, true
		}
	}
	return false, true
}

// Narrative is free text used in reports and notices.
type Narrative struct {
	Cause        string `yaml:"cause"`
	Measures     string `yaml:"measures"`
	Consequences string `yaml:"consequences"`
}

// LogSource is one set of access logs in one format.
type LogSource struct {
	Paths     []string          `yaml:"paths"`
	Format    string            `yaml:"format"`
	LogFormat string            `yaml:"log_format"`
	Identity  string            `yaml:"identity"`
	Fields    map[string]string `yaml:"fields"`
	// CacheValues extends or overrides the format's cache vocabulary:
	// logged value → FILL, CACHED or ORIGIN.
	CacheValues map[string]string `yaml:"cache_values"`
	// Prefix is a regular expression stripped from the start of every
	// line before it is parsed (a syslog header before JSON, say).
	Prefix string `yaml:"prefix"`
	// AcceptMissing says the logs deliberately lack a cache result or an
	// identity ("cache", "identity"); without it such logs are an error.
	AcceptMissing []string `yaml:"accept_missing"`
	// TimeFormat and TimeZone say how a jsonl log writes its times
	// (rfc3339, unix_s, unix_ms, unix_us, unix_ns or a Go layout; the zone
	// of a layout without one); empty: detected.
	TimeFormat string `yaml:"time_format"`
	TimeZone   string `yaml:"time_zone"`
	// Subject says where the log names whose data a response carried (a
	// user id, e.g. an upstream X-User-Id header), read like identity:
	// cookie:NAME, field:NAME or remote_user. Owner rules need it.
	Subject string `yaml:"subject"`
	// UserAgent says where the log holds the user agent (field:NAME), for
	// rules that list attackers by user agent.
	UserAgent string `yaml:"user_agent"`
}

// UsersConfig says how to read the organisation's user records.
type UsersConfig struct {
	DatabaseURL   string `yaml:"database_url"`
	SessionsQuery string `yaml:"sessions_query"`
	UsersQuery    string `yaml:"users_query"`
	// LookupQuery, optional, finds people by e-mail address for breachctl
	// serve: a SELECT returning id, taking the address as $1. The address
	// is never stored.
	LookupQuery string `yaml:"lookup_query"`
	// AllowPrivilegedRole accepts a database_url whose role could write to
	// the user database (a superuser, a role with write privileges):
	// validate and ingest refuse one otherwise.
	AllowPrivilegedRole bool `yaml:"allow_privileged_role"`
}

// Exposure says which responses carried whose data.
//
// Rules lists the exposure rules (rules.go). The top-level cache_key,
// cacheable_status and routes are the older way to write one cache rule;
// once loaded, Rules holds every rule either way, and these three hold the
// cache rule's (empty when the case has none).
type Exposure struct {
	CacheKey        []string `yaml:"cache_key"`
	CacheableStatus []int    `yaml:"cacheable_status"`
	Routes          []Route  `yaml:"routes"`
	Rules           []Rule   `yaml:"rules"`
}

// Route maps private paths to the data categories their pages show.
type Route struct {
	Match      string     `yaml:"match"`
	Categories []Category `yaml:"categories"`
	// Object rules: where the request names its victim (User: a user id)
	// or an object (Object: owners_query maps it to people): path:GROUP (a
	// named group of match), query:PARAM or subject. Default: match's
	// named group user or object.
	User   string `yaml:"user"`
	Object string `yaml:"object"`
}

// NotifyConfig configures notices.
type NotifyConfig struct {
	From          string `yaml:"from"`
	ReplyTo       string `yaml:"reply_to"`
	DefaultLocale string `yaml:"default_locale"`
	// LawEnforcementDelay says whether the notices were delayed at a law
	// enforcement agency's request (California §1798.82 asks notices to
	// say so): "no", "yes", or empty (the notices say nothing about it).
	LawEnforcementDelay string `yaml:"law_enforcement_delay"`
	// Narrative gives the narrative in a notice's language, by locale
	// (notify.narrative.ja.cause ...); a locale without one uses the
	// top-level narrative.
	Narrative map[string]Narrative `yaml:"narrative"`
	// Channels is the delivery policy: which channels each person's
	// notice goes out on, in order of preference (channels.go). Empty
	// means e-mail to everyone, as before channels existed.
	Channels []ChannelPolicy `yaml:"channels"`
}

// NarrativeFor returns the narrative to show in locale: the locale's own
// from notify.narrative, field by field, else the top-level one.
func (c *Case) NarrativeFor(locale string) Narrative {
	n := c.Narrative
	if l, ok := c.Notify.Narrative[locale]; ok {
		if l.Cause != "" {
			n.Cause = l.Cause
		}
		if l.Measures != "" {
			n.Measures = l.Measures
		}
		if l.Consequences != "" {
			n.Consequences = l.Consequences
		}
	}
	return n
}

// NarrativeBorrowed reports whether a notice or report in locale would
// carry some of the top-level narrative (English) for want of
// notify.narrative.<locale>: a field the top level has and the locale's
// lacks.
func (c *Case) NarrativeBorrowed(locale string) bool {
	top, own := c.Narrative, c.Notify.Narrative[locale]
	return (top.Cause != "" && own.Cause == "") || (top.Measures != "" && own.Measures == "") ||
		(top.Consequences != "" && own.Consequences == "")
}

// Supported values.
var (
	CauseKinds    = []string{"misconfiguration", "unauthorized_access", "insider", "loss", "other"}
	IdentityKinds = []string{"session", "user"}
	CacheKeyParts = []string{"pop", "host", "path", "query", "method"}
	Locales       = []string{"ja", "en", "de", "fr", "es", "it", "nl", "ko", "pt", "zh-Hans", "zh-Hant"}
	NIS2Kinds     = []string{"essential", "important"}
	ChinaKinds    = []string{"network_operator", "cii"}
)

// Problem is one thing wrong with a case file, located by its YAML path and line.
type Problem struct {
	Path string // e.g. window.end, logs[0].format; empty for the whole file
	Line int    // 0 when unknown
	Msg  string
}

func (p Problem) String() string {
	switch {
	case p.Path != "" && p.Line > 0:
		return fmt.Sprintf("%s (line %d): %s", p.Path, p.Line, p.Msg)
	case p.Path != "":
		return fmt.Sprintf("%s: %s", p.Path, p.Msg)
	case p.Line > 0:
		return fmt.Sprintf("line %d: %s", p.Line, p.Msg)
	}
	return p.Msg
}

// ValidationError lists every problem found in a case file. Commands map it
// to exit code 2.
type ValidationError struct {
	File     string
	Problems []Problem
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	if len(e.Problems) == 1 {
		fmt.Fprintf(&b, "%s: %s", e.File, e.Problems[0])
		return b.String()
	}
	fmt.Fprintf(&b, "%s: %d problems:", e.File, len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// Getenv looks up an environment variable; ok is false when it is not set.
type Getenv func(name string) (value string, ok bool)

// Load reads, expands and validates the case file at path. A bad file gives a
// *ValidationError listing every problem; an unreadable one a plain error.
func Load(path string, getenv Getenv, checks ...CaseCheck) (*Case, error) {
	return load(path, getenv, nil, checks)
}

// ScanFields are the parts of a case file a dry run (ingest --dry-run)
// reads: the logs, the window and how its times are shown.
var ScanFields = []string{"id", "timezone", "window", "logs"}

// LoadForScan is Load for a dry run, which reads the logs and nothing
// else: only the problems of ScanFields (and of the YAML itself) are
// reported, so a case file can be checked against its logs before its
// users, exposure or notify parts are written. Validate and every other
// command use Load, which requires them all.
func LoadForScan(path string, getenv Getenv, checks ...CaseCheck) (*Case, error) {
	return load(path, getenv, func(p string) bool {
		if p == "" {
			return true
		}
		for _, f := range ScanFields {
			if p == f || strings.HasPrefix(p, f+".") || strings.HasPrefix(p, f+"[") {
				return true
			}
		}
		return false
	}, checks)
}

func load(path string, getenv Getenv, keep func(string) bool, checks []CaseCheck) (*Case, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read case file: %w", err)
	}
	c, err := parse(data, getenv, keep, checks)
	if err != nil {
		var ve *ValidationError
		if errors.As(err, &ve) {
			ve.File = path
		}
		return nil, err
	}
	c.Path = path
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("case file %s: %w", path, err)
	}
	c.Dir = filepath.Dir(abs)
	return c, nil
}

// A CaseCheck is a further check of a decoded case file, made by a part
// that knows more than this package: the log parsers check each logs[]
// entry against its format (logs.CaseProblems). Its problems join the
// file's own in one report, in line order. It must cope with a case whose
// other fields are invalid.
type CaseCheck func(c *Case) []Problem

// Parse decodes and validates case-file bytes (see Load).
func Parse(data []byte, getenv Getenv, checks ...CaseCheck) (*Case, error) {
	return parse(data, getenv, nil, checks)
}

// parse is Parse reporting only the problems whose path keep accepts (nil:
// all of them).
func parse(data []byte, getenv Getenv, keep func(string) bool, checks []CaseCheck) (*Case, error) {
	if getenv == nil {
		getenv = os.LookupEnv
	}
	sum := sha256.Sum256(data)
	v := &validator{lines: map[string]int{}, bad: map[string]bool{}}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		v.add("", yamlErrLine(err), "not valid YAML: %s", yamlErrMsg(err))
		return nil, v.err()
	}
	if len(root.Content) == 0 {
		v.add("", 0, "the file is empty; start from the example in the README")
		return nil, v.err()
	}
	doc := root.Content[0]
	v.walk(doc, reflect.TypeOf(Case{}), "", getenv)
	var c Case
	if err := doc.Decode(&c); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			for _, msg := range te.Errors {
				line := yamlErrLine(errors.New(msg))
				if p := v.pathAt(line); !v.bad[p] {
					v.add(p, line, "%s", yamlErrMsg(errors.New(msg)))
				}
			}
		} else {
			v.add("", yamlErrLine(err), "%s", yamlErrMsg(err))
		}
	}
	v.check(&c)
	c.lines = v.lines
	c.Warnings = v.warnings
	for _, check := range checks {
		for _, p := range check(&c) {
			if !v.bad[p.Path] {
				v.problems = append(v.problems, p)
			}
		}
	}
	if keep != nil {
		kept := v.problems[:0]
		for _, p := range v.problems {
			if keep(p.Path) {
				kept = append(kept, p)
			}
		}
		v.problems = kept
	}
	if len(v.problems) > 0 {
		return nil, v.err()
	}
	c.SHA256 = hex.EncodeToString(sum[:])
	return &c, nil
}

type validator struct {
	problems []Problem
	warnings []Problem
	lines    map[string]int  // YAML path -> line
	bad      map[string]bool // paths whose shape is wrong: reported once, not again
}

func (v *validator) add(path string, line int, format string, args ...any) {
	v.problems = append(v.problems, Problem{Path: path, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// at reports a problem at a path, with the line the path was found on.
func (v *validator) at(path, format string, args ...any) {
	for p := path; p != ""; p = parentPath(p) {
		if v.bad[p] {
			return
		}
	}
	line, ok := v.lines[path]
	if !ok {
		// A missing key: point at its parent (not at the document's first line).
		for p := parentPath(path); p != "" && !ok; p = parentPath(p) {
			line, ok = v.lines[p]
		}
	}
	v.add(path, line, format, args...)
}

// warn records a warning at a path, with its line.
func (v *validator) warn(path, format string, args ...any) {
	n := len(v.problems)
	v.at(path, format, args...)
	if len(v.problems) > n {
		v.warnings = append(v.warnings, v.problems[n:]...)
		v.problems = v.problems[:n]
	}
}

func (v *validator) err() error {
	sort.SliceStable(v.problems, func(i, j int) bool { return v.problems[i].Line < v.problems[j].Line })
	return &ValidationError{Problems: v.problems}
}

func (v *validator) pathAt(line int) string {
	best := ""
	for p, l := range v.lines {
		if l == line && (best == "" || len(p) > len(best)) {
			best = p
		}
	}
	return best
}

func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// walk checks every mapping key against the yaml tags of t (unknown keys are
// errors), records the line of every path, and expands ${VAR} in scalars.
func (v *validator) walk(n *yaml.Node, t reflect.Type, path string, getenv Getenv) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	v.lines[path] = n.Line
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch n.Kind {
	case yaml.ScalarNode:
		if strings.Contains(n.Value, "${") && n.Tag != "!!null" {
			n.Value = envRef.ReplaceAllStringFunc(n.Value, func(ref string) string {
				name := ref[2 : len(ref)-1]
				val, ok := getenv(name)
				if !ok {
					v.add(path, n.Line, "environment variable %s is not set (export it, or write the value here)", name)
				}
				return val
			})
			n.Style = yaml.DoubleQuotedStyle // an expanded value is always a string
			n.Tag = "!!str"
		}
	case yaml.MappingNode:
		if t.Kind() == reflect.Struct {
			known := map[string]reflect.Type{}
			var names []string
			for i := 0; i < t.NumField(); i++ {
				f := t.Field(i)
				tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
				if tag == "" || tag == "-" {
					continue
				}
				known[tag] = f.Type
				names = append(names, tag)
			}
			seen := map[string]bool{}
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, val := n.Content[i], n.Content[i+1]
				sub := joinPath(path, k.Value)
				ft, ok := known[k.Value]
				if !ok {
					v.add(sub, k.Line, "unknown key %q; expected one of: %s", k.Value, strings.Join(names, ", "))
					continue
				}
				if seen[k.Value] {
					v.add(sub, k.Line, "key %q given twice", k.Value)
				}
				seen[k.Value] = true
				v.walk(val, ft, sub, getenv)
			}
		} else if t.Kind() == reflect.Map {
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, val := n.Content[i], n.Content[i+1]
				v.walk(val, t.Elem(), joinPath(path, k.Value), getenv)
			}
		} else {
			v.bad[path] = true
			v.add(path, n.Line, "expected %s, found a mapping", kindName(t))
		}
	case yaml.SequenceNode:
		if t.Kind() != reflect.Slice {
			v.bad[path] = true
			v.add(path, n.Line, "expected %s, found a list", kindName(t))
			return
		}
		for i, item := range n.Content {
			v.walk(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i), getenv)
		}
	}
}

func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "a mapping"
	case reflect.Slice:
		return "a list"
	case reflect.Int, reflect.Int64:
		return "a number"
	}
	return "a single value"
}

func joinPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

var (
	caseIDRe    = regexp.MustCompile(`^[a-z0-9-]+$`)
	identityRe  = regexp.MustCompile(`^(cookie|field):[A-Za-z0-9_.\-()]+$`)
	timeExample = "2017-06-22T09:41:00+09:00"
)

func (v *validator) check(c *Case) {
	// Only report semantic problems for keys whose type decoded; a type error
	// was already reported for the others.
	switch {
	case c.ID == "":
		v.at("id", "required: the case's key, lower-case letters, digits and dashes")
	case !caseIDRe.MatchString(c.ID) || len(c.ID) > 63:
		v.at("id", "%q must match [a-z0-9-]+ (at most 63 characters)", c.ID)
	}
	if strings.TrimSpace(c.Title) == "" {
		v.at("title", "required: a one-line description of the incident")
	}
	if c.Timezone == "" {
		v.at("timezone", "required: an IANA time zone such as Asia/Tokyo or UTC")
	} else if loc, err := time.LoadLocation(c.Timezone); err != nil {
		v.at("timezone", "%q is not in the time zone database (for example Asia/Tokyo, Europe/Berlin, UTC)", c.Timezone)
	} else {
		c.Location = loc
	}
	c.Start = v.timestamp("window.start", c.Window.Start, true)
	c.End = v.timestamp("window.end", c.Window.End, true)
	if !c.Start.IsZero() && !c.End.IsZero() && !c.End.After(c.Start) {
		v.at("window.end", "must be after window.start")
	}
	c.Aware = v.timestamp("discovered_at", c.DiscoveredAt, true)
	if !c.Aware.IsZero() && !c.Start.IsZero() && c.Aware.Before(c.Start) {
		v.at("discovered_at", "must not be before window.start (the exposure cannot be discovered before it began)")
	}
	c.Contain = v.timestamp("contained_at", c.ContainedAt, false)
	if !c.Contain.IsZero() && !c.Start.IsZero() && c.Contain.Before(c.Start) {
		v.at("contained_at", "must not be before window.start")
	}
	c.FirstSignal = v.timestamp("first_signal_at", c.FirstSignalAt, false)
	switch {
	case c.FirstSignal.IsZero():
	case !c.Start.IsZero() && c.FirstSignal.Before(c.Start):
		v.at("first_signal_at", "must not be before window.start (there was nothing to notice before the exposure began)")
	case !c.Aware.IsZero() && c.FirstSignal.After(c.Aware):
		v.at("first_signal_at", "must not be after discovered_at (the first signal comes before, or is, the discovery)")
	}
	c.Determined = v.timestamp("determined_at", c.DeterminedAt, false)
	switch {
	case c.Determined.IsZero():
	case !c.Start.IsZero() && c.Determined.Before(c.Start):
		v.at("determined_at", "must not be before window.start")
	case !c.Aware.IsZero() && c.Determined.Before(c.Aware):
		v.at("determined_at", "must not be before discovered_at (the scope is determined after the breach is discovered)")
	}
	c.Material = v.afterAware(c, "materiality_determined_at", c.MaterialityDeterminedAt)
	c.Assessed = v.afterAware(c, "assessed_at", c.AssessedAt)
	c.Classified = v.afterAware(c, "classified_at", c.ClassifiedAt)
	v.checkCalendar(c.Calendar)

	if strings.TrimSpace(c.Organization.Name) == "" {
		v.at("organization.name", "required: the organisation that notifies (it appears in every notice and report)")
	}
	v.email("organization.contact_email", c.Organization.ContactEmail, true)
	v.email("organization.dpo_email", c.Organization.DPOEmail, false)
	if w := c.Organization.Website; w != "" && !strings.HasPrefix(w, "https://") && !strings.HasPrefix(w, "http://") {
		v.at("organization.website", "%q must be an http:// or https:// address", w)
	}
	if k := c.Organization.NIS2; k != "" && !contains(NIS2Kinds, k) {
		v.at("organization.nis2", "%q is not one of: %s (leave it out when NIS2 does not apply)", k, strings.Join(NIS2Kinds, ", "))
	}
	if k := c.Organization.China; k != "" && !contains(ChinaKinds, k) {
		v.at("organization.china", "%q is not one of: %s (leave it out when the CAC measures do not apply)", k, strings.Join(ChinaKinds, ", "))
	}
	if c.CauseKind != "" && !contains(CauseKinds, c.CauseKind) {
		v.at("cause_kind", "%q is not one of: %s", c.CauseKind, strings.Join(CauseKinds, ", "))
	}

	if len(c.Logs) == 0 {
		v.at("logs", "required: at least one entry with paths, format and identity")
	}
	for i, l := range c.Logs {
		v.checkLogs(fmt.Sprintf("logs[%d]", i), l)
	}
	switch {
	case c.IdentityKind == "":
		v.at("identity_kind", "required: session (identities are session ids) or user (they are user ids)")
	case !contains(IdentityKinds, c.IdentityKind):
		v.at("identity_kind", "%q is not one of: %s", c.IdentityKind, strings.Join(IdentityKinds, ", "))
	}

	if c.Users.DatabaseURL == "" {
		v.at("users.database_url", "required: the user database's URL, e.g. ${USERS_DATABASE_URL}")
	} else if !strings.HasPrefix(c.Users.DatabaseURL, "postgres://") && !strings.HasPrefix(c.Users.DatabaseURL, "postgresql://") && !strings.Contains(c.Users.DatabaseURL, "=") {
		v.at("users.database_url", "must be a postgres:// URL or a key=value connection string")
	}
	if c.IdentityKind == "session" {
		v.query("users.sessions_query", c.Users.SessionsQuery, "session_id, user_id")
	} else if c.Users.SessionsQuery != "" && c.IdentityKind == "user" {
		v.at("users.sessions_query", "not used when identity_kind is user; remove it")
	}
	v.query("users.users_query", c.Users.UsersQuery, "id, email, name, locale, country, region")
	if q := strings.TrimSpace(c.Users.LookupQuery); q != "" {
		up := strings.ToUpper(q)
		switch {
		case !strings.Contains(q, "$1") || strings.Contains(q, "$2"):
			v.at("users.lookup_query", "must take the e-mail address as $1 and nothing else, e.g. SELECT id FROM users WHERE lower(email) = lower($1)")
		case !strings.HasPrefix(up, "SELECT") && !strings.HasPrefix(up, "WITH"):
			v.at("users.lookup_query", "must be a SELECT (the user database is only ever read)")
		}
	}

	v.checkRules(c, &c.Exposure)

	if c.Notify.From != "" {
		if _, err := ParseAddress(c.Notify.From); err != nil {
			v.at("notify.from", "%v", err)
		}
	}
	if c.Notify.ReplyTo != "" {
		if _, err := ParseAddress(c.Notify.ReplyTo); err != nil {
			v.at("notify.reply_to", "%v", err)
		}
	}
	switch c.Notify.LawEnforcementDelay {
	case "", "no", "yes":
	default:
		v.at("notify.law_enforcement_delay", "%q: use no or yes (whether notices were delayed at a law enforcement agency's request)", c.Notify.LawEnforcementDelay)
	}
	for loc := range c.Notify.Narrative {
		if !contains(Locales, loc) {
			v.at("notify.narrative."+loc, "%q is not a notice locale; use one of: %s", loc, strings.Join(Locales, ", "))
		}
	}
	if c.Notify.DefaultLocale == "" {
		c.Notify.DefaultLocale = "en"
	} else if !contains(Locales, c.Notify.DefaultLocale) {
		v.at("notify.default_locale", "%q has no templates; use one of: %s", c.Notify.DefaultLocale, strings.Join(Locales, ", "))
	}
	v.checkChannels(c)
}

func (v *validator) timestamp(path, s string, required bool) time.Time {
	if s == "" {
		if required {
			v.at(path, "required: a time with its UTC offset, e.g. %s", timeExample)
		}
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		v.at(path, "%q is not an RFC 3339 time with a UTC offset, e.g. %s", s, timeExample)
		return time.Time{}
	}
	return t
}

// afterAware reads an optional decision time that cannot come before the
// discovery (a decision about a breach not yet known).
func (v *validator) afterAware(c *Case, path, s string) time.Time {
	t := v.timestamp(path, s, false)
	if !t.IsZero() && !c.Aware.IsZero() && t.Before(c.Aware) {
		v.at(path, "must not be before discovered_at (the decision is made about a breach already discovered)")
	}
	return t
}

var countryRe = regexp.MustCompile(`^[A-Z]{2}$`)

func (v *validator) checkCalendar(cal Calendar) {
	for _, country := range sortedKeysOf(cal.Holidays) {
		p := "calendar.holidays." + country
		if !countryRe.MatchString(country) {
			v.at(p, "%q is not an ISO 3166-1 country code in capitals, e.g. US, BR", country)
			continue
		}
		for i, d := range cal.Holidays[country] {
			if _, err := time.Parse(time.DateOnly, d); err != nil {
				v.at(fmt.Sprintf("%s[%d]", p, i), "%q is not a date written 2026-12-25", d)
			}
		}
	}
}

func sortedKeysOf[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (v *validator) email(path, s string, required bool) {
	if s == "" {
		if required {
			v.at(path, "required: an email address people can write to")
		}
		return
	}
	if _, err := ParseAddress(s); err != nil {
		v.at(path, "%v", err)
	}
}

func (v *validator) query(path, q, columns string) {
	switch {
	case strings.TrimSpace(q) == "":
		v.at(path, "required: a SELECT returning %s, with WHERE ... = ANY($1)", columns)
	case !strings.Contains(q, "$1"):
		v.at(path, "must take the batch of ids as $1, e.g. WHERE id = ANY($1)")
	case !strings.HasPrefix(strings.ToUpper(strings.TrimSpace(q)), "SELECT") && !strings.HasPrefix(strings.ToUpper(strings.TrimSpace(q)), "WITH"):
		v.at(path, "must be a SELECT (the user database is only ever read)")
	}
}

func (v *validator) checkLogs(p string, l LogSource) {
	if len(l.Paths) == 0 {
		v.at(p+".paths", "required: one or more file globs, relative to the case file (\"-\" for standard input)")
	}
	for j, g := range l.Paths {
		if strings.TrimSpace(g) == "" {
			v.at(fmt.Sprintf("%s.paths[%d]", p, j), "empty glob")
		} else if _, err := filepath.Match(g, ""); err != nil {
			v.at(fmt.Sprintf("%s.paths[%d]", p, j), "%q is not a valid glob: %v", g, err)
		}
	}
	// Which formats exist, and what each accepts (log_format, fields,
	// prefix, its own fields' names), is the log parsers' to say: they
	// check it when the parsers are built (logs.CheckCase), with the same
	// paths and lines.
	if l.Format == "" {
		v.at(p+".format", "required: the log format (breachctl validate --help lists them)")
	}
	switch {
	case l.Identity == "":
		if !contains(l.AcceptMissing, "identity") {
			v.at(p+".identity", "required: cookie:NAME, field:NAME or remote_user (or accept_missing: [identity] for logs that name no requester)")
		}
	case l.Identity == "remote_user":
	case !identityRe.MatchString(l.Identity):
		v.at(p+".identity", "%q must be cookie:NAME, field:NAME or remote_user", l.Identity)
	}
	for _, f := range []struct{ key, val string }{{"subject", l.Subject}, {"user_agent", l.UserAgent}} {
		if f.val != "" && f.val != "remote_user" && !identityRe.MatchString(f.val) {
			v.at(p+"."+f.key, "%q must be cookie:NAME, field:NAME or remote_user (read like identity)", f.val)
		}
	}
	for _, m := range l.AcceptMissing {
		if m != "cache" && m != "identity" {
			v.at(p+".accept_missing", "%q: only cache and identity can be declared missing", m)
		}
	}
	for _, k := range sortedKeys(l.Fields) {
		if strings.TrimSpace(l.Fields[k]) == "" {
			v.at(p+".fields."+k, "empty: name the log's field for %s", k)
		}
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func categoryList() string {
	s := make([]string, len(Categories))
	for i, c := range Categories {
		s[i] = string(c)
	}
	return strings.Join(s, ", ")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

var yamlLineRe = regexp.MustCompile(`line (\d+):\s*`)

func yamlErrLine(err error) int {
	m := yamlLineRe.FindStringSubmatch(err.Error())
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func yamlErrMsg(err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	msg = yamlLineRe.ReplaceAllString(msg, "")
	msg = strings.ReplaceAll(msg, "unmarshal errors:\n", "")
	if i := strings.Index(msg, " into "); i >= 0 && strings.HasPrefix(msg, "cannot unmarshal") {
		// "cannot unmarshal !!str `abc` into int" -> "`abc` must be a number"
		what := msg[len("cannot unmarshal "):i]
		if sp := strings.IndexByte(what, ' '); sp >= 0 {
			what = what[sp+1:]
		}
		into := msg[i+len(" into "):]
		want := "a single value"
		switch {
		case strings.HasPrefix(into, "[]"):
			want = "a list"
		case strings.HasPrefix(into, "int"):
			want = "a whole number"
		case strings.HasPrefix(into, "map"), strings.Contains(into, "incident."):
			want = "a mapping"
		}
		return fmt.Sprintf("%s must be %s", what, want)
	}
	return msg
}
