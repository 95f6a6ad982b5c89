package correlate

import (
	"sort"
	"time"
)

// Bucket is the width of a timeline bar.
const Bucket = 10 * time.Minute

// Summary is what triage shows beyond the counts, computed once at ingest.
type Summary struct {
	FirstExposure *time.Time       `json:"first_exposure"`
	LastExposure  *time.Time       `json:"last_exposure"`
	Timeline      []TimelineBucket `json:"timeline"`
	TopViewers    []Viewer         `json:"top_viewers"`
	ByCategory    map[string]int   `json:"by_category"`
	ByRegion      map[string]int   `json:"by_region"`
	ByCountry     map[string]int   `json:"by_country"`
	// Refused lists the people whose user record was refused, by user id
	// with the reason (Result.Refused).
	Refused []Refusal `json:"refused"`
	// Rules breaks the events and people down by exposure rule, in the
	// case file's order.
	Rules []RuleSummary `json:"rules"`
}

// RuleSummary is what one exposure rule found.
type RuleSummary struct {
	Name string `json:"name"`
	Kind string `json:"kind"` // cache | object | owner | actor
	// Events by kind and level (exposure events are confirmed + possible).
	ExposureEvents     int64 `json:"exposure_events"`
	ConfirmedEvents    int64 `json:"confirmed_events"`
	PossibleEvents     int64 `json:"possible_events"`
	EmptyEvents        int64 `json:"empty_events"`
	UnattributedEvents int64 `json:"unattributed_events"`
	UnresolvedEvents   int64 `json:"unresolved_events"`
	// People by their level under this rule alone (a person can be
	// possible under one rule and confirmed under another).
	Confirmed int `json:"confirmed"`
	Possible  int `json:"possible"`
	// TopViewers: the parties this rule's events went to, with how many
	// distinct people's data each received — for the cache rule its
	// confirmed events (as Result.TopViewers), for the others every
	// exposure event, confirmed or possible: the suspected attackers (an
	// enumeration is one viewer with thousands of people).
	TopViewers []Viewer `json:"top_viewers"`
	// Matched counts the requests the rule looked at (on its routes, in
	// its range); for an actor rule, those from the attacker's
	// infrastructure. Zero for a rule that matched nothing: a warning.
	Matched int64 `json:"matched"`
}

// TimelineBucket counts exposure events in one 10-minute bucket.
type TimelineBucket struct {
	Start     time.Time `json:"start"`
	Confirmed int       `json:"confirmed"`
	Possible  int       `json:"possible"`
}

// Viewer is a party that was shown other people's pages.
type Viewer struct {
	Viewer string `json:"viewer"` // user:ID, identity:HASH or ip:ADDR
	People int    `json:"people"` // distinct people whose data it was shown
	Views  int    `json:"views"`  // confirmed exposure events
}

// TopViewers is how many viewers the summary keeps.
const TopViewers = 20

func summarize(r *Result) Summary {
	s := Summary{ByCategory: map[string]int{}, ByRegion: map[string]int{}, ByCountry: map[string]int{}, Timeline: []TimelineBucket{}, TopViewers: []Viewer{}}
	buckets := map[int64]*TimelineBucket{}
	var first, last int64
	for i := range r.events {
		e := &r.events[i]
		if e.kind != kExposure {
			continue
		}
		if first == 0 || e.at < first {
			first = e.at
		}
		if e.at > last {
			last = e.at
		}
		k := e.at - e.at%int64(Bucket)
		b := buckets[k]
		if b == nil {
			b = &TimelineBucket{Start: time.Unix(0, k).UTC()}
			buckets[k] = b
		}
		if e.level == levelCode(Confirmed) {
			b.Confirmed++
		} else {
			b.Possible++
		}
	}
	if first != 0 {
		f, l := time.Unix(0, first).UTC(), time.Unix(0, last).UTC()
		s.FirstExposure, s.LastExposure = &f, &l
	}
	for _, b := range buckets {
		s.Timeline = append(s.Timeline, *b)
	}
	sort.Slice(s.Timeline, func(i, j int) bool { return s.Timeline[i].Start.Before(s.Timeline[j].Start) })
	if r.TopViewers != nil {
		s.TopViewers = r.TopViewers
	}
	s.Refused = append([]Refusal{}, r.Refused...)
	s.Rules = r.rules
	for _, a := range r.Affected {
		for _, c := range a.Categories {
			s.ByCategory[string(c)]++
		}
		region := a.Region
		if region == "" {
			region = a.Country
		}
		if region == "" {
			region = "unknown"
		}
		s.ByRegion[region]++
		country := a.Country
		if country == "" {
			country = "unknown"
		}
		s.ByCountry[country]++
	}
	return s
}
