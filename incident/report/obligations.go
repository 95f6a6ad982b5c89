package report

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/breachctl/breachctl/incident"
	"github.com/breachctl/breachctl/incident/store"
	"github.com/breachctl/breachctl/internal/textsafe"
)

// Obligation statuses.
const (
	StatusDone    = "done"    // individual notices: every notice in the ledger was sent
	StatusDue     = "due"     // the deadline has not passed
	StatusOverdue = "overdue" // the deadline has passed and the duty is not known to be done
	// StatusCheck: the duty applies but has no deadline the tool can
	// compute (the law sets no fixed period, the source did not verify
	// one, or the rule is not yet in force); its Deadline is zero and its
	// trigger says what to check.
	StatusCheck = "check"
)

// Clocks: the time a duty's deadline runs from (Obligation.Clock).
const (
	ClockDiscovered  = "discovered_at"   // awareness: the case file's discovered_at
	ClockDetermined  = "determined_at"   // the scope or materiality determined: the run's, else the case file's
	ClockFirstSignal = "first_signal_at" // the first sign of the incident
	ClockNoticesSent = "notices_sent"    // the notices to individuals, per the ledger
	// The decisions some 2023-2026 laws count from (case-file fields of the
	// same names); a missing one falls back to discovered_at, the earliest
	// it can be, and the trigger names the field to set.
	ClockMaterial   = "materiality_determined_at" // SEC 8-K Item 1.05
	ClockAssessed   = "assessed_at"               // Singapore PDPA: assessed as notifiable
	ClockClassified = "classified_at"             // DORA: classified as major
	// ClockNone: no clock; the duty's status is StatusCheck.
	ClockNone = "none"
)

// Recipients of a duty.
const (
	ToRegulator   = "regulator"
	ToIndividuals = "individuals"
	ToMedia       = "media"
)

// Obligation is one legal duty the incident triggers.
type Obligation struct {
	ID        string // stable key: "appi-ppc-final", "us-wa-ag", "hipaa-media-us-tx"
	Law       string // "APPI", "GDPR", "California", ..., "HIPAA"
	Duty      string // what must be done, with the provision
	Trigger   string // why it applies, with the counts
	To        string // ToRegulator, ToIndividuals or ToMedia
	Report    string // the report kind (Build) that serves it, if any
	People    int    // people in the duty's scope, confirmed + possible
	Confirmed int
	Possible  int
	Deadline  time.Time // in the case's time zone; computed from the case, never from the clock; zero: none (StatusCheck)
	Clock     string    // what the deadline runs from: ClockDiscovered, ClockDetermined, ...
	Status    string    // StatusDone, StatusDue, StatusOverdue or StatusCheck at Input.Now
	DoneAt    time.Time // when done: the last notice sent

	update bool // an update-notice duty: its status comes from Input.Updates
	due    int  // update notices still to send
}

// Obligations decides which duties the run's affected accounts trigger, with
// their deadlines and their status at in.Now, soonest deadline first. The
// readings of the law are in the comments of each check and in the README.
func Obligations(in Input) []Obligation {
	if in.Case == nil {
		return nil
	}
	var out []Obligation
	out = append(out, appiDuties(in)...)
	out = append(out, gdprDuties(in)...)
	out = append(out, usStateDuties(in)...)
	out = append(out, hipaaDuties(in)...)
	out = append(out, usFederalDuties(in)...)
	out = append(out, ukDuties(in)...)
	out = append(out, euSectorDuties(in)...)
	out = append(out, asiaPacificDuties(in)...)
	out = append(out, americasDuties(in)...)
	out = append(out, chinaDuties(in)...)

	loc := caseLoc(in.Case)
	done, doneAt := noticesDone(in)
	for i := range out {
		o := &out[i]
		if !o.Deadline.IsZero() {
			o.Deadline = o.Deadline.In(loc)
		}
		switch {
		case o.update && o.due == 0:
			o.Status = StatusDone
			o.DoneAt = o.DoneAt.In(loc)
		case o.Deadline.IsZero() && o.To == ToIndividuals && !o.update && done:
			o.Status, o.DoneAt = StatusDone, doneAt.In(loc)
		case o.Deadline.IsZero():
			o.Status = StatusCheck
		case o.update && in.Now.After(o.Deadline):
			o.Status = StatusOverdue
		case o.update:
			o.Status = StatusDue
		case o.To == ToIndividuals && done:
			o.Status, o.DoneAt = StatusDone, doneAt.In(loc)
		case in.Now.After(o.Deadline):
			o.Status = StatusOverdue
		default:
			o.Status = StatusDue
		}
	}
	// Soonest first; duties without a deadline last.
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].Deadline, out[j].Deadline
		if a.IsZero() || b.IsZero() {
			return !a.IsZero() && b.IsZero()
		}
		return a.Before(b)
	})
	return out
}

// noticesDone reports whether the delivery ledger shows everyone reached:
// at least one person per affected account, each sent a notice on some
// channel, and none still to go on another (a letter the law requires).
// The ledger is one for the whole case, so it completes every
// individual-notice duty at once; a partial send completes none.
func noticesDone(in Input) (bool, time.Time) {
	d := in.Delivery
	if d.Total == 0 || d.Sent < d.Total || d.Sent < len(in.Affected) || d.Pending > 0 || d.Uncertain > 0 {
		return false, time.Time{}
	}
	return true, d.LastSent
}

func scoped(t tally) (int, int, int) { return t.People, t.Confirmed, t.Possible }

// ---------------------------------------------------------------- APPI

// appiCheck is the APPI assessment (Enforcement Rules Art. 7).
//
// Reading: APPI binds the business that handles the data, not the residence
// of the people. The tool cannot tell from the case whether the organisation
// is a Japanese business (or one serving people in Japan, Act Art. 171), so
// APPI is taken to apply when any affected person lives in Japan; once it
// applies, every affected person counts towards trigger (4) and is counted
// in the report, wherever they live.
type appiCheck struct {
	InJapan   int
	All       tally
	Sensitive []incident.Category // trigger (1)
	Financial []incident.Category // trigger (2)
	Intent    bool                // trigger (3): cause_kind unauthorized_access or insider
	Over1000  bool                // trigger (4): more than 1,000 people
}

func checkAPPI(in Input) appiCheck {
	a := appiCheck{All: tallyOf(in.Affected, nil)}
	a.InJapan = tallyOf(in.Affected, func(x *store.AffectedAccount) bool { return countryOf(x) == "JP" }).People
	a.Sensitive = a.All.has(func(i incident.CategoryInfo) bool { return i.Sensitive })
	a.Financial = a.All.has(func(i incident.CategoryInfo) bool { return i.Financial })
	if in.Case != nil {
		a.Intent = in.Case.CauseKind == "unauthorized_access" || in.Case.CauseKind == "insider"
	}
	a.Over1000 = a.All.People > 1000
	return a
}

func (a appiCheck) applies() bool    { return a.InJapan > 0 }
func (a appiCheck) reportable() bool { return a.applies() && len(a.triggers()) > 0 }

// triggers lists the numbers of the Rules Art. 7 cases that hold.
func (a appiCheck) triggers() []int {
	var t []int
	if len(a.Sensitive) > 0 {
		t = append(t, 1)
	}
	if len(a.Financial) > 0 {
		t = append(t, 2)
	}
	if a.Intent {
		t = append(t, 3)
	}
	if a.Over1000 {
		t = append(t, 4)
	}
	return t
}

// finalDays is the final report's period: 60 days when case (3) holds
// (alone or with others), else 30 (Rules Art. 8(2)).
func (a appiCheck) finalDays() int {
	if a.Intent {
		return 60
	}
	return 30
}

// preliminaryDays: "promptly"; the PPC guidance reads it as about 3–5 days.
// The tool takes the end of day 5, counting the day of awareness as day 1.
const preliminaryDays = 5

func (a appiCheck) preliminaryDeadline(c *incident.Case) time.Time {
	return dayClock(c.Aware, preliminaryDays, tokyo)
}

func (a appiCheck) finalDeadline(c *incident.Case) time.Time {
	return dayClock(c.Aware, a.finalDays(), tokyo)
}

// reasons explains in English which Rules Art. 7 cases hold.
func (a appiCheck) reasons(cause string) string {
	var r []string
	if len(a.Sensitive) > 0 {
		r = append(r, "(1) sensitive personal information (要配慮個人情報): "+joinCats("en", a.Sensitive, a.All.ByCategory))
	}
	if len(a.Financial) > 0 {
		r = append(r, "(2) data whose misuse may cause financial damage: "+joinCats("en", a.Financial, a.All.ByCategory))
	}
	if a.Intent {
		r = append(r, fmt.Sprintf("(3) possible wrongful intent: cause_kind is %s", cause))
	}
	if a.Over1000 {
		r = append(r, fmt.Sprintf("(4) more than 1,000 people: %s affected", num(a.All.People)))
	}
	return strings.Join(r, "; ")
}

func (a appiCheck) scope() string {
	return fmt.Sprintf("%s of the %s affected people live in Japan; APPI binds the business, so all %s are counted",
		num(a.InJapan), num(a.All.People), num(a.All.People))
}

func appiDuties(in Input) []Obligation {
	a := checkAPPI(in)
	if !a.reportable() {
		return nil
	}
	c := in.Case
	why := a.scope() + ". Rules Art. 7 " + a.reasons(c.CauseKind) + "."
	n, conf, poss := scoped(a.All)
	final := fmt.Sprintf("%d days", a.finalDays())
	if a.Intent {
		final += " because case (3) holds"
	}
	out := []Obligation{
		{ID: "appi-ppc-preliminary", Law: "APPI", To: ToRegulator, Report: "appi-preliminary",
			Duty:    "Preliminary report (速報) to the PPC, Act Art. 26(1), Rules Art. 8(1)",
			Trigger: why + " Deadline \"promptly\": the PPC guidance reads about 3-5 days; shown is the end of day 5 (JST), counting the day of awareness as day 1.",
			People:  n, Confirmed: conf, Possible: poss, Deadline: a.preliminaryDeadline(c), Clock: ClockDiscovered},
		{ID: "appi-ppc-final", Law: "APPI", To: ToRegulator, Report: "appi-final",
			Duty:    "Final report (確報) to the PPC, Act Art. 26(1), Rules Art. 8(2)",
			Trigger: why + " Deadline: " + final + " (end of that day, JST, counting the day of awareness as day 1).",
			People:  n, Confirmed: conf, Possible: poss, Deadline: a.finalDeadline(c), Clock: ClockDiscovered},
		{ID: "appi-individuals", Law: "APPI", To: ToIndividuals,
			Duty:    "Notify each person (items 1, 2, 4, 5, 9), Act Art. 26(2), Rules Art. 10",
			Trigger: why + " Deadline \"promptly as circumstances allow\" has no fixed period; the tool uses the preliminary report's.",
			People:  n, Confirmed: conf, Possible: poss, Deadline: a.preliminaryDeadline(c), Clock: ClockDiscovered},
	}
	if u, ok := updateDuty(in, out[2], nil); ok {
		out = append(out, u)
	}
	return out
}

// ---------------------------------------------------------------- GDPR

// gdprCheck is the GDPR assessment.
//
// Reading: GDPR is taken to apply to the affected people who live in the
// EU/EEA (incident.EUCountries). Art. 33 is owed for every such breach (the
// "unlikely to result in a risk" exception is a judgement the tool leaves to
// the controller, and a cache leak of account pages is rarely within it).
// The risk is treated as high (Art. 34) when an EEA person's exposed data
// includes a financial, special-category or government-identifier category,
// or when any EEA person's exposure is confirmed (their data was served to
// someone else).
type gdprCheck struct {
	EU      tally
	Reasons []string // why the risk is high; empty when it is not
}

func isEU(a *store.AffectedAccount) bool { return incident.EUCountries[countryOf(a)] }

func checkGDPR(in Input) gdprCheck {
	g := gdprCheck{EU: tallyOf(in.Affected, isEU)}
	g.Reasons = highRisk(g.EU)
	return g
}

// highRisk says why the risk to the people of t is high (GDPR Art. 34 and
// the laws that mirror it): financial, special-category or identifier data
// exposed, or any exposure confirmed. Empty when it is not.
func highRisk(t tally) []string {
	var r []string
	if cats := t.has(func(i incident.CategoryInfo) bool { return i.Financial || i.Sensitive || i.Identifier }); len(cats) > 0 {
		r = append(r, "financial, special-category or identifier data: "+joinCats("en", cats, t.ByCategory))
	}
	if t.Confirmed > 0 {
		r = append(r, fmt.Sprintf("confirmed exposure to another party for %s", people("en", t.Confirmed)))
	}
	return r
}

func (g gdprCheck) deadline(c *incident.Case) time.Time { return c.Aware.Add(72 * time.Hour) }

func gdprDuties(in Input) []Obligation {
	g := checkGDPR(in)
	if g.EU.People == 0 {
		return nil
	}
	c := in.Case
	n, conf, poss := scoped(g.EU)
	scope := fmt.Sprintf("%s affected people live in the EU/EEA (%s)", num(g.EU.People), regionList(g.EU.ByRegion))
	out := []Obligation{{ID: "gdpr-art33", Law: "GDPR", To: ToRegulator, Report: "gdpr-art33",
		Duty:    "Notify the supervisory authority, Art. 33",
		Trigger: scope + ". Deadline: without undue delay and, where feasible, within 72 hours of becoming aware; a later notification must give the reasons for the delay.",
		People:  n, Confirmed: conf, Possible: poss, Deadline: g.deadline(c), Clock: ClockDiscovered}}
	if len(g.Reasons) > 0 {
		out = append(out, Obligation{ID: "gdpr-art34", Law: "GDPR", To: ToIndividuals,
			Duty:    "Communicate the breach to the data subjects, Art. 34",
			Trigger: scope + ". High risk: " + strings.Join(g.Reasons, "; ") + ". Deadline \"without undue delay\" has no fixed period; the tool uses the Art. 33 72 hours.",
			People:  n, Confirmed: conf, Possible: poss, Deadline: g.deadline(c), Clock: ClockDiscovered})
		if u, ok := updateDuty(in, out[1], isEU); ok {
			out = append(out, u)
		}
	}
	return out
}

// regionList lists the regions of m with their counts, as they are (for
// obligations, whose text output escapes them).
func regionList(m map[string]int) string { return regionListOf(m, func(s string) string { return s }) }

// regionListOf lists the regions of m, each key passed through esc.
func regionListOf(m map[string]int, esc func(string) string) string {
	var parts []string
	for _, kc := range sortedCounts(m) {
		parts = append(parts, esc(kc.Key)+" "+num(kc.Count))
	}
	if len(parts) > 8 {
		parts = append(parts[:8], "...")
	}
	return strings.Join(parts, ", ")
}

// ---------------------------------------------------------------- US states

// usState is a US state law: a fixed clock to individuals
// (REGULATIONS.md, dataprotectionreport.com Nov 2025) and, for some, a
// regulator notice (LAWS-2023-2026.md).
//
// Reading: a state's law is taken to apply when any affected person's
// region is that state. The statutes only cover "personal information" as
// each defines it (typically a name with an account or card number, a
// government identifier, health data or login credentials); the trigger
// says whether such categories are among the exposed ones, and the duty is
// listed either way for counsel to confirm.
type usState struct {
	Region, Name, Cite string
	// Days to individuals, calendar days from discovery (or Clock); 0: the
	// sources give no fixed period: the residents' duty is listed without
	// a deadline, to check against the statute.
	Days int
	Note string
	// Clock: what the residents' deadline runs from; "" is discovery.
	// Texas counts from the determination that the breach occurred
	// (LAWS-2023-2026.md).
	Clock string
	AG    *usAG
	// Others are further regulator or agency notices (credit bureaus,
	// state agencies), each with its id suffix.
	Others []usAG
}

// usAG is a state's notice to its Attorney General (or another office).
type usAG struct {
	Suffix     string // of the duty's id: "ag" when empty
	Min        int    // residents at least
	Threshold  string // how the statute says it: "more than 500", "250 or more"
	Name, Cite string
	Days       int // calendar days from From; 0 with From ClockNone: not verified
	// From: ClockDiscovered, ClockDetermined, ClockNoticesSent (Days after
	// the first notice sent), agConcurrent (with the notices) or ClockNone.
	From   string
	Report string // the report kind that serves it, if any
	Note   string
}

// agConcurrent: the regulator notice goes with the notices to residents.
const agConcurrent = "concurrent"

var usStates = []usState{
	{Region: "US-CA", Name: "California", Cite: "Cal. Civ. Code §1798.82", Days: 30,
		AG: &usAG{Min: 501, Threshold: "more than 500", Name: "Attorney General (sample notice)", Cite: "§1798.82(f)",
			Days: caAGDays, From: ClockNoticesSent, Report: "us-ca-ag"}},
	{Region: "US-NY", Name: "New York", Cite: "N.Y. Gen. Bus. Law §899-aa", Days: 30,
		Note: " (as amended Dec 2024: the scope-determination exception is removed; a law-enforcement delay is kept)",
		Others: []usAG{{Suffix: "agencies", Min: 1, Threshold: "any number", Name: "Attorney General, the Department of State and the State Police",
			Cite: "N.Y. Gen. Bus. Law §899-aa", From: ClockNone}}},
	{Region: "US-CO", Name: "Colorado", Cite: "C.R.S. §6-1-716", Days: 30},
	{Region: "US-FL", Name: "Florida", Cite: "Fla. Stat. §501.171", Days: 30},
	{Region: "US-WA", Name: "Washington", Cite: "RCW 19.255.010", Days: 30,
		AG: &usAG{Min: 501, Threshold: "more than 500", Name: "Attorney General", Cite: "RCW 19.255.010", Days: 30, From: ClockDiscovered}},
	{Region: "US-TX", Name: "Texas", Cite: "Tex. Bus. & Com. Code §521.053", Days: 30,
		Note: " (30 days per the secondary source; check the statute before relying on it)", Clock: ClockDetermined,
		AG: &usAG{Min: 250, Threshold: "250 or more", Name: "Attorney General (electronic form, posted publicly)", Cite: "§521.053, SB 768 (from 1 Sep 2023)",
			Days: 30, From: ClockDetermined}},
	{Region: "US-DE", Name: "Delaware", Cite: "6 Del. C. §12B-102", Days: 60},
	{Region: "US-PA", Name: "Pennsylvania",
		AG: &usAG{Min: 501, Threshold: "more than 500", Name: "Attorney General", Cite: "73 P.S. §2303, Act 33 of 2024 (from 26 Sep 2024)", From: agConcurrent,
			Note: " 12 months of credit monitoring are owed when an SSN, bank account or driver's licence/state ID was exposed."},
		Others: []usAG{{Suffix: "bureaus", Min: 500, Threshold: "500 or more", Name: "consumer reporting agencies (credit bureaus)",
			Cite: "Act 33 of 2024", From: ClockNone}}},
	{Region: "US-OK", Name: "Oklahoma",
		AG: &usAG{Min: 500, Threshold: "500 or more", Name: "Attorney General", Cite: "24 O.S. §163, SB 626 (from 1 Jan 2026)", Days: 60, From: ClockNoticesSent},
		Others: []usAG{{Suffix: "bureaus", Min: 1000, Threshold: "1,000 or more", Name: "consumer reporting agencies (credit bureaus)",
			Cite: "SB 626", From: ClockNone}}},
	{Region: "US-UT", Name: "Utah",
		AG: &usAG{Min: 500, Threshold: "500 or more", Name: "Attorney General and the Utah Cyber Center", Cite: "Utah Code §13-44-202, SB 127 (2023)", From: ClockNone,
			Note: " The duty arises when misuse for identity theft or fraud of 500 or more residents has occurred or is likely (counsel to judge)."},
		Others: []usAG{{Suffix: "bureaus", Min: 1000, Threshold: "1,000 or more", Name: "consumer reporting agencies (credit bureaus)",
			Cite: "SB 127 (2023)", From: ClockNone}}},
}

// caAGDays: the California sample notice is due 15 calendar days after the
// residents were notified.
const caAGDays = 15

// caAGDeadline: 15 calendar days after the first notice sent per the
// ledger (notices go out in batches: the earliest reading); before any
// notice is sent, 15 days after the notices' own deadline.
func caAGDeadline(in Input) time.Time {
	loc := caseLoc(in.Case)
	if !in.Delivery.FirstSent.IsZero() {
		return dayClock(in.Delivery.FirstSent, caAGDays, loc)
	}
	return dayClock(in.Case.Aware, 30+caAGDays, loc)
}

// coveredCategories are the categories that typically fall under the state
// statutes' definition of personal information.
func coveredCategories(t tally) []incident.Category {
	return t.has(func(i incident.CategoryInfo) bool { return i.Financial || i.Identifier || i.Sensitive })
}

func (s usState) residents(in Input) tally { return tallyOf(in.Affected, s.lives) }

func (s usState) lives(a *store.AffectedAccount) bool { return regionOf(a) == s.Region }

// start is when a clock starts, its name, and how to say it: a clock that
// counts from the determination uses the run's (or the case file's)
// determined_at; without one, discovered_at, the earliest it can be, so
// the deadline is never later than the statute's.
func start(in Input, clock string) (time.Time, string, string) {
	if clock != ClockDetermined {
		return in.Case.Aware, ClockDiscovered, "from discovery"
	}
	if in.Determined.IsZero() {
		return in.Case.Aware, ClockDiscovered, "from the determination that the breach occurred; no determined_at is recorded (case file or breachctl runs --determine), so from discovery, the earliest it can be"
	}
	by := ""
	if in.DeterminedBy != "" {
		by = ", " + in.DeterminedBy
	}
	return in.Determined, ClockDetermined, fmt.Sprintf("from the determination (determined_at %s%s)", stamp("en", in.Determined, caseLoc(in.Case)), by)
}

func usStateDuties(in Input) []Obligation {
	var out []Obligation
	loc := caseLoc(in.Case)
	for _, s := range usStates {
		t := s.residents(in)
		if t.People == 0 {
			continue
		}
		n, conf, poss := scoped(t)
		id := strings.ToLower(s.Region)
		why := fmt.Sprintf("%s affected people live in %s", num(t.People), s.Name)
		if cov := coveredCategories(t); len(cov) > 0 {
			why += "; exposed categories within the statute's \"personal information\": " + joinCats("en", cov, t.ByCategory)
		} else {
			why += "; none of the exposed categories (" + keys(sortedCategories(t.ByCategory)) + ") is typically \"personal information\" under the statute: counsel to confirm whether notice is required"
		}
		res := Obligation{ID: id + "-residents", Law: s.Name, To: ToIndividuals, People: n, Confirmed: conf, Possible: poss}
		if s.Days > 0 {
			from, clock, fromText := start(in, s.Clock)
			res.Duty = "Notify residents, " + s.Cite
			res.Trigger = fmt.Sprintf("%s. Deadline: %d calendar days %s%s.", why, s.Days, fromText, s.Note)
			res.Deadline, res.Clock = dayClock(from, s.Days, loc), clock
		} else {
			// The duty stands; its period is what the sources leave open.
			res.Duty = "Notify residents"
			res.Trigger = why + ". Deadline: not verified in the sources; check the statute." + s.Note
			res.Clock = ClockNone
		}
		out = append(out, res)
		if s.Days > 0 {
			if u, ok := updateDuty(in, res, s.lives); ok {
				out = append(out, u)
			}
		}
		if s.AG != nil && t.People >= s.AG.Min {
			out = append(out, s.agDuty(in, id, t, s.AG))
		}
		for i := range s.Others {
			if t.People >= s.Others[i].Min {
				out = append(out, s.agDuty(in, id, t, &s.Others[i]))
			}
		}
	}
	return out
}

// agDuty is the regulator notice of a state whose residents are over its
// threshold.
func (s usState) agDuty(in Input, id string, t tally, ag *usAG) Obligation {
	loc := caseLoc(in.Case)
	n, conf, poss := scoped(t)
	suffix := ag.Suffix
	if suffix == "" {
		suffix = "ag"
	}
	o := Obligation{ID: id + "-" + suffix, Law: s.Name, To: ToRegulator, Report: ag.Report,
		Duty:   "Notify the " + ag.Name + ", " + ag.Cite,
		People: n, Confirmed: conf, Possible: poss}
	why := fmt.Sprintf("%s residents notified, %s", num(t.People), ag.Threshold)
	// Counted from the first notice sent: notices go out in batches, and a
	// count from the last would move the deadline later with every batch.
	first := in.Delivery.FirstSent
	switch ag.From {
	case ClockNoticesSent:
		if !first.IsZero() {
			o.Deadline, o.Clock = dayClock(first, ag.Days, loc), ClockNoticesSent
			o.Trigger = why + fmt.Sprintf(". Deadline: %d calendar days after the residents were notified, counted from the first notice sent (%s).", ag.Days, stamp("en", first, loc))
			break
		}
		o.Deadline, o.Clock = dayClock(in.Case.Aware, s.Days+ag.Days, loc), ClockDiscovered
		if s.Days > 0 {
			o.Trigger = why + fmt.Sprintf(". Deadline: %d calendar days after the residents are notified; no notice sent yet, so %d days after the %d-day notice deadline.", ag.Days, ag.Days, s.Days)
		} else {
			o.Trigger = why + fmt.Sprintf(". Deadline: %d calendar days after the residents are notified; no notice sent yet, so %d days from discovery, the earliest it can be.", ag.Days, ag.Days)
		}
	case agConcurrent:
		if first.IsZero() {
			o.Clock = ClockNoticesSent
			o.Trigger = why + ". Deadline: at the same time as the notices to residents (concurrently); none is sent yet, and the sources give no fixed period for them."
			break
		}
		o.Deadline, o.Clock = first, ClockNoticesSent
		o.Trigger = why + fmt.Sprintf(". Deadline: at the same time as the notices to residents (concurrently); the first was sent %s.", stamp("en", first, loc))
	case ClockNone:
		o.Clock = ClockNone
		o.Trigger = why + ". Deadline: not verified in the sources; check the statute."
	default:
		from, clock, fromText := start(in, ag.From)
		o.Deadline, o.Clock = dayClock(from, ag.Days, loc), clock
		o.Trigger = why + fmt.Sprintf(". Deadline: %d calendar days %s.", ag.Days, fromText)
	}
	o.Trigger += ag.Note
	return o
}

// ---------------------------------------------------------------- HIPAA

// hipaaCheck is the HIPAA assessment (45 CFR 164.404-408).
//
// Reading: HIPAA binds covered entities and their business associates; the
// case file does not say whether the organisation is one, so the duties are
// listed whenever health data (a sensitive category) is among the exposed
// ones, and the trigger says so. Every affected person with health data is
// counted, wherever they live; the media duty is per US state.
type hipaaCheck struct {
	Health  tally
	ByState map[string]int // US region -> people with health data
}

// isHealth: the account has a sensitive (health) category exposed.
func isHealth(a *store.AffectedAccount) bool {
	for _, c := range a.Categories {
		if incident.Category(c).Info().Sensitive {
			return true
		}
	}
	return false
}

func checkHIPAA(in Input) hipaaCheck {
	h := hipaaCheck{Health: tallyOf(in.Affected, isHealth), ByState: map[string]int{}}
	for i := range in.Affected {
		a := &in.Affected[i]
		if r := regionOf(a); isHealth(a) && strings.HasPrefix(r, "US-") {
			h.ByState[r]++
		}
	}
	return h
}

// HHS thresholds: 500 or more people → within 60 days; the media when more
// than 500 residents of one state.
const (
	hipaaHHSAtLeast = 500
	hipaaMediaOver  = 500
	hipaaDays       = 60
)

func (h hipaaCheck) hhsDeadline(c *incident.Case) time.Time {
	loc := caseLoc(c)
	if h.Health.People >= hipaaHHSAtLeast {
		return dayClock(c.Aware, hipaaDays, loc)
	}
	// The yearly log: within 60 days of the end of the calendar year of
	// discovery, i.e. by the end of 1 March (29 February in a leap year).
	y := c.Aware.In(loc).Year()
	return time.Date(y+1, 1, 1+hipaaDays, 0, 0, 0, 0, loc)
}

func hipaaDuties(in Input) []Obligation {
	h := checkHIPAA(in)
	if h.Health.People == 0 {
		return nil
	}
	c := in.Case
	loc := caseLoc(c)
	n, conf, poss := scoped(h.Health)
	why := fmt.Sprintf("Health data of %s affected people is exposed; HIPAA applies if the organisation is a covered entity or business associate (the case file does not say)",
		num(h.Health.People))
	out := []Obligation{{ID: "hipaa-individuals", Law: "HIPAA", To: ToIndividuals,
		Duty:    "Notify each individual, 45 CFR 164.404",
		Trigger: why + ". Deadline: 60 calendar days from discovery.",
		People:  n, Confirmed: conf, Possible: poss, Deadline: dayClock(c.Aware, hipaaDays, loc), Clock: ClockDiscovered}}
	if u, ok := updateDuty(in, out[0], isHealth); ok {
		out = append(out, u)
	}
	hhs := Obligation{ID: "hipaa-hhs", Law: "HIPAA", To: ToRegulator, Report: "hipaa-hhs",
		Duty: "Notify the Secretary of HHS, 45 CFR 164.408", People: n, Confirmed: conf, Possible: poss, Deadline: h.hhsDeadline(c), Clock: ClockDiscovered}
	if h.Health.People >= hipaaHHSAtLeast {
		hhs.Trigger = why + fmt.Sprintf(". %s people, 500 or more: within 60 calendar days from discovery.", num(h.Health.People))
	} else {
		hhs.Duty = "Log the breach for the yearly report to the Secretary of HHS, 45 CFR 164.408(c)"
		hhs.Trigger = why + fmt.Sprintf(". %s people, fewer than 500: in the yearly log, within 60 days of the end of %d.", num(h.Health.People), c.Aware.In(loc).Year())
	}
	out = append(out, hhs)
	for _, kc := range sortedCounts(h.ByState) {
		if kc.Count <= hipaaMediaOver {
			continue
		}
		out = append(out, Obligation{ID: "hipaa-media-" + strings.ToLower(kc.Key), Law: "HIPAA", To: ToMedia,
			Duty:    "Notify prominent media outlets serving " + kc.Key + ", 45 CFR 164.406",
			Trigger: fmt.Sprintf("%s. %s residents of %s have health data exposed, more than 500. Deadline: 60 calendar days from discovery.", why, num(kc.Count), kc.Key),
			People:  kc.Count, Deadline: dayClock(c.Aware, hipaaDays, loc), Clock: ClockDiscovered})
	}
	return out
}

// ---------------------------------------------------------------- output

// WriteObligationsText writes the obligations as a table for a terminal:
// law, status, people, deadline (in the case's time zone), time left or
// overdue by, duty; the trigger, wrapped, under each row.
func WriteObligationsText(w io.Writer, obs []Obligation, now time.Time) error {
	p := &printer{w: w}
	if len(obs) == 0 {
		p.f("No notification duty is triggered by the affected accounts of this run.\n")
		return p.err
	}
	loc := obs[0].Deadline.Location() // sorted: the first has a deadline unless none has
	count := map[string]int{}
	rows := [][]string{{"LAW", "STATUS", "PEOPLE", "DEADLINE", "LEFT", "FROM", "DUTY"}}
	for _, o := range obs {
		count[o.Status]++
		when, deadline := left(o.Deadline, now), o.Deadline.Format("2006-01-02 15:04 MST")
		if o.Deadline.IsZero() {
			when, deadline = "no fixed deadline", "-"
		}
		if o.Status == StatusDone {
			when = "sent " + o.DoneAt.Format("01-02 15:04")
		}
		// Duties and triggers name regions from the user records: shown
		// escaped, they cannot forge a line or drive the terminal.
		rows = append(rows, []string{o.Law, o.Status, num(o.People), deadline, when, o.Clock, textsafe.Term(o.Duty)})
	}
	noun := "duties"
	if len(obs) == 1 {
		noun = "duty"
	}
	check := ""
	if count[StatusCheck] > 0 {
		check = fmt.Sprintf(", %d to check (no fixed deadline)", count[StatusCheck])
	}
	p.f("%d %s: %d overdue, %d due, %d done%s (as of %s; times in %s)\n\n", len(obs), noun, count[StatusOverdue],
		count[StatusDue], count[StatusDone], check, now.In(loc).Format("2006-01-02 15:04 MST"), loc)
	widths := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, cell := range r {
			widths[i] = max(widths[i], utf8.RuneCountInString(cell))
		}
	}
	for n, r := range rows {
		var b strings.Builder
		for i, cell := range r {
			pad := widths[i] - utf8.RuneCountInString(cell)
			switch {
			case i == len(r)-1:
				b.WriteString(cell)
			case i == 2 && n > 0: // numbers align right
				b.WriteString(strings.Repeat(" ", pad) + cell + "  ")
			default:
				b.WriteString(cell + strings.Repeat(" ", pad) + "  ")
			}
		}
		if n > 1 {
			p.f("\n")
		}
		p.f("%s\n", b.String())
		if n == 0 {
			continue
		}
		for _, line := range wrap(textsafe.Term(obs[n-1].Trigger), 100) {
			p.f("      %s\n", line)
		}
	}
	return p.err
}

// wrap breaks s into lines of at most width runes, at spaces.
func wrap(s string, width int) []string {
	var lines []string
	var cur []rune
	for _, word := range strings.Fields(s) {
		wr := []rune(word)
		if len(cur) > 0 && len(cur)+1+len(wr) > width {
			lines = append(lines, string(cur))
			cur = cur[:0]
		}
		if len(cur) > 0 {
			cur = append(cur, ' ')
		}
		cur = append(cur, wr...)
	}
	if len(cur) > 0 {
		lines = append(lines, string(cur))
	}
	return lines
}

type obligationJSON struct {
	Law       string `json:"law"`
	Duty      string `json:"duty"`
	Trigger   string `json:"trigger"`
	People    int    `json:"people"`
	Deadline  string `json:"deadline"`
	Status    string `json:"status"`
	Clock     string `json:"clock"`
	ID        string `json:"id"`
	To        string `json:"to"`
	Report    string `json:"report,omitempty"`
	Confirmed int    `json:"confirmed"`
	Possible  int    `json:"possible"`
	DoneAt    string `json:"done_at,omitempty"`
}

// WriteObligationsJSON writes [{"law", "duty", "trigger", "people",
// "deadline", "status", ...}] with RFC 3339 times (UTC); "deadline" is ""
// for a duty without one (status "check").
func WriteObligationsJSON(w io.Writer, obs []Obligation) error {
	out := make([]obligationJSON, len(obs))
	for i, o := range obs {
		out[i] = obligationJSON{Law: o.Law, Duty: o.Duty, Trigger: o.Trigger, People: o.People,
			Status: o.Status, Clock: o.Clock, ID: o.ID, To: o.To, Report: o.Report,
			Confirmed: o.Confirmed, Possible: o.Possible}
		if !o.Deadline.IsZero() {
			out[i].Deadline = o.Deadline.UTC().Format(time.RFC3339)
		}
		if !o.DoneAt.IsZero() {
			out[i].DoneAt = o.DoneAt.UTC().Format(time.RFC3339)
		}
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

type printer struct {
	w   io.Writer
	err error
}

func (p *printer) f(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, args...)
	}
}
