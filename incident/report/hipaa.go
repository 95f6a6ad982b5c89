package report

import (
	"fmt"
	"strings"

	"github.com/breachctl/breachctl/incident"
	"github.com/breachctl/breachctl/internal/textsafe"
)

// hipaaItems are the facts 45 CFR 164.408 and the HHS breach portal's form
// ask for, in the form's order.
var hipaaItems = []struct{ ID, Title string }{
	{"entity", "Covered entity"},
	{"breach_dates", "Date(s) of the breach"},
	{"discovery_date", "Date of discovery"},
	{"individuals_affected", "Approximate number of individuals affected"},
	{"type_of_breach", "Type of breach"},
	{"location", "Location of the breached information"},
	{"phi_involved", "Type of protected health information involved"},
	{"description", "Brief description of the breach"},
	{"safeguards", "Safeguards in place prior to the breach"},
	{"notice_dates", "Notice to individuals, media and others"},
	{"actions_taken", "Actions taken in response to the breach"},
}

// hipaaBreachType maps cause_kind to the HHS form's types of breach.
var hipaaBreachType = map[string]string{
	"misconfiguration":    "Unauthorized Access/Disclosure",
	"unauthorized_access": "Hacking/IT Incident",
	"insider":             "Unauthorized Access/Disclosure",
	"loss":                "Loss",
	"other":               "Other",
}

// hipaaPHIType maps categories to the HHS form's types of PHI.
var hipaaPHIType = map[incident.Category]string{
	incident.CatName: "Demographic", incident.CatEmail: "Demographic", incident.CatPhone: "Demographic",
	incident.CatPostalAddress: "Demographic", incident.CatDateOfBirth: "Demographic", incident.CatGovernmentID: "Demographic",
	incident.CatBankAccount: "Financial", incident.CatPaymentCard: "Financial", incident.CatAccountBalance: "Financial",
	incident.CatHealth:          "Clinical",
	incident.CatPurchaseHistory: "Other", incident.CatCredentials: "Other",
}

// buildHIPAA fills the notice to the Secretary of HHS (45 CFR 164.408) for
// the affected people whose health data was exposed.
func buildHIPAA(r *Report, in Input) {
	const lang = "en"
	c, loc := in.Case, r.loc
	h := checkHIPAA(in)
	t := h.Health
	org := c.Organization
	nar := c.NarrativeFor("en")
	deadline := h.hhsDeadline(c)
	r.Title = "Notice to the Secretary of HHS of a breach of unsecured protected health information (45 CFR 164.408)"
	when := "within 60 days of discovery (500 or more individuals)"
	if t.People < hipaaHHSAtLeast {
		when = fmt.Sprintf("in the yearly log, within 60 days of the end of %d (fewer than 500 individuals)", c.Aware.In(loc).Year())
	}
	r.Meta = []Field{
		{"Covered entity", org.Name},
		{"Case", fmt.Sprintf("%s (run %d)", c.ID, r.Run)},
		{"Date of discovery", stamp(lang, c.Aware, loc)},
		{"Due", stamp(lang, deadline, loc) + ", " + when},
	}
	if r.Revision != nil {
		r.Meta = append(r.Meta, Field{"Report type", "Addendum to " + r.PreviousText() +
			fmt.Sprintf("; its figures are from run %d (see \"Changes since the previous report\")", r.Run)})
	}
	if t.People == 0 {
		r.Notes = append(r.Notes, "No affected person has health data exposed in this run: check whether a HIPAA notice is required at all.")
	}
	r.Notes = append(r.Notes, "HIPAA applies to covered entities and business associates; the case file does not say whether the organization is one.")
	if in.Now.After(deadline) {
		r.Notes = append(r.Notes, fmt.Sprintf("The deadline (%s) has passed.", stamp(lang, deadline, loc)))
	}

	item := func(i int, content string, known bool) {
		r.addItem(hipaaItems[i].ID, hipaaItems[i].Title, content, known, unknown(lang)+".")
	}

	ent := []string{org.Name}
	if org.Address != "" {
		ent = append(ent, org.Address)
	}
	ent = append(ent, "Contact: "+contact(lang, org))
	item(0, strings.Join(ent, "\n\n"), true)

	bd := "- Declared: " + span(lang, c.Start, c.End, loc)
	if !t.First.IsZero() {
		bd += "\n- Observed in the access logs: " + span(lang, t.First, t.Last, loc)
	}
	item(1, bd, true)
	item(2, stamp(lang, c.Aware, loc), true)
	item(3, levelSplit(lang, t.People, t.Confirmed, t.Possible)+" whose health data was exposed"+byCountry(t.ByRegion), true)

	if bt, ok := hipaaBreachType[c.CauseKind]; ok {
		item(4, bt, true)
	} else {
		item(4, "", false)
	}

	if c.CauseKind == "loss" {
		item(5, "", false)
	} else {
		item(5, "Network Server (the web service; the exposure was found in its access logs)", true)
	}

	types := map[string][]incident.Category{}
	var order []string
	for _, cat := range sortedCategories(t.ByCategory) {
		ty := hipaaPHIType[cat]
		if ty == "" {
			ty = "Other"
		}
		if _, ok := types[ty]; !ok {
			order = append(order, ty)
		}
		types[ty] = append(types[ty], cat)
	}
	var phi []string
	for _, ty := range order {
		phi = append(phi, "- "+ty+": "+joinCats(lang, types[ty], t.ByCategory))
	}
	item(6, strings.Join(phi, "\n"), len(phi) > 0)

	desc := c.Title + ". Kind of cause: " + causeKindLabel(lang, c.CauseKind) + "."
	if nar.Cause != "" {
		item(7, desc+"\n\n"+nar.Cause+consequences(nar.Consequences), true)
	} else {
		item(7, desc, false)
	}

	item(8, "The case file does not record the safeguards in place before the breach.", false)

	notices, known := deliveryText(lang, in.Delivery, tallyOf(in.Affected, nil).People, loc)
	media := "- Media notice: not required (no state with more than 500 affected residents)"
	var states []string
	for _, kc := range sortedCounts(h.ByState) {
		if kc.Count > hipaaMediaOver {
			states = append(states, textsafe.MD(kc.Key)+" "+num(kc.Count)) // from user records
		}
	}
	if len(states) > 0 {
		media = "- Media notice: required in " + strings.Join(states, ", ") + "; date: not yet known"
	}
	item(9, "- Individuals: "+notices+"\n"+media+"\n- Substitute notice: not yet known", known)

	item(10, nar.Measures, nar.Measures != "")
}
