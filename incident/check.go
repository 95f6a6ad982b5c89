package incident

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/breachctl/breachctl/incident/users"
)

// Check is the outcome of one environment check made by validate.
type Check struct {
	Name   string // what was checked, e.g. "user database"
	OK     bool
	Detail string // what was found, or what is wrong and what to do
}

// CheckDeps connects to what the checks need.
type CheckDeps struct {
	// CaseDB checks the case database and describes it (e.g. its schema version).
	CaseDB func(ctx context.Context) (string, error)
	// UsersDB opens the user database.
	UsersDB func(ctx context.Context, url string) (*sqlx.DB, error)
	// Sample parses the first lines of a file with its configured parser;
	// without it the log files are only listed.
	Sample SampleFunc
	// SampleLines is how many lines of each file to parse (default
	// DefaultSampleLines).
	SampleLines int64
}

// CheckEnvironment checks everything a case file points at: the case
// database, the user database and its queries, the log globs and the format
// of each file. It reports every check, failed or not.
func CheckEnvironment(ctx context.Context, c *Case, d CheckDeps) []Check {
	var out []Check
	if d.CaseDB != nil {
		detail, err := d.CaseDB(ctx)
		if err != nil {
			out = append(out, Check{Name: "case database", Detail: err.Error()})
		} else {
			out = append(out, Check{Name: "case database", OK: true, Detail: detail})
		}
	}
	out = append(out, checkUsers(ctx, c, d))
	out = append(out, checkLogs(ctx, c, d)...)
	return out
}

func checkUsers(ctx context.Context, c *Case, d CheckDeps) Check {
	name := "user database"
	if d.UsersDB == nil {
		return Check{Name: name, Detail: "no connector"}
	}
	db, err := d.UsersDB(ctx, c.Users.DatabaseURL)
	if err != nil {
		return Check{Name: name, Detail: fmt.Sprintf("users.database_url: %v", err)}
	}
	defer db.Close()
	// The role first: a privileged one is refused before any of the case
	// file's queries runs (one could write through it).
	role, err := users.CheckRole(ctx, db)
	var privileged *users.PrivilegedRoleError
	switch {
	case errors.As(err, &privileged) && !c.Users.AllowPrivilegedRole:
		return Check{Name: name, Detail: err.Error()}
	case privileged == nil && err != nil:
		return Check{Name: name, Detail: err.Error()}
	}
	var notes []string
	if c.IdentityKind == "session" {
		if _, err := users.CheckQuery(ctx, db, c.Users.SessionsQuery, users.RequiredSessionColumns); err != nil {
			return Check{Name: name, Detail: fmt.Sprintf("users.sessions_query: %v", err)}
		}
		notes = append(notes, "sessions_query")
	}
	cols, err := users.CheckQuery(ctx, db, c.Users.UsersQuery, users.RequiredUserColumns)
	if err != nil {
		return Check{Name: name, Detail: fmt.Sprintf("users.users_query: %v", err)}
	}
	notes = append(notes, "users_query")
	if lp, ok := c.Policy(ChannelLetter); ok {
		if !slices.ContainsFunc(cols, func(s string) bool { return strings.EqualFold(s, "postal_address") }) {
			return Check{Name: name, Detail: "users.users_query: notify.channels has letters, so it must also return postal_address " +
				"(the address lines, newline separated, without the name)"}
		}
		if slices.Contains(lp.When, WhenRequired) && !slices.ContainsFunc(cols, func(s string) bool { return strings.EqualFold(s, "email_consent") }) {
			notes = append(notes, "no email_consent column: every US resident and everyone whose health data was exposed gets a letter")
		}
	}
	if c.Users.LookupQuery != "" {
		if _, err := users.LookupIDs(ctx, db, c.Users.LookupQuery, ""); err != nil {
			return Check{Name: name, Detail: fmt.Sprintf("users.lookup_query: %v", err)}
		}
		notes = append(notes, "lookup_query")
	}
	for i, r := range c.Exposure.Rules {
		if r.OwnersQuery == "" {
			continue
		}
		if _, err := users.CheckQuery(ctx, db, r.OwnersQuery, []string{"object_id", "user_id"}); err != nil {
			return Check{Name: name, Detail: fmt.Sprintf("exposure.rules[%d].owners_query (rule %s): %v", i, r.Name, err)}
		}
		notes = append(notes, fmt.Sprintf("rule %s's owners_query", r.Name))
	}
	var has []string
	for _, col := range cols {
		if strings.HasPrefix(col, "has_") {
			cat := strings.TrimPrefix(col, "has_")
			if !ValidCategory(cat) {
				return Check{Name: name, Detail: fmt.Sprintf("users.users_query: column %s names no data category; use has_<category> with one of: %s", col, categoryList())}
			}
			has = append(has, cat)
		}
	}
	detail := fmt.Sprintf("reachable; %s return the needed columns (read-only)", strings.Join(notes, " and "))
	if len(has) > 0 {
		detail += "; on-file flags for " + strings.Join(has, ", ")
	}
	if privileged != nil {
		detail += fmt.Sprintf("; role %q is privileged (it %s), accepted by users.allow_privileged_role", role, strings.Join(privileged.Reasons, ", and "))
	} else {
		detail += fmt.Sprintf("; role %q has no write privilege in the user database", role)
	}
	return Check{Name: name, OK: true, Detail: detail}
}

func checkLogs(ctx context.Context, c *Case, d CheckDeps) []Check {
	files, err := c.ExpandGlobs()
	if err != nil {
		return []Check{{Name: "logs", Detail: err.Error()}}
	}
	n := d.SampleLines
	if n <= 0 {
		n = DefaultSampleLines
	}
	var out []Check
	perSource := make([]struct {
		files, gz            int
		bytes                int64
		lines, parsed, stdin int64
		bad                  bool
	}, len(c.Logs))
	for _, f := range files {
		src := c.Logs[f.Source]
		ps := &perSource[f.Source]
		ps.files++
		if f.Path == "-" {
			ps.stdin++
			continue // standard input is read by ingest, not sampled
		}
		ps.bytes += f.Size
		if d.Sample == nil {
			continue
		}
		if err := ctx.Err(); err != nil {
			ps.bad = true
			out = append(out, Check{Name: f.Rel, Detail: fmt.Sprintf("not checked: %v", err)})
			continue
		}
		res, err := d.Sample(ctx, f, n)
		if res.Compressed {
			ps.gz++
		}
		ps.lines += res.Lines
		ps.parsed += res.Parsed
		var notes []string
		if len(res.Rejects) > 0 {
			notes = append(notes, "e.g. "+rejectExamples(res.Rejects, 3))
		}
		if len(res.Unknown) > 0 {
			notes = append(notes, "unknown cache results (neither hits nor fills; map them with logs[].cache_values): "+CountList(res.Unknown, 5))
		}
		if res.ReadError != "" {
			notes = append(notes, "the file ends early: "+res.ReadError+" (ingest counts its lines up to the cut and fails without --allow-truncated)")
		}
		detail := strings.Join(notes, "; ")
		switch {
		case err != nil:
			ps.bad = true
			out = append(out, Check{Name: f.Rel, Detail: fmt.Sprintf("cannot read: %v", err)})
		case res.Lines == 0 && res.ReadError != "":
			ps.bad = true
			out = append(out, Check{Name: f.Rel, Detail: "cannot read: " + res.ReadError})
		case res.Lines == 0:
			ps.bad = true
			out = append(out, Check{Name: f.Rel, Detail: "has no data lines"})
		case res.mostlyRejected():
			ps.bad = true
			out = append(out, Check{Name: f.Rel, Detail: fmt.Sprintf("%d of its first %d lines do not parse as %s (%s); check logs[%d].format and its configuration ('breachctl logs parse' shows every line)",
				res.Rejected, res.Lines, src.Format, detail, f.Source)})
		case detail != "":
			out = append(out, Check{Name: f.Rel, OK: true, Detail: fmt.Sprintf("%d of its first %d lines parse as %s (%s); %s", res.Parsed, res.Lines, src.Format, percent(res.Parsed, res.Lines), detail)})
		}
	}
	for i, ps := range perSource {
		if ps.bad {
			continue
		}
		detail := fmt.Sprintf("%d files, %s, %d gzip-compressed", ps.files, HumanBytes(ps.bytes), ps.gz)
		if ps.lines > 0 {
			detail += fmt.Sprintf("; %d of the first %d lines parse as %s (%s)", ps.parsed, ps.lines, c.Logs[i].Format, percent(ps.parsed, ps.lines))
		}
		if ps.stdin > 0 {
			detail += "; standard input is checked by ingest, not here"
		}
		out = append(out, Check{Name: fmt.Sprintf("logs[%d]", i), OK: true, Detail: detail})
	}
	return out
}

func rejectExamples(rs []LogReject, max int) string {
	var parts []string
	for i, r := range rs {
		if i == max {
			break
		}
		parts = append(parts, fmt.Sprintf("line %d: %s", r.Line, r.Reason))
	}
	return strings.Join(parts, "; ")
}

func percent(n, of int64) string {
	if of == 0 {
		return "0%"
	}
	if n == of {
		return "100%"
	}
	// Rounded down: a file with a rejected line never reads as 100%.
	return fmt.Sprintf("%.1f%%", math.Floor(1000*float64(n)/float64(of))/10)
}

// HumanBytes formats a byte count for people (binary units).
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// A ValueCount is one logged value and the lines that held it (an unknown
// cache result and its count).
type ValueCount struct {
	Value string `json:"value"`
	Count int64  `json:"count"`
}

// SortedCounts orders counted values by count, highest first, then by
// value: the same order on every run.
func SortedCounts(m map[string]int64) []ValueCount {
	out := make([]ValueCount, 0, len(m))
	for k, v := range m {
		out = append(out, ValueCount{k, v})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Value < out[j].Value
	})
	return out
}

// CountList writes counted values for people, sorted (SortedCounts), each
// value quoted (so it cannot drive a terminal): `"PASS" 12, "x" 1`; at most
// max of them (0: all), then how many more.
func CountList(m map[string]int64, max int) string {
	vs := SortedCounts(m)
	var parts []string
	for i, vc := range vs {
		if max > 0 && i == max {
			parts = append(parts, fmt.Sprintf("and %d more", len(vs)-max))
			break
		}
		parts = append(parts, fmt.Sprintf("%s %d", quoteValue(vc.Value), vc.Count))
	}
	return strings.Join(parts, ", ")
}

// quoteValue quotes a logged value; "(other)", the reader's bucket for
// values beyond the ones it keeps, stays as it is.
func quoteValue(s string) string {
	if s == "(other)" {
		return s
	}
	return strconv.Quote(s)
}

// AddCounts adds src's counts into *dst (making it when nil).
func AddCounts(dst *map[string]int64, src map[string]int64) {
	for k, v := range src {
		if *dst == nil {
			*dst = map[string]int64{}
		}
		(*dst)[k] += v
	}
}

// Thousands writes 1234567 as 1,234,567 (counts in reports, triage, diff).
func Thousands(n int64) string {
	if n < 0 {
		return "-" + Thousands(-n)
	}
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
