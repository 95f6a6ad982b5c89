package main

import (
	"slices"
	"testing"

	"github.com/breachctl/breachctl/incident"
)

// A notice in German whose case gives the narrative only at the top level
// (in English) is a German letter with English paragraphs: notify render
// names the locales so, and no others.
func TestForeignNarrative(t *testing.T) {
	en := incident.Narrative{Cause: "A CDN rule.", Measures: "Removed.", Consequences: "Names shown."}
	tests := []struct {
		name     string
		top      incident.Narrative
		own      map[string]incident.Narrative
		byLocale map[string]int
		want     []string
	}{
		{"no narrative at all", incident.Narrative{}, nil, map[string]int{"de": 3, "ja": 2}, nil},
		{"english notices only", en, nil, map[string]int{"en": 5}, nil},
		{"german without its narrative", en, map[string]incident.Narrative{"ja": en}, map[string]int{"de": 3, "ja": 2, "en": 1}, []string{"de"}},
		{"a field missing", en, map[string]incident.Narrative{"de": {Cause: "x", Measures: "y"}}, map[string]int{"de": 3}, []string{"de"}},
		{"every field given", en, map[string]incident.Narrative{"de": {Cause: "x", Measures: "y", Consequences: "z"}, "fr": en}, map[string]int{"de": 3, "fr": 1}, nil},
		{"a field empty at the top too", incident.Narrative{Cause: "c"}, map[string]incident.Narrative{"fr": {Cause: "c"}}, map[string]int{"fr": 2, "nl": 1}, []string{"nl"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &incident.Case{Narrative: tc.top}
			c.Notify.Narrative = tc.own
			if got := foreignNarrative(c, tc.byLocale); !slices.Equal(got, tc.want) {
				t.Errorf("foreignNarrative = %v, want %v", got, tc.want)
			}
		})
	}
}
