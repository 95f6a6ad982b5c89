package report

import (
	"fmt"
	"strings"
	"time"

	"github.com/breachctl/breachctl/internal/textsafe"
)

// gdprTitles are the items of GDPR Art. 33(3), lettered as in the Article.
var gdprTitles = map[string]string{
	"a": "Nature of the personal data breach, including the categories and approximate number of data subjects and of personal data records concerned",
	"b": "Name and contact details of the data protection officer or other contact point",
	"c": "Likely consequences of the personal data breach",
	"d": "Measures taken or proposed to address the breach, including measures to mitigate its possible adverse effects",
}

// art33 is one notification under Art. 33 of the GDPR or of the UK GDPR:
// whose data subjects it counts and how it names them.
type art33 struct {
	Title, Supplementary string // the report's title, first and supplementary
	Where                string // "the EU/EEA": where the data subjects counted live
	Short                string // "EU/EEA": the same, as an adjective
	People               tally
	Reasons              []string  // why the risk is high (Art. 34)
	Deadline             time.Time // the 72 hours
	// Hints: an item not yet known names the case-file field that fills it.
	Hints bool
}

// buildGDPR fills the Art. 33 notification to the supervisory authority.
// The data subjects it counts are those living in the EU/EEA; the whole
// incident's numbers are given alongside.
func buildGDPR(r *Report, in Input) {
	g := checkGDPR(in)
	buildArt33(r, in, art33{
		Title:         "Personal data breach notification to the supervisory authority (GDPR Art. 33)",
		Supplementary: "Supplementary personal data breach notification to the supervisory authority (GDPR Art. 33(4))",
		Where:         "the EU/EEA", Short: "EU/EEA", People: g.EU, Reasons: g.Reasons, Deadline: g.deadline(in.Case)})
}

// buildArt33 fills items (a)-(d) of Art. 33(3) for the data subjects of a.
func buildArt33(r *Report, in Input, a art33) {
	const lang = "en"
	c, loc := in.Case, r.loc
	all := tallyOf(in.Affected, nil)
	org := c.Organization
	deadline := a.Deadline
	r.Title = a.Title
	r.Meta = []Field{
		{"Controller", org.Name},
		{"Address", orUnknown(lang, org.Address)},
		{"Case", fmt.Sprintf("%s (run %d)", c.ID, r.Run)},
		{"Became aware", stamp(lang, c.Aware, loc)},
		{"72 hours end", stamp(lang, deadline, loc)},
		{"Notification", "initial; information may be provided in phases (Art. 33(4))"},
	}
	if !c.FirstSignal.IsZero() {
		r.Meta = append(r.Meta, Field{"First signal", stamp(lang, c.FirstSignal, loc)})
	}
	if !in.Determined.IsZero() {
		r.Meta = append(r.Meta, Field{"Scope determined", stamp(lang, in.Determined, loc)})
	}
	if r.Revision != nil {
		r.Title = a.Supplementary
		meta(r, "Notification").Value = fmt.Sprintf("supplementary: information provided in phases (Art. 33(4)); it follows %s, and its figures, from run %d, replace that notification's",
			r.PreviousText(), r.Run)
		r.Notes = append(r.Notes, "Supplementary notification: quote the reference the supervisory authority gave the initial notification.")
	}
	if a.People.People == 0 {
		r.Notes = append(r.Notes, "No affected person lives in "+a.Where+" in this run: check whether Art. 33 applies at all.")
	}
	if in.Now.After(deadline) {
		r.Notes = append(r.Notes, fmt.Sprintf("This notification is made more than 72 hours after becoming aware (%s). Art. 33(1) requires the reasons for the delay: not yet known; add them.", stamp(lang, deadline, loc)))
	}
	if len(a.Reasons) > 0 {
		r.Notes = append(r.Notes, "High risk to the data subjects ("+strings.Join(a.Reasons, "; ")+"): communicate the breach to them without undue delay (Art. 34).")
	} else if a.People.People > 0 {
		r.Notes = append(r.Notes, "The tool does not assess the risk as high (no confirmed exposure and no financial, special-category or identifier data): confirm whether Art. 34 applies.")
	}
	r.Notes = append(r.Notes, "Document the breach, its effects and the remedial action internally (Art. 33(5)).")
	g := a.People

	item := func(id, content string, known bool) {
		r.addItem(id, gdprTitles[id], content, known, unknown(lang)+".")
	}

	nar := c.NarrativeFor("en")
	observed := "no view by another party is recorded in the access logs"
	if !all.First.IsZero() {
		observed = span(lang, all.First, all.Last, loc)
	}
	cause := nar.Cause
	if cause == "" {
		cause = "The detailed cause is not yet known."
	}
	cats := joinCats(lang, sortedCategories(g.ByCategory), g.ByCategory)
	if cats == "" {
		cats = "none"
	}
	item("a", strings.Join([]string{
		c.Title + ". Kind of cause: " + causeKindLabel(lang, c.CauseKind) + ". " + cause,
		"",
		"- Period of exposure (declared): " + span(lang, c.Start, c.End, loc),
		"- Exposure observed in the access logs: " + observed,
		"- Became aware: " + stamp(lang, c.Aware, loc),
		"- Contained: " + stamp(lang, c.Contain, loc),
		"- Data subjects concerned in " + a.Where + ": " + levelSplit(lang, g.People, g.Confirmed, g.Possible) + byCountry(g.ByRegion),
		"- Data subjects of the whole incident, all countries: " + levelSplit(lang, all.People, all.Confirmed, all.Possible),
		"- Categories of personal data (" + a.Short + " data subjects): " + cats,
		fmt.Sprintf("- Approximate number of personal data records concerned (one record = one category of data of one person): %s", num(g.Records())),
		"",
		levelMeaningEN(c) + revisedEN(r, "Data subjects of the whole incident, changed since ", "people.") + seeChanges(r),
	}, "\n"), true)

	var b []string
	if org.DPOEmail != "" {
		b = append(b, "- Data protection officer: "+org.DPOEmail)
	} else {
		b = append(b, "- Data protection officer: none given in the case file")
	}
	b = append(b, "- Contact point: "+org.Name+", "+contact(lang, org))
	if org.Address != "" {
		b = append(b, "- Postal address: "+org.Address)
	}
	item("b", strings.Join(b, "\n"), true)

	risk := "Risk assessment by the tool: high (" + strings.Join(a.Reasons, "; ") + ")."
	if len(a.Reasons) == 0 {
		risk = "Risk assessment by the tool: not high (no confirmed exposure and no financial, special-category or identifier data)."
	}
	if nar.Consequences != "" {
		item("c", nar.Consequences+"\n\n"+risk, true)
	} else {
		item("c", risk+a.hint("narrative.consequences"), false)
	}

	notices, _ := deliveryText(lang, in.Delivery, all.People, loc)
	if nar.Measures != "" {
		item("d", nar.Measures+"\n\nCommunication to the data subjects: "+notices, true)
	} else {
		item("d", "Communication to the data subjects: "+notices+a.hint("narrative.measures"), false)
	}
}

// seeChanges points to the section with every changed figure.
func seeChanges(r *Report) string {
	if r.Revision == nil || len(r.Revision.Changes) == 0 {
		return ""
	}
	return "\n\nEvery changed figure (categories, regions) is under \"Changes since the previous report\"."
}

// meta returns the header field with a label (it must exist).
func meta(r *Report, label string) *Field {
	for i := range r.Meta {
		if r.Meta[i].Label == label {
			return &r.Meta[i]
		}
	}
	r.Meta = append(r.Meta, Field{Label: label})
	return &r.Meta[len(r.Meta)-1]
}

// revisedEN is a paragraph listing the changes of the figures under
// prefixes since the previous report ("" when none changed).
func revisedEN(r *Report, lead string, prefixes ...string) string {
	ch := r.changeLines(prefixes...)
	if len(ch) == 0 {
		return ""
	}
	return "\n\n" + lead + r.PreviousText() + ":\n\n" + strings.Join(ch, "\n")
}

func byCountry(m map[string]int) string {
	if len(m) == 0 {
		return ""
	}
	return "; by region: " + regionListOf(m, textsafe.MD) // a Markdown item: regions come from user records
}

// hint names the case-file field that fills an item, when a asks for it.
func (a art33) hint(field string) string {
	if !a.Hints {
		return ""
	}
	return "\n\nTo fill this item, give " + field + " in the case file."
}
