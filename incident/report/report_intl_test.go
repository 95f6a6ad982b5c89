package report

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/breachctl/breachctl/incident"
	"github.com/breachctl/breachctl/internal/golden"
)

// intlFixture is the fixture with affected people in the United Kingdom,
// Korea, Australia and Brazil, from a US listed company that determined the
// incident material the day after discovery.
func intlFixture(t testing.TB) Input {
	t.Helper()
	in := fixture(t)
	in.Case.Organization.USListed = true
	in.Case.Material = ts("2017-06-23T18:00:00+09:00")
	in.Affected = join(in.Affected,
		accounts(40, levelConfirmed, "GB", "GB-LND", "name", "email"),
		accounts(9, levelPossible, "GB", "GB-SCT", "name", "email", "payment_card"),
		accounts(1150, levelPossible, "KR", "KR-11", "name", "email", "phone"),
		accounts(30, levelConfirmed, "KR", "KR-26", "name", "postal_address", "bank_account"),
		accounts(60, levelPossible, "AU", "AU-NSW", "name", "email", "date_of_birth"),
		accounts(25, levelConfirmed, "BR", "BR-SP", "name", "email", "payment_card"),
	)
	return in
}

// intlGolden: the formats each kind of part 3 of issue 19 is checked in
// against a golden file, rendered from intlFixture.
var intlGolden = map[string][]string{
	"uk-ico":  {"md", "json"},
	"sec-8k":  {"md", "json"},
	"au-oaic": {"md"},
	"kr-pipc": {"md", "json"},
	"br-anpd": {"md"},
}

func TestIntlReportsGolden(t *testing.T) {
	in := intlFixture(t)
	for kind, exts := range intlGolden {
		t.Run(kind, func(t *testing.T) {
			r, err := Build(kind, in)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range formats {
				for _, ext := range exts {
					if f.ext == ext {
						golden.Check(t, filepath.Join("testdata", kind+"."+ext+".golden"), f.render(t, r))
					}
				}
			}
		})
	}
}

type requiredItem struct{ id, heading string }

// requiredItems are the items each kind of part 3 must list, in order,
// and the heading each has in Markdown.
var requiredItems = map[string][]requiredItem{
	"uk-ico": {
		{"a", "## (a) Nature of the personal data breach"},
		{"b", "## (b) Name and contact details of the data protection officer or other contact point"},
		{"c", "## (c) Likely consequences of the personal data breach"},
		{"d", "## (d) Measures taken or proposed to address the breach"},
	},
	"au-oaic": {
		{"organisation", "## Identity and contact details of the organisation"},
		{"description", "## Description of the eligible data breach"},
		{"information", "## Kinds of information concerned"},
		{"recommendations", "## Recommended steps individuals should take in response to the breach"},
	},
	"br-anpd": {
		{"controlador", "## Identificação e contato do controlador e do encarregado"},
		{"natureza", "## Descrição e natureza do incidente"},
		{"dados", "## Categorias de dados pessoais afetados"},
		{"titulares", "## Número de titulares afetados no Brasil"},
		{"riscos", "## Riscos e possíveis consequências para os titulares"},
		{"medidas", "## Medidas adotadas para reverter ou mitigar os efeitos do incidente"},
		{"comunicacao", "## Comunicação aos titulares"},
		{"datas", "## Datas do incidente e da ciência; motivos de eventual demora"},
	},
	"kr-pipc": {
		{"1", "## 1. 유출등이 된 개인정보의 항목"},
		{"2", "## 2. 유출등이 된 시점과 그 경위"},
		{"3", "## 3. 유출등으로 인하여 발생할 수 있는 피해를 최소화하기 위하여 정보주체가 할 수 있는 방법 등에 관한 정보"},
		{"4", "## 4. 개인정보처리자의 대응조치 및 피해 구제절차"},
		{"5", "## 5. 정보주체에게 피해가 발생한 경우 신고 등을 접수할 수 있는 담당부서 및 연락처"},
		{"6", "## 6. 유출등이 된 정보주체의 수"},
	},
	"sec-8k": {
		{"nature", "## Material aspects of the nature of the incident"},
		{"scope", "## Material aspects of the scope of the incident"},
		{"timing", "## Material aspects of the timing of the incident"},
		{"impact", "## Material impact or reasonably likely material impact on the registrant"},
	},
}

// TestReportKindsRender: every kind renders in every format, from a run
// with people everywhere, from one with none of its country, and from an
// empty run; the Markdown of a part-3 kind has each required heading, and
// an item it cannot fill says so.
func TestReportKindsRender(t *testing.T) {
	empty := Input{Case: loadCase(t), Run: 1, Now: ts("2017-06-23T00:00:00Z")}
	inputs := map[string]Input{"intl": intlFixture(t), "base": fixture(t), "empty": empty}
	for name, in := range inputs {
		for _, kind := range Kinds {
			t.Run(name+"/"+kind, func(t *testing.T) {
				r, err := Build(kind, in)
				if err != nil {
					t.Fatal(err)
				}
				out := map[string]string{}
				for _, f := range formats {
					out[f.ext] = string(f.render(t, r))
					if strings.TrimSpace(out[f.ext]) == "" {
						t.Errorf("%s is empty", f.ext)
					}
				}
				for _, req := range requiredItems[kind] {
					if !strings.Contains(out["md"], req.heading) {
						t.Errorf("md lacks the heading %q", req.heading)
					}
					if !strings.Contains(out["html"], `id="item-`+req.id+`"`) {
						t.Errorf("html lacks item %s", req.id)
					}
				}
				for _, it := range r.Items {
					if !it.Known && !strings.HasPrefix(it.Content, unknown(r.Language)) {
						t.Errorf("item %s is not known but does not say so: %q", it.ID, it.Content)
					}
				}
			})
		}
	}
}

// TestIntlCountsByCountry: each part-3 kind counts the people of its
// country.
func TestIntlCountsByCountry(t *testing.T) {
	in := intlFixture(t)
	for kind, want := range map[string]string{
		"uk-ico":  "Data subjects concerned in the United Kingdom: 49 people (confirmed 40, possible 9)",
		"au-oaic": "Individuals in Australia: 60 people (confirmed 0, possible 60); by region: AU-NSW 60",
		"br-anpd": "Titulares residentes no Brasil: 25 pessoas (confirmadas 25, possíveis 0)",
		"kr-pipc": "대한민국에 거주하는 정보주체: 1,180명(유출 확인 30명, 유출 가능성 1,150명)",
		"sec-8k":  "People whose personal information was affected: 3,101 people (confirmed 357, possible 2,744)",
	} {
		r, err := Build(kind, in)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := r.WriteMarkdown(&b); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), want) {
			t.Errorf("%s lacks %q:\n%s", kind, want, b.String())
		}
	}
}

// A case file with the narrative in Korean and Portuguese
// (notify.narrative.ko, .pt) has the Korean and Brazilian reports quote it,
// with no note asking for a translation; without it they quote the English
// and ask.
func TestIntlReportsOwnNarrative(t *testing.T) {
	for _, tc := range []struct{ kind, locale, cause, askNote string }{
		{"kr-pipc", "ko", "캐시 설정 오류로 회원 페이지가 다른 고객에게 표시되었습니다.", "번역하십시오"},
		{"br-anpd", "pt", "Uma regra de cache exibiu páginas de clientes a outros clientes.", "devem ser traduzidos"},
	} {
		in := intlFixture(t)
		render := func() string {
			r, err := Build(tc.kind, in)
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			if err := r.WriteMarkdown(&b); err != nil {
				t.Fatal(err)
			}
			return b.String()
		}
		if md := render(); !strings.Contains(md, tc.askNote) {
			t.Errorf("%s without notify.narrative.%s: no note asking for a translation", tc.kind, tc.locale)
		}
		n := in.Case.Narrative
		n.Cause = tc.cause
		n.Measures += " (" + tc.locale + ")"
		n.Consequences += " (" + tc.locale + ")"
		if in.Case.Notify.Narrative == nil {
			in.Case.Notify.Narrative = map[string]incident.Narrative{}
		}
		in.Case.Notify.Narrative[tc.locale] = n
		md := render()
		if !strings.Contains(md, tc.cause) || strings.Contains(md, tc.askNote) {
			t.Errorf("%s with notify.narrative.%s: cause quoted %v, translation asked %v", tc.kind, tc.locale, strings.Contains(md, tc.cause), strings.Contains(md, tc.askNote))
		}
	}
}
