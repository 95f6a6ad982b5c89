package report

import (
	"fmt"
	"strings"

	"github.com/breachctl/breachctl/incident"
)

// auItems are the items of the statement to the OAIC under the NDB scheme
// (Privacy Act s. 26WK) that the source and common practice name. The
// statutory list is not verified (LAWS-2023-2026.md): the report says so.
var auItems = []struct{ ID, Title string }{
	{"organisation", "Identity and contact details of the organisation"},
	{"description", "Description of the eligible data breach"},
	{"information", "Kinds of information concerned"},
	{"recommendations", "Recommended steps individuals should take in response to the breach"},
}

// auAdvice is what a person can do, per category: the California advice
// without the US consumer reporting agencies.
func auAdvice(c incident.Category) string {
	if c == incident.CatGovernmentID {
		return "Watch for any use of your identity document you do not recognise, and ask its issuing agency whether it should be replaced."
	}
	return caAdvice[c]
}

// buildAUOAIC fills the statement to the OAIC about an eligible data
// breach, for the affected people who live in Australia. The statement is
// due "as soon as practicable" (the au-ndb-oaic duty has no fixed
// deadline); the assessment's 30 days are the au-ndb-assessment duty's.
func buildAUOAIC(r *Report, in Input) {
	const lang = "en"
	c, loc := in.Case, r.loc
	au := tallyOf(in.Affected, livesIn("AU"))
	all := tallyOf(in.Affected, nil)
	org := c.Organization
	nar := c.NarrativeFor("en")
	assess := dayClock(c.Aware, ndbAssessDays, loc)
	if o, ok := dutyOf(in, "au-ndb-assessment"); ok {
		assess = o.Deadline
	}
	r.Title = "Statement about an eligible data breach to the OAIC (Privacy Act 1988, Part IIIC, s. 26WK)"
	r.Meta = []Field{
		{"Statement to", "Office of the Australian Information Commissioner (OAIC), Notifiable Data Breaches scheme"},
		{"Organisation", org.Name},
		{"Case", fmt.Sprintf("%s (run %d)", c.ID, r.Run)},
		{"Became aware", stamp(lang, c.Aware, loc)},
		{"Assessment due", stamp(lang, assess, loc) + ", 30 calendar days from awareness (s. 26WH)"},
		{"Statement due", "as soon as practicable once the breach is assessed as eligible; no fixed period"},
		{"Item list", "not verified against the statute: check s. 26WK before filing"},
	}
	if r.Revision != nil {
		r.Meta = append(r.Meta, Field{"Updated statement", "it follows " + r.PreviousText() +
			fmt.Sprintf("; its figures are from run %d (see \"Changes since the previous report\")", r.Run)})
	}
	r.Notes = append(r.Notes, "The items below are those the source and common practice name (identity and contact, description, kinds of information, recommended steps); the statutory list was not verified: check it against the Privacy Act s. 26WK, and the OAIC's form, before filing.")
	if au.People == 0 {
		r.Notes = append(r.Notes, "No affected person lives in Australia in this run: check whether the NDB scheme applies at all.")
	}
	if h := highRisk(au); len(h) > 0 {
		r.Notes = append(r.Notes, "Serious harm may be likely ("+strings.Join(h, "; ")+"): if the assessment finds an eligible data breach, notify the individuals at risk too (s. 26WL).")
	} else if au.People > 0 {
		r.Notes = append(r.Notes, "The tool finds no financial, sensitive or identifier data and no confirmed exposure for people in Australia: whether serious harm is likely (an eligible data breach) is for the assessment to decide.")
	}
	if in.Now.After(assess) {
		r.Notes = append(r.Notes, fmt.Sprintf("The 30-day assessment period ended %s.", stamp(lang, assess, loc)))
	}

	item := func(i int, content string, known bool) {
		r.addItem(auItems[i].ID, auItems[i].Title, content, known, unknown(lang)+".")
	}

	id := []string{"- Organisation: " + org.Name, "- Contact: " + contact(lang, org)}
	if org.Address != "" {
		id = append(id, "- Address: "+org.Address)
	}
	if org.DPOEmail != "" {
		id = append(id, "- Privacy officer: "+org.DPOEmail)
	}
	item(0, strings.Join(id, "\n"), org.Name != "")

	observed := "no exposure is recorded in the access logs"
	if !all.First.IsZero() {
		observed = span(lang, all.First, all.Last, loc)
	}
	desc := []string{
		c.Title + ". Kind of cause: " + causeKindLabel(lang, c.CauseKind) + ".",
		"",
		"- Period of the breach (declared): " + span(lang, c.Start, c.End, loc),
		"- Exposure observed in the access logs: " + observed,
		"- Became aware: " + stamp(lang, c.Aware, loc),
		"- Contained: " + stamp(lang, c.Contain, loc),
		"- Individuals in Australia: " + levelSplit(lang, au.People, au.Confirmed, au.Possible) + byCountry(au.ByRegion),
		"- Individuals of the whole incident, all countries: " + levelSplit(lang, all.People, all.Confirmed, all.Possible),
	}
	if nar.Cause != "" {
		desc = append(desc, "", nar.Cause+consequences(nar.Consequences))
		if nar.Measures != "" {
			desc = append(desc, "", "Containment and remediation: "+nar.Measures)
		}
		item(1, strings.Join(desc, "\n")+revisedEN(r, "Changed since ", "people.")+seeChanges(r), true)
	} else {
		item(1, strings.Join(desc, "\n")+"\n\nTo fill this item, give narrative.cause (and narrative.measures) in the case file.", false)
	}

	cats := sortedCategories(au.ByCategory)
	if len(cats) > 0 {
		item(2, "Individuals in Australia: "+joinCats(lang, cats, au.ByCategory)+". For each individual, only the information held about them was involved.", true)
	} else {
		item(2, "No affected person lives in Australia in this run; the kinds of information come from the run's affected accounts (breachctl ingest).", false)
	}

	var advice []string
	seen := map[string]bool{}
	for _, cat := range cats {
		if a := auAdvice(cat); a != "" && !seen[a] {
			seen[a] = true
			advice = append(advice, "- "+a)
		}
	}
	if len(advice) > 0 {
		item(3, strings.Join(advice, "\n")+"\n\nThese are the tool's suggestions from the kinds of information; the organisation decides the recommendations.", true)
	} else {
		item(3, "The recommendations follow from the kinds of information, none of which is known for people in Australia in this run.", false)
	}
}
