package report

import (
	"fmt"
	"strings"

	"github.com/breachctl/breachctl/incident"
	"github.com/breachctl/breachctl/internal/textsafe"
)

// substituteItems are the sections of the public substitute notice: the
// web page, then the press release.
var substituteItems = []struct{ ID, Title string }{
	{"what_happened", "What happened"},
	{"what_information", "What information was involved"},
	{"how_many", "How many people were affected"},
	{"what_we_are_doing", "What we are doing"},
	{"what_you_can_do", "What you can do"},
	{"more_information", "How to find out whether you were affected, and how to contact us"},
	{"posting_period", "How long this notice stays up"},
	{"press_release", "Press release"},
}

// substituteDays is how long the page stays up: HIPAA's substitute notice
// is a conspicuous posting on the home page for 90 days (45 CFR
// 164.404(d)(2)(ii)).
const substituteDays = 90

// buildSubstitute fills the public substitute notice: the text of a
// conspicuous web page and a shorter press release with the same facts,
// for the people a notice cannot reach. It is public, so it holds no
// personal data at all: counts, categories, dates, the organisation and
// its contact, and the case's own narrative.
func buildSubstitute(r *Report, in Input) {
	const lang = "en"
	c, loc := in.Case, r.loc
	org := c.Organization
	nar := c.NarrativeFor(lang)
	all := tallyOf(in.Affected, nil)
	health := checkHIPAA(in).Health
	r.Evidence = []EvidenceFile{} // internal files are not the public's business

	name := org.Name
	if name == "" {
		name = "We"
	}
	r.Title = "Notice of a data security incident"
	if org.Name != "" {
		r.Title = org.Name + ": notice of a data security incident"
	}
	until := r.GeneratedAt.AddDate(0, 0, substituteDays)
	r.Meta = []Field{
		{"Organization", orUnknown(lang, org.Name)},
		{"Published", day(lang, r.GeneratedAt, loc)},
		{"Source", fmt.Sprintf("case %s, run %d", c.ID, r.Run)},
		{"Personal data", "none: counts, categories, dates and the organization's contact only"},
	}
	if r.Revision != nil {
		r.Meta = append(r.Meta, Field{"Updated notice", "it replaces " + r.PreviousText() +
			fmt.Sprintf("; its figures are from run %d", r.Run)})
	}

	r.Notes = append(r.Notes, "A substitute notice is for the people a notice cannot reach: post the page conspicuously on the home page and send the press text to major media where the people live; check each law's conditions (HIPAA: 10 or more people with out-of-date contact information).")
	r.Notes = append(r.Notes, fmt.Sprintf("Keep the page up for at least %d days (HIPAA, 45 CFR 164.404(d)(2)); US state laws also provide for substitute notice (a conspicuous website posting, e-mail, statewide media) with their own conditions and periods, which REGULATIONS.md does not give: check each state's statute.", substituteDays))
	if in.Delivery.Total > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("Delivery ledger: %s failed, %s pending, %s uncertain of %s notices.",
			num(in.Delivery.Failed), num(in.Delivery.Pending), num(in.Delivery.Uncertain), num(in.Delivery.Total)))
	}
	if health.People > 0 {
		r.Notes = append(r.Notes, "Health information was involved: HIPAA asks the substitute notice to give a toll-free number that stays active for at least 90 days; the case file records no toll-free number (organization.contact_phone is shown): add it before publishing.")
	}
	if c.Notify.DefaultLocale == "ja" {
		r.Notes = append(r.Notes, "The case's notices are in Japanese (notify.default_locale: ja): publish the Japanese version too (report --kind substitute-notice-ja).")
	}

	item := func(i int, content string, known bool) {
		r.addItem(substituteItems[i].ID, substituteItems[i].Title, content, known, unknown(lang)+".")
	}

	// What happened.
	dates := []string{
		"- When it happened: " + span(lang, c.Start, c.End, loc),
		"- When we discovered it: " + stamp(lang, c.Aware, loc),
		"- When we stopped it: " + stamp(lang, c.Contain, loc),
	}
	happened := strings.Join(dates, "\n")
	if nar.Cause != "" {
		happened = nar.Cause + "\n\n" + happened
	}
	item(0, happened, nar.Cause != "")

	// What information was involved, per category.
	cats := sortedCategories(all.ByCategory)
	var lines []string
	for _, cat := range cats {
		n, conf := all.ByCategory[cat], all.ConfirmedByCategory[cat]
		lines = append(lines, fmt.Sprintf("- %s: %s (confirmed %s, possible %s)", categoryLabel(lang, cat), people(lang, n), num(conf), num(n-conf)))
	}
	info := strings.Join(lines, "\n")
	if len(lines) > 0 {
		info = "For each person, only the information we held about them was involved:\n\n" + info +
			"\n\n\"Confirmed\" means our records show the information was seen by someone else; \"possible\" means it may have been." +
			consequences(nar.Consequences)
	}
	item(1, info, len(lines) > 0)

	// How many people, in all and by country.
	countries := affectedByCountry(in, "unknown")
	howMany := "In all: " + levelSplit(lang, all.People, all.Confirmed, all.Possible) + "."
	if len(countries) > 0 {
		var parts []string
		for _, kc := range sortedCounts(countries) {
			parts = append(parts, "- "+textsafe.MD(kc.Key)+": "+people(lang, kc.Count)) // from user records
		}
		howMany += "\n\nBy country:\n\n" + strings.Join(parts, "\n")
	}
	item(2, howMany, true)

	// What we are doing.
	item(3, nar.Measures, nar.Measures != "")

	// What you can do: the notices' advice, per exposed category.
	advice := adviceLines(cats, func(c incident.Category) string { return caAdvice[c] })
	can := strings.Join(advice, "\n")
	if ids := all.has(func(i incident.CategoryInfo) bool { return i.Identifier }); len(ids) > 0 {
		can += "\n\nThe nationwide consumer reporting agencies (US):\n\n" + creditBureaus
	}
	item(4, strings.TrimSpace(can), len(advice) > 0)

	// How to find out whether one was affected; the contact.
	more := []string{
		"We are writing to everyone affected whom we can reach. If you are not sure whether you were affected, or did not hear from us, contact " + name + " and we will tell you. We will never ask for your password.",
		"",
	}
	contacts := 0
	for _, kv := range [][2]string{{"Email", org.ContactEmail}, {"Telephone", org.ContactPhone}, {"Website", org.Website}, {"Mail", org.Address}} {
		if kv[1] != "" {
			more = append(more, "- "+kv[0]+": "+kv[1])
			contacts++
		}
	}
	if health.People > 0 {
		more = append(more, "", fmt.Sprintf("Because health information was involved, a toll-free number is available for at least %d days.", substituteDays))
	}
	item(5, strings.Join(more, "\n"), contacts > 0)

	// How long the page stays up.
	item(6, fmt.Sprintf("This notice stays on our website for at least %d days, until %s. US federal health privacy rules (HIPAA) ask for this period; some US state laws also ask for a notice on the website.",
		substituteDays, day(lang, until, loc)), !r.GeneratedAt.IsZero())

	// The press release: the same facts, shorter.
	press := []string{fmt.Sprintf("%s — %s today announced a data security incident that may have affected %s.",
		day(lang, r.GeneratedAt, loc), name, people(lang, all.People))}
	what := fmt.Sprintf("The incident happened between %s and %s. ", stamp(lang, c.Start, loc), stamp(lang, c.End, loc))
	if nar.Cause != "" {
		what += nar.Cause + " "
	}
	what += fmt.Sprintf("%s discovered the incident on %s and stopped it on %s.", name, stamp(lang, c.Aware, loc), stamp(lang, c.Contain, loc))
	press = append(press, what)
	if len(cats) > 0 {
		press = append(press, fmt.Sprintf("The information involved: %s. In all %s were affected (confirmed %s, possible %s).",
			joinCats(lang, cats, all.ByCategory), people(lang, all.People), num(all.Confirmed), num(all.Possible)))
	}
	if nar.Measures != "" {
		press = append(press, nar.Measures)
	}
	press = append(press, "Anyone who thinks they may have been affected can contact "+name+": "+contact(lang, org)+". The full notice is on "+orUnknown(lang, org.Website)+".")
	item(7, strings.Join(press, "\n\n"), nar.Cause != "" && len(cats) > 0)
}

// affectedByCountry counts the affected people by country ("" as unknown).
func affectedByCountry(in Input, unknown string) map[string]int {
	countries := map[string]int{}
	for i := range in.Affected {
		k := countryOf(&in.Affected[i])
		if k == "" {
			k = unknown
		}
		countries[k]++
	}
	return countries
}

// adviceLines lists, once each, the advice for the exposed categories.
func adviceLines(cats []incident.Category, advice func(incident.Category) string) []string {
	var out []string
	seen := map[string]bool{}
	for _, cat := range cats {
		if a := advice(cat); a != "" && !seen[a] {
			seen[a] = true
			out = append(out, "- "+a)
		}
	}
	return out
}
