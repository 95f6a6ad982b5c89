package revision

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/breachctl/breachctl/incident/store"
)

func TestCompareEvidence(t *testing.T) {
	ev := func(pairs ...string) []store.Evidence {
		var out []store.Evidence
		for i := 0; i < len(pairs); i += 2 {
			out = append(out, store.Evidence{Path: pairs[i], SHA256: pairs[i+1]})
		}
		return out
	}
	tests := []struct {
		name                    string
		prev, cur               []store.Evidence
		added, removed, changed []string
	}{
		{"same", ev("a", "1", "b", "2"), ev("b", "2", "a", "1"), []string{}, []string{}, []string{}},
		{"more files", ev("a", "1"), ev("c", "3", "a", "1", "b", "2"), []string{"b", "c"}, []string{}, []string{}},
		{"fewer files", ev("a", "1", "b", "2"), ev("a", "1"), []string{}, []string{"b"}, []string{}},
		{"a file rewritten", ev("a", "1", "b", "2"), ev("a", "1", "b", "9"), []string{}, []string{}, []string{"b"}},
		{"all three", ev("a", "1", "b", "2"), ev("b", "3", "c", "4"), []string{"c"}, []string{"a"}, []string{"b"}},
		{"nothing before", nil, ev("a", "1"), []string{"a"}, []string{}, []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, r, c := CompareEvidence(tc.prev, tc.cur)
			if !reflect.DeepEqual(a, tc.added) || !reflect.DeepEqual(r, tc.removed) || !reflect.DeepEqual(c, tc.changed) {
				t.Errorf("got added %v removed %v changed %v; want %v %v %v", a, r, c, tc.added, tc.removed, tc.changed)
			}
		})
	}
}

// TestRunsText: a run that is not done shows its state and no counts;
// notices by kind and state; evidence paths capped; values escaped.
func TestRunsText(t *testing.T) {
	t0 := time.Date(2017, 6, 22, 8, 0, 0, 0, time.UTC)
	fin := t0.Add(2 * time.Minute)
	paths := make([]string, 12)
	for i := range paths {
		paths[i] = "logs/" + string(rune('a'+i)) + ".log"
	}
	runs := []RunInfo{
		{Run: 1, State: store.RunDone, StartedAt: t0, FinishedAt: &fin, DeterminedAt: &fin,
			Evidence: Evidence{Files: 1, Bytes: 1234, Added: []string{}, Removed: []string{}, Changed: []string{}},
			Affected: &Levels{Confirmed: 2, Possible: 1, People: 3},
			Notices:  map[string]NoticeStates{"first": {Sent: 2, Failed: 1}},
			Reports:  []Report{{No: 1, Kind: "appi-preliminary", Format: "md", GeneratedAt: fin}}},
		{Run: 2, State: store.RunFailed, Error: "store exposure events: connection reset\x1b[2J", StartedAt: t0,
			Evidence: Evidence{Files: 13, Bytes: 5000, ComparedTo: 1, Added: paths, Removed: []string{}, Changed: []string{"logs/x\u202e.log"}},
			Notices:  map[string]NoticeStates{}, Reports: []Report{}},
		{Run: 3, State: store.RunDone, StartedAt: t0, FinishedAt: &fin,
			Evidence: Evidence{Files: 13, Bytes: 5000, ComparedTo: 1, Added: []string{}, Removed: []string{}, Changed: []string{}},
			Affected: &Levels{Confirmed: 4, People: 4},
			Notices:  map[string]NoticeStates{"first": {AlreadySent: 2, Pending: 1}, "update": {Pending: 1, Uncertain: 1}},
			Reports:  []Report{}},
	}
	var b bytes.Buffer
	if err := WriteRunsText(&b, "c", runs, time.FixedZone("JST", 9*3600)); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"c: 3 runs (times in JST)",
		"run 1  done  started 2017-06-22 17:00:00 JST, finished 2017-06-22 17:02:00 JST",
		"determined  2017-06-22 17:02:00 JST",
		"evidence    1 file, 1,234 bytes\n",
		"affected    2 confirmed · 1 possible · 3 people",
		"notices     first: 2 sent, 1 failed\n",
		"reports     appi-preliminary (md) 2017-06-22 17:02:00 JST",
		"run 2  failed",
		`error       store exposure events: connection reset\x1b[2J`,
		"against run 1: 12 added, 0 removed, 1 changed",
		"... and 2 more (--format json lists them all)",
		`changed   logs/x\u202e.log`,
		"affected    none shown: the run is failed, so its tables are not a result",
		"the same files and hashes as run 1",
		"notices     first: 2 already sent under another run, 1 pending; update: 1 pending, 1 uncertain",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("runs text lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b") || strings.Contains(out, "\u202e") {
		t.Errorf("runs text has an unescaped control:\n%s", out)
	}
}
