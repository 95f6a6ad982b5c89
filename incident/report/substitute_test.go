package report

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/breachctl/breachctl/incident"
	"github.com/breachctl/breachctl/internal/golden"
)

// substituteHeadings are the sections the public substitute notice must
// have, in Markdown.
var substituteHeadings = []string{
	"## What happened",
	"## What information was involved",
	"## How many people were affected",
	"## What we are doing",
	"## What you can do",
	"## How to find out whether you were affected, and how to contact us",
	"## How long this notice stays up",
	"## Press release",
}

// TestSubstituteNotice: the public notice, from the base and international
// fixtures, in every format, has its sections, the fixture's counts and
// no personal data: no user id and no e-mail address but the
// organisation's own. (The affected accounts carry no name or address:
// the user ids are all the personal data a report could leak from them.)
func TestSubstituteNotice(t *testing.T) {
	for name, in := range map[string]Input{"base": fixture(t), "intl": intlFixture(t)} {
		t.Run(name, func(t *testing.T) {
			r, err := Build("substitute-notice", in)
			if err != nil {
				t.Fatal(err)
			}
			out := map[string]string{}
			for _, f := range formats {
				out[f.ext] = string(f.render(t, r))
			}
			if name == "base" {
				golden.Check(t, filepath.Join("testdata", "substitute-notice.md.golden"), []byte(out["md"]))
			}

			// (a) Sections.
			if !strings.HasPrefix(out["md"], "# Example Market K.K.: notice of a data security incident\n") {
				t.Errorf("md headline = %q", strings.SplitN(out["md"], "\n", 2)[0])
			}
			for _, h := range substituteHeadings {
				if !strings.Contains(out["md"], "\n"+h+"\n") {
					t.Errorf("md lacks the heading %q", h)
				}
			}
			for _, it := range substituteItems {
				if !strings.Contains(out["html"], `id="item-`+it.ID+`"`) {
					t.Errorf("html lacks item %s", it.ID)
				}
				if !strings.Contains(out["json"], `"id": "`+it.ID+`"`) {
					t.Errorf("json lacks item %s", it.ID)
				}
			}
			for _, it := range r.Items {
				if !it.Known {
					t.Errorf("item %s not known from a filled case: %q", it.ID, it.Content)
				}
			}

			// (b) No personal data, in any format.
			allowed := map[string]bool{in.Case.Organization.ContactEmail: true, in.Case.Organization.DPOEmail: true}
			email := regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}`)
			for ext, s := range out {
				for _, a := range in.Affected {
					if strings.Contains(s, a.UserID) {
						t.Fatalf("%s contains the user id %s", ext, a.UserID)
					}
				}
				if strings.Contains(s, "uid-q7x") {
					t.Errorf("%s contains a user id", ext)
				}
				for _, m := range email.FindAllString(s, -1) {
					if !allowed[m] {
						t.Errorf("%s contains the e-mail address %s", ext, m)
					}
				}
				for _, secret := range []string{"postgres://", "sessions_query", "logs/cdn/", "edge-nrt"} {
					if strings.Contains(s, secret) {
						t.Errorf("%s contains %q (internal)", ext, secret)
					}
				}
			}

			// (c) The fixture's counts.
			total, confirmed := len(in.Affected), 0
			byCat, confCat, byCountry := map[incident.Category]int{}, map[incident.Category]int{}, map[string]int{}
			for _, a := range in.Affected {
				if a.Level == levelConfirmed {
					confirmed++
				}
				byCountry[a.Country]++
				for _, c := range a.Categories {
					byCat[incident.Category(c)]++
					if a.Level == levelConfirmed {
						confCat[incident.Category(c)]++
					}
				}
			}
			wants := []string{fmt.Sprintf("In all: %s (confirmed %s, possible %s).", people("en", total), num(confirmed), num(total-confirmed))}
			for c, n := range byCat {
				wants = append(wants, fmt.Sprintf("- %s: %s (confirmed %s, possible %s)", categoryLabel("en", c), people("en", n), num(confCat[c]), num(n-confCat[c])))
			}
			for c, n := range byCountry {
				wants = append(wants, fmt.Sprintf("- %s: %s", c, people("en", n)))
			}
			for _, w := range wants {
				for _, ext := range []string{"md", "html"} {
					if !strings.Contains(out[ext], w) {
						t.Errorf("%s lacks %q", ext, w)
					}
				}
			}
			var doc struct {
				Numbers Numbers `json:"numbers"`
			}
			if err := json.Unmarshal([]byte(out["json"]), &doc); err != nil {
				t.Fatal(err)
			}
			if p := doc.Numbers.People; p.Total != total || p.Confirmed != confirmed || p.Possible != total-confirmed {
				t.Errorf("json people = %+v, want total %d confirmed %d", p, total, confirmed)
			}
			for c, n := range byCat {
				if got := doc.Numbers.ByCategory[string(c)]; got != n {
					t.Errorf("json by_category[%s] = %d, want %d", c, got, n)
				}
			}
		})
	}
}

// TestSubstituteNoticeHealth: with health data, the page offers the
// toll-free number for 90 days; without, it does not.
func TestSubstituteNoticeHealth(t *testing.T) {
	const tollFree = "a toll-free number is available for at least 90 days"
	in := fixture(t)
	r, err := Build("substitute-notice", in)
	if err != nil {
		t.Fatal(err)
	}
	if it := r.Items[5]; !strings.Contains(it.Content, tollFree) {
		t.Errorf("with health data, %s = %q", it.ID, it.Content)
	}
	var noHealth = in.Affected[:0:0]
	for _, a := range in.Affected {
		if !strings.Contains(strings.Join(a.Categories, ","), "health") {
			noHealth = append(noHealth, a)
		}
	}
	in.Affected = noHealth
	if r, err = Build("substitute-notice", in); err != nil {
		t.Fatal(err)
	}
	if it := r.Items[5]; strings.Contains(it.Content, tollFree) {
		t.Errorf("without health data, %s = %q", it.ID, it.Content)
	}
}

// TestSubstituteNoticeJA: the Japanese public notice has the same sections
// (in Japanese), the case's Japanese narrative, the fixture's counts, and no
// personal data in any format.
func TestSubstituteNoticeJA(t *testing.T) {
	in := fixture(t)
	r, err := Build("substitute-notice-ja", in)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, f := range formats {
		out[f.ext] = string(f.render(t, r))
	}
	golden.Check(t, filepath.Join("testdata", "substitute-notice-ja.md.golden"), []byte(out["md"]))
	for _, it := range substituteItemsJA {
		if !strings.Contains(out["md"], "\n## "+it.Title+"\n") {
			t.Errorf("md lacks the heading %q", it.Title)
		}
	}
	if ja := in.Case.NarrativeFor("ja"); ja.Cause == in.Case.Narrative.Cause || !strings.Contains(out["md"], ja.Cause) {
		t.Errorf("the Japanese narrative is not quoted (or the fixture has none): %q", ja.Cause)
	}
	if !strings.Contains(out["html"], `<html lang="ja">`) {
		t.Error("html is not marked Japanese")
	}
	allowed := map[string]bool{in.Case.Organization.ContactEmail: true, in.Case.Organization.DPOEmail: true}
	email := regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}`)
	for ext, s := range out {
		for _, a := range in.Affected {
			if strings.Contains(s, a.UserID) {
				t.Fatalf("%s contains the user id %s", ext, a.UserID)
			}
		}
		for _, m := range email.FindAllString(s, -1) {
			if !allowed[m] {
				t.Errorf("%s contains the e-mail address %s", ext, m)
			}
		}
	}
	total, confirmed := len(in.Affected), 0
	for _, a := range in.Affected {
		if a.Level == levelConfirmed {
			confirmed++
		}
	}
	if w := "合計：" + levelSplit("ja", total, confirmed, total-confirmed) + "。"; !strings.Contains(out["md"], w) {
		t.Errorf("md lacks %q", w)
	}
}
