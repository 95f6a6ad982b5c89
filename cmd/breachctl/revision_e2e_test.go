package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/breachctl/breachctl/incident"
	"github.com/breachctl/breachctl/incident/revision"
	"github.com/breachctl/breachctl/incident/store"
	"github.com/breachctl/breachctl/internal/mailpit"
	"github.com/breachctl/breachctl/notify"
	"github.com/breachctl/breachctl/notify/pipeline"
)

// edgeTruth is one person on one edge in truth.json's affected_by_edge.
type edgeTruth struct {
	UserID              string   `json:"user_id"`
	Level               string   `json:"level"`
	Categories          []string `json:"categories"`
	ConfirmedCategories []string `json:"confirmed_categories"`
}

// truthAccount is the affected row the truth says a set of edges yields:
// the per-edge rows merged (confirmed when any edge confirms; categories
// and confirmed categories united), as store rows for revision.Grew.
func truthAccounts(t *testing.T, byEdge map[string][]edgeTruth, edges []string) map[string]*store.AffectedAccount {
	t.Helper()
	type acc struct {
		confirmed bool
		cats      map[string]bool
		conf      map[string]bool
	}
	m := map[string]*acc{}
	for _, e := range edges {
		rows, ok := byEdge[e]
		if !ok {
			t.Fatalf("truth has no edge %s", e)
		}
		for _, r := range rows {
			a := m[r.UserID]
			if a == nil {
				a = &acc{cats: map[string]bool{}, conf: map[string]bool{}}
				m[r.UserID] = a
			}
			a.confirmed = a.confirmed || r.Level == "confirmed"
			for _, c := range r.Categories {
				a.cats[c] = true
			}
			for _, c := range r.ConfirmedCategories {
				a.conf[c] = true
			}
		}
	}
	out := map[string]*store.AffectedAccount{}
	for u, a := range m {
		row := &store.AffectedAccount{UserID: u, Level: "possible"}
		if a.confirmed {
			row.Level = "confirmed"
		}
		levels := map[string]string{}
		for c := range a.cats {
			row.Categories = append(row.Categories, c)
			levels[c] = "possible"
			if a.conf[c] {
				levels[c] = "confirmed"
			}
		}
		sort.Strings(row.Categories)
		row.CategoryLevels, _ = json.Marshal(levels)
		out[u] = row
	}
	return out
}

// TestRevisedCountEndToEnd: run 1 reads the logs of two edges and its
// notices are sent; run 2 reads every edge. `diff` says exactly what the
// simulator's truth says changed between those two sets of evidence, and
// sending run 2 writes a first notice to exactly the newly affected, an
// update to exactly the people whose exposure grew, nothing to anyone else
// — and a second send of run 2 writes nothing.
func TestRevisedCountEndToEnd(t *testing.T) {
	rc := newRevisedCase(t)
	caseFile, env, mp := rc.caseFile, rc.env, rc.mp
	before, after, added, grew, upgraded, catsChanged := rc.before, rc.after, rc.added, rc.grew, rc.upgraded, rc.catsChanged
	send := rc.send

	// diff equals it.
	r := runCLI(t, env, "diff", "-f", caseFile, "--format", "json")
	if r.code != 0 {
		t.Fatalf("diff: exit %d\n%s", r.code, r.err)
	}
	var d revision.Diff
	if err := json.Unmarshal([]byte(r.out), &d); err != nil {
		t.Fatalf("diff json: %v\n%s", err, r.out)
	}
	got := map[string][]string{}
	for _, p := range d.People {
		got[p.Change] = append(got[p.Change], p.UserID)
		if p.Grew {
			got["grew"] = append(got["grew"], p.UserID)
		}
		if p.Change == "added" || p.Change == "removed" {
			continue
		}
		want := after[p.UserID]
		var addedCats []string
		for _, c := range want.Categories {
			if !slices.Contains(before[p.UserID].Categories, c) {
				addedCats = append(addedCats, c)
			}
		}
		if !slices.Equal(p.CategoriesAdded, addedCats) || p.LevelFrom != before[p.UserID].Level || p.LevelTo != want.Level {
			t.Errorf("diff for %s: %s→%s +%v, want %s→%s +%v", p.UserID, p.LevelFrom, p.LevelTo, p.CategoriesAdded,
				before[p.UserID].Level, want.Level, addedCats)
		}
	}
	for _, c := range []struct {
		change string
		want   []string
	}{{"added", added}, {"removed", nil}, {"upgraded", upgraded}, {"downgraded", nil}, {"categories", catsChanged}, {"grew", grew}} {
		g := got[c.change]
		slices.Sort(g)
		slices.Sort(c.want)
		if !slices.Equal(g, c.want) {
			t.Errorf("diff %s: %d people %v, want %d %v", c.change, len(g), g, len(c.want), c.want)
		}
	}
	if d.From != 1 || d.To != 2 || d.Totals.Added != len(added) || d.Totals.Grew != len(grew) {
		t.Errorf("diff totals: runs %d→%d, %+v", d.From, d.To, d.Totals)
	}

	// Sending run 2: first notices to the added, updates to the grown,
	// nothing else; the same again writes nothing.
	sentBefore := mp.Messages(t)
	if len(sentBefore) != len(before) {
		t.Fatalf("run 1 sent %d messages, want %d (its affected people)", len(sentBefore), len(before))
	}
	send("run 2")
	send("run 2, again")
	want := rc.owed(t)
	seen := map[string]int{}
	for _, m := range mp.Messages(t) {
		seen[m.MessageID]++
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("Message-ID %s delivered %d times", id, n)
		}
		if want[id] == "" {
			t.Errorf("Message-ID %s delivered but not owed", id)
		}
	}
	for id := range want {
		if seen[id] == 0 {
			t.Errorf("Message-ID %s owed but not delivered", id)
		}
	}
	st := runCLI(t, env, "notify", "status", "-f", caseFile, "--format", "json")
	var status struct {
		ByKind []store.KindCount `json:"by_kind"`
	}
	if err := json.Unmarshal([]byte(st.out), &status); err != nil {
		t.Fatalf("status json: %v\n%s", err, st.out)
	}
	kinds := map[string]int{}
	for _, k := range status.ByKind {
		kinds[k.Kind+"/"+k.State] += k.N
	}
	if kinds["update/sent"] != len(grew) || kinds["first/sent"] != len(after)-len(grew) {
		t.Errorf("run 2 ledger by kind %v, want %d updates sent and %d first notices (sent now or before)", kinds, len(grew), len(after)-len(grew))
	}
	t.Logf("run 1: %d people; run 2: %d (+%d added, %d grew, %d upgraded); %d messages in all", len(before), len(after),
		len(added), len(grew), len(upgraded), len(seen))
}

// revisedCase is a simulated incident ingested twice: run 1 on the logs of
// two edges (its notices sent to Mailpit), run 2 on all four; with what the
// truth says changed between them.
type revisedCase struct {
	caseFile                           string
	env                                map[string]string
	mp                                 *mailpit.Server
	send                               func(what string)
	before, after                      map[string]*store.AffectedAccount
	added, grew, upgraded, catsChanged []string
}

func newRevisedCase(t *testing.T) *revisedCase {
	t.Helper()
	mp := mailpit.Start(t)
	caseFile, env, _ := simulateCase(t, "nginx", "--precision", "ms", "--seed", "16")
	truth := readEdgeTruth(t, caseFile)
	part := []string{"KIX56", "NRT51"}
	editFile(t, caseFile, `paths: ["logs/*/*.log", "logs/*/*.log.gz"]`,
		`paths: ["logs/KIX56/*.log", "logs/KIX56/*.log.gz", "logs/NRT51/*.log", "logs/NRT51/*.log.gz"]`)
	if r := runCLI(t, env, "ingest", "-f", caseFile); r.code != 0 {
		t.Fatalf("ingest run 1: exit %d\n%s\n%s", r.code, r.out, r.err)
	}
	rc := &revisedCase{caseFile: caseFile, env: env, mp: mp}
	rc.send = func(what string) {
		t.Helper()
		if r := runCLI(t, env, "notify", "send", "-f", caseFile, "--smtp", mp.SMTPURL()); r.code != 0 {
			t.Fatalf("notify send (%s): exit %d\n%s\n%s", what, r.code, r.out, r.err)
		}
	}
	rc.send("run 1")
	editFile(t, caseFile, `paths: ["logs/KIX56/*.log", "logs/KIX56/*.log.gz", "logs/NRT51/*.log", "logs/NRT51/*.log.gz"]`,
		`paths: ["logs/*/*.log", "logs/*/*.log.gz"]`)
	if r := runCLI(t, env, "ingest", "-f", caseFile); r.code != 0 {
		t.Fatalf("ingest run 2: exit %d\n%s\n%s", r.code, r.out, r.err)
	}

	before := truthAccounts(t, truth.AffectedByEdge, part)
	after := truthAccounts(t, truth.AffectedByEdge, truth.Edges)

	// What the truth says changed.
	var added, grew, upgraded, catsChanged []string
	for u, cur := range after {
		prev, ok := before[u]
		if !ok {
			added = append(added, u)
			continue
		}
		if _, g := revision.Grew(prev, cur); g {
			grew = append(grew, u)
		}
		if prev.Level == "possible" && cur.Level == "confirmed" {
			upgraded = append(upgraded, u)
		} else if prev.Level == cur.Level && (!slices.Equal(prev.Categories, cur.Categories) || string(prev.CategoryLevels) != string(cur.CategoryLevels)) {
			// same level, other categories, or some of them now confirmed
			catsChanged = append(catsChanged, u)
		}
	}
	for u := range before {
		if after[u] == nil {
			t.Fatalf("the truth has user %s affected by two edges and not by all four", u)
		}
	}
	if len(added) == 0 || len(grew) == 0 || len(upgraded) == 0 {
		t.Fatalf("the simulation revises too little to test: %d added, %d grew, %d upgraded", len(added), len(grew), len(upgraded))
	}

	rc.before, rc.after = before, after
	rc.added, rc.grew, rc.upgraded, rc.catsChanged = added, grew, upgraded, catsChanged
	return rc
}

// owed is every Message-ID the two runs owe, by Message-ID (without angle
// brackets) to the user it is for.
func (rc *revisedCase) owed(t *testing.T) map[string]string {
	t.Helper()
	c, err := incident.Load(rc.caseFile, func(k string) (string, bool) { v, ok := rc.env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for u := range rc.before {
		want[strings.Trim(notify.MessageID(c, u), "<>")] = u
	}
	for _, u := range rc.added {
		want[strings.Trim(notify.MessageID(c, u), "<>")] = u
	}
	for _, u := range rc.grew {
		want[strings.Trim(notify.UpdateMessageID(c, u, 2), "<>")] = u
	}
	return want
}

// TestRevisedSendKilled kills `notify send` of the revised run with SIGKILL
// while it sends, then resumes it: every owed notice (first notices to the
// newly affected, updates to the grown) arrives, nothing is sent that is
// not owed, and a Message-ID arrives twice only when the ledger records
// that notice as sent after being in doubt.
func TestRevisedSendKilled(t *testing.T) {
	rc := newRevisedCase(t)
	startCount := rc.mp.Count(t)
	args := []string{"notify", "send", "-f", rc.caseFile, "--smtp", rc.mp.SMTPURL(), "--rate", "40", "--workers", "2"}
	cmd := exec.Command(os.Args[0], "-test.run=^TestReviewFilesHelperProcess$")
	cmd.Env = append(os.Environ(), "BREACHCTL_REVIEW_HELPER=1", "BREACHCTL_REVIEW_ARGS="+strings.Join(args, "\x1f"),
		"BREACHCTL_DATABASE_URL="+rc.env["BREACHCTL_DATABASE_URL"])
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	for rc.mp.Count(t) < startCount+20 {
		select {
		case err := <-exited:
			t.Fatalf("the sender exited before it was killed (%v):\n%s", err, out.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("nothing sent in 60 s:\n%s", out.String())
		}
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	if err := <-exited; !strings.Contains(fmt.Sprint(err), "killed") {
		t.Fatalf("the sender was not killed (%v): raise the number of notices or lower --rate", err)
	}
	killedAt := rc.mp.Count(t) - startCount
	for i := 0; i < 2; i++ { // the second send resends what the first held as uncertain, if any
		r := runCLI(t, rc.env, "notify", "send", "-f", rc.caseFile, "--smtp", rc.mp.SMTPURL())
		if r.code != 0 && !strings.Contains(r.err, "uncertain") {
			t.Fatalf("resume: exit %d\n%s", r.code, r.err)
		}
	}
	st := runCLI(t, rc.env, "notify", "status", "-f", rc.caseFile, "--format", "json")
	var status struct {
		Counts      store.NoticeCounts `json:"counts"`
		SentInDoubt []string           `json:"sent_in_doubt"`
	}
	if err := json.Unmarshal([]byte(st.out), &status); err != nil {
		t.Fatalf("status: %v\n%s", err, st.out)
	}
	doubt := map[string]bool{}
	for _, u := range status.SentInDoubt {
		doubt[u] = true
	}
	want := rc.owed(t)
	seen := map[string]int{}
	for _, m := range rc.mp.Messages(t) {
		seen[m.MessageID]++
	}
	for id, n := range seen {
		switch {
		case want[id] == "":
			t.Errorf("Message-ID %s delivered but not owed", id)
		case n > 1 && !doubt[want[id]]:
			t.Errorf("Message-ID %s (user %s) delivered %d times, and the ledger does not record it in doubt", id, want[id], n)
		}
	}
	for id, u := range want {
		if seen[id] == 0 {
			t.Errorf("Message-ID %s (user %s) owed but never delivered", id, u)
		}
	}
	if status.Counts.Pending != 0 || status.Counts.Sending != 0 || status.Counts.Uncertain != 0 || status.Counts.Failed != 0 {
		t.Errorf("run 2's ledger after the resume: %+v", status.Counts)
	}
	t.Logf("killed after %d of run 2's %d messages; %d in doubt", killedAt, len(rc.added)+len(rc.grew), len(doubt))
}

// TestCorrectionsOnlyWhenAsked: run 1 reads every edge and its notices are
// sent; run 2 reads two edges only, so some people are no longer affected.
// Sending run 2 writes to nobody (nobody's exposure grew, the others were
// told); `notify status` lists the people no longer affected; only `notify
// send --corrections` writes them a correction, exactly them, once.
func TestCorrectionsOnlyWhenAsked(t *testing.T) {
	mp := mailpit.Start(t)
	caseFile, env, _ := simulateCase(t, "nginx", "--precision", "ms", "--seed", "17")
	truth := readEdgeTruth(t, caseFile)
	send := func(what string, extra ...string) {
		t.Helper()
		if r := runCLI(t, env, append([]string{"notify", "send", "-f", caseFile, "--smtp", mp.SMTPURL()}, extra...)...); r.code != 0 {
			t.Fatalf("notify send (%s): exit %d\n%s\n%s", what, r.code, r.out, r.err)
		}
	}
	if r := runCLI(t, env, "ingest", "-f", caseFile); r.code != 0 {
		t.Fatalf("ingest run 1: %s", r.err)
	}
	send("run 1")
	editFile(t, caseFile, `paths: ["logs/*/*.log", "logs/*/*.log.gz"]`, `paths: ["logs/KIX56/*.log", "logs/KIX56/*.log.gz", "logs/NRT51/*.log", "logs/NRT51/*.log.gz"]`)
	if r := runCLI(t, env, "ingest", "-f", caseFile); r.code != 0 {
		t.Fatalf("ingest run 2: %s", r.err)
	}
	all := truthAccounts(t, truth.AffectedByEdge, truth.Edges)
	part := truthAccounts(t, truth.AffectedByEdge, []string{"KIX56", "NRT51"})
	var gone []string
	for u := range all {
		if part[u] == nil {
			gone = append(gone, u)
		}
	}
	sortIDs(gone)
	if len(gone) == 0 {
		t.Fatal("nobody is dropped by reading fewer edges: the test would prove nothing")
	}
	n1 := mp.Count(t)
	send("run 2")
	if n := mp.Count(t); n != n1 {
		t.Fatalf("run 2 (fewer people, nobody grew) sent %d messages, want none", n-n1)
	}
	st := runCLI(t, env, "notify", "status", "-f", caseFile, "--format", "json")
	var status struct {
		NoLongerAffected []string `json:"no_longer_affected"`
	}
	if err := json.Unmarshal([]byte(st.out), &status); err != nil {
		t.Fatalf("status: %v\n%s", err, st.out)
	}
	if !slices.Equal(status.NoLongerAffected, gone) {
		t.Errorf("status lists %d people no longer affected, want %d: %v", len(status.NoLongerAffected), len(gone), status.NoLongerAffected)
	}
	if txt := runCLI(t, env, "notify", "status", "-f", caseFile); !strings.Contains(txt.out, "no longer affected in run 2") {
		t.Errorf("status text does not say who is no longer affected:\n%s", txt.out)
	}
	send("run 2 --corrections", "--corrections")
	send("run 2 --corrections, again", "--corrections")
	c, err := incident.Load(caseFile, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, u := range gone {
		want[strings.Trim(notify.CorrectionMessageID(c, u, 2), "<>")] = true
	}
	got := 0
	for _, m := range mp.Messages(t) {
		if strings.Contains(m.MessageID, ".correction-") || want[m.MessageID] {
			got++
			if !want[m.MessageID] {
				t.Errorf("correction %s sent to someone still affected", m.MessageID)
			}
		}
	}
	if got != len(gone) || mp.Count(t) != n1+len(gone) {
		t.Errorf("%d corrections sent (%d messages in all), want %d to the people no longer affected", got, mp.Count(t)-n1, len(gone))
	}

	// Run 3 reads every edge again: the corrected people are affected
	// again. breachctl has no notice for that yet: theirs fail, loudly,
	// with the reason, and do not stop the run (nothing else is owed).
	editFile(t, caseFile, `paths: ["logs/KIX56/*.log", "logs/KIX56/*.log.gz", "logs/NRT51/*.log", "logs/NRT51/*.log.gz"]`, `paths: ["logs/*/*.log", "logs/*/*.log.gz"]`)
	if r := runCLI(t, env, "ingest", "-f", caseFile); r.code != 0 {
		t.Fatalf("ingest run 3: %s", r.err)
	}
	n2 := mp.Count(t)
	r3 := runCLI(t, env, "notify", "send", "-f", caseFile, "--smtp", mp.SMTPURL())
	if r3.code != 1 || !strings.Contains(r3.err, fmt.Sprintf("%d people told by a correction", len(gone))) {
		t.Errorf("run 3 send: exit %d (want 1: notices failed), stderr:\n%s", r3.code, r3.err)
	}
	if n := mp.Count(t); n != n2 {
		t.Errorf("run 3 sent %d messages, want none (the re-affected fail, nobody else is owed anything)", n-n2)
	}
	st3 := runCLI(t, env, "notify", "status", "-f", caseFile, "--format", "json")
	var status3 struct {
		Counts   store.NoticeCounts   `json:"counts"`
		Failures []store.NoticeReason `json:"failures"`
	}
	if err := json.Unmarshal([]byte(st3.out), &status3); err != nil {
		t.Fatalf("status run 3: %v\n%s", err, st3.out)
	}
	if status3.Counts.Failed != len(gone) || len(status3.Failures) != 1 || status3.Failures[0].Reason != pipeline.ReaffectedReason {
		t.Errorf("run 3 ledger: %d failed, failures %+v; want %d failed with the re-affected reason", status3.Counts.Failed, status3.Failures, len(gone))
	}
}

func sortIDs(ids []string) {
	slices.SortFunc(ids, func(a, b string) int {
		if len(a) != len(b) {
			return len(a) - len(b)
		}
		return strings.Compare(a, b)
	})
}

// edgeTruthFile is what the revision tests read of truth.json.
type edgeTruthFile struct {
	Edges          []string               `json:"edges"`
	AffectedByEdge map[string][]edgeTruth `json:"affected_by_edge"`
}

func readEdgeTruth(t *testing.T, caseFile string) edgeTruthFile {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(filepath.Dir(caseFile), "truth.json"))
	if err != nil {
		t.Fatal(err)
	}
	var truth edgeTruthFile
	if err := json.Unmarshal(raw, &truth); err != nil {
		t.Fatal(err)
	}
	return truth
}
