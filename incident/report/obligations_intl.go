package report

import (
	"fmt"
	"strings"
	"time"

	"github.com/breachctl/breachctl/incident"
	"github.com/breachctl/breachctl/incident/store"
)

// Duties outside the US, Japan and the EU's GDPR (LAWS-2023-2026.md).
//
// Reading: a country's law is taken to apply when any affected person lives
// in that country (country, else the region's prefix), and its duty counts
// the people who live there, like GDPR's; a threshold counts them too, and
// the trigger says how many are affected in all, for counsel to judge when
// the law binds the organisation for everyone. The EU sector regimes (NIS2,
// DORA) and China's measures bind the organisation, by the case file's
// organization flags, and count every affected person.

func livesIn(country string) func(*store.AffectedAccount) bool {
	return func(a *store.AffectedAccount) bool { return countryOf(a) == country }
}

// duty makes an obligation counting the people of t.
func duty(id, law, to, what, why string, t tally, deadline time.Time, clock string) Obligation {
	n, conf, poss := scoped(t)
	return Obligation{ID: id, Law: law, To: to, Duty: what, Trigger: why, People: n, Confirmed: conf, Possible: poss, Deadline: deadline, Clock: clock}
}

// withUpdate appends an individuals' duty and, when some of its people are
// owed an update notice, the update duty.
func withUpdate(in Input, out []Obligation, o Obligation, keep func(*store.AffectedAccount) bool) []Obligation {
	out = append(out, o)
	if u, ok := updateDuty(in, o, keep); ok {
		out = append(out, u)
	}
	return out
}

// monthClock is one calendar month after from, in loc, at the same time of
// day; a day the next month lacks (31 January) becomes that month's last
// day, never a day of the month after.
func monthClock(from time.Time, loc *time.Location) time.Time {
	f := from.In(loc)
	y, m, d := f.Date()
	if last := time.Date(y, m+2, 0, 0, 0, 0, 0, loc).Day(); d > last {
		d = last
	}
	return time.Date(y, m+1, d, f.Hour(), f.Minute(), f.Second(), f.Nanosecond(), loc)
}

// ofAll says how many are affected in all when a country's people are fewer.
func ofAll(in Input, n int) string {
	if all := len(in.Affected); all > n {
		return fmt.Sprintf(" (of %s affected in all; counsel to judge whether the law binds the organisation for everyone)", num(all))
	}
	return ""
}

// ---------------------------------------------------------------- UK

// ukDuties: UK GDPR, as GDPR: the ICO within 72 hours of awareness; the
// individuals without undue delay when the risk is high (highRisk).
func ukDuties(in Input) []Obligation {
	keep := livesIn("GB")
	t := tallyOf(in.Affected, keep)
	if t.People == 0 {
		return nil
	}
	c := in.Case
	scope := fmt.Sprintf("%s affected people live in the United Kingdom (%s)", num(t.People), regionList(t.ByRegion))
	out := []Obligation{duty("uk-ico", "UK GDPR", ToRegulator, "Notify the ICO, UK GDPR Art. 33",
		scope+". Deadline: without undue delay and, where feasible, within 72 hours of becoming aware; a later notification must give the reasons for the delay.",
		t, c.Aware.Add(72*time.Hour), ClockDiscovered)}
	out[0].Report = "uk-ico"
	if r := highRisk(t); len(r) > 0 {
		out = withUpdate(in, out, duty("uk-individuals", "UK GDPR", ToIndividuals, "Communicate the breach to the data subjects, UK GDPR Art. 34",
			scope+". High risk: "+strings.Join(r, "; ")+". Deadline \"without undue delay\" has no fixed period; the tool uses the ICO's 72 hours.",
			t, c.Aware.Add(72*time.Hour), ClockDiscovered), keep)
	}
	return out
}

// ---------------------------------------------------------------- NIS2, DORA

// euSectorDuties: NIS2 Art. 23 for an essential or important entity, DORA
// Art. 19 for a financial entity.
func euSectorDuties(in Input) []Obligation {
	c := in.Case
	all := tallyOf(in.Affected, nil)
	if all.People == 0 {
		return nil
	}
	loc := caseLoc(c)
	var out []Obligation
	if k := c.Organization.NIS2; k != "" {
		why := fmt.Sprintf("The case file says the organisation is an NIS2 %s entity (organization.nis2); %s people affected. "+
			"The duties apply to a significant incident (severe operational disruption or financial loss, or considerable damage to others): counsel to judge", k, num(all.People))
		out = append(out,
			duty("nis2-early-warning", "NIS2", ToRegulator, "Early warning to the CSIRT or competent authority, NIS2 Art. 23(4)(a)",
				why+". Deadline: 24 hours from awareness.", all, c.Aware.Add(24*time.Hour), ClockDiscovered),
			duty("nis2-notification", "NIS2", ToRegulator, "Incident notification to the CSIRT or competent authority, NIS2 Art. 23(4)(b)",
				why+". Deadline: 72 hours from awareness.", all, c.Aware.Add(72*time.Hour), ClockDiscovered),
			duty("nis2-final", "NIS2", ToRegulator, "Final report to the CSIRT or competent authority, NIS2 Art. 23(4)(d)",
				why+". Deadline: one month; counted from awareness, the earliest the notification it follows can be, so never later than the directive's. "+
					"The duty to inform the service's recipients is not verified in the sources: check the national transposition.",
				all, monthClock(c.Aware, loc), ClockDiscovered))
	}
	if c.Organization.DORA {
		why := fmt.Sprintf("The case file says the organisation is a DORA financial entity (organization.dora); %s people affected. "+
			"The duties apply to a major ICT-related incident under the classification thresholds (RTS 2024/1772)", num(all.People))
		from, clock, fromText := decision(c, c.Classified, ClockClassified, "the classification as major")
		initial, initialClock := from.Add(4*time.Hour), clock
		initialText := fmt.Sprintf("4 hours %s, and no later than 24 hours from awareness", fromText)
		if limit := c.Aware.Add(24 * time.Hour); limit.Before(initial) {
			initial, initialClock = limit, ClockDiscovered
			initialText += " (here the 24 hours come first)"
		}
		out = append(out,
			duty("dora-initial", "DORA", ToRegulator, "Initial notification to the competent authority, DORA Art. 19(4)(a)",
				why+". Deadline: "+initialText+".", all, initial, initialClock),
			duty("dora-intermediate", "DORA", ToRegulator, "Intermediate report to the competent authority, DORA Art. 19(4)(b)",
				why+fmt.Sprintf(". Deadline: 72 hours; the sources give no start, so %s, the earliest the initial notification can be: check RTS 2025/301.", fromText),
				all, from.Add(72*time.Hour), clock),
			duty("dora-final", "DORA", ToRegulator, "Final report to the competent authority, DORA Art. 19(4)(c)",
				why+fmt.Sprintf(". Deadline: one month; the sources give no start, so %s, the earliest it can be: check RTS 2025/301. The duty to inform clients is not verified in the sources: check the regulation.", fromText),
				all, monthClock(from, loc), clock))
	}
	return out
}

// ---------------------------------------------------------------- Asia-Pacific

// Thresholds.
const (
	pipaRegulatorAtLeast = 1000 // Korea: the PIPC/KISA report
	pdpaAtLeast          = 500  // Singapore: notifiable by scale
	pdpaAssessDays       = 30   // Singapore: the assessment, "about 30 days" (expected)
	pdpaDays             = 3    // Singapore: PDPC, calendar days after the assessment
	ndbAssessDays        = 30   // Australia
	dpdpHours            = 72   // India: the Board's detailed report
)

// dpdpRule7From: India's DPDP Rules 2025 were notified on 13-14 November
// 2025; Rule 7 is in force after 18 months, "~13 May 2027" (the source's
// date, taken as the start of that day in India).
var dpdpRule7From = time.Date(2027, 5, 13, 0, 0, 0, 0, mustLoad("Asia/Kolkata"))

func asiaPacificDuties(in Input) []Obligation {
	var out []Obligation
	out = append(out, koreaDuties(in)...)
	out = append(out, singaporeDuties(in)...)
	out = append(out, australiaDuties(in)...)
	out = append(out, indiaDuties(in)...)
	return out
}

// koreaDuties: PIPA Art. 34. Individuals within 72 hours of any leak; the
// PIPC/KISA within 72 hours when 1,000 or more people, sensitive or
// unique-identifier data, or unauthorised access from outside (cause_kind
// unauthorized_access).
func koreaDuties(in Input) []Obligation {
	keep := livesIn("KR")
	t := tallyOf(in.Affected, keep)
	if t.People == 0 {
		return nil
	}
	c := in.Case
	scope := fmt.Sprintf("%s affected people live in Korea%s", num(t.People), ofAll(in, t.People))
	out := withUpdate(in, nil, duty("kr-pipa-individuals", "PIPA (Korea)", ToIndividuals,
		"Notify each person (items leaked, when and how, how to limit harm, measures, help desk), PIPA Art. 34(1)",
		scope+". Deadline: 72 hours from awareness.", t, c.Aware.Add(72*time.Hour), ClockDiscovered), keep)
	var why []string
	if t.People >= pipaRegulatorAtLeast {
		why = append(why, fmt.Sprintf("%s people, 1,000 or more", num(t.People)))
	}
	if cats := t.has(func(i incident.CategoryInfo) bool { return i.Sensitive || i.Identifier }); len(cats) > 0 {
		why = append(why, "sensitive or unique-identifier data: "+joinCats("en", cats, t.ByCategory))
	}
	if c.CauseKind == "unauthorized_access" {
		why = append(why, "unauthorised access from outside (cause_kind unauthorized_access)")
	}
	if len(why) > 0 {
		out = append(out, duty("kr-pipa-pipc", "PIPA (Korea)", ToRegulator, "Report to the PIPC or KISA, PIPA Art. 34(3)",
			scope+". Reportable: "+strings.Join(why, "; ")+". Deadline: 72 hours from awareness.", t, c.Aware.Add(72*time.Hour), ClockDiscovered))
		out[len(out)-1].Report = "kr-pipc"
	}
	return out
}

// singaporeDuties: PDPA Part 6A. Every breach is assessed (expected within
// about 30 days); a notifiable one (500 or more people, or significant harm
// likely) goes to the PDPC within 3 calendar days of the assessment; the
// individuals when significant harm is likely.
func singaporeDuties(in Input) []Obligation {
	keep := livesIn("SG")
	t := tallyOf(in.Affected, keep)
	if t.People == 0 {
		return nil
	}
	c := in.Case
	loc := caseLoc(c)
	scope := fmt.Sprintf("%s affected people live in Singapore%s", num(t.People), ofAll(in, t.People))
	out := []Obligation{duty("sg-pdpa-assessment", "PDPA (Singapore)", ToRegulator, "Assess whether the breach is notifiable, PDPA s. 26C",
		scope+". Deadline: the assessment is expected within about 30 days (guidance, not a statute); shown is day 30 from awareness. Record assessed_at in the case file once it is done.",
		t, dayClock(c.Aware, pdpaAssessDays, loc), ClockDiscovered)}
	harm := highRisk(t)
	var why []string
	if t.People >= pdpaAtLeast {
		why = append(why, fmt.Sprintf("%s people, 500 or more", num(t.People)))
	}
	if len(harm) > 0 {
		why = append(why, "significant harm may be likely ("+strings.Join(harm, "; ")+"): counsel to assess")
	}
	if len(why) == 0 {
		return out
	}
	from, clock, fromText := decision(c, c.Assessed, ClockAssessed, "the assessment that the breach is notifiable")
	out = append(out, duty("sg-pdpa-pdpc", "PDPA (Singapore)", ToRegulator, "Notify the PDPC, PDPA s. 26D(1)",
		scope+". Notifiable: "+strings.Join(why, "; ")+fmt.Sprintf(". Deadline: 3 calendar days %s.", fromText),
		t, dayClock(from, pdpaDays, loc), clock))
	if len(harm) > 0 {
		out = withUpdate(in, out, duty("sg-pdpa-individuals", "PDPA (Singapore)", ToIndividuals, "Notify each affected individual, PDPA s. 26D(2)",
			scope+". Significant harm may be likely: "+strings.Join(harm, "; ")+". Deadline: not verified in the sources; check the statute.",
			t, time.Time{}, ClockNone), keep)
	}
	return out
}

// australiaDuties: the NDB scheme (Privacy Act Part IIIC). Assess within 30
// days; an eligible data breach (serious harm likely) goes to the OAIC and
// the individuals "as soon as practicable", which has no fixed period.
func australiaDuties(in Input) []Obligation {
	keep := livesIn("AU")
	t := tallyOf(in.Affected, keep)
	if t.People == 0 {
		return nil
	}
	c := in.Case
	scope := fmt.Sprintf("%s affected people live in Australia%s", num(t.People), ofAll(in, t.People))
	harm := "no financial, sensitive or identifier data and no confirmed exposure: serious harm is for counsel to assess"
	if r := highRisk(t); len(r) > 0 {
		harm = "serious harm may be likely: " + strings.Join(r, "; ")
	}
	soon := ". Deadline \"as soon as practicable\" once the breach is assessed as eligible (serious harm likely): no fixed period; check."
	out := []Obligation{
		duty("au-ndb-assessment", "NDB (Australia)", ToRegulator, "Assess whether it is an eligible data breach, Privacy Act s. 26WH",
			scope+"; "+harm+". Deadline: 30 calendar days from awareness.", t, dayClock(c.Aware, ndbAssessDays, caseLoc(c)), ClockDiscovered),
		duty("au-ndb-oaic", "NDB (Australia)", ToRegulator, "Give the OAIC a statement about the eligible data breach, Privacy Act s. 26WK",
			scope+"; "+harm+soon, t, time.Time{}, ClockNone),
	}
	out[1].Report = "au-oaic"
	return withUpdate(in, out, duty("au-ndb-individuals", "NDB (Australia)", ToIndividuals, "Notify the individuals at risk, Privacy Act s. 26WL",
		scope+"; "+harm+soon, t, time.Time{}, ClockNone), keep)
}

// indiaDuties: DPDP Rules 2025, Rule 7: any breach; the Board (intimation
// without delay, a detailed report within 72 hours) and each Data
// Principal without delay. Before Rule 7 is in force (dpdpRule7From,
// compared with discovered_at) the duties are shown to check, never with a
// deadline.
func indiaDuties(in Input) []Obligation {
	keep := livesIn("IN")
	t := tallyOf(in.Affected, keep)
	if t.People == 0 {
		return nil
	}
	c := in.Case
	scope := fmt.Sprintf("%s affected people live in India%s", num(t.People), ofAll(in, t.People))
	board, ind := "Intimate the Data Protection Board without delay and send a detailed report, DPDP Rules 2025 Rule 7(2)",
		"Notify each Data Principal (nature, consequences, mitigation, safety steps, contact), DPDP Rules 2025 Rule 7(1)"
	if c.Aware.Before(dpdpRule7From) {
		why := scope + fmt.Sprintf(". Rule 7 is not yet in force for this breach: it applies after 18 months from the Rules' notification (13-14 Nov 2025), about %s, and the breach was discovered %s. "+
			"Not a binding deadline: check which rules apply.", dpdpRule7From.Format("2 January 2006"), stamp("en", c.Aware, caseLoc(c)))
		return []Obligation{
			duty("in-dpdp-board", "DPDP (India)", ToRegulator, board, why, t, time.Time{}, ClockNone),
			duty("in-dpdp-individuals", "DPDP (India)", ToIndividuals, ind, why, t, time.Time{}, ClockNone),
		}
	}
	out := []Obligation{duty("in-dpdp-board", "DPDP (India)", ToRegulator, board,
		scope+". Any breach, no threshold. Deadline: the intimation without delay; the detailed report within 72 hours of awareness (shown).",
		t, c.Aware.Add(dpdpHours*time.Hour), ClockDiscovered)}
	return withUpdate(in, out, duty("in-dpdp-individuals", "DPDP (India)", ToIndividuals, ind,
		scope+". Any breach, no threshold. Deadline \"without delay\" has no fixed period; the tool uses the Board report's 72 hours.",
		t, c.Aware.Add(dpdpHours*time.Hour), ClockDiscovered), keep)
}

// ---------------------------------------------------------------- Americas

func americasDuties(in Input) []Obligation {
	return append(canadaDuties(in), brazilDuties(in)...)
}

// canadaDuties: PIPEDA (OPC and individuals "as soon as feasible" when
// there is a real risk of significant harm; a record of every breach) and
// Quebec's Law 25 (the CAI and persons at risk of serious injury) for
// residents of CA-QC. No fixed periods: every duty is to check.
func canadaDuties(in Input) []Obligation {
	keep := livesIn("CA")
	t := tallyOf(in.Affected, keep)
	if t.People == 0 {
		return nil
	}
	scope := fmt.Sprintf("%s affected people live in Canada%s", num(t.People), ofAll(in, t.People))
	rrosh := scope + ". Owed when there is a real risk of significant harm (counsel to assess). Deadline \"as soon as feasible\": the law sets no fixed number of days; check."
	out := []Obligation{
		duty("ca-pipeda-opc", "PIPEDA (Canada)", ToRegulator, "Report to the Privacy Commissioner (OPC), PIPEDA s. 10.1(1)", rrosh, t, time.Time{}, ClockNone),
		duty("ca-pipeda-records", "PIPEDA (Canada)", ToRegulator, "Keep a record of the breach (every breach, whatever the risk), PIPEDA s. 10.3",
			scope+". No deadline: the record is kept and shown to the OPC on request.", t, time.Time{}, ClockNone),
	}
	out = withUpdate(in, out, duty("ca-pipeda-individuals", "PIPEDA (Canada)", ToIndividuals, "Notify the individuals, PIPEDA s. 10.1(3)", rrosh, t, time.Time{}, ClockNone), keep)
	inQC := func(a *store.AffectedAccount) bool { return regionOf(a) == "CA-QC" }
	if qc := tallyOf(in.Affected, inQC); qc.People > 0 {
		why := fmt.Sprintf("%s affected people live in Quebec. Owed for a confidentiality incident that presents a risk of serious injury (counsel to assess). "+
			"Deadline: not verified in the sources; check the statute.", num(qc.People))
		out = append(out, duty("ca-qc-cai", "Law 25 (Quebec)", ToRegulator, "Notify the Commission d'accès à l'information (CAI), Quebec Law 25", why, qc, time.Time{}, ClockNone))
		out = withUpdate(in, out, duty("ca-qc-individuals", "Law 25 (Quebec)", ToIndividuals, "Notify the persons at risk of serious injury, Quebec Law 25", why, qc, time.Time{}, ClockNone), inQC)
	}
	return out
}

// brazilDuties: LGPD Art. 48 and Resolution CD/ANPD 15/2024: the ANPD and
// the data subjects within 3 business days (6 for small entities) of
// awareness, when the incident may bring relevant risk or damage.
func brazilDuties(in Input) []Obligation {
	keep := livesIn("BR")
	t := tallyOf(in.Affected, keep)
	if t.People == 0 {
		return nil
	}
	c := in.Case
	scope := fmt.Sprintf("%s affected people live in Brazil%s", num(t.People), ofAll(in, t.People))
	risk := "relevant risk or damage is for counsel to assess (none of sensitive, financial, authentication or identifier data is exposed; children's or elderly people's data, or a large scale, also count)"
	if cats := t.has(func(i incident.CategoryInfo) bool { return i.Sensitive || i.Financial || i.Identifier }); len(cats) > 0 {
		risk = "relevant risk or damage likely: " + joinCats("en", cats, t.ByCategory)
	}
	deadline, note := businessClock(c, "BR", c.Aware, 3)
	when := fmt.Sprintf(". Deadline: 3 business days from awareness (6 for small entities), counting the day of awareness as day 1 when it is a business day; %s.", note)
	out := []Obligation{duty("br-lgpd-anpd", "LGPD (Brazil)", ToRegulator, "Communicate the incident to the ANPD (12 items), LGPD Art. 48, Res. CD/ANPD 15/2024",
		scope+"; "+risk+when, t, deadline, ClockDiscovered)}
	out[0].Report = "br-anpd"
	return withUpdate(in, out, duty("br-lgpd-individuals", "LGPD (Brazil)", ToIndividuals, "Communicate the incident to the data subjects (7 items), LGPD Art. 48, Res. CD/ANPD 15/2024",
		scope+"; "+risk+when, t, deadline, ClockDiscovered), keep)
}

// ---------------------------------------------------------------- China

// chinaDuties: the CAC National Cybersecurity Incident Reporting Measures
// (from 1 Nov 2025), for a network operator (4 hours) or a critical
// information infrastructure operator (1 hour), and a summary within 30
// days. To the authorities, not individuals.
func chinaDuties(in Input) []Obligation {
	c := in.Case
	k := c.Organization.China
	all := tallyOf(in.Affected, nil)
	if k == "" || all.People == 0 {
		return nil
	}
	hours, who := 4, "a network operator"
	if k == "cii" {
		hours, who = 1, "a critical information infrastructure operator"
	}
	why := fmt.Sprintf("The case file says the organisation is %s in scope of the CAC measures (organization.china: %s); %s people affected. "+
		"Reportable when the incident is \"relatively major\" or worse (e.g. personal information of more than 1,000,000 people leaked): counsel to classify", who, k, num(all.People))
	return []Obligation{
		duty("cn-cac-initial", "CAC (China)", ToRegulator, "Report the incident to the authorities, CAC National Cybersecurity Incident Reporting Measures",
			why+fmt.Sprintf(". Deadline: %d hour(s) from awareness.", hours), all, c.Aware.Add(time.Duration(hours)*time.Hour), ClockDiscovered),
		duty("cn-cac-summary", "CAC (China)", ToRegulator, "Summary report to the authorities, CAC National Cybersecurity Incident Reporting Measures",
			why+". Deadline: within 30 days; the sources give no start, so 30 calendar days from awareness, the earliest it can be: check the measures.",
			all, dayClock(c.Aware, 30, caseLoc(c)), ClockDiscovered),
	}
}
