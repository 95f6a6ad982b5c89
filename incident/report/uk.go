package report

import (
	"time"
)

// buildUKICO fills the personal data breach report to the Information
// Commissioner's Office: UK GDPR Art. 33(3) items (a)-(d), as under the
// GDPR, for the affected people who live in the United Kingdom (country
// GB); the whole incident's numbers are given alongside. The 72 hours are
// the uk-ico duty's.
func buildUKICO(r *Report, in Input) {
	uk := tallyOf(in.Affected, livesIn("GB"))
	deadline := in.Case.Aware.Add(72 * time.Hour)
	if o, ok := dutyOf(in, "uk-ico"); ok {
		deadline = o.Deadline
	}
	buildArt33(r, in, art33{
		Title:         "Personal data breach report to the Information Commissioner's Office (UK GDPR Art. 33)",
		Supplementary: "Supplementary personal data breach report to the Information Commissioner's Office (UK GDPR Art. 33(4))",
		Where:         "the United Kingdom", Short: "UK", People: uk, Reasons: highRisk(uk), Deadline: deadline, Hints: true})
	r.Meta = append([]Field{{"Report to", "Information Commissioner's Office (ICO), UK GDPR Art. 33"}}, r.Meta...)
	r.Notes = append(r.Notes, "Only people whose country is GB are counted as UK residents; people of the Crown Dependencies (JE, GG, IM) are not, and are shown in the whole incident's figures only.")
	r.Notes = append(r.Notes, "For a data centre or a managed or digital service provider, the Cyber Security and Resilience Bill (not yet law; at Report stage in March 2026) would add 24-hour and 72-hour incident reports to its regulator and the NCSC: check whether it is in force and applies.")
}

// dutyOf returns the duty with the id among those the run triggers.
func dutyOf(in Input, id string) (Obligation, bool) {
	for _, o := range Obligations(in) {
		if o.ID == id {
			return o, true
		}
	}
	return Obligation{}, false
}
