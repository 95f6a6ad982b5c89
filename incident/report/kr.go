package report

import (
	"fmt"
	"strings"
	"time"

	"github.com/breachctl/breachctl/incident"
	"github.com/breachctl/breachctl/internal/textsafe"
)

// krItems are the items of PIPA Art. 34 (LAWS-2023-2026.md: items leaked;
// when and how; how individuals can limit harm; the controller's measures
// and remedies; help-desk contact), in Korean as the statute is commonly
// worded (the sources give English paraphrases only: the report says to
// check them), and the number of people the report to the PIPC/KISA gives.
var krItems = []struct{ ID, Title string }{
	{"1", "유출등이 된 개인정보의 항목"},
	{"2", "유출등이 된 시점과 그 경위"},
	{"3", "유출등으로 인하여 발생할 수 있는 피해를 최소화하기 위하여 정보주체가 할 수 있는 방법 등에 관한 정보"},
	{"4", "개인정보처리자의 대응조치 및 피해 구제절차"},
	{"5", "정보주체에게 피해가 발생한 경우 신고 등을 접수할 수 있는 담당부서 및 연락처"},
	{"6", "유출등이 된 정보주체의 수"},
}

// krAdvice is what a person can do, per category, in Korean.
var krAdvice = map[incident.Category]string{
	incident.CatName:            "당사를 사칭한 이메일·문자·전화(피싱·스미싱)에 주의하시고, 출처가 불분명한 링크는 누르지 마십시오. 당사는 비밀번호를 묻지 않습니다.",
	incident.CatEmail:           "당사를 사칭한 이메일·문자·전화(피싱·스미싱)에 주의하시고, 출처가 불분명한 링크는 누르지 마십시오. 당사는 비밀번호를 묻지 않습니다.",
	incident.CatPhone:           "당사를 사칭한 이메일·문자·전화(피싱·스미싱)에 주의하시고, 출처가 불분명한 링크는 누르지 마십시오. 당사는 비밀번호를 묻지 않습니다.",
	incident.CatPostalAddress:   "당사를 사칭한 이메일·문자·전화(피싱·스미싱)에 주의하시고, 출처가 불분명한 링크는 누르지 마십시오. 당사는 비밀번호를 묻지 않습니다.",
	incident.CatDateOfBirth:     "생년월일을 언급하며 신뢰를 얻으려는 연락에 주의하십시오.",
	incident.CatBankAccount:     "은행 거래 내역을 확인하시고, 본인이 하지 않은 거래가 있으면 즉시 해당 은행에 알리십시오.",
	incident.CatPaymentCard:     "카드 이용 내역을 확인하시고, 본인이 하지 않은 결제가 있으면 카드사에 신고하시고 카드 재발급을 검토하십시오.",
	incident.CatPurchaseHistory: "과거 주문 내역을 언급하며 접근하는 연락에 주의하십시오.",
	incident.CatAccountBalance:  "계정 잔액을 확인하시고, 알지 못하는 변동이 있으면 당사에 알려 주십시오.",
	incident.CatGovernmentID:    "신분증 번호가 도용되지 않았는지 주의하시고, 필요하면 발급 기관에 재발급 또는 변경 가능 여부를 문의하십시오.",
	incident.CatCredentials:     "지금 비밀번호를 변경하시고, 같은 비밀번호를 사용하는 다른 서비스의 비밀번호도 변경하십시오.",
	incident.CatHealth:          "건강보험 및 의료기관 이용 내역을 확인하시고, 이용하지 않은 내역이 있으면 신고하십시오.",
}

// krReasons are the grounds of PIPA Art. 34(3) that hold for the people
// of t, in Korean (the kr-pipa-pipc duty's, koreaDuties).
func krReasons(c *incident.Case, t tally) []string {
	var why []string
	if t.People >= pipaRegulatorAtLeast {
		why = append(why, fmt.Sprintf("1천명 이상의 정보주체(%s)", people("ko", t.People)))
	}
	if cats := t.has(func(i incident.CategoryInfo) bool { return i.Sensitive || i.Identifier }); len(cats) > 0 {
		why = append(why, "민감정보 또는 고유식별정보: "+joinCats("ko", cats, t.ByCategory))
	}
	if c.CauseKind == "unauthorized_access" {
		why = append(why, "외부로부터의 불법적인 접근(cause_kind: unauthorized_access)")
	}
	return why
}

// buildKRPIPC fills the report to the PIPC or KISA under PIPA Art. 34(3),
// in Korean, for the affected people who live in Korea. The 72 hours are
// the kr-pipa-pipc duty's. The narrative is the case file's Korean one
// (notify.narrative.ko); where it has none, the texts are quoted as written
// and the report asks for a translation.
func buildKRPIPC(r *Report, in Input) {
	const lang = "ko"
	c, loc := in.Case, r.loc
	kr := tallyOf(in.Affected, livesIn("KR"))
	all := tallyOf(in.Affected, nil)
	org := c.Organization
	nar := c.NarrativeFor(lang)
	deadline := c.Aware.Add(72 * time.Hour)
	if o, ok := dutyOf(in, "kr-pipa-pipc"); ok {
		deadline = o.Deadline
	}
	why := krReasons(c, kr)
	whyText := strings.Join(why, "; ")
	if len(why) == 0 {
		whyText = "해당 없음(제34조제3항의 신고 대상에 해당하지 않음)"
	}
	r.Title = "개인정보 유출등 신고서"
	r.Meta = []Field{
		{"신고 근거", "「개인정보 보호법」 제34조제3항"},
		{"개인정보처리자", org.Name},
		{"주소", orUnknown(lang, org.Address)},
		{"연락처", contact(lang, org)},
		{"사건", fmt.Sprintf("%s(제%d차 집계)", c.ID, r.Run)},
		{"유출등을 알게 된 일시", stamp(lang, c.Aware, loc)},
		{"신고 기한", stamp(lang, deadline, loc) + "까지(유출등을 알게 된 때부터 72시간 이내)"},
		{"신고 대상 사유", whyText},
	}
	if r.Revision != nil {
		r.Meta = append(r.Meta, Field{"이전 신고", r.PreviousText() +
			fmt.Sprintf(". 이번 신고의 수치는 제%d차 집계에 따른 것으로 이전 신고의 수치를 대체합니다(「이전 신고 이후 변경 사항」 참조)", r.Run)})
	}

	switch {
	case kr.People == 0:
		r.Notes = append(r.Notes, "영향을 받은 정보주체 중 대한민국에 거주하는 사람이 없습니다. 「개인정보 보호법」의 적용 여부를 확인하십시오.")
	case len(why) == 0:
		r.Notes = append(r.Notes, "제34조제3항의 신고 대상(1천명 이상, 민감정보·고유식별정보, 외부로부터의 불법적인 접근)에 해당하지 않아 신고 의무가 없을 수 있습니다(임의 신고로 작성).")
	}
	if in.Now.After(deadline) {
		r.Notes = append(r.Notes, fmt.Sprintf("신고 기한(%s)이 지났습니다.", stamp(lang, deadline, loc)))
	}
	if c.NarrativeBorrowed(lang) {
		r.Notes = append(r.Notes, "사례 파일에 한국어 서술(notify.narrative.ko)이 없는 부분은 원문(영어)을 그대로 인용했습니다. 제출 전에 한국어로 번역하십시오.")
	}
	r.Notes = append(r.Notes,
		"정보주체에 대한 통지(제34조제1항)도 유출등을 알게 된 때부터 72시간 이내에 하여야 합니다.",
		"2026년 개정 사항(유출등의 가능성이 있는 경우의 통지, 위조·변조의 포함, 손해배상·분쟁조정 등 구제절차의 안내)은 시행 여부와 세부 내용을 법령에서 확인하십시오.")

	item := func(i int, content string, known bool) {
		r.addItem(krItems[i].ID, krItems[i].Title, content, known, unknown(lang))
	}
	quote := func(s string) string { return "(사례 파일 원문, 영어) " + s }

	// 1 항목
	var cats []string
	for _, cat := range sortedCategories(kr.ByCategory) {
		line := fmt.Sprintf("- %s: %s", categoryLabel(lang, cat), people(lang, kr.ByCategory[cat]))
		if n := kr.ConfirmedByCategory[cat]; n > 0 {
			line += fmt.Sprintf("(그중 유출 확인 %s)", people(lang, n))
		}
		cats = append(cats, line)
	}
	if len(cats) > 0 {
		item(0, "대한민국에 거주하는 정보주체 기준:\n\n"+strings.Join(cats, "\n"), true)
	} else {
		item(0, "대한민국에 거주하는 정보주체가 이번 집계에 없습니다. 항목은 집계(breachctl ingest)의 영향 계정에서 산출됩니다.", false)
	}

	// 2 시점과 경위
	observed := "접근 기록상 제3자에 대한 노출은 확인되지 않았습니다"
	if !kr.First.IsZero() {
		observed = span(lang, kr.First, kr.Last, loc)
	}
	when := strings.Join([]string{
		"- 발생 기간: " + span(lang, c.Start, c.End, loc),
		"- 접근 기록상 노출 확인 시점(대한민국 거주 정보주체): " + observed,
		"- 유출등을 알게 된 일시: " + stamp(lang, c.Aware, loc),
		"- 차단 일시: " + stamp(lang, c.Contain, loc),
		"- 원인 유형: " + causeKindLabel(lang, c.CauseKind),
	}, "\n")
	if nar.Cause != "" {
		item(1, when+"\n\n"+quote(nar.Cause), true)
	} else {
		item(1, when+"\n\n경위는 사례 파일의 narrative.cause에 기재하면 채워집니다.", false)
	}

	// 3 정보주체가 할 수 있는 방법
	var advice []string
	seen := map[string]bool{}
	for _, cat := range sortedCategories(kr.ByCategory) {
		if a := krAdvice[cat]; a != "" && !seen[a] {
			seen[a] = true
			advice = append(advice, "- "+a)
		}
	}
	if len(advice) > 0 {
		item(2, strings.Join(advice, "\n")+"\n\n유출된 항목에 따라 도구가 제안한 내용입니다. 최종 안내 문구는 개인정보처리자가 정합니다.", true)
	} else {
		item(2, "유출된 항목이 확인되면 그에 따른 방법을 안내합니다(항목 1 참조).", false)
	}

	// 4 대응조치 및 피해 구제절차
	notices, _ := deliveryText(lang, in.Delivery, all.People, loc)
	remedy := "피해 구제절차: 피해가 발생한 정보주체는 항목 5의 담당부서에 신고할 수 있으며, 손해배상을 청구하거나 개인정보 분쟁조정위원회에 분쟁조정을 신청할 수 있습니다."
	if nar.Measures != "" {
		item(3, quote(nar.Measures)+"\n\n정보주체 통지 현황: "+notices+"\n\n"+remedy, true)
	} else {
		item(3, "정보주체 통지 현황: "+notices+"\n\n"+remedy+"\n\n대응조치는 사례 파일의 narrative.measures에 기재하면 채워집니다.", false)
	}

	// 5 담당부서 및 연락처
	help := []string{"- 개인정보처리자: " + org.Name, "- 연락처: " + contact(lang, org)}
	if org.DPOEmail != "" {
		help = append(help, "- 개인정보 보호책임자: "+org.DPOEmail)
	}
	hasContact := org.ContactEmail != "" || org.ContactPhone != "" || org.Website != ""
	if hasContact {
		item(4, strings.Join(help, "\n")+"\n\n담당부서명은 사례 파일에 기재되어 있지 않습니다. 제출 전에 기재하십시오.", true)
	} else {
		item(4, strings.Join(help, "\n")+"\n\n연락처는 사례 파일의 organization.contact_email, contact_phone 또는 website에 기재하면 채워집니다.", false)
	}

	// 6 정보주체의 수
	if kr.People > 0 {
		item(5, "- 대한민국에 거주하는 정보주체: "+levelSplit(lang, kr.People, kr.Confirmed, kr.Possible)+
			"\n- 지역별: "+regionListKO(kr.ByRegion)+
			"\n- 사건 전체(모든 국가): "+levelSplit(lang, all.People, all.Confirmed, all.Possible)+
			fmt.Sprintf("\n\n제%d차 집계(접근 기록 %d개 파일 분석)에 따른 수치이며, 조사 진행에 따라 바뀔 수 있습니다. ", r.Run, len(in.Evidence))+
			"「유출 확인」은 정보주체의 정보가 제3자에게 전송된 것이 접근 기록으로 확인된 경우, 「유출 가능성」은 전송되었을 수 있으나 기록으로 확인되지 않거나 수신자를 특정할 수 없는 경우입니다."+
			revisedKO(r, "people."), true)
	} else {
		item(5, "대한민국에 거주하는 정보주체가 이번 집계에 없습니다(사건 전체: "+people(lang, all.People)+").", false)
	}
}

func regionListKO(m map[string]int) string {
	return regionListOf(m, textsafe.MD) // a Markdown item: regions come from user records
}

// revisedKO lists the changes of the figures under prefixes since the
// previous report ("" when none changed).
func revisedKO(r *Report, prefixes ...string) string {
	ch := r.changeLines(prefixes...)
	if len(ch) == 0 {
		return ""
	}
	return "\n\n" + r.PreviousText() + " 이후 변경:\n" + strings.Join(ch, "\n")
}

// deliveryTextKO is deliveryText in Korean.
func deliveryTextKO(d Delivery, affected int, l *time.Location) (string, bool) {
	if d.Total == 0 {
		return fmt.Sprintf("통지 발송 기록이 아직 없습니다(통지 대상: %s).", people("ko", affected)), false
	}
	s := fmt.Sprintf("이메일 통지: 대상 %s건 중 발송 완료 %s건, 발송 실패 %s건, 미발송 %s건, 발송 결과 불명 %s건.",
		num(d.Total), num(d.Sent), num(d.Failed), num(d.Pending), num(d.Uncertain))
	if !d.FirstSent.IsZero() {
		s += " 발송 기간: " + span("ko", d.FirstSent, d.LastSent, l) + "."
	}
	if d.Sent >= d.Total && d.Sent >= affected {
		s += " 대상자 전원에게 통지를 완료했습니다."
	}
	return s, true
}
