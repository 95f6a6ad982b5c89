package report

import (
	"fmt"
	"strings"

	"github.com/breachctl/breachctl/incident"
)

// caTitles are the headings Cal. Civ. Code §1798.82(d)(1) requires, in order.
var caItems = []struct{ ID, Title string }{
	{"what_happened", "What Happened"},
	{"what_information", "What Information Was Involved"},
	{"what_we_are_doing", "What We Are Doing"},
	{"what_you_can_do", "What You Can Do"},
	{"more_information", "For More Information"},
}

// caAdvice is what a person can do, per category.
var caAdvice = map[incident.Category]string{
	incident.CatName:            "Be wary of unexpected emails, calls, texts or letters that mention your account; we will never ask you for your password.",
	incident.CatEmail:           "Be wary of unexpected emails, calls, texts or letters that mention your account; we will never ask you for your password.",
	incident.CatPhone:           "Be wary of unexpected emails, calls, texts or letters that mention your account; we will never ask you for your password.",
	incident.CatPostalAddress:   "Be wary of unexpected emails, calls, texts or letters that mention your account; we will never ask you for your password.",
	incident.CatDateOfBirth:     "Be wary of anyone who uses your date of birth to sound legitimate.",
	incident.CatBankAccount:     "Review your bank statements and tell your bank at once about any transaction you do not recognize.",
	incident.CatPaymentCard:     "Review your card statements, report any charge you do not recognize to your card issuer, and consider asking for a new card number.",
	incident.CatPurchaseHistory: "Be wary of messages that refer to your past orders to sound legitimate.",
	incident.CatAccountBalance:  "Check your account balance and tell us about any change you do not recognize.",
	incident.CatGovernmentID:    "Consider placing a fraud alert or a security freeze on your credit file with the three nationwide consumer reporting agencies below, and review your free credit reports (www.annualcreditreport.com).",
	incident.CatCredentials:     "Change your password now, and anywhere else you used the same password.",
	incident.CatHealth:          "Review the statements from your health insurer and providers, and report any service you did not receive.",
}

// creditBureaus are the nationwide consumer reporting agencies, named when
// a government identifier (SSN, driver's licence, ID card) was exposed.
const creditBureaus = "- Equifax: 1-800-685-1111, www.equifax.com\n" +
	"- Experian: 1-888-397-3742, www.experian.com\n" +
	"- TransUnion: 1-888-909-8872, www.transunion.com"

// buildUSCA fills the sample "Notice of Data Breach" submitted to the
// California Attorney General (Cal. Civ. Code §1798.82(f)): the notice sent
// to California residents, with the date of the notice and the date range
// of the breach.
func buildUSCA(r *Report, in Input) {
	const lang = "en"
	c, loc := in.Case, r.loc
	ca := usStates[0].residents(in)
	all := tallyOf(in.Affected, nil)
	scope := ca
	if scope.People == 0 {
		scope = all
	}
	org := c.Organization
	nar := c.NarrativeFor("en")
	r.Title = "Notice of Data Breach"

	noticeDate := "not yet sent"
	if !in.Delivery.FirstSent.IsZero() {
		noticeDate = day(lang, in.Delivery.FirstSent, loc)
		if d := day(lang, in.Delivery.LastSent, loc); d != noticeDate {
			noticeDate += " – " + d
		}
	}
	deadline := caAGDeadline(in)
	r.Meta = []Field{
		{"Sample notice submitted to", "California Attorney General (Cal. Civ. Code §1798.82(f))"},
		{"Organization", org.Name},
		{"Date of notice", noticeDate},
		{"Date range of the breach", span(lang, c.Start, c.End, loc)},
		{"Date of discovery", stamp(lang, c.Aware, loc)},
		{"California residents notified", levelSplit(lang, ca.People, ca.Confirmed, ca.Possible)},
		{"Sample due to the Attorney General", stamp(lang, deadline, loc)},
	}
	if r.Revision != nil {
		r.Meta = append(r.Meta, Field{"Updated sample notice", "Updated: it replaces " + r.PreviousText() +
			fmt.Sprintf("; its figures are from run %d (see \"Changes since the previous report\")", r.Run)})
		r.Notes = append(r.Notes, "Updated sample notice: submit it to the Attorney General as an update of the earlier submission; residents whose exposure grew get an update notice.")
	}
	if ca.People < usStates[0].AG.Min {
		r.Notes = append(r.Notes, fmt.Sprintf("%s California residents: a sample notice to the Attorney General is required only when more than 500 are notified.", num(ca.People)))
	}
	if in.Delivery.FirstSent.IsZero() {
		r.Notes = append(r.Notes, "No notice has been sent yet: the date of the notice is to be filled in when the notices go out.")
	}
	delayed := unknown(lang)
	switch c.Notify.LawEnforcementDelay {
	case "no":
		delayed = "No"
	case "yes":
		delayed = "Yes, at a law enforcement agency's request"
	default:
		r.Notes = append(r.Notes, "Whether the notice was delayed by a law enforcement investigation is not recorded in the case file (notify.law_enforcement_delay): state it in the notice.")
	}
	r.Notes = append(r.Notes, "The notice must be titled \"Notice of Data Breach\", in plain language and at least 10-point type.")

	item := func(i int, content string, known bool) {
		r.addItem(caItems[i].ID, caItems[i].Title, content, known, unknown(lang)+".")
	}

	dates := strings.Join([]string{
		"- Date range of the breach: " + span(lang, c.Start, c.End, loc),
		"- Date of discovery: " + stamp(lang, c.Aware, loc),
		"- Date of this notice: " + noticeDate,
		"- Was this notice delayed by a law enforcement investigation? " + delayed + ".",
	}, "\n")
	if nar.Cause != "" {
		item(0, nar.Cause+"\n\n"+dates, true)
	} else {
		item(0, dates, false)
	}

	cats := sortedCategories(scope.ByCategory)
	if len(cats) > 0 {
		item(1, "The information involved was: "+strings.ToLower(joinCats(lang, cats, nil))+
			". For each person, only the information we held about them was involved."+
			consequences(nar.Consequences), true)
	} else {
		item(1, "", false)
	}

	item(2, nar.Measures, nar.Measures != "")

	var advice []string
	seen := map[string]bool{}
	for _, cat := range cats {
		if a := caAdvice[cat]; a != "" && !seen[a] {
			seen[a] = true
			advice = append(advice, "- "+a)
		}
	}
	can := strings.Join(advice, "\n")
	if ids := scope.has(func(i incident.CategoryInfo) bool { return i.Identifier }); len(ids) > 0 {
		can += "\n\nThe nationwide consumer reporting agencies:\n\n" + creditBureaus
	}
	item(3, strings.TrimSpace(can), len(advice) > 0)

	more := []string{"If you have questions, please contact " + org.Name + ":", ""}
	for _, kv := range [][2]string{{"Telephone", org.ContactPhone}, {"Email", org.ContactEmail}, {"Website", org.Website}, {"Mail", org.Address}} {
		if kv[1] != "" {
			more = append(more, "- "+kv[0]+": "+kv[1])
		}
	}
	item(4, strings.Join(more, "\n"), true)
}

func consequences(s string) string {
	if s == "" {
		return ""
	}
	return "\n\n" + s
}
