package triage

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/lib/pq"

	"github.com/breachctl/breachctl/incident/store"
)

// TestAffectedRules (issue 15): the CSV columns stay exactly DESIGN.md's,
// whatever rules found the person; JSONL names the rules, and a row stored
// without them (a run before rules) is the cache rule's.
func TestAffectedRules(t *testing.T) {
	tests := []struct {
		name  string
		rules pq.StringArray
		want  []string
	}{
		{"old run", nil, []string{"cache"}},
		{"cache", pq.StringArray{"cache"}, []string{"cache"}},
		{"several", pq.StringArray{"enumeration", "takeover"}, []string{"enumeration", "takeover"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rows := []store.AffectedAccount{{UserID: "100", Level: "confirmed", Categories: pq.StringArray{"email", "name"},
				CategoryLevels: []byte(`{"email":"confirmed","name":"confirmed"}`), Views: 3, Viewers: 1, Rules: tc.rules}}
			var csv, jsonl bytes.Buffer
			if err := WriteAffectedCSV(&csv, rows); err != nil {
				t.Fatal(err)
			}
			if want := "user_id,level,categories,views,viewers,first_exposed,last_exposed\n100,confirmed,email;name,3,1,,\n"; csv.String() != want {
				t.Errorf("CSV = %q, want %q", csv.String(), want)
			}
			if err := WriteAffectedJSONL(&jsonl, rows); err != nil {
				t.Fatal(err)
			}
			var got AffectedJSON
			if err := json.Unmarshal(jsonl.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.Rules, tc.want) {
				t.Errorf("JSONL rules = %q, want %q", got.Rules, tc.want)
			}
			if !strings.Contains(jsonl.String(), `"rules":[`) {
				t.Errorf("JSONL lacks the rules array: %s", jsonl.String())
			}
		})
	}
}
