package notify

import (
	stdhtml "html"
	"regexp"
	"strings"
	"testing"

	"github.com/breachctl/breachctl/incident/correlate"
	"github.com/breachctl/breachctl/incident/store"
)

// tagRe matches an HTML tag.
var tagRe = regexp.MustCompile(`<[^>]*>`)

// localeSections are the headings and sentences a locale's notices must
// carry for each jurisdiction's form.
type localeSections struct {
	us      []string // the California form (US, US-CA): title and headings
	jp      []string // the APPI items
	general []string // the general form (EU and elsewhere), without the contact heading
	contact string   // the contact heading of the general form and of corrections outside the EU
	eu      []string // EU only: the DPO/contact-point heading, then the right to complain
	// kr: Korean notices to KR recipients, the PIPA Art. 34 items as
	// headings, the last one (legal remedies) for KR recipients only; nil
	// when the locale writes KR recipients the general form.
	kr []string
	// br: Portuguese notices to BR recipients, the LGPD Art. 48 items, the
	// last one for BR recipients only; nil like kr.
	br         []string
	update     string // in every update notice
	correction string // in every correction notice
}

var sectionsByLocale = map[string]localeSections{
	"en": {
		us:         []string{"Notice of Data Breach", "What Happened", "What Information Was Involved", "What We Are Doing", "What You Can Do", "For More Information"},
		jp:         []string{"Overview", "Personal Data Involved", "Cause", "Secondary Harm and Its Risk", "What We Are Doing", "What You Can Do", "Other Information"},
		general:    []string{"What Happened", "Your Information Involved", "Likely Consequences", "What We Are Doing", "What You Can Do"},
		contact:    "Contact",
		eu:         []string{"Data Protection Officer and Contact Point", "you have the right to lodge a complaint with a data protection supervisory authority"},
		update:     "We are writing again because our continued investigation",
		correction: "We are writing to correct that notice.",
	},
	"ja": {
		us:         []string{"Notice of Data Breach", "発生した事象（What Happened）", "対象となった情報（What Information Was Involved）", "当社の対応（What We Are Doing）", "お客様にできること（What You Can Do）", "お問い合わせ先（For More Information）"},
		jp:         []string{"概要", "原因", "二次被害又はそのおそれの有無及びその内容", "当社の対応及び再発防止策", "その他参考となる事項"},
		general:    []string{"発生した事象", "対象となったお客様の情報", "想定される影響"},
		contact:    "お問い合わせ先",
		eu:         []string{"データ保護責任者（DPO）及びお問い合わせ先", "データ保護監督機関に苦情を申し立てる権利"},
		update:     "その後の調査の結果",
		correction: "先のお知らせの内容を訂正させていただきます",
	},
	"de": {
		us:         []string{"Benachrichtigung über eine Datenschutzverletzung", "(Notice of Data Breach", "Was ist geschehen? (What Happened)", "Welche Daten sind betroffen? (What Information Was Involved)", "Was wir unternehmen (What We Are Doing)", "Was Sie tun können (What You Can Do)", "Weitere Informationen (For More Information)"},
		jp:         []string{"Überblick", "Betroffene personenbezogene Daten", "Ursache", "Folgeschäden und deren Risiko", "Was wir unternehmen", "Was Sie tun können", "Weitere Hinweise"},
		general:    []string{"Was ist geschehen?", "Ihre betroffenen Daten", "Wahrscheinliche Folgen", "Was wir unternehmen", "Was Sie tun können"},
		contact:    "Kontakt",
		eu:         []string{"Datenschutzbeauftragter und Anlaufstelle", "haben Sie das Recht, sich bei einer Datenschutz-Aufsichtsbehörde zu beschweren"},
		update:     "Wir schreiben Ihnen erneut, weil die weitere Untersuchung",
		correction: "Mit diesem Schreiben berichtigen wir diese Benachrichtigung.",
	},
	"fr": {
		us:         []string{"Notification de violation de données", "(Notice of Data Breach", "Que s'est-il passé ? (What Happened)", "Quelles données sont concernées ? (What Information Was Involved)", "Ce que nous faisons (What We Are Doing)", "Ce que vous pouvez faire (What You Can Do)", "Pour en savoir plus (For More Information)"},
		jp:         []string{"Présentation", "Données personnelles concernées", "Cause", "Préjudices secondaires et risque qu'ils surviennent", "Ce que nous faisons", "Ce que vous pouvez faire", "Autres informations"},
		general:    []string{"Que s'est-il passé ?", "Vos données concernées", "Conséquences probables", "Ce que nous faisons", "Ce que vous pouvez faire"},
		contact:    "Contact",
		eu:         []string{"Délégué à la protection des données et point de contact", "vous avez le droit d'introduire une réclamation auprès d'une autorité de contrôle de la protection des données"},
		update:     "Nous vous écrivons à nouveau car la poursuite de l'analyse",
		correction: "Par le présent message, nous rectifions cette notification.",
	},
	"ko": {
		us:         []string{"개인정보 유출 통지", "(Notice of Data Breach", "발생 경위 (What Happened)", "관련된 정보 (What Information Was Involved)", "당사의 조치 (What We Are Doing)", "고객님께서 하실 수 있는 조치 (What You Can Do)", "문의처 (For More Information)"},
		jp:         []string{"개요", "관련된 개인정보 항목", "원인", "2차 피해 및 그 위험", "당사의 조치", "고객님께서 하실 수 있는 조치", "기타 참고 사항"},
		general:    []string{"발생 경위", "관련된 고객님의 정보", "예상되는 영향", "당사의 조치", "고객님께서 하실 수 있는 조치"},
		contact:    "문의처",
		eu:         []string{"데이터 보호 책임자(DPO) 및 연락 창구", "데이터 보호 감독기관에 민원을 제기하실 권리"},
		kr:         []string{"유출된 개인정보 항목", "유출 시점과 그 경위", "피해를 최소화하기 위하여 고객님께서 하실 수 있는 방법", "당사의 대응 조치 및 피해 구제 절차", "피해 신고 및 상담 창구", "권리 구제 방법", "개인정보 분쟁조정위원회"},
		update:     "이후 당사 기록에 대한 조사를 계속한 결과",
		correction: "이 안내문은 그 내용을 정정하기 위한 것입니다.",
	},
	"es": {
		us:         []string{"Aviso de violación de la seguridad de los datos", "(Notice of Data Breach", "¿Qué ha ocurrido? (What Happened)", "¿Qué información se ha visto afectada? (What Information Was Involved)", "Qué estamos haciendo (What We Are Doing)", "Qué puede hacer usted (What You Can Do)", "Más información (For More Information)"},
		jp:         []string{"Resumen", "Datos personales afectados", "Causa", "Daños secundarios y riesgo de que se produzcan", "Qué estamos haciendo", "Qué puede hacer usted", "Información adicional"},
		general:    []string{"¿Qué ha ocurrido?", "Sus datos afectados", "Consecuencias probables", "Qué estamos haciendo", "Qué puede hacer usted"},
		contact:    "Contacto",
		eu:         []string{"Delegado de protección de datos y punto de contacto", "tiene derecho a presentar una reclamación ante una autoridad de control de la protección de datos"},
		update:     "Le escribimos de nuevo porque, al proseguir la investigación",
		correction: "Le escribimos para corregir aquella comunicación.",
	},
	"it": {
		us:         []string{"Notifica di violazione dei dati personali", "(Notice of Data Breach", "Che cosa è successo? (What Happened)", "Quali dati sono coinvolti? (What Information Was Involved)", "Che cosa stiamo facendo (What We Are Doing)", "Che cosa può fare Lei (What You Can Do)", "Per ulteriori informazioni (For More Information)"},
		jp:         []string{"Sintesi", "Dati personali coinvolti", "Causa", "Danni ulteriori e rischio che si verifichino", "Che cosa stiamo facendo", "Che cosa può fare Lei", "Altre informazioni"},
		general:    []string{"Che cosa è successo?", "I Suoi dati coinvolti", "Conseguenze probabili", "Che cosa stiamo facendo", "Che cosa può fare Lei"},
		contact:    "Contatti",
		eu:         []string{"Responsabile della protezione dei dati e punto di contatto", "ha il diritto di proporre reclamo a un'autorità di controllo per la protezione dei dati"},
		update:     "Le scriviamo nuovamente perché il proseguimento delle verifiche",
		correction: "Con la presente rettifichiamo quella comunicazione.",
	},
	"nl": {
		us:         []string{"Kennisgeving van een datalek", "(Notice of Data Breach", "Wat is er gebeurd? (What Happened)", "Om welke gegevens gaat het? (What Information Was Involved)", "Wat wij doen (What We Are Doing)", "Wat u kunt doen (What You Can Do)", "Meer informatie (For More Information)"},
		jp:         []string{"Overzicht", "Betrokken persoonsgegevens", "Oorzaak", "Vervolgschade en het risico daarop", "Wat wij doen", "Wat u kunt doen", "Overige informatie"},
		general:    []string{"Wat is er gebeurd?", "Om welke gegevens van u het gaat", "Waarschijnlijke gevolgen", "Wat wij doen", "Wat u kunt doen"},
		contact:    "Contact",
		eu:         []string{"Functionaris voor gegevensbescherming en contactpunt", "hebt u het recht een klacht in te dienen bij een toezichthoudende autoriteit voor gegevensbescherming"},
		update:     "Wij schrijven u opnieuw omdat uit voortgezet onderzoek",
		correction: "Met dit bericht corrigeren wij die kennisgeving.",
	},
	"pt": {
		us:         []string{"Notificação de violação de dados", "(Notice of Data Breach", "O que aconteceu? (What Happened)", "Quais dados foram afetados? (What Information Was Involved)", "O que estamos fazendo (What We Are Doing)", "O que você pode fazer (What You Can Do)", "Mais informações (For More Information)"},
		jp:         []string{"Resumo", "Dados pessoais afetados", "Causa", "Danos secundários e risco de que ocorram", "O que estamos fazendo", "O que você pode fazer", "Outras informações"},
		general:    []string{"O que aconteceu?", "Seus dados afetados", "Consequências prováveis", "O que estamos fazendo", "O que você pode fazer"},
		contact:    "Contato",
		eu:         []string{"Encarregado da proteção de dados (DPO) e ponto de contato", "você tem o direito de apresentar uma reclamação a uma autoridade de controle de proteção de dados"},
		br:         []string{"Natureza dos dados pessoais afetados", "Informações sobre os titulares envolvidos", "Medidas técnicas e de segurança utilizadas para a proteção dos dados", "Riscos relacionados ao incidente", "Medidas adotadas e a serem adotadas para reverter ou mitigar os efeitos do incidente", "Encarregado pelo tratamento de dados pessoais (DPO) e contato", "Autoridade Nacional de Proteção de Dados (ANPD)"},
		update:     "Estamos escrevendo novamente porque, ao darmos continuidade à análise dos nossos registros",
		correction: "Estamos escrevendo para corrigir aquela notificação.",
	},
	"zh-Hans": {
		us:         []string{"数据泄露通知", "（Notice of Data Breach", "事件经过（What Happened）", "涉及的信息（What Information Was Involved）", "我们采取的措施（What We Are Doing）", "您可以采取的措施（What You Can Do）", "更多信息（For More Information）"},
		jp:         []string{"概述", "涉及的个人数据项目", "原因", "二次损害及其风险", "我们的应对措施及防止再次发生的措施", "您可以采取的措施", "其他参考事项"},
		general:    []string{"事件经过", "涉及的您的信息", "可能产生的影响", "我们采取的措施", "您可以采取的措施"},
		contact:    "联系方式",
		eu:         []string{"数据保护官（DPO）及联系窗口", "您有权向数据保护监管机构"},
		update:     "此后，我们对记录进行了进一步调查",
		correction: "现就该通知内容作出更正。",
	},
	"zh-Hant": {
		us:         []string{"個資外洩通知", "（Notice of Data Breach", "事件經過（What Happened）", "涉及的資料（What Information Was Involved）", "本公司採取的措施（What We Are Doing）", "您可以採取的措施（What You Can Do）", "更多資訊（For More Information）"},
		jp:         []string{"概述", "涉及的個人資料項目", "原因", "二次損害及其風險", "本公司的因應措施及防止再次發生的措施", "您可以採取的措施", "其他參考事項"},
		general:    []string{"事件經過", "涉及的您的資料", "可能造成的影響", "本公司採取的措施", "您可以採取的措施"},
		contact:    "聯絡方式",
		eu:         []string{"資料保護長（DPO）及聯絡窗口", "您有權向資料保護監管機關"},
		update:     "其後，本公司對相關紀錄進行了進一步調查",
		correction: "謹此就該通知內容進行更正。",
	},
}

// Every locale renders a first notice, an update and a correction for every
// jurisdiction's form, with that form's sections in the locale, and the EU
// items only for EU recipients.
func TestLocaleSections(t *testing.T) {
	c := loadCase(t)
	r := newRenderer(t, c)
	places := []struct {
		name, country, region string
	}{{"EU", "DE", "DE-BE"}, {"US", "US", "US-NY"}, {"USCA", "US", "US-CA"}, {"JP", "JP", "JP-13"},
		{"KR", "KR", ""}, {"BR", "BR", ""}, {"other", "SG", ""}}
	for _, loc := range r.Locales() {
		want, ok := sectionsByLocale[loc]
		if !ok {
			t.Errorf("locale %s: no entry in sectionsByLocale: say which sections its notices must carry", loc)
			continue
		}
		for _, pl := range places {
			for _, kind := range []string{store.NoticeFirst, store.NoticeUpdate, store.NoticeCorrection} {
				t.Run(loc+"/"+pl.name+"/"+kind, func(t *testing.T) {
					ct := correlate.Contact{Email: "x@example.com", Name: "Test Person", Locale: loc, Country: pl.country, Region: pl.region}
					n := notice(c, "6001", map[string]string{"name": "confirmed", "email": "possible"}, 2, 1, ct)
					switch kind {
					case store.NoticeUpdate:
						p := notice(c, "6001", map[string]string{"name": "possible"}, 0, 0, ct).Account
						n.Kind, n.Previous, n.Run = kind, &p, 2
					case store.NoticeCorrection:
						n.Kind, n.Run = kind, 2
					}
					m, err := r.Render(n)
					if err != nil {
						t.Fatalf("Render: %v", err)
					}
					if m.Locale != loc {
						t.Fatalf("Locale = %s, want %s", m.Locale, loc)
					}
					p := parseMessage(t, m.Raw)
					text := strings.Join(strings.Fields(p.parts["text/plain"]), " ")
					html := strings.Join(strings.Fields(stdhtml.UnescapeString(tagRe.ReplaceAllString(p.parts["text/html"], " "))), " ")
					var must, mustNot []string
					eu := pl.name == "EU"
					switch {
					case kind == store.NoticeCorrection:
						must = append(must, want.correction)
						if eu {
							must = append(must, want.eu[0])
						} else {
							must, mustNot = append(must, want.contact), append(mustNot, want.eu[0])
						}
					case pl.name == "US" || pl.name == "USCA":
						must = append(must, want.us...)
					case pl.name == "JP":
						must = append(must, want.jp...)
					case pl.name == "KR" && want.kr != nil:
						must = append(must, want.kr...)
					case pl.name == "BR" && want.br != nil:
						must = append(must, want.br...)
					default:
						must = append(must, want.general...)
						if eu {
							must = append(must, want.eu...)
						} else {
							must, mustNot = append(must, want.contact), append(mustNot, want.eu...)
						}
					}
					if kind == store.NoticeUpdate {
						must = append(must, want.update)
					}
					if kind != store.NoticeCorrection && !eu {
						mustNot = append(mustNot, want.eu[1])
					}
					if want.kr != nil && (pl.name != "KR" || kind == store.NoticeCorrection) {
						mustNot = append(mustNot, want.kr[len(want.kr)-1])
					}
					if want.br != nil && (pl.name != "BR" || kind == store.NoticeCorrection) {
						mustNot = append(mustNot, want.br[len(want.br)-1])
					}
					for _, part := range []struct{ name, body string }{{"text", text}, {"html", html}} {
						for _, s := range must {
							if !strings.Contains(part.body, s) {
								t.Errorf("%s part lacks %q", part.name, s)
							}
						}
						for _, s := range mustNot {
							if strings.Contains(part.body, s) {
								t.Errorf("%s part has %q, which is not for %s recipients", part.name, s, pl.name)
							}
						}
					}
					for _, line := range strings.Split(p.parts["text/plain"], "\n") {
						if w := textWidth(loc); w > 0 && len([]rune(line)) > w && strings.Contains(strings.TrimSpace(line), " ") {
							t.Errorf("text line longer than %d columns: %q", w, line)
						}
					}
				})
			}
		}
	}
}
