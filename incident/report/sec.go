package report

import (
	"fmt"
	"strings"

	"github.com/breachctl/breachctl/internal/textsafe"
)

// secItems are what Form 8-K Item 1.05 asks a registrant to describe
// (LAWS-2023-2026.md: the material aspects of the nature, scope and timing
// of the incident, and its material impact or reasonably likely material
// impact).
var secItems = []struct{ ID, Title string }{
	{"nature", "Material aspects of the nature of the incident"},
	{"scope", "Material aspects of the scope of the incident"},
	{"timing", "Material aspects of the timing of the incident"},
	{"impact", "Material impact or reasonably likely material impact on the registrant, including its financial condition and results of operations"},
}

// buildSEC8K fills a draft of the Form 8-K Item 1.05 disclosure, for
// counsel: the rule binds the registrant, so every affected person is
// counted, wherever they live. The deadline is the sec-8k duty's: 4
// business days from the materiality determination.
func buildSEC8K(r *Report, in Input) {
	const lang = "en"
	c, loc := in.Case, r.loc
	all := tallyOf(in.Affected, nil)
	org := c.Organization
	nar := c.NarrativeFor("en")
	deadline, _, fromText, note := secDeadline(c)
	if o, ok := dutyOf(in, "sec-8k"); ok {
		deadline = o.Deadline
	}
	material := "not yet recorded (set materiality_determined_at in the case file once it is made)"
	if !c.Material.IsZero() {
		material = stamp(lang, c.Material, loc)
	}
	r.Title = "DRAFT for counsel: Form 8-K, Item 1.05 (Material Cybersecurity Incidents)"
	r.Meta = []Field{
		{"Status", "draft for counsel; not a filing"},
		{"Registrant", org.Name},
		{"Case", fmt.Sprintf("%s (run %d)", c.ID, r.Run)},
		{"Date of discovery", stamp(lang, c.Aware, loc)},
		{"Materiality determined", material},
		{"Filing due", stamp(lang, deadline, loc) + ", 4 business days " + fromText},
	}
	if r.Revision != nil {
		r.Title = "DRAFT for counsel: Form 8-K/A amending Item 1.05 (Material Cybersecurity Incidents)"
		r.Meta = append(r.Meta, Field{"Amendment", "it follows " + r.PreviousText() +
			fmt.Sprintf("; its figures are from run %d (see \"Changes since the previous report\")", r.Run)})
	}
	r.Notes = append(r.Notes, "This is a draft for counsel, not a filing: whether the incident is material, and the wording of the disclosure, are counsel's and management's decisions.")
	if !org.USListed {
		r.Notes = append(r.Notes, "organization.us_listed is not set in the case file: the tool does not take the organisation to be an SEC registrant, and Item 1.05 may not apply; check.")
	}
	if c.Material.IsZero() {
		r.Notes = append(r.Notes, "The materiality determination is not recorded (materiality_determined_at): it is to be made without unreasonable delay after discovery, and the due date shown counts from discovery, the earliest it can be.")
	}
	r.Notes = append(r.Notes,
		"Due 4 business days after the materiality determination; "+note+".",
		"The US Attorney General can delay the filing (30 days at first); the case file records no such delay.",
		"An amended Form 8-K follows when new information becomes known; the figures here are from run "+fmt.Sprint(r.Run)+" and may change.")
	if in.Now.After(deadline) {
		r.Notes = append(r.Notes, fmt.Sprintf("The filing deadline (%s) has passed.", stamp(lang, deadline, loc)))
	}

	item := func(i int, content string, known bool) {
		r.addItem(secItems[i].ID, secItems[i].Title, content, known, unknown(lang)+".")
	}

	nature := c.Title + ". Kind of cause: " + causeKindLabel(lang, c.CauseKind) + "."
	if nar.Cause != "" {
		item(0, nature+"\n\n"+nar.Cause, true)
	} else {
		item(0, nature+"\n\nTo fill this item, give narrative.cause in the case file.", false)
	}

	if all.People > 0 {
		scope := []string{
			"- People whose personal information was affected: " + levelSplit(lang, all.People, all.Confirmed, all.Possible),
			"- By country of residence: " + countryList(in),
			"- Categories of personal information: " + joinCats(lang, sortedCategories(all.ByCategory), all.ByCategory),
		}
		item(1, strings.Join(scope, "\n")+"\n\n"+levelMeaningEN(c)+revisedEN(r, "Changed since ", "people.")+seeChanges(r), true)
	} else {
		item(1, "No affected person in this run: the scope comes from the run's affected accounts (breachctl ingest).", false)
	}

	observed := "no exposure is recorded in the access logs"
	if !all.First.IsZero() {
		observed = span(lang, all.First, all.Last, loc)
	}
	item(2, strings.Join([]string{
		"- Period of the incident (declared): " + span(lang, c.Start, c.End, loc),
		"- Exposure observed in the access logs: " + observed,
		"- Discovered: " + stamp(lang, c.Aware, loc),
		"- Contained: " + stamp(lang, c.Contain, loc),
		"- Determined material: " + material,
	}, "\n"), true)

	facts := []string{"The case file has no field for the impact on the registrant; management and counsel determine it. Facts the tool has that may bear on it:", ""}
	facts = append(facts, "- People affected: "+levelSplit(lang, all.People, all.Confirmed, all.Possible))
	notices, _ := deliveryText(lang, in.Delivery, all.People, loc)
	facts = append(facts, "- Notices to individuals: "+notices)
	if o := otherLaws(in, "SEC"); o != "" {
		facts = append(facts, "- Notification duties triggered (people in scope): "+textsafe.MD(o))
	}
	item(3, strings.Join(facts, "\n"), false)
}

// countryList lists the affected people by country of residence, largest
// first, escaped for Markdown (countries come from user records).
func countryList(in Input) string {
	m := map[string]int{}
	for i := range in.Affected {
		k := countryOf(&in.Affected[i])
		if k == "" {
			k = "unknown"
		}
		m[k]++
	}
	return regionListOf(m, textsafe.MD)
}
