package report

import (
	"fmt"
	"time"

	"github.com/breachctl/breachctl/incident"
)

// US federal duties that bind some organisations only, by the case file's
// organization flags (LAWS-2023-2026.md): the SEC's Form 8-K Item 1.05
// (us_listed), NY DFS (nydfs), the FTC Safeguards Rule (glba_nonbank) and
// the FTC Health Breach Notification Rule (phr_vendor). Each counts every
// affected person, wherever they live: the rule binds the organisation.

// decision is when a clock that runs from a decision starts, its name, and
// how to say it: the case file's field when given, else discovered_at, the
// earliest the decision can be (a deadline never later than the law's),
// naming the field to set.
func decision(c *incident.Case, at time.Time, clock, what string) (time.Time, string, string) {
	if at.IsZero() {
		return c.Aware, ClockDiscovered, fmt.Sprintf("from %s; the case file gives no %s, so from discovery, the earliest it can be (set %s)", what, clock, clock)
	}
	return at, clock, fmt.Sprintf("from %s (%s %s)", what, clock, stamp("en", at, caseLoc(c)))
}

// FTC HBNR: individuals within 60 days; the FTC at the same time when 500 or
// more, else in a yearly log by the 60th day of the next year.
const (
	hbnrDays        = 60
	hbnrFTCAtLeast  = 500
	safeguardsMin   = 500
	safeguardsDays  = 30
	secBusinessDays = 4
	nydfsHours      = 72
)

// secDeadline is the Form 8-K Item 1.05 deadline: 4 business days from the
// materiality determination (materiality_determined_at, else discovery),
// the clock it runs from, and how to say both.
func secDeadline(c *incident.Case) (deadline time.Time, clock, fromText, note string) {
	from, clock, fromText := decision(c, c.Material, ClockMaterial, "the determination that the incident is material")
	deadline, note = businessClock(c, "US", from, secBusinessDays)
	return deadline, clock, fromText, note
}

func usFederalDuties(in Input) []Obligation {
	c := in.Case
	org := c.Organization
	all := tallyOf(in.Affected, nil)
	if all.People == 0 {
		return nil
	}
	loc := caseLoc(c)
	n, conf, poss := scoped(all)
	var out []Obligation
	if org.USListed {
		deadline, clock, fromText, note := secDeadline(c)
		out = append(out, Obligation{ID: "sec-8k", Law: "SEC", To: ToRegulator, Report: "sec-8k",
			Duty: "File Form 8-K Item 1.05 (material cybersecurity incident) with the SEC",
			Trigger: fmt.Sprintf("The case file says the organisation is a US listed company (organization.us_listed); %s people affected. "+
				"The duty applies once the incident is determined material, a determination to be made without unreasonable delay after discovery. "+
				"Deadline: 4 business days %s; %s. The Attorney General can delay it; an amended 8-K follows when new information is known.", num(all.People), fromText, note),
			People: n, Confirmed: conf, Possible: poss, Deadline: deadline, Clock: clock})
	}
	if org.NYDFS {
		out = append(out, Obligation{ID: "us-ny-dfs", Law: "New York DFS", To: ToRegulator,
			Duty: "Notify the NY Department of Financial Services, 23 NYCRR 500.17",
			Trigger: fmt.Sprintf("The case file says the organisation is DFS-covered (organization.nydfs); %s people affected. "+
				"Deadline: 72 hours; the sources read do not say from what, so from discovery, the earliest it can be: check the regulation.", num(all.People)),
			People: n, Confirmed: conf, Possible: poss, Deadline: in.Case.Aware.Add(nydfsHours * time.Hour), Clock: ClockDiscovered})
	}
	if org.GLBANonbank && all.People >= safeguardsMin {
		out = append(out, Obligation{ID: "ftc-safeguards", Law: "FTC Safeguards Rule", To: ToRegulator,
			Duty: "Notify the FTC (unencrypted customer information of 500 or more consumers), Safeguards Rule (16 CFR 314)",
			Trigger: fmt.Sprintf("The case file says the organisation is a GLBA non-bank financial institution (organization.glba_nonbank); %s consumers affected, 500 or more "+
				"(the rule counts unencrypted customer information acquired without authorisation: counsel to confirm). Deadline: as soon as possible, no later than 30 calendar days from discovery.", num(all.People)),
			People: n, Confirmed: conf, Possible: poss, Deadline: dayClock(c.Aware, safeguardsDays, loc), Clock: ClockDiscovered})
	}
	if org.PHRVendor {
		why := fmt.Sprintf("The case file says the organisation is a vendor of personal health records or a non-HIPAA health app (organization.phr_vendor); "+
			"its records of the %s affected people are taken to be PHR identifiable health information (counsel to confirm)", num(all.People))
		ind := Obligation{ID: "ftc-hbnr-individuals", Law: "FTC Health Breach Notification Rule", To: ToIndividuals,
			Duty:    "Notify each individual (including the identity of third parties that received the data), 16 CFR 318",
			Trigger: why + ". Deadline: 60 calendar days from discovery.",
			People:  n, Confirmed: conf, Possible: poss, Deadline: dayClock(c.Aware, hbnrDays, loc), Clock: ClockDiscovered}
		out = append(out, ind)
		if u, ok := updateDuty(in, ind, nil); ok {
			out = append(out, u)
		}
		ftc := Obligation{ID: "ftc-hbnr-ftc", Law: "FTC Health Breach Notification Rule", To: ToRegulator,
			People: n, Confirmed: conf, Possible: poss, Clock: ClockDiscovered}
		if all.People >= hbnrFTCAtLeast {
			ftc.Duty = "Notify the FTC, 16 CFR 318"
			ftc.Trigger = why + fmt.Sprintf(". %s people, 500 or more: at the same time as the individual notices, within 60 calendar days from discovery.", num(all.People))
			ftc.Deadline = dayClock(c.Aware, hbnrDays, loc)
			// At the same time as the notices: once the first is sent, that is
			// the deadline, when it is the earlier.
			if first := in.Delivery.FirstSent; !first.IsZero() && first.Before(ftc.Deadline) {
				ftc.Deadline, ftc.Clock = first, ClockNoticesSent
				ftc.Trigger += fmt.Sprintf(" The first individual notice was sent %s.", stamp("en", first, loc))
			}
		} else {
			y := c.Aware.In(loc).Year()
			ftc.Duty = "Log the breach for the yearly notice to the FTC, 16 CFR 318"
			ftc.Trigger = why + fmt.Sprintf(". %s people, fewer than 500: in the yearly log, within 60 days of the end of %d.", num(all.People), y)
			ftc.Deadline = time.Date(y+1, 1, 1+hbnrDays, 0, 0, 0, 0, loc)
		}
		out = append(out, ftc)
		if all.People >= hbnrFTCAtLeast {
			out = append(out, Obligation{ID: "ftc-hbnr-media", Law: "FTC Health Breach Notification Rule", To: ToMedia,
				Duty:    "Notify prominent media outlets, where the rule requires it, 16 CFR 318",
				Trigger: why + fmt.Sprintf(". %s people: the sources say the media are \"sometimes\" owed notice without saying when; check the statute.", num(all.People)),
				People:  n, Confirmed: conf, Possible: poss, Clock: ClockNone})
		}
	}
	return out
}
