package store

import (
	"context"
	"database/sql"
	"slices"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/breachctl/breachctl/internal/pgtest"
)

// TestExposureRulesRoundTrip (issue 15): events keep the rule that produced
// them and affected rows the rules that found the person; an event or row
// written without one is a cache run's.
func TestExposureRulesRoundTrip(t *testing.T) {
	ctx, s, run := newCaseRun(t)
	events := []struct {
		name, rule, want string
	}{
		{"no rule is cache", "", "cache"},
		{"cache", "cache", "cache"},
		{"object rule", "enumeration", "enumeration"},
		{"actor rule", "takeover", "takeover"},
	}
	affected := []struct {
		name  string
		rules pq.StringArray
		want  []string
	}{
		{"no rules is cache", nil, []string{"cache"}},
		{"one rule", pq.StringArray{"enumeration"}, []string{"enumeration"}},
		{"several rules", pq.StringArray{"cache", "owner", "takeover"}, []string{"cache", "owner", "takeover"}},
		{"a name that needs quoting", pq.StringArray{`a"b\c`, "x,y"}, []string{`a"b\c`, "x,y"}},
	}
	at := time.Date(2017, 6, 22, 1, 0, 0, 0, time.UTC)
	var aff []AffectedAccount
	for i, tc := range affected {
		aff = append(aff, AffectedAccount{UserID: string(rune('1' + i)), Level: "confirmed", Categories: pq.StringArray{"name"},
			CategoryLevels: []byte(`{}`), Rules: tc.rules})
	}
	err := s.SaveExposure(ctx, "c", run, len(events), func(i int, row *ExposureEvent) {
		*row = ExposureEvent{EventNo: int64(i + 1), Kind: "exposure", At: at.Add(time.Duration(i) * time.Second),
			Path: "/p", Status: 200, Viewer: "user:9", Victim: sql.NullString{String: "1", Valid: true},
			Level: sql.NullString{String: "confirmed", Valid: true}, Categories: pq.StringArray{"name"}, Rule: events[i].rule}
	}, aff)
	if err != nil {
		t.Fatalf("SaveExposure: %v", err)
	}
	i := 0
	err = s.EachEvent(ctx, "c", run, func(e *ExposureEvent) error {
		if e.Rule != events[i].want {
			t.Errorf("%s: EachEvent rule = %q, want %q", events[i].name, e.Rule, events[i].want)
		}
		i++
		return nil
	})
	if err != nil || i != len(events) {
		t.Fatalf("EachEvent: %d events, %v; want %d, no error", i, err, len(events))
	}
	vs, err := s.VictimEvents(ctx, "c", run, "1")
	if err != nil || len(vs) != len(events) {
		t.Fatalf("VictimEvents = %d, %v; want %d", len(vs), err, len(events))
	}
	for i, e := range vs {
		if e.Rule != events[i].want {
			t.Errorf("%s: VictimEvents rule = %q, want %q", events[i].name, e.Rule, events[i].want)
		}
	}
	rows, err := s.ListAffected(ctx, "c", run)
	if err != nil || len(rows) != len(affected) {
		t.Fatalf("ListAffected = %d, %v; want %d", len(rows), err, len(affected))
	}
	for i, tc := range affected {
		if !slices.Equal(rows[i].Rules, tc.want) {
			t.Errorf("%s: ListAffected rules = %q, want %q", tc.name, rows[i].Rules, tc.want)
		}
		one, err := s.GetAffected(ctx, "c", run, rows[i].UserID)
		if err != nil || !slices.Equal(one.Rules, tc.want) {
			t.Errorf("%s: GetAffected rules = %v, %v; want %q", tc.name, one, err, tc.want)
		}
	}
}

// TestMigrateRulesKeepsOldRuns: rows stored before migration 0007 read
// back as the cache rule's.
func TestMigrateRulesKeepsOldRuns(t *testing.T) {
	ctx := context.Background()
	url, _ := pgtest.NewDB(t)
	db, err := Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	s := &Store{DB: db}
	defer s.Close()
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.createSchema(ctx); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.version >= 7 {
			break
		}
		if _, err := s.applyOne(ctx, m); err != nil {
			t.Fatalf("%s: %v", m.name, err)
		}
	}
	if err := s.UpsertCase(ctx, Case{ID: "c", Title: "t", CaseFile: "f", CaseFileSHA256: "x"}); err != nil {
		t.Fatal(err)
	}
	run, err := s.NewRun(ctx, "c", "x", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB.ExecContext(ctx, `INSERT INTO breachctl.exposure_events (case_id, run, event_no, kind, at, pop, cache_key, path,
		status, victim_user_id, level, viewer, categories) VALUES ('c', $1, 1, 'exposure', now(), 'NRT', 'k', '/p', 200, '1', 'confirmed', 'user:2', '{name}')`, run); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB.ExecContext(ctx, `INSERT INTO breachctl.affected (case_id, run, user_id, level, categories)
		VALUES ('c', $1, '1', 'confirmed', '{name}')`, run); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate to 0007: %v", err)
	}
	vs, err := s.VictimEvents(ctx, "c", run, "1")
	if err != nil || len(vs) != 1 || vs[0].Rule != "cache" {
		t.Errorf("old event after 0007 = %+v, %v; want one with rule cache", vs, err)
	}
	a, err := s.GetAffected(ctx, "c", run, "1")
	if err != nil || !slices.Equal(a.Rules, []string{"cache"}) {
		t.Errorf("old affected row after 0007 = %+v, %v; want rules [cache]", a, err)
	}
}
