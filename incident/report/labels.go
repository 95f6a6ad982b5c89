package report

import (
	"fmt"
	"strings"
	"time"

	"github.com/breachctl/breachctl/incident"
)

// categoryLabels names every category of the vocabulary in each report
// language. The notice templates keep their own, customer-facing labels;
// these are the terms a regulator's form uses.
var categoryLabels = map[string]map[incident.Category]string{
	"en": {
		incident.CatName:            "Name",
		incident.CatEmail:           "Email address",
		incident.CatPhone:           "Telephone number",
		incident.CatPostalAddress:   "Postal address",
		incident.CatDateOfBirth:     "Date of birth",
		incident.CatBankAccount:     "Bank account details",
		incident.CatPaymentCard:     "Payment card details",
		incident.CatPurchaseHistory: "Purchase history",
		incident.CatAccountBalance:  "Account balance",
		incident.CatGovernmentID:    "Government identification number",
		incident.CatCredentials:     "Login credentials",
		incident.CatHealth:          "Health information",
	},
	"ja": {
		incident.CatName:            "氏名",
		incident.CatEmail:           "メールアドレス",
		incident.CatPhone:           "電話番号",
		incident.CatPostalAddress:   "住所",
		incident.CatDateOfBirth:     "生年月日",
		incident.CatBankAccount:     "銀行口座情報",
		incident.CatPaymentCard:     "クレジットカード情報",
		incident.CatPurchaseHistory: "購入履歴",
		incident.CatAccountBalance:  "残高情報",
		incident.CatGovernmentID:    "公的な識別番号",
		incident.CatCredentials:     "ログイン情報（ID・パスワード等）",
		incident.CatHealth:          "健康・医療に関する情報（要配慮個人情報）",
	},
	"ko": {
		incident.CatName:            "성명",
		incident.CatEmail:           "이메일 주소",
		incident.CatPhone:           "전화번호",
		incident.CatPostalAddress:   "주소",
		incident.CatDateOfBirth:     "생년월일",
		incident.CatBankAccount:     "은행 계좌 정보",
		incident.CatPaymentCard:     "결제 카드 정보",
		incident.CatPurchaseHistory: "구매 내역",
		incident.CatAccountBalance:  "계정 잔액 정보",
		incident.CatGovernmentID:    "고유식별정보(주민등록번호 등 공적 식별번호)",
		incident.CatCredentials:     "로그인 정보(아이디·비밀번호 등)",
		incident.CatHealth:          "건강에 관한 정보(민감정보)",
	},
	"pt-BR": {
		incident.CatName:            "Nome",
		incident.CatEmail:           "Endereço de e-mail",
		incident.CatPhone:           "Número de telefone",
		incident.CatPostalAddress:   "Endereço postal",
		incident.CatDateOfBirth:     "Data de nascimento",
		incident.CatBankAccount:     "Dados de conta bancária",
		incident.CatPaymentCard:     "Dados de cartão de pagamento",
		incident.CatPurchaseHistory: "Histórico de compras",
		incident.CatAccountBalance:  "Saldo da conta",
		incident.CatGovernmentID:    "Número de documento de identificação",
		incident.CatCredentials:     "Credenciais de acesso (login e senha)",
		incident.CatHealth:          "Dados de saúde (dado pessoal sensível)",
	},
}

// categoryLabel names c in lang; a category outside the vocabulary keeps
// its key.
func categoryLabel(lang string, c incident.Category) string {
	if l, ok := categoryLabels[lang][c]; ok {
		return l
	}
	return string(c)
}

var causeKindLabels = map[string]map[string]string{
	"en": {
		"misconfiguration":    "misconfiguration",
		"unauthorized_access": "unauthorised access",
		"insider":             "insider (an employee or contractor)",
		"loss":                "loss of a device or media",
		"other":               "other",
	},
	"ja": {
		"misconfiguration":    "設定の誤り",
		"unauthorized_access": "不正アクセス",
		"insider":             "従業者等による不正な持ち出し等",
		"loss":                "紛失",
		"other":               "その他",
	},
	"ko": {
		"misconfiguration":    "설정 오류",
		"unauthorized_access": "외부로부터의 불법적인 접근",
		"insider":             "내부자(직원 또는 수탁자)에 의한 유출",
		"loss":                "기기 또는 저장매체의 분실",
		"other":               "기타",
	},
	"pt-BR": {
		"misconfiguration":    "erro de configuração",
		"unauthorized_access": "acesso não autorizado",
		"insider":             "ato de pessoa interna (empregado ou prestador de serviço)",
		"loss":                "perda de dispositivo ou mídia",
		"other":               "outro",
	},
}

func causeKindLabel(lang, kind string) string {
	if kind == "" {
		if lang == "en" {
			return "not yet known"
		}
		return unknown(lang)
	}
	if l, ok := causeKindLabels[lang][kind]; ok {
		return l
	}
	return kind
}

// num writes 1234567 as 1,234,567.
func num(n int) string { return incident.Thousands(int64(n)) }

// numPT writes 1234567 as 1.234.567, as Brazilian Portuguese does.
func numPT(n int) string { return strings.ReplaceAll(num(n), ",", ".") }

// stamp formats a time for people, in loc, in the report's language.
func stamp(lang string, t time.Time, loc *time.Location) string {
	if t.IsZero() {
		if lang == "en" {
			return "not yet known"
		}
		return unknown(lang)
	}
	if loc == nil {
		loc = time.UTC
	}
	switch lang {
	case "ja":
		return t.In(loc).Format("2006年1月2日 15:04 MST")
	case "ko":
		return t.In(loc).Format("2006년 1월 2일 15:04 (MST)")
	case "pt-BR":
		return t.In(loc).Format("02/01/2006 15:04 (MST)")
	}
	return t.In(loc).Format("2006-01-02 15:04 MST")
}

// day formats a date (no time of day).
func day(lang string, t time.Time, loc *time.Location) string {
	if loc == nil {
		loc = time.UTC
	}
	switch lang {
	case "ja":
		return t.In(loc).Format("2006年1月2日")
	case "ko":
		return t.In(loc).Format("2006년 1월 2일")
	case "pt-BR":
		return t.In(loc).Format("02/01/2006")
	}
	return t.In(loc).Format("January 2, 2006")
}

// span formats a period as "start – end".
func span(lang string, from, to time.Time, loc *time.Location) string {
	sep := " – "
	switch lang {
	case "ja":
		sep = " 〜 "
	case "ko":
		sep = " ~ "
	}
	return stamp(lang, from, loc) + sep + stamp(lang, to, loc)
}

// left says how long until a deadline, or how long ago it passed: "3d 4h",
// "overdue by 2h 10m".
func left(deadline, now time.Time) string {
	d := deadline.Sub(now)
	if d < 0 {
		return "overdue by " + dh(-d)
	}
	return dh(d) + " left"
}

// dh formats a duration in days and hours (hours and minutes under a day).
func dh(d time.Duration) string {
	d = d.Round(time.Minute)
	days := int(d / (24 * time.Hour))
	h := int(d%(24*time.Hour)) / int(time.Hour)
	m := int(d%time.Hour) / int(time.Minute)
	switch {
	case days > 0:
		return fmt.Sprintf("%dd %dh", days, h)
	case h > 0:
		return fmt.Sprintf("%dh %dm", h, m)
	}
	return fmt.Sprintf("%dm", m)
}

// joinCats lists categories with their labels and people counts:
// "Name (3 people), Bank account details (1 person)".
func joinCats(lang string, cats []incident.Category, counts map[incident.Category]int) string {
	parts := make([]string, 0, len(cats))
	for _, c := range cats {
		if counts == nil {
			parts = append(parts, categoryLabel(lang, c))
			continue
		}
		parts = append(parts, fmt.Sprintf("%s (%s)", categoryLabel(lang, c), people(lang, counts[c])))
	}
	if lang == "ja" {
		return strings.Join(parts, "、")
	}
	return strings.Join(parts, ", ")
}

// keys lists category keys: "bank_account, payment_card".
func keys(cats []incident.Category) string {
	s := make([]string, len(cats))
	for i, c := range cats {
		s[i] = string(c)
	}
	return strings.Join(s, ", ")
}

func people(lang string, n int) string {
	switch {
	case lang == "ja":
		return num(n) + "人"
	case lang == "ko":
		return num(n) + "명"
	case lang == "pt-BR" && n == 1:
		return "1 pessoa"
	case lang == "pt-BR":
		return numPT(n) + " pessoas"
	case n == 1:
		return "1 person"
	}
	return num(n) + " people"
}

// unknown is the text of an item the case cannot fill.
func unknown(lang string) string {
	switch lang {
	case "ja":
		return "現時点では不明"
	case "ko":
		return "현재 확인되지 않음"
	case "pt-BR":
		return "Ainda não conhecido"
	}
	return "Not yet known"
}
