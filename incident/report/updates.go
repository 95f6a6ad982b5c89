package report

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/breachctl/breachctl/incident/revision"
	"github.com/breachctl/breachctl/incident/store"
)

// Updates are the update notices a run calls for: the people already told
// (a notice sent under an earlier run) whose exposure grew since what they
// were told (incident/revision.Grew: a new category, possible to confirmed,
// a category now confirmed), by user id. Update notices are due under the
// same clock as the first notices.
type Updates struct {
	Due  map[string]bool      // grew, and no update describing this run sent yet
	Sent map[string]time.Time // an update describing this run was sent (when)
	// Told are the runs what these people were last told came from, sorted.
	Told []int
}

// Told is what the last notice sent to a person described: its kind and the
// run of its affected row (store.Notice.BasisRun, else its run).
type Told struct {
	Kind     string
	BasisRun int
	SentAt   time.Time
}

// UpdatesOf works out the update notices of run from the affected accounts
// of the run (cur), what each person was last told (told, by user id) and
// the affected rows of the runs they were told from (basis returns a run's
// rows by user id). A person never told gets a first notice, not an update;
// a person told from this run is up to date (counted as sent when that
// notice was an update). Nil when nobody was told anything yet.
func UpdatesOf(run int, cur []store.AffectedAccount, told map[string]Told,
	basis func(run int) (map[string]*store.AffectedAccount, error)) (*Updates, error) {
	if len(told) == 0 {
		return nil, nil
	}
	u := &Updates{Due: map[string]bool{}, Sent: map[string]time.Time{}}
	runs := map[int]bool{}
	for i := range cur {
		a := &cur[i]
		t, ok := told[a.UserID]
		if !ok {
			continue
		}
		if t.BasisRun == run {
			if t.Kind == store.NoticeUpdate {
				u.Sent[a.UserID] = t.SentAt
			}
			continue
		}
		rows, err := basis(t.BasisRun)
		if err != nil {
			return nil, fmt.Errorf("what user %s was told (run %d): %w", a.UserID, t.BasisRun, err)
		}
		prev := rows[a.UserID]
		if prev == nil {
			// Told from a run that does not list them (a correction said
			// they were not affected): not an update; diff lists them.
			continue
		}
		if _, grew := revision.Grew(prev, a); grew {
			u.Due[a.UserID] = true
			runs[t.BasisRun] = true
		}
	}
	for r := range runs {
		u.Told = append(u.Told, r)
	}
	sort.Ints(u.Told)
	return u, nil
}

// updateDuty is the update-notice duty that goes with a first-notice duty:
// the people in its scope (keep; nil is everyone) whose exposure grew since
// they were told, under the same clock and deadline. ok is false when there
// is nobody to update in the scope.
func updateDuty(in Input, first Obligation, keep func(*store.AffectedAccount) bool) (Obligation, bool) {
	u := in.Updates
	if u == nil {
		return Obligation{}, false
	}
	o := Obligation{ID: first.ID + "-update", Law: first.Law, To: ToIndividuals, update: true,
		Deadline: first.Deadline, Clock: first.Clock}
	sent := 0
	for i := range in.Affected {
		a := &in.Affected[i]
		if keep != nil && !keep(a) {
			continue
		}
		due, isSent := u.Due[a.UserID], false
		if at, ok := u.Sent[a.UserID]; ok {
			isSent = true
			if at.After(o.DoneAt) {
				o.DoneAt = at
			}
		}
		if !due && !isSent {
			continue
		}
		o.People++
		if a.Level == levelConfirmed {
			o.Confirmed++
		} else {
			o.Possible++
		}
		if due {
			o.due++
		} else {
			sent++
		}
	}
	if o.People == 0 {
		return Obligation{}, false
	}
	o.Duty = "Update notices (exposure grew since they were told): " + first.Duty
	told := "an earlier run"
	if len(u.Told) > 0 {
		var rs []string
		for _, r := range u.Told {
			rs = append(rs, fmt.Sprint(r))
		}
		told = "run " + strings.Join(rs, ", ")
	}
	o.Trigger = fmt.Sprintf("%s people in the scope of \"%s\" were told from %s, and run %d shows more of theirs exposed (a new category, or possible now confirmed): %s to send, %s sent. "+
		"Update notices are due under the same clock as the first notices (%s): the same deadline.",
		num(o.People), first.Duty, told, in.Run, num(o.due), num(sent), first.Clock)
	return o, true
}
