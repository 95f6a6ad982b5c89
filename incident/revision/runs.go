package revision

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/breachctl/breachctl/incident/store"
	"github.com/breachctl/breachctl/internal/textsafe"
)

// RunInfo is one run of a case as `breachctl runs` shows it.
type RunInfo struct {
	Run          int        `json:"run"`
	State        string     `json:"state"`
	Error        string     `json:"error,omitempty"`
	StartedAt    time.Time  `json:"started_at"`
	FinishedAt   *time.Time `json:"finished_at"`
	DeterminedAt *time.Time `json:"determined_at"`
	Evidence     Evidence   `json:"evidence"`
	// Affected is null for a run that is not done: its tables are not a
	// result.
	Affected *Levels `json:"affected"`
	// Notices counts the run's ledger rows by kind (first, update,
	// correction) and state.
	Notices map[string]NoticeStates `json:"notices"`
	Reports []Report                `json:"reports"`
}

// Evidence is a run's input files and how they differ from the previous
// completed run's (ComparedTo; 0 when there is none): paths added,
// removed, and present in both with another SHA-256.
type Evidence struct {
	Files      int      `json:"files"`
	Bytes      int64    `json:"bytes"`
	ComparedTo int      `json:"compared_to"`
	Added      []string `json:"added"`
	Removed    []string `json:"removed"`
	Changed    []string `json:"changed"`
}

// NoticeStates counts notices by state. Sent are the notices sent under
// this run; AlreadySent those recorded as sent because another run had
// already sent that person's notice (not written to again).
type NoticeStates struct {
	Sent        int `json:"sent"`
	AlreadySent int `json:"already_sent"`
	// Bounced: sent, then a permanent bounce (notify bounces).
	Bounced   int `json:"bounced"`
	Pending   int `json:"pending"`
	Sending   int `json:"sending"`
	Failed    int `json:"failed"`
	Uncertain int `json:"uncertain"`
}

func (n NoticeStates) total() int {
	return n.Sent + n.AlreadySent + n.Bounced + n.Pending + n.Sending + n.Failed + n.Uncertain
}

// Report is a report written from a run.
type Report struct {
	No          int64     `json:"report_no"`
	Kind        string    `json:"kind"`
	Format      string    `json:"format"`
	GeneratedAt time.Time `json:"generated_at"`
}

// NoticeKinds are the ledger's notice kinds, in the order they are shown.
var NoticeKinds = []string{store.NoticeFirst, store.NoticeUpdate, store.NoticeCorrection}

// Runs lists every run of a case, oldest first, with its evidence, counts,
// notices and reports.
func Runs(ctx context.Context, st *store.Store, caseID string) ([]RunInfo, error) {
	rs, err := st.Runs(ctx, caseID)
	if err != nil {
		return nil, fmt.Errorf("runs of case %s: %w", caseID, err)
	}
	slices.Reverse(rs)
	notices, err := noticeCounts(ctx, st, caseID)
	if err != nil {
		return nil, err
	}
	reports, err := st.Reports(ctx, caseID)
	if err != nil {
		return nil, err
	}
	out := make([]RunInfo, 0, len(rs))
	var prevDone []store.Evidence
	prevRun := 0
	for i := range rs {
		r := &rs[i]
		ri := RunInfo{Run: r.Run, State: r.State, StartedAt: r.StartedAt.UTC(), Notices: map[string]NoticeStates{}, Reports: []Report{}}
		if r.Error.Valid {
			ri.Error = r.Error.String
		}
		if r.FinishedAt.Valid {
			t := r.FinishedAt.Time.UTC()
			ri.FinishedAt = &t
		}
		if r.DeterminedAt.Valid {
			t := r.DeterminedAt.Time.UTC()
			ri.DeterminedAt = &t
		}
		ev, err := st.ListEvidence(ctx, caseID, r.Run)
		if err != nil {
			return nil, err
		}
		ri.Evidence.Files = len(ev)
		for _, e := range ev {
			ri.Evidence.Bytes += e.Bytes
		}
		ri.Evidence.ComparedTo = prevRun
		ri.Evidence.Added, ri.Evidence.Removed, ri.Evidence.Changed = CompareEvidence(prevDone, ev)
		if prevRun == 0 {
			ri.Evidence.Added = []string{} // nothing to compare with
		}
		if r.State == store.RunDone {
			t, err := r.Totals()
			if err != nil {
				return nil, fmt.Errorf("run %d of case %s: totals: %w", r.Run, caseID, err)
			}
			ri.Affected = &Levels{Confirmed: t.Confirmed, Possible: t.Possible, People: t.Confirmed + t.Possible}
			prevDone, prevRun = ev, r.Run
		}
		for _, k := range NoticeKinds {
			ri.Notices[k] = notices[r.Run][k]
		}
		for k, n := range notices[r.Run] {
			ri.Notices[k] = n // a kind added later is shown too
		}
		for _, rep := range reports {
			if rep.Run == r.Run {
				ri.Reports = append(ri.Reports, Report{No: rep.No, Kind: rep.Kind, Format: rep.Format, GeneratedAt: rep.GeneratedAt.UTC()})
			}
		}
		out = append(out, ri)
	}
	return out, nil
}

// CompareEvidence lists the paths of cur that prev lacks, the paths of
// prev that cur lacks, and the paths in both whose SHA-256 differs, each
// sorted.
func CompareEvidence(prev, cur []store.Evidence) (added, removed, changed []string) {
	added, removed, changed = []string{}, []string{}, []string{}
	ph := make(map[string]string, len(prev))
	for _, e := range prev {
		ph[e.Path] = e.SHA256
	}
	ch := make(map[string]bool, len(cur))
	for _, e := range cur {
		ch[e.Path] = true
		h, ok := ph[e.Path]
		switch {
		case !ok:
			added = append(added, e.Path)
		case h != e.SHA256:
			changed = append(changed, e.Path)
		}
	}
	for _, e := range prev {
		if !ch[e.Path] {
			removed = append(removed, e.Path)
		}
	}
	for _, s := range [][]string{added, removed, changed} {
		slices.Sort(s)
	}
	return slices.Compact(added), slices.Compact(removed), slices.Compact(changed)
}

// alreadySentReply is how the ledger marks a notice recorded as sent
// because another run sent it (store.SeedNotices, store.ReconcileRuns).
const alreadySentReply = "already sent in run %"

// noticeCounts counts a case's email notices by run, kind and state.
func noticeCounts(ctx context.Context, st *store.Store, caseID string) (map[int]map[string]NoticeStates, error) {
	var rows []struct {
		Run     int    `db:"run"`
		Kind    string `db:"kind"`
		State   string `db:"state"`
		Already bool   `db:"already"`
		N       int    `db:"n"`
	}
	err := st.DB.SelectContext(ctx, &rows, `
		SELECT run, kind, state, (state = 'sent' AND coalesce(smtp_reply, '') LIKE $2) AS already, count(*) AS n
		FROM breachctl.notices WHERE case_id = $1 AND channel = 'email'
		GROUP BY 1, 2, 3, 4`, caseID, alreadySentReply)
	if err != nil {
		return nil, fmt.Errorf("notices of case %s: %w", caseID, err)
	}
	out := map[int]map[string]NoticeStates{}
	for _, r := range rows {
		if out[r.Run] == nil {
			out[r.Run] = map[string]NoticeStates{}
		}
		n := out[r.Run][r.Kind]
		switch {
		case r.Already:
			n.AlreadySent += r.N
		case r.State == store.NoticeSent:
			n.Sent += r.N
		case r.State == store.NoticePending:
			n.Pending += r.N
		case r.State == store.NoticeSending:
			n.Sending += r.N
		case r.State == store.NoticeFailed:
			n.Failed += r.N
		case r.State == store.NoticeUncertain:
			n.Uncertain += r.N
		case r.State == store.NoticeBounced:
			n.Bounced += r.N
		}
		out[r.Run][r.Kind] = n
	}
	return out, nil
}

// WriteRunsJSON writes {"case", "runs": [...]}.
func WriteRunsJSON(w io.Writer, caseID string, runs []RunInfo) error {
	if runs == nil {
		runs = []RunInfo{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Case string    `json:"case"`
		Runs []RunInfo `json:"runs"`
	}{caseID, runs})
}

// maxPaths is how many evidence paths of each kind the text lists.
const maxPaths = 10

// WriteRunsText writes the runs for a terminal, times in loc.
func WriteRunsText(w io.Writer, caseID string, runs []RunInfo, loc *time.Location) error {
	if loc == nil {
		loc = time.UTC
	}
	bw := bufio.NewWriter(w)
	p := func(format string, args ...any) { fmt.Fprintf(bw, format, args...) }
	at := func(t time.Time) string { return t.In(loc).Format("2006-01-02 15:04:05 MST") }
	p("%s: %d %s (times in %s)\n", textsafe.Term(caseID), len(runs), plural(len(runs), "run", "runs"), loc)
	if len(runs) == 0 {
		p("no ingest run yet: run 'breachctl ingest -f incident.yaml'\n")
	}
	for _, r := range runs {
		p("\nrun %d  %s", r.Run, r.State)
		p("  started %s", at(r.StartedAt))
		if r.FinishedAt != nil {
			p(", finished %s", at(*r.FinishedAt))
		}
		p("\n")
		if r.Error != "" {
			p("  error       %s\n", textsafe.Term(r.Error))
		}
		switch {
		case r.DeterminedAt != nil:
			p("  determined  %s (the team accepted this count as the scope)\n", at(*r.DeterminedAt))
		case r.State == store.RunDone:
			p("  determined  no\n")
		}
		e := r.Evidence
		p("  evidence    %s %s, %s bytes", group(e.Files), plural(e.Files, "file", "files"), group64(e.Bytes))
		if e.ComparedTo > 0 {
			if len(e.Added)+len(e.Removed)+len(e.Changed) == 0 {
				p("; the same files and hashes as run %d", e.ComparedTo)
			} else {
				p("; against run %d: %d added, %d removed, %d changed (another SHA-256)", e.ComparedTo, len(e.Added), len(e.Removed), len(e.Changed))
			}
		}
		p("\n")
		for _, l := range []struct {
			what  string
			paths []string
		}{{"added", e.Added}, {"removed", e.Removed}, {"changed", e.Changed}} {
			for i, path := range l.paths {
				if i == maxPaths {
					p("                ... and %d more (--format json lists them all)\n", len(l.paths)-maxPaths)
					break
				}
				p("    %-8s  %s\n", l.what, textsafe.Term(path))
			}
		}
		if r.Affected != nil {
			a := r.Affected
			p("  affected    %s confirmed · %s possible · %s people\n", group(a.Confirmed), group(a.Possible), group(a.People))
		} else {
			p("  affected    none shown: the run is %s, so its tables are not a result\n", r.State)
		}
		p("  notices     %s\n", noticeLine(r.Notices))
		if len(r.Reports) == 0 {
			p("  reports     none written from this run\n")
		}
		for i, rep := range r.Reports {
			label := "  reports     "
			if i > 0 {
				label = "              "
			}
			p("%s%s (%s) %s\n", label, textsafe.Term(rep.Kind), textsafe.Term(rep.Format), at(rep.GeneratedAt))
		}
	}
	return bw.Flush()
}

// noticeLine is a run's notices, one kind after another.
func noticeLine(m map[string]NoticeStates) string {
	kinds := append([]string{}, NoticeKinds...)
	for k := range m {
		if !slices.Contains(kinds, k) {
			kinds = append(kinds, k)
		}
	}
	slices.Sort(kinds[len(NoticeKinds):])
	var parts []string
	for _, k := range kinds {
		n := m[k]
		if n.total() == 0 {
			continue
		}
		var s []string
		for _, c := range []struct {
			n    int
			what string
		}{{n.Sent, "sent"}, {n.AlreadySent, "already sent under another run"}, {n.Pending, "pending"}, {n.Sending, "sending"},
			{n.Failed, "failed"}, {n.Uncertain, "uncertain"}, {n.Bounced, "bounced"}} {
			if c.n > 0 {
				s = append(s, group(c.n)+" "+c.what)
			}
		}
		parts = append(parts, textsafe.Term(k)+": "+strings.Join(s, ", "))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "; ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func group64(n int64) string { return group(int(n)) }
