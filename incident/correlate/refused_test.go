package correlate_test

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/breachctl/breachctl/incident/correlate"
)

// twiceAnswered streams sessions like DBResolver, but answers sess-b a
// second time, with another user, from another goroutine at the same time
// (a sessions_query that returns two rows for one session).
type twiceAnswered struct{ *fakeResolver }

func (s twiceAnswered) EachSession(ctx context.Context, ids []string, fn func(sids, uids [][]byte)) error {
	found, err := s.Sessions(ctx, ids)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	for g := range 2 {
		wg.Go(func() {
			for _, id := range ids {
				uid, ok := found[id]
				if id == "sess-b" && g == 1 {
					uid, ok = "3", true
				} else if g == 1 {
					continue
				}
				if ok {
					fn([][]byte{[]byte(id)}, [][]byte{[]byte(uid)})
				}
			}
		})
	}
	wg.Wait()
	return nil
}

// TestRefusedPeople: a record the resolver refuses (two rows, bad bytes)
// and a session given to two users are never used: the people are listed
// with the reason, their pages count as unresolved, nobody is affected
// through them; last-answer-wins never decides.
func TestRefusedPeople(t *testing.T) {
	c := loadCase(t, "session")
	recs := []rrec{
		fill("10:00:00", "sess-a", profile), hit("10:00:01", "sess-d", profile), // 1 → 4
		fill("10:01:00", "sess-b", profile), hit("10:01:01", "sess-d", profile), // sess-b: 2 or 3?
		fill("10:02:00", "sess-c", profile).q("x=1"), hit("10:02:01", "sess-d", profile).q("x=1"), // 3 is refused
	}
	for _, split := range []bool{false, true} {
		f := newResolver(t, nil)
		f.users["3"] = &correlate.UserRecord{ID: "3", Refused: "users_query returned 2 rows for this id"}
		got := runOnce(t, c, recs, twiceAnswered{f}, split)
		var ids []string
		for _, a := range got.Affected {
			ids = append(ids, a.UserID)
		}
		if !slices.Equal(ids, []string{"1"}) {
			t.Errorf("split %v: affected %v, want [1]", split, ids)
		}
		want := []correlate.Refusal{
			{UserID: "2", Reason: "sessions_query returned users 2 and 3 for one session: its pages are counted as unresolved"},
			{UserID: "3", Reason: "sessions_query returned users 2 and 3 for one session: its pages are counted as unresolved"},
			{UserID: "3", Reason: "users_query returned 2 rows for this id"},
		}
		if !slices.Equal(got.Refused, want) || !slices.Equal(got.Summary.Refused, want) {
			t.Errorf("split %v: refused\ngot  %+v\nsummary %+v\nwant %+v", split, got.Refused, got.Summary.Refused, want)
		}
		if got.Counts.UnresolvedOwners != 2 || got.Counts.UnresolvedEvents != 2 {
			t.Errorf("split %v: %d unresolved owners, %d unresolved events; want 2 and 2", split, got.Counts.UnresolvedOwners, got.Counts.UnresolvedEvents)
		}
	}
}
