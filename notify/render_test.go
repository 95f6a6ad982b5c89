package notify

import (
	"bytes"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	stdhtml "html"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/breachctl/breachctl/incident"
	"github.com/breachctl/breachctl/incident/correlate"
	"github.com/breachctl/breachctl/incident/store"
	"github.com/breachctl/breachctl/internal/golden"
)

func loadCase(t testing.TB) *incident.Case {
	t.Helper()
	c, err := incident.Load("testdata/case.yaml", nil)
	if err != nil {
		t.Fatalf("load case: %v", err)
	}
	return c
}

// fixedDate is the Date of every test notice.
var fixedDate = time.Date(2017, 6, 30, 10, 0, 0, 0, time.FixedZone("JST", 9*3600))

func newRenderer(t testing.TB, c *incident.Case) *Renderer {
	t.Helper()
	r, err := NewRenderer(c, Options{Date: fixedDate})
	if err != nil {
		t.Fatalf("NewRenderer: %v", err)
	}
	return r
}

// notice builds a notice: levels maps category -> confirmed|possible.
func notice(c *incident.Case, uid string, levels map[string]string, views, viewers int, contact correlate.Contact) Notice {
	a := store.AffectedAccount{UserID: uid, Level: "possible", Views: views, Viewers: viewers}
	for cat, lv := range levels {
		a.Categories = append(a.Categories, cat)
		if lv == "confirmed" {
			a.Level = "confirmed"
		}
	}
	sort.Strings(a.Categories)
	a.CategoryLevels, _ = json.Marshal(levels)
	if a.Level == "confirmed" {
		a.FirstExposed = sql.NullTime{Time: c.Start.Add(47 * time.Minute), Valid: true}
		a.LastExposed = sql.NullTime{Time: c.Start.Add(3*time.Hour + 12*time.Minute), Valid: true}
	}
	contact.ID = uid
	return Notice{Run: 1, Account: a, Contact: contact}
}

type goldenCase struct {
	name    string
	n       Notice
	locale  string
	jur     []string
	contain []string // in the decoded text part
}

func goldenCases(c *incident.Case) []goldenCase {
	return []goldenCase{
		{"ja_confirmed_jp", notice(c, "1001", map[string]string{"name": "confirmed", "email": "confirmed", "postal_address": "confirmed", "bank_account": "possible"}, 3, 2,
			correlate.Contact{Email: "taro.yamada@example.jp", Name: "山田 太郎", Locale: "ja", Country: "JP", Region: "JP-13"}),
			"ja", []string{"JP"}, []string{"山田 太郎 様", "■ 概要", "■ 原因", "二次被害又はそのおそれの有無及びその内容", "その他参考となる事項", "表示回数：3回", "9時41分～15時38分（日本時間）", "他のお客様に表示されたおそれがございます"}},
		{"ja_possible_jp", notice(c, "1002", map[string]string{"payment_card": "possible", "purchase_history": "possible"}, 0, 0,
			correlate.Contact{Email: "hanako@example.jp", Name: "佐藤 花子", Locale: "ja-JP", Country: "JP", Region: "JP-27"}),
			"ja", []string{"JP"}, []string{"佐藤 花子 様", "表示されたおそれがあることが判明いたしました", "カード発行会社"}},
		{"en_confirmed_usca", notice(c, "1003", map[string]string{"name": "confirmed", "email": "confirmed", "government_id": "confirmed", "health": "possible"}, 1, 1,
			correlate.Contact{Email: "jane.roe@example.com", Name: "Jane Roe", Locale: "en_US", Country: "US", Region: "US-CA"}),
			"en", []string{"US-CA", "HIPAA"}, []string{"Notice of Data Breach", "What Happened", "What Information Was Involved", "What We Are Doing", "What You Can Do", "For More Information",
				"Date of this notice: June 29, 2017", "not delayed by a law enforcement", "Equifax", "Experian", "TransUnion", "once, on June 21, 2017, 6:28 PM PDT", "About Your Health Information", "Date we discovered it"}},
		{"en_possible_usca", notice(c, "1004", map[string]string{"phone": "possible", "postal_address": "possible"}, 0, 0,
			correlate.Contact{Email: "john.doe@example.com", Name: "John Q. Doe", Locale: "en", Country: "US", Region: "US-CA"}),
			"en", []string{"US-CA"}, []string{"Notice of Data Breach", "may have been shown", "June 21, 2017, 5:41 PM to 11:38 PM PDT (UTC-07:00)"}},
		{"en_confirmed_eu", notice(c, "1005", map[string]string{"credentials": "confirmed", "date_of_birth": "possible"}, 2, 1,
			correlate.Contact{Email: "max@example.de", Name: "Max <script>alert(1)</script> Mustermann", Locale: "en", Country: "DE", Region: "DE-BE"}),
			"en", []string{"EU"}, []string{"Data Protection Officer", "dpo@example-market.jp", "Likely Consequences", "supervisory authority", "twice", "CEST (UTC+02:00)"}},
		{"ja_possible_eu", notice(c, "1006", map[string]string{"account_balance": "possible"}, 0, 0,
			correlate.Contact{Email: "aiko@example.fr", Name: "Aiko Martin", Locale: "ja", Country: "FR", Region: "FR-75"}),
			"ja", []string{"EU"}, []string{"データ保護責任者（DPO）", "想定される影響", "データ保護監督機関"}},
		{"en_confirmed_jp", notice(c, "1007", map[string]string{"name": "confirmed", "phone": "confirmed"}, 5, 4,
			correlate.Contact{Email: "alex@example.com", Name: "Alex Smith", Locale: "en-GB", Country: "JP", Region: "JP-13"}),
			"en", []string{"JP"}, []string{"Overview", "Personal Data Involved", "Cause", "Secondary Harm", "Other Information", "5 times (to 4 different people)", "JST (UTC+09:00)"}},
		{"ja_confirmed_usca", notice(c, "1008", map[string]string{"bank_account": "confirmed", "payment_card": "confirmed"}, 2, 2,
			correlate.Contact{Email: "kenji@example.com", Name: "Kenji Tanaka", Locale: "ja", Country: "US", Region: "US-CA"}),
			"ja", []string{"US-CA"}, []string{"データ侵害に関するお知らせ（Notice of Data Breach）", "（What Happened）", "（For More Information）", "法執行機関"}},
		{"de_confirmed_eu", notice(c, "1010", map[string]string{"name": "confirmed", "email": "confirmed", "postal_address": "possible", "payment_card": "possible"}, 3, 2,
			correlate.Contact{Email: "max.mustermann@example.de", Name: "Max Mustermann", Locale: "de-DE", Country: "DE", Region: "DE-BE"}),
			"de", []string{"EU"}, []string{"Guten Tag Max Mustermann,", "Datum dieser Benachrichtigung: 30. Juni 2017", "Im Zeitraum vom 22. Juni 2017, 02:41 Uhr, bis 08:38 Uhr (MESZ, UTC+02:00)",
				"Datenschutzbeauftragter und Anlaufstelle", "dpo@example-market.jp", "Datenschutz-Aufsichtsbehörde", "Wie es dazu kam: Bei einer Änderung", "Wahrscheinliche Folgen"}},
		{"fr_possible_eu", notice(c, "1011", map[string]string{"email": "possible", "purchase_history": "possible", "account_balance": "possible"}, 0, 0,
			correlate.Contact{Email: "camille.durand@example.fr", Name: "Camille Durand", Locale: "fr-FR", Country: "FR", Region: "FR-75"}),
			"fr", []string{"EU"}, []string{"Bonjour Camille Durand,", "Date de la présente notification\u00a0: 30 juin 2017", "du 22 juin 2017 à 2\u00a0h\u00a041 au 22 juin 2017 à 8\u00a0h\u00a038",
				"Délégué à la protection des données et point de contact", "dpo@example-market.jp", "autorité de contrôle", "Origine de l'incident\u00a0: Lors d'une modification", "ont pu être affichées"}},
		{"ko_confirmed_kr", notice(c, "1015", map[string]string{"name": "confirmed", "phone": "confirmed", "email": "possible", "date_of_birth": "possible"}, 2, 1,
			correlate.Contact{Email: "minjun.kim@example.kr", Name: "김민준", Locale: "ko-KR", Country: "KR"}),
			"ko", []string{"KR"}, []string{"김민준 고객님께", "통지일: 2017년 6월 30일", "2017년 6월 22일 09:41~15:38 (한국 시간) 사이에", "■ 유출된 개인정보 항목", "■ 권리 구제 방법",
				"개인정보 분쟁조정위원회", "발생 원인: CDN", "표시 횟수는 총 2회입니다", "개인정보 보호책임자: dpo@example-market.jp"}},
		{"es_confirmed_eu", notice(c, "1012", map[string]string{"name": "confirmed", "phone": "confirmed", "credentials": "possible", "date_of_birth": "possible"}, 1, 1,
			correlate.Contact{Email: "lucia.garcia@example.es", Name: "Lucía García López", Locale: "es-ES", Country: "ES", Region: "ES-MD"}),
			"es", []string{"EU"}, []string{"Estimado/a Lucía García López:", "Fecha de esta comunicación: 30 de junio de 2017", "En el periodo del 22 de junio de 2017 a las 2:41 al 22 de junio de 2017 a",
				"Delegado de protección de datos y punto de contacto", "dpo@example-market.jp", "autoridad de control", "Cómo ocurrió: Durante un cambio", "una vez, el 22 de junio de 2017", "Consecuencias probables"}},
		{"it_confirmed_eu", notice(c, "1013", map[string]string{"email": "confirmed", "postal_address": "confirmed", "account_balance": "possible"}, 2, 2,
			correlate.Contact{Email: "giulia.rossi@example.it", Name: "Giulia Rossi", Locale: "it-IT", Country: "IT", Region: "IT-RM"}),
			"it", []string{"EU"}, []string{"Gentile Giulia Rossi,", "Data della presente comunicazione: 30 giugno 2017", "Nel periodo dal 22 giugno 2017, ore 2:41, al 22 giugno 2017, ore 8:38",
				"Responsabile della protezione dei dati e punto di contatto", "dpo@example-market.jp", "autorità di controllo", "Come è successo: Durante una modifica", "due volte (in tutto da 2 persone diverse)", "Conseguenze probabili"}},
		{"nl_possible_eu", notice(c, "1014", map[string]string{"name": "possible", "bank_account": "possible", "purchase_history": "possible"}, 0, 0,
			correlate.Contact{Email: "sanne.de.vries@example.nl", Name: "Sanne de Vries", Locale: "nl-NL", Country: "NL", Region: "NL-NH"}),
			"nl", []string{"EU"}, []string{"Geachte Sanne de Vries,", "Datum van dit bericht: 30 juni 2017", "In de periode van 22 juni 2017, 02:41 uur tot 22 juni 2017, 08:38 uur",
				"Functionaris voor gegevensbescherming en contactpunt", "dpo@example-market.jp", "toezichthoudende autoriteit", "Hoe dit kon gebeuren: Bij een wijziging", "mogelijk aan een ander zijn getoond", "Waarschijnlijke gevolgen"}},
		{"pt_confirmed_br", notice(c, "1016", map[string]string{"name": "confirmed", "email": "confirmed", "payment_card": "possible", "purchase_history": "possible"}, 2, 2,
			correlate.Contact{Email: "ana.souza@example.com.br", Name: "Ana Souza", Locale: "pt-BR", Country: "BR"}),
			"pt", []string{"BR"}, []string{"Prezado(a) Ana Souza,", "Data desta notificação: 29 de junho de 2017", "a outros clientes de 21 de junho de 2017, às 21h41, a 22 de",
				"Natureza dos dados pessoais afetados", "Informações sobre os titulares envolvidos", "Medidas técnicas e de segurança utilizadas para a proteção dos dados",
				"Riscos relacionados ao incidente", "Encarregado pelo tratamento de dados pessoais (DPO)", "dpo@example-market.jp", "(ANPD), em www.gov.br/anpd",
				"Como aconteceu: Durante uma alteração", "vezes (no total, a 2 pessoas diferentes)"}},
		{"zh-Hans_confirmed_sg", notice(c, "1018", map[string]string{"name": "confirmed", "email": "confirmed", "purchase_history": "possible", "payment_card": "possible"}, 3, 2,
			correlate.Contact{Email: "li.wei@example.sg", Name: "李伟", Locale: "zh-SG", Country: "SG"}),
			"zh-Hans", []string{}, []string{"尊敬的李伟：", "通知日期：2017年6月30日", "■ 事件经过", "■ 涉及的您的信息", "■ 可能产生的影响", "■ 联系方式",
				"事件原因：在更改内容分发网络（CDN）设置", "显示次数共计3次（涉及查看者2人）", "  - 银行卡信息：", "数据保护官（DPO）：dpo@example-market.jp"}},
		{"zh-Hant_possible_tw", notice(c, "1017", map[string]string{"name": "possible", "phone": "possible", "postal_address": "possible", "credentials": "possible"}, 0, 0,
			correlate.Contact{Email: "chen.meiling@example.tw", Name: "陳美玲", Locale: "zh-TW", Country: "TW"}),
			"zh-Hant", []string{}, []string{"親愛的陳美玲您好：", "通知日期：2017年6月30日", "2017年6月22日 08:41至14:38（臺灣時間）期間", "■ 事件經過", "■ 涉及的您的資料",
				"■ 可能造成的影響", "■ 聯絡方式", "事件原因：在變更內容傳遞網路（CDN）設定", "可能曾顯示給其他客戶", "  - 登入帳號及密碼：", "資料保護長（DPO）：dpo@example-market.jp", "Example Market K.K. 敬上"}},
		// Contact carries no locale or place: the account's are used; sv has
		// no templates, so the case's default (en).
		{"en_fallback_us_ny", func() Notice {
			n := notice(c, "1009", map[string]string{"email": "possible", "health": "possible"}, 0, 0, correlate.Contact{Email: "pat@example.org"})
			n.Account.Locale, n.Account.Country, n.Account.Region = "sv", "US", "US-NY"
			return n
		}(), "en", []string{"US", "HIPAA"}, []string{"Dear Customer,", "Notice of Data Breach", "EDT (UTC-04:00)"}},
	}
}

// parsed is a rendered message taken apart with the standard library.
type parsed struct {
	msg     *mail.Message
	subject string
	parts   map[string]string // media type -> decoded body
	charset map[string]string
}

func parseMessage(t *testing.T, raw []byte) parsed {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("net/mail: %v", err)
	}
	p := parsed{msg: msg, parts: map[string]string{}, charset: map[string]string{}}
	if p.subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); err != nil {
		t.Fatalf("decode Subject: %v", err)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" || params["boundary"] == "" {
		t.Fatalf("Content-Type = %q (%v), want multipart/alternative with a boundary", msg.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("multipart: %v", err)
		}
		pt, pp, err := mime.ParseMediaType(part.Header.Get("Content-Type"))
		if err != nil {
			t.Fatalf("part Content-Type: %v", err)
		}
		var r io.Reader = part
		switch strings.ToLower(part.Header.Get("Content-Transfer-Encoding")) {
		case "quoted-printable":
			r = quotedprintable.NewReader(part)
		case "base64":
			r = base64Reader(part)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("read %s part: %v", pt, err)
		}
		p.parts[pt] = strings.ReplaceAll(string(b), "\r\n", "\n")
		p.charset[pt] = pp["charset"]
	}
	return p
}

// checkHeaderLines checks CRLF line ends and header line lengths: at most
// 78 characters unless the line is one token that cannot be folded, never
// more than 998.
func checkHeaderLines(t *testing.T, raw []byte) {
	t.Helper()
	if i := bytes.Index(raw, []byte("\n")); i >= 0 {
		for j := 0; j < len(raw); j++ {
			if raw[j] == '\n' && (j == 0 || raw[j-1] != '\r') {
				t.Fatalf("bare LF at byte %d", j)
			}
		}
	}
	end := bytes.Index(raw, []byte("\r\n\r\n"))
	if end < 0 {
		t.Fatal("no end of headers")
	}
	for _, line := range strings.Split(string(raw[:end]), "\r\n") {
		if len(line) > 998 {
			t.Errorf("header line of %d characters (> 998): %.60q...", len(line), line)
		}
		if len(line) > 78 && strings.Contains(strings.TrimSpace(line), " ") {
			t.Errorf("header line of %d characters (> 78) that could be folded: %q", len(line), line)
		}
	}
}

// bulletRe matches the start of a list item holding a label: "  - Label",
// "・Label" in text, "<li>Label" in HTML.
func hasItem(body, label string, html bool) bool {
	if html {
		label = stdhtml.EscapeString(label) // Historique d'achats: d&#39;achats
		return strings.Contains(body, "<li>"+label+"</li>") || strings.Contains(body, "<li>"+label+":") || strings.Contains(body, "<li>"+label+"：")
	}
	re := regexp.MustCompile(`(?m)^\s*(?:[-*] |・)` + regexp.QuoteMeta(label) + `(?:$|[:：])`)
	return re.MatchString(body)
}

func TestRenderGolden(t *testing.T) {
	c := loadCase(t)
	r := newRenderer(t, c)
	for _, tc := range goldenCases(c) {
		t.Run(tc.name, func(t *testing.T) {
			m, err := r.Render(tc.n)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			p := parseMessage(t, m.Raw)
			checkHeaderLines(t, m.Raw)

			if m.Locale != tc.locale {
				t.Errorf("Locale = %q, want %q", m.Locale, tc.locale)
			}
			if !reflect.DeepEqual(m.Jurisdictions, tc.jur) {
				t.Errorf("Jurisdictions = %q, want %q", m.Jurisdictions, tc.jur)
			}
			h := p.msg.Header
			from, err := mail.ParseAddress(h.Get("From"))
			if err != nil || from.Address != "privacy@example-market.jp" || from.Name != "Example Market Privacy Office" {
				t.Errorf("From = %q (%v), want Example Market Privacy Office <privacy@example-market.jp>", h.Get("From"), err)
			}
			if rt := h.Get("Reply-To"); rt != "support@example-market.jp" {
				t.Errorf("Reply-To = %q, want support@example-market.jp", rt)
			}
			to, err := mail.ParseAddress(h.Get("To"))
			if err != nil || to.Address != tc.n.Contact.Email || to.Name != tc.n.Contact.Name {
				t.Errorf("To = %+v (%v), want %q <%s>", to, err, tc.n.Contact.Name, tc.n.Contact.Email)
			}
			if m.To != tc.n.Contact.Email || m.EnvelopeFrom != "privacy@example-market.jp" {
				t.Errorf("To, EnvelopeFrom = %q, %q", m.To, m.EnvelopeFrom)
			}
			if want := MessageID(c, tc.n.Account.UserID); h.Get("Message-ID") != want || m.MessageID != want {
				t.Errorf("Message-ID = %q (Message.MessageID %q), want %q", h.Get("Message-ID"), m.MessageID, want)
			}
			if strings.Contains(m.MessageID, tc.n.Contact.Email) || strings.Contains(m.MessageID, tc.n.Account.UserID) {
				t.Errorf("Message-ID %q carries the address or user id", m.MessageID)
			}
			if d, err := h.Date(); err != nil || !d.Equal(fixedDate) {
				t.Errorf("Date = %q (%v), want %v", h.Get("Date"), err, fixedDate)
			}
			if h.Get("MIME-Version") != "1.0" {
				t.Errorf("MIME-Version = %q", h.Get("MIME-Version"))
			}
			if !strings.Contains(p.subject, "Example Market K.K.") {
				t.Errorf("Subject %q does not name the organization", p.subject)
			}
			if tc.locale == "ja" && !strings.Contains(p.subject, "【重要】") {
				t.Errorf("Subject %q, want a Japanese subject", p.subject)
			}
			text, html := p.parts["text/plain"], p.parts["text/html"]
			if text == "" || html == "" || len(p.parts) != 2 {
				t.Fatalf("parts = %v, want text/plain and text/html", sortedKeys(p.parts))
			}
			for pt, cs := range p.charset {
				if !strings.EqualFold(cs, "utf-8") {
					t.Errorf("%s charset = %q, want utf-8", pt, cs)
				}
			}
			labels := r.locales[tc.locale].tmpl.labels
			for _, cat := range incident.Categories {
				_, exposed := levelOf(tc.n, string(cat))
				label := labels[cat].Label
				for _, part := range []struct {
					name string
					body string
					html bool
				}{{"text", text, false}, {"html", html, true}} {
					if got := hasItem(part.body, label, part.html); got != exposed {
						t.Errorf("%s part: item %q present = %v, want %v (exposed)", part.name, label, got, exposed)
					}
				}
			}
			for _, s := range tc.contain {
				if !strings.Contains(text, s) {
					t.Errorf("text part lacks %q", s)
				}
			}
			if name := tc.n.Contact.Name; name != "" && !strings.Contains(text, name) {
				t.Errorf("text part lacks the name %q", name)
			}
			for _, s := range []string{c.Organization.ContactEmail, c.Organization.ContactPhone, c.Organization.Website} {
				if !strings.Contains(text, s) || !strings.Contains(stdhtml.UnescapeString(html), s) {
					t.Errorf("a part lacks the contact %q", s)
				}
			}
			if strings.Contains(html, "<script>") {
				t.Errorf("HTML part has an unescaped <script>")
			}
			if strings.Contains(tc.n.Contact.Name, "<script>") && !strings.Contains(html, "&lt;script&gt;") {
				t.Errorf("HTML part lacks the escaped name")
			}

			golden.Check(t, filepath.Join("testdata", tc.name+".eml.golden"), m.Raw)
			golden.Check(t, filepath.Join("testdata", tc.name+".golden"), []byte(readable(m, p)))
		})
	}
}

func base64Reader(r io.Reader) io.Reader { return base64.NewDecoder(base64.StdEncoding, r) }

func levelOf(n Notice, cat string) (string, bool) {
	var levels map[string]string
	_ = json.Unmarshal(n.Account.CategoryLevels, &levels)
	lv, ok := levels[cat]
	return lv, ok
}

// readable is a golden file a reviewer can read: decoded headers and parts.
func readable(m *Message, p parsed) string {
	var b strings.Builder
	for _, k := range []string{"Date", "From", "Reply-To", "To", "Subject", "Message-ID", "Content-Language"} {
		v := p.msg.Header.Get(k)
		if k == "Subject" {
			v = p.subject
		}
		if k == "To" {
			if a, err := mail.ParseAddress(v); err == nil {
				v = a.Name + " <" + a.Address + ">"
			}
		}
		fmt.Fprintf(&b, "%s: %s\n", k, v)
	}
	fmt.Fprintf(&b, "X-Jurisdictions: %s\n", strings.Join(m.Jurisdictions, ", "))
	b.WriteString("\n===== text/plain =====\n")
	b.WriteString(p.parts["text/plain"])
	b.WriteString("\n===== text/html =====\n")
	b.WriteString(p.parts["text/html"])
	b.WriteString("\n")
	return b.String()
}

func TestRenderDeterministic(t *testing.T) {
	c := loadCase(t)
	r1, r2 := newRenderer(t, c), newRenderer(t, c)
	for _, tc := range goldenCases(c) {
		a, err := r1.Render(tc.n)
		if err != nil {
			t.Fatal(err)
		}
		b, err := r2.Render(tc.n)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.Raw, b.Raw) {
			t.Errorf("%s: two renders differ\n%s", tc.name, golden.FirstDiff(a.Raw, b.Raw))
		}
	}
	// Another date changes the Date header and the notice date only.
	r3, err := NewRenderer(c, Options{Date: fixedDate.Add(48 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	n := goldenCases(c)[0].n
	a, _ := r1.Render(n)
	b, _ := r3.Render(n)
	if a.MessageID != b.MessageID {
		t.Errorf("Message-ID changed with the date: %s, %s", a.MessageID, b.MessageID)
	}
	if bytes.Equal(a.Raw, b.Raw) {
		t.Errorf("a different date gave the same message")
	}
}

func TestMessageIDDistinct(t *testing.T) {
	c := loadCase(t)
	seen := map[string]string{}
	for i := 0; i < 10000; i++ {
		id := fmt.Sprint(i)
		m := MessageID(c, id)
		if prev, ok := seen[m]; ok {
			t.Fatalf("users %s and %s share Message-ID %s", prev, id, m)
		}
		seen[m] = id
		if !strings.HasPrefix(m, "<breachctl.web-cache-2017-06.") || !strings.HasSuffix(m, "@example-market.jp>") {
			t.Fatalf("MessageID = %q", m)
		}
	}
}

func TestRecipientRejected(t *testing.T) {
	c := loadCase(t)
	r := newRenderer(t, c)
	good := correlate.Contact{Email: "taro@example.jp", Name: "山田 太郎", Locale: "ja", Country: "JP"}
	tests := []struct {
		name   string
		uid    string
		email  string
		cname  string
		reason string
	}{
		{"CRLF in name", "2001", good.Email, "Taro\r\nBcc: evil@attacker.test", "line break"},
		{"LF in name", "2002", good.Email, "Taro\nX-Evil: 1", "line break"},
		{"CR in email", "2003", "taro@example.jp\rBcc: evil@attacker.test", good.Name, "line break"},
		{"LF in email", "2004", "taro@example.jp\nBcc: evil@attacker.test", good.Name, "line break"},
		{"NUL in email", "2005", "taro@exa\x00mple.jp", good.Name, "NUL"},
		{"NUL in name", "2006", good.Email, "Ta\x00ro", "NUL"},
		{"escape in name", "2007", good.Email, "Taro\x1b[31m", "control character"},
		{"bidi override in name", "2008", good.Email, "Taro\u202egpj.exe", "bidirectional"},
		{"not an address", "2009", "taro-at-example.jp", good.Name, "not a valid address"},
		{"two addresses", "2010", "taro@example.jp, evil@attacker.test", good.Name, "not a valid address"},
		{"display name in email", "2011", "Evil <taro@example.jp>", good.Name, "not a bare address"},
		{"no email", "2012", "", good.Name, "no email address"},
		{"non-ASCII address", "2013", "太郎@example.jp", good.Name, "not ASCII"},
		{"domain without dot", "2014", "taro@localhost", good.Name, "not a valid address"},
		{"invalid UTF-8 name", "2015", good.Email, "Taro\xff", "UTF-8"},
		// A slash or a dot first is no reason (issue 21, item 8: see
		// TestOutboxAnyUserID); a control character still is.
		{"user id with an escape", "20\x1b[16", good.Email, good.Name, "control character"},
		{"user id with a line break", "2017\nX-Bcc: 1", good.Email, good.Name, "control character"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ct := good
			ct.Email, ct.Name = tc.email, tc.cname
			n := notice(c, tc.uid, map[string]string{"name": "confirmed"}, 1, 1, ct)
			m, err := r.Render(n)
			var re *RecipientError
			if !errors.As(err, &re) {
				t.Fatalf("Render = %v, %v; want a *RecipientError", m, err)
			}
			if re.UserID != tc.uid || !strings.Contains(re.Reason, tc.reason) {
				t.Errorf("RecipientError = %+v, want user %s and a reason with %q", re, tc.uid, tc.reason)
			}
			msg := err.Error()
			for _, leak := range []string{"evil", "attacker", "taro", "Taro", "太郎", "example.jp"} {
				if strings.Contains(msg, leak) {
					t.Errorf("error %q repeats the address or name (%q)", msg, leak)
				}
			}
		})
	}
	// Leading and trailing spaces around an address are tolerated.
	ct := good
	ct.Email = " taro@example.jp "
	m, err := r.Render(notice(c, "2100", map[string]string{"name": "confirmed"}, 1, 1, ct))
	if err != nil || m.To != "taro@example.jp" {
		t.Errorf("Render(spaced address) = %v, %v; want To taro@example.jp", m, err)
	}
}

func TestLocaleAndJurisdiction(t *testing.T) {
	c := loadCase(t)
	r := newRenderer(t, c)
	tests := []struct {
		locale, country, region string
		cats                    map[string]string
		wantLocale              string
		wantJur                 []string
	}{
		{"ja", "JP", "JP-13", map[string]string{"name": "confirmed"}, "ja", []string{"JP"}},
		{"ja-JP", "jp", "", map[string]string{"name": "possible"}, "ja", []string{"JP"}},
		{"en_US", "US", "US-CA", map[string]string{"name": "possible"}, "en", []string{"US-CA"}},
		{"EN", "", "US-CA", map[string]string{"name": "possible"}, "en", []string{"US-CA"}},
		{"en", "US", "US-TX", map[string]string{"health": "possible"}, "en", []string{"US", "HIPAA"}},
		{"de", "DE", "DE-BE", map[string]string{"email": "confirmed"}, "de", []string{"EU"}},
		{"de-AT", "AT", "", map[string]string{"email": "confirmed"}, "de", []string{"EU"}},
		{"es-MX", "MX", "", map[string]string{"email": "confirmed"}, "es", []string{}},
		{"it-CH", "CH", "", map[string]string{"email": "confirmed"}, "it", []string{}},
		{"nl-BE", "BE", "", map[string]string{"email": "confirmed"}, "nl", []string{"EU"}},
		{"pt-PT", "PT", "", map[string]string{"email": "confirmed"}, "pt", []string{"EU"}},
		{"sv-SE", "SE", "", map[string]string{"email": "confirmed"}, "en", []string{"EU"}},
		{"", "NO", "", map[string]string{"email": "confirmed"}, "en", []string{"EU"}},
		{"ko", "KR", "", map[string]string{"email": "confirmed"}, "ko", []string{"KR"}},
		{"ko-KR", "US", "US-CA", map[string]string{"email": "confirmed"}, "ko", []string{"US-CA"}},
		{"ja", "GB", "", map[string]string{"health": "confirmed"}, "ja", []string{"UK", "HIPAA"}},
		{"pt-BR", "BR", "", map[string]string{"email": "confirmed"}, "pt", []string{"BR"}},
		{"pt_BR", "US", "US-CA", map[string]string{"email": "confirmed"}, "pt", []string{"US-CA"}},
		{"zh-CN", "CN", "", map[string]string{"email": "confirmed"}, "zh-Hans", []string{}},
		{"zh", "US", "US-CA", map[string]string{"email": "confirmed"}, "zh-Hans", []string{"US-CA"}},
		{"zh-TW", "TW", "", map[string]string{"email": "confirmed"}, "zh-Hant", []string{}},
		{"zh-Hant-HK", "HK", "", map[string]string{"email": "confirmed"}, "zh-Hant", []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.locale+"/"+tc.country+"/"+tc.region, func(t *testing.T) {
			n := notice(c, "3001", tc.cats, 1, 1, correlate.Contact{Email: "x@example.com", Locale: tc.locale, Country: tc.country, Region: tc.region})
			m, err := r.Render(n)
			if err != nil {
				t.Fatal(err)
			}
			if m.Locale != tc.wantLocale || !reflect.DeepEqual(m.Jurisdictions, tc.wantJur) {
				t.Errorf("locale, jurisdictions = %s, %q; want %s, %q", m.Locale, m.Jurisdictions, tc.wantLocale, tc.wantJur)
			}
		})
	}
}

// A per-category level overrides the account's: a confirmed person's
// possible category is worded as possible, and a category without a level
// of its own is never called confirmed.
func TestCategoryLevels(t *testing.T) {
	c := loadCase(t)
	r := newRenderer(t, c)
	n := notice(c, "4001", map[string]string{"name": "confirmed", "bank_account": "possible"}, 2, 1,
		correlate.Contact{Email: "x@example.com", Locale: "en", Country: "JP"})
	n.Account.Categories = append(n.Account.Categories, "phone") // no level of its own
	m, err := r.Render(n)
	if err != nil {
		t.Fatal(err)
	}
	text := parseMessage(t, m.Raw).parts["text/plain"]
	confirmedAt := strings.Index(text, "We have confirmed")
	possibleAt := strings.Index(text, "may have been shown to\nother customers")
	if possibleAt < 0 {
		possibleAt = strings.Index(text, "may have been shown")
	}
	for _, tc := range []struct {
		label     string
		confirmed bool
	}{{"Name", true}, {"Bank account details", false}, {"Phone number", false}} {
		at := strings.Index(text, "  - "+tc.label+"\n")
		if at < 0 {
			t.Errorf("no item %q", tc.label)
			continue
		}
		if got := at > confirmedAt && at < possibleAt; got != tc.confirmed {
			t.Errorf("%s listed as confirmed = %v, want %v", tc.label, got, tc.confirmed)
		}
	}

	n.Account.CategoryLevels = json.RawMessage(`{"name":"maybe"}`)
	if _, err := r.Render(n); err == nil || !strings.Contains(err.Error(), "maybe") {
		t.Errorf("bad level: err = %v", err)
	}
	n.Account.Categories, n.Account.CategoryLevels = []string{"shoe_size"}, nil
	if _, err := r.Render(n); err == nil || !strings.Contains(err.Error(), "shoe_size") {
		t.Errorf("unknown category: err = %v", err)
	}
	n.Account.Categories = nil
	var re *RecipientError
	if _, err := r.Render(n); !errors.As(err, &re) {
		t.Errorf("no categories: err = %v, want a RecipientError", err)
	}
}

// Headers stay folded with long names and subjects, and a header can carry
// nothing but what it should.
func TestHeaderFolding(t *testing.T) {
	c := loadCase(t)
	c.Organization.Name = "Example Market Kabushiki Kaisha, the Very Long Trading Name of an Online Marketplace Operator"
	for _, from := range []struct{ header, name string }{
		{`"Example Market Privacy Office, Customer Data Protection and Notification Desk" <privacy@example-market.jp>`, "Example Market Privacy Office, Customer Data Protection and Notification Desk"},
		{`エグザンプルマーケット株式会社 個人情報保護窓口（お客様情報の取扱いに関するお問い合わせ） <privacy@example-market.jp>`, "エグザンプルマーケット株式会社 個人情報保護窓口（お客様情報の取扱いに関するお問い合わせ）"},
	} {
		c.Notify.From = from.header
		testHeaderFolding(t, c, from.name)
	}
}

func testHeaderFolding(t *testing.T, c *incident.Case, fromName string) {
	r := newRenderer(t, c)
	names := []string{
		strings.Repeat("山田", 40),
		"Maximilian Alexander Friedrich von und zu Example-Mustermann-Longname the Third",
		`O'Brien "Danny" \ Smith`,
		"=?UTF-8?B?ZXZpbA==?= not an encoded word",
		strings.Repeat("x", 120),
	}
	for i, name := range names {
		for _, loc := range []string{"ja", "en"} {
			n := notice(c, fmt.Sprint(5000+i), map[string]string{"email": "confirmed"}, 1, 1,
				correlate.Contact{Email: "someone@example.com", Name: name, Locale: loc, Country: "US", Region: "US-CA"})
			m, err := r.Render(n)
			if err != nil {
				t.Fatal(err)
			}
			checkHeaderLines(t, m.Raw)
			p := parseMessage(t, m.Raw)
			to, err := mail.ParseAddress(p.msg.Header.Get("To"))
			if err != nil || to.Name != name || to.Address != "someone@example.com" {
				t.Errorf("To = %+v, %v; want %q <someone@example.com>", to, err, name)
			}
			from, err := mail.ParseAddress(p.msg.Header.Get("From"))
			if err != nil || from.Name != fromName {
				t.Errorf("From = %+v, %v", from, err)
			}
			if !strings.Contains(p.subject, c.Organization.Name) {
				t.Errorf("Subject = %q, want the organization's name", p.subject)
			}
			if len(p.msg.Header) != 9 {
				t.Errorf("headers = %v, want exactly 9", sortedKeys(p.msg.Header))
			}
		}
	}
}

// A UK resident's English notice carries the GDPR form (UK GDPR keeps
// Art. 34): the DPO and contact point, and the right to complain to the
// ICO; an EU resident's names a supervisory authority instead.
func TestUKNotice(t *testing.T) {
	c := loadCase(t)
	r := newRenderer(t, c)
	for _, tc := range []struct{ country, want, not string }{
		{"GB", "Information Commissioner's Office", "in particular in the country where you live"},
		{"DE", "in particular in the country where you live", "Information Commissioner"},
	} {
		m, err := r.Render(notice(c, "5001", map[string]string{"email": "confirmed"}, 1, 1,
			correlate.Contact{Email: "x@example.com", Locale: "en", Country: tc.country}))
		if err != nil {
			t.Fatal(err)
		}
		p := parseMessage(t, m.Raw)
		for _, body := range []string{p.parts["text/plain"], stdhtml.UnescapeString(p.parts["text/html"])} {
			flat := strings.Join(strings.Fields(body), " ")
			if !strings.Contains(flat, tc.want) || strings.Contains(flat, tc.not) || !strings.Contains(flat, "Data Protection Officer and Contact Point") {
				t.Errorf("%s: want %q and the DPO heading, not %q:\n%s", tc.country, tc.want, tc.not, body)
			}
		}
	}
}

func TestChineseScript(t *testing.T) {
	for in, want := range map[string]string{"zh": "zh-Hans", "zh-cn": "zh-Hans", "zh-hans-sg": "zh-Hans", "zh-tw": "zh-Hant",
		"zh-hk": "zh-Hant", "zh-hant": "zh-Hant", "zh-mo": "zh-Hant", "zho": "", "ja": "", "zh-": "zh-Hans"} {
		if got := chineseScript(in); got != want {
			t.Errorf("chineseScript(%q) = %q, want %q", in, got, want)
		}
	}
}
