package letter

import (
	"bytes"
	"errors"
	"fmt"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode"
)

// needTool returns the path of a poppler-utils program. Without it the test
// is skipped, except under CI, where it must be installed.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("%s not installed (apt-get install poppler-utils)", name)
		}
		t.Fatalf("%s not installed under CI (apt-get install poppler-utils): %v", name, err)
	}
	return p
}

func render(t *testing.T, l *Letter) ([]byte, Result) {
	t.Helper()
	var buf bytes.Buffer
	res, err := NewRenderer(testFonts(t)).Render(&buf, l)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	return buf.Bytes(), res
}

// poppler runs a poppler-utils program on the PDF (its path replaces the
// "PDF" argument) and returns what it printed.
func poppler(t *testing.T, pdf []byte, tool string, args ...string) string {
	t.Helper()
	bin := needTool(t, tool)
	path := filepath.Join(t.TempDir(), "letter.pdf")
	if err := os.WriteFile(path, pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	for i, a := range args {
		if a == "PDF" {
			args[i] = path
		}
	}
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", tool, args, err, out)
	}
	return string(out)
}

// pageTexts is the text of each page, as pdftotext extracts it.
func pageTexts(t *testing.T, pdf []byte) []string {
	t.Helper()
	pages := strings.Split(poppler(t, pdf, "pdftotext", "-enc", "UTF-8", "PDF", "-"), "\f")
	return pages[:len(pages)-1] // the text ends with a form feed
}

func normSpace(s string) string { return strings.Join(strings.Fields(s), " ") }

func noSpace(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
}

// containsText tells whether the extracted text holds want: whitespace
// normalised for Latin text, removed altogether for CJK text (pdftotext may
// put spaces between CJK glyphs).
func containsText(got, want string, cjk bool) bool {
	if cjk {
		return strings.Contains(noSpace(got), noSpace(want))
	}
	return strings.Contains(normSpace(got), normSpace(want))
}

type localeCase struct {
	locale string
	cjk    bool
	letter Letter
	body   []string // sentences of the body to find
}

func localeCases() []localeCase {
	return []localeCase{
		{"en", false, Letter{
			Locale: "en", From: []string{"Example Retail Ltd", "1 King Street", "London EC2V 8AU"},
			ReturnLine: "Example Retail Ltd, 1 King Street, London",
			To:         []string{"Ms Jane Doe", "27 Acacia Avenue", "Manchester M1 2AB", "United Kingdom"},
			Date:       "3 March 2025", Ref: "BR-EN-0001",
			Subject: "Important: a data security incident involving your personal information",
			Body: "Dear Ms Doe,\n\nWe are writing to tell you about a data security incident that involved some of your personal information. " +
				"We take the protection of your information very seriously.\n- Be alert to emails that ask for your password.\n\nYours sincerely,",
		}, []string{"We are writing to tell you about a data security incident that involved some of your personal information.", "Be alert to emails that ask for your password.", "Yours sincerely,"}},
		{"de", false, Letter{
			Locale: "de", From: []string{"Beispiel GmbH", "Musterstraße 1", "10115 Berlin"},
			ReturnLine: "Beispiel GmbH · Musterstraße 1 · 10115 Berlin",
			To:         []string{"Herrn Jörg Weiß", "Königsallee 12", "40212 Düsseldorf"},
			Date:       "3. März 2025", Ref: "BR-DE-0002",
			Subject: "Wichtige Information über eine Verletzung des Schutzes Ihrer Daten",
			Body: "Sehr geehrter Herr Weiß,\n\nwir müssen Ihnen mitteilen, dass bei einem Angriff auf unsere Systeme Daten über Sie abgeflossen sind. " +
				"Größe, Äpfel, Übermaß und das Café sind nicht betroffen.\n• Ändern Sie bitte Ihr Passwort.\n\nMit freundlichen Grüßen",
		}, []string{"wir müssen Ihnen mitteilen, dass bei einem Angriff auf unsere Systeme Daten über Sie abgeflossen sind.", "Größe, Äpfel, Übermaß und das Café sind nicht betroffen.", "Ändern Sie bitte Ihr Passwort.", "Mit freundlichen Grüßen"}},
		{"ja", true, Letter{
			Locale: "ja", From: []string{"株式会社サンプル", "〒100-0001", "東京都千代田区千代田1-1"},
			ReturnLine: "株式会社サンプル 東京都千代田区千代田1-1",
			To:         []string{"〒530-0001", "大阪府大阪市北区梅田2-4-9", "山田 花子 様"},
			Date:       "2025年3月3日", Ref: "BR-JA-0003",
			Subject: "個人情報の漏えいに関するお知らせとお詫び",
			Body: "拝啓　平素は格別のご高配を賜り、厚く御礼申し上げます。\n\nこのたび、当社のお客様データベースの一部に対して第三者による不正アクセスが行われ、お客様の個人情報が漏えいした可能性があることが判明いたしました。" +
				"「漢字かなカナ」を含む文章です。\n- 不審なメールにご注意ください。\n\n敬具",
		}, []string{"このたび、当社のお客様データベースの一部に対して第三者による不正アクセスが行われ、お客様の個人情報が漏えいした可能性があることが判明いたしました。", "「漢字かなカナ」を含む文章です。", "不審なメールにご注意ください。", "敬具"}},
		{"ko", true, Letter{
			Locale: "ko", From: []string{"주식회사 샘플", "서울특별시 중구 세종대로 110"},
			ReturnLine: "주식회사 샘플 서울특별시 중구 세종대로 110",
			To:         []string{"홍길동 님", "부산광역시 해운대구 센텀중앙로 79", "48058"},
			Date:       "2025년 3월 3일", Ref: "BR-KO-0004",
			Subject: "개인정보 유출에 관한 안내 및 사과",
			Body: "홍길동 님께,\n\n당사 고객 데이터베이스에 대한 무단 접근으로 인해 고객님의 개인정보가 유출되었을 가능성이 있음을 알려드립니다. " +
				"한국어 본문입니다.\n- 의심스러운 이메일에 주의하십시오.\n\n감사합니다.",
		}, []string{"당사 고객 데이터베이스에 대한 무단 접근으로 인해 고객님의 개인정보가 유출되었을 가능성이 있음을 알려드립니다.", "한국어 본문입니다.", "의심스러운 이메일에 주의하십시오.", "감사합니다."}},
		{"zh-Hans", true, Letter{
			Locale: "zh-Hans", From: []string{"示例有限公司", "北京市朝阳区建国路1号"},
			ReturnLine: "示例有限公司 北京市朝阳区建国路1号",
			To:         []string{"王小明 先生", "上海市浦东新区世纪大道100号", "200120"},
			Date:       "2025年3月3日", Ref: "BR-ZHS-0005",
			Subject: "关于个人信息泄露的通知",
			Body:    "尊敬的王先生：\n\n我们很抱歉地通知您，由于第三方未经授权访问了我们的客户数据库，您的个人信息可能已被泄露。\n- 请警惕可疑的电子邮件和电话。\n\n此致敬礼",
		}, []string{"我们很抱歉地通知您，由于第三方未经授权访问了我们的客户数据库，您的个人信息可能已被泄露。", "请警惕可疑的电子邮件和电话。", "此致敬礼"}},
		{"zh-Hant", true, Letter{
			Locale: "zh-Hant", From: []string{"範例有限公司", "臺北市信義區市府路1號"},
			ReturnLine: "範例有限公司 臺北市信義區市府路1號",
			To:         []string{"陳大文 先生", "臺北市中正區重慶南路一段122號", "100"},
			Date:       "2025年3月3日", Ref: "BR-ZHT-0006",
			Subject: "關於個人資料外洩的通知",
			Body:    "親愛的陳先生：\n\n我們很抱歉地通知您，由於第三方未經授權存取了我們的客戶資料庫，您的個人資料可能已經外洩。\n- 請留意可疑的電子郵件與電話。\n\n敬祝安康",
		}, []string{"我們很抱歉地通知您，由於第三方未經授權存取了我們的客戶資料庫，您的個人資料可能已經外洩。", "請留意可疑的電子郵件與電話。", "敬祝安康"}},
	}
}

func TestRenderText(t *testing.T) {
	for _, tc := range localeCases() {
		for _, paper := range []Paper{A4, USLetter} {
			t.Run(tc.locale+"/"+paper.String(), func(t *testing.T) {
				l := tc.letter
				l.Paper = paper
				pdf, res := render(t, &l)
				if res.Pages != 1 || res.Missing != 0 {
					t.Errorf("Result = %+v, want 1 page, nothing missing", res)
				}
				pages := pageTexts(t, pdf)
				if len(pages) != 1 {
					t.Fatalf("pdftotext found %d pages, want 1", len(pages))
				}
				text := pages[0]
				want := append([]string{l.Subject, l.Date, "Ref: " + l.Ref, l.Ref + " · page 1 / 1", l.ReturnLine}, l.To...)
				want = append(want, l.From...)
				want = append(want, tc.body...)
				for _, w := range want {
					if !containsText(text, w, tc.cjk) {
						t.Errorf("pdftotext output lacks %q; got:\n%s", w, text)
					}
				}
			})
		}
	}
}

// word is a word pdftotext -bbox found, in points from the top left.
type word struct {
	text                   string
	xMin, yMin, xMax, yMax float64
}

var (
	pageRE = regexp.MustCompile(`<page width="([0-9.]+)" height="([0-9.]+)">`)
	wordRE = regexp.MustCompile(`<word xMin="([0-9.]+)" yMin="([0-9.]+)" xMax="([0-9.]+)" yMax="([0-9.]+)">([^<]*)</word>`)
)

// firstPageWords returns the words of page 1 and the page size.
func firstPageWords(t *testing.T, pdf []byte) (words []word, w, h float64) {
	t.Helper()
	out := poppler(t, pdf, "pdftotext", "-bbox", "-f", "1", "-l", "1", "PDF", "-")
	m := pageRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("pdftotext -bbox: no page in\n%s", out)
	}
	w, _ = strconv.ParseFloat(m[1], 64)
	h, _ = strconv.ParseFloat(m[2], 64)
	for _, m := range wordRE.FindAllStringSubmatch(out, -1) {
		var f [4]float64
		for i := range f {
			f[i], _ = strconv.ParseFloat(m[i+1], 64)
		}
		words = append(words, word{html.UnescapeString(m[5]), f[0], f[1], f[2], f[3]})
	}
	return words, w, h
}

func TestAddressInWindow(t *testing.T) {
	// The windows, in points from the page's top left corner: DIN 5008
	// form B on A4; a 4.5 × 1.125 in #10 window on US Letter.
	windows := map[Paper]rect{
		A4:       {20 * 72 / 25.4, 45 * 72 / 25.4, 85 * 72 / 25.4, 45 * 72 / 25.4},
		USLetter: {0.875 * 72, 2.042 * 72, 4.5 * 72, 1.125 * 72},
	}
	sizes := map[Paper][2]float64{A4: {595.28, 841.89}, USLetter: {612, 792}}
	long := strings.Repeat("Zeta words beyond the window keep flowing across the page, line after line. ", 12)
	letters := map[string]Letter{
		"en": localeCases()[0].letter,
		"de": localeCases()[1].letter,
		"ja": localeCases()[2].letter,
		"nine lines": {
			Locale: "en", From: []string{"Sender Org"}, ReturnLine: "Sender Org, PO Box 1, Town",
			To:   []string{"Alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot", "Golf", "Hotel", "India"},
			Date: "1 May 2025", Ref: "R-9", Subject: "Subject words", Body: long,
		},
		"no return line": {
			Locale: "en", From: []string{"Sender Org"},
			To:   []string{"Kilo Lima", "Mike November Street 4", "Oscar Papa 12345"},
			Date: "1 May 2025", Ref: "R-10", Subject: "Subject words", Body: long,
		},
	}
	for name, base := range letters {
		for paper, win := range windows {
			t.Run(name+"/"+paper.String(), func(t *testing.T) {
				l := base
				l.Paper = paper
				pdf, _ := render(t, &l)
				words, w, h := firstPageWords(t, pdf)
				if want := sizes[paper]; abs(w-want[0]) > 1 || abs(h-want[1]) > 1 {
					t.Errorf("page is %.1f × %.1f pt, want %.1f × %.1f", w, h, want[0], want[1])
				}
				inWindow := strings.Join(append([]string{l.ReturnLine}, l.To...), " ")
				others := strings.Join(append([]string{l.Body, l.Subject, l.Date, l.Ref, "page ·"}, l.From...), " ")
				const tol = 0.5
				covered := map[rune]bool{}
				for _, wd := range words {
					s := noSpace(wd.text)
					switch {
					case strings.Contains(noSpace(inWindow), s) && !strings.Contains(noSpace(others), s):
						if wd.xMin < win.x-tol || wd.yMin < win.y-tol || wd.xMax > win.x+win.w+tol || wd.yMax > win.y+win.h+tol {
							t.Errorf("address word %q at (%.1f,%.1f)-(%.1f,%.1f) is outside the window %+v", wd.text, wd.xMin, wd.yMin, wd.xMax, wd.yMax, win)
						}
						for _, r := range s {
							covered[r] = true
						}
					case strings.Contains(noSpace(l.Body+l.Subject), s) && !strings.Contains(noSpace(inWindow), s):
						if wd.xMax > win.x && wd.xMin < win.x+win.w && wd.yMax > win.y && wd.yMin < win.y+win.h {
							t.Errorf("body word %q at (%.1f,%.1f)-(%.1f,%.1f) shows in the window %+v", wd.text, wd.xMin, wd.yMin, wd.xMax, wd.yMax, win)
						}
					}
				}
				for _, r := range noSpace(strings.Join(l.To, "")) {
					if !covered[r] && !strings.ContainsRune(noSpace(others), r) {
						t.Errorf("recipient character %q not found in the window", r)
					}
				}
			})
		}
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// bodyOfLines is a body of n numbered paragraphs of about one line each.
func bodyOfLines(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "Paragraph %d says what happened and what you can do about it now.\n", i+1)
	}
	return b.String()
}

func TestMultiPage(t *testing.T) {
	for _, paper := range []Paper{A4, USLetter} {
		t.Run(paper.String(), func(t *testing.T) {
			l := localeCases()[0].letter
			l.Paper = paper
			l.Body = bodyOfLines(120)
			pdf, res := render(t, &l)
			if res.Pages < 3 {
				t.Fatalf("Pages = %d, want at least 3 for 120 lines", res.Pages)
			}
			pages := pageTexts(t, pdf)
			if len(pages) != res.Pages {
				t.Fatalf("pdftotext found %d pages, Result says %d", len(pages), res.Pages)
			}
			all := normSpace(strings.Join(pages, " "))
			for i := range 120 {
				if p := fmt.Sprintf("Paragraph %d says", i+1); !strings.Contains(all, p) {
					t.Errorf("%q missing", p)
				}
			}
			for i, text := range pages {
				footer := fmt.Sprintf("%s · page %d / %d", l.Ref, i+1, res.Pages)
				if !containsText(text, footer, false) {
					t.Errorf("page %d lacks the footer %q", i+1, footer)
				}
				if hasAddress := containsText(text, l.To[0], false); hasAddress != (i == 0) {
					t.Errorf("page %d: recipient printed %v, want %v", i+1, hasAddress, i == 0)
				}
			}
		})
	}
}

func TestRenderBatch(t *testing.T) {
	r := NewRenderer(testFonts(t))
	var ls []*Letter
	for i, lines := range []int{5, 60, 120} {
		l := localeCases()[0].letter
		l.Paper = []Paper{A4, USLetter, A4}[i]
		l.Ref = fmt.Sprintf("BATCH-%d", i+1)
		l.To = []string{fmt.Sprintf("Recipient Number%d", i+1), "Street 1", "Town"}
		l.Body = bodyOfLines(lines)
		var buf bytes.Buffer
		res, err := r.Render(&buf, &l)
		if err != nil {
			t.Fatal(err)
		}
		if res.Pages != i+1 {
			t.Fatalf("letter %d alone has %d pages, want %d", i+1, res.Pages, i+1)
		}
		ls = append(ls, &l)
	}
	var buf bytes.Buffer
	res, err := r.RenderBatch(&buf, ls)
	if err != nil {
		t.Fatal(err)
	}
	if res.Pages != 2+2+4 {
		t.Errorf("Result.Pages = %d, want 8", res.Pages)
	}
	pages := pageTexts(t, buf.Bytes())
	if len(pages) != 8 {
		t.Fatalf("pdftotext found %d pages, want 8", len(pages))
	}
	first := map[int]int{0: 1, 2: 2, 4: 3} // page index -> letter
	for i, text := range pages {
		for n := 1; n <= 3; n++ {
			has := containsText(text, fmt.Sprintf("Recipient Number%d", n), false)
			if want := first[i] == n; has != want {
				t.Errorf("page %d: recipient %d printed %v, want %v", i+1, n, has, want)
			}
		}
		if blank := i == 1 || i == 7; blank != (strings.TrimSpace(text) == "") {
			t.Errorf("page %d: blank %v, want %v; text %q", i+1, !blank, blank, text)
		}
	}
	if !containsText(pages[6], "BATCH-3 · page 3 / 3", false) {
		t.Errorf("page 7: want the third letter's own footer, got %q", pages[6])
	}
	// The mailing house's pages alternate A4 and US Letter sizes as the letters do.
	info := poppler(t, buf.Bytes(), "pdfinfo", "-f", "1", "-l", "8", "PDF")
	for _, want := range []string{"Page    1 size:  595.28 x 841.89", "Page    3 size:  612 x 792", "Page    4 size:  612 x 792", "Page    5 size:  595.28 x 841.89"} {
		if !strings.Contains(info, want) {
			t.Errorf("pdfinfo lacks %q:\n%s", want, info)
		}
	}
}

func TestDeterministic(t *testing.T) {
	r := NewRenderer(testFonts(t))
	cases := localeCases()
	batch := []*Letter{&cases[0].letter, &cases[2].letter, &cases[3].letter}
	renders := map[string]func() ([]byte, error){
		"en": func() ([]byte, error) {
			var b bytes.Buffer
			_, err := r.Render(&b, &cases[0].letter)
			return b.Bytes(), err
		},
		"ja": func() ([]byte, error) {
			var b bytes.Buffer
			_, err := r.Render(&b, &cases[2].letter)
			return b.Bytes(), err
		},
		"batch": func() ([]byte, error) {
			var b bytes.Buffer
			_, err := r.RenderBatch(&b, batch)
			return b.Bytes(), err
		},
	}
	for name, fn := range renders {
		t.Run(name, func(t *testing.T) {
			first, err := fn()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(first, []byte("D:20000101000000")) {
				t.Error("creation date is not the fixed one")
			}
			// Again, several at once on the shared Renderer.
			var wg sync.WaitGroup
			outs := make([][]byte, 4)
			errs := make([]error, 4)
			for i := range outs {
				wg.Go(func() { outs[i], errs[i] = fn() })
			}
			wg.Wait()
			for i, out := range outs {
				if errs[i] != nil {
					t.Fatal(errs[i])
				}
				if !bytes.Equal(out, first) {
					t.Errorf("render %d differs from the first (%d vs %d bytes)", i+2, len(out), len(first))
				}
			}
		})
	}
}

func TestFontsEmbedded(t *testing.T) {
	cases := localeCases()
	l := cases[2].letter // Japanese, with Latin text too
	l.Body += "\n홍길동 Ωж"
	pdf, _ := render(t, &l)
	if n := bytes.Count(pdf, []byte("/FontFile2")); n < 3 {
		t.Errorf("%d /FontFile2 entries, want one per font (at least 3)", n)
	}
	out := poppler(t, pdf, "pdffonts", "PDF")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 2+3 {
		t.Fatalf("pdffonts lists fewer than 3 fonts:\n%s", out)
	}
	for _, line := range lines[2:] {
		f := strings.Fields(line)
		if len(f) < 6 || f[len(f)-5] != "yes" {
			t.Errorf("font not embedded: %q", line)
		}
	}
	// Subsets: the 4 MB CJK font must not be embedded whole.
	if len(pdf) > 200_000 {
		t.Errorf("PDF is %d bytes: fonts embedded whole?", len(pdf))
	}

	// A Latin-only letter carries DejaVu alone.
	en, _ := render(t, &cases[0].letter)
	out = poppler(t, en, "pdffonts", "PDF")
	if strings.Contains(out, "droidsans") || strings.Contains(out, "nanumgothic") || !strings.Contains(out, "dejavusans") {
		t.Errorf("Latin-only letter, pdffonts:\n%s", out)
	}
}

func TestMissingGlyph(t *testing.T) {
	tests := []struct {
		name, text string
		missing    int
	}{
		{"emoji", "Thank you 😀 for reading.", 1},
		{"unassigned and emoji", "Unassigned \u0378 and 🦀 here.", 2},
		{"control character", "Bell \u0007 rings.", 1},
		{"none", "Nothing unusual here.", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := localeCases()[0].letter
			l.Body = tc.text
			pdf, res := render(t, &l)
			if res.Missing != tc.missing {
				t.Errorf("Missing = %d, want %d", res.Missing, tc.missing)
			}
			text := pageTexts(t, pdf)[0]
			if got := strings.Count(text, "\uFFFD"); got != tc.missing {
				t.Errorf("%d U+FFFD in the text, want %d", got, tc.missing)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	r := NewRenderer(testFonts(t))
	secret := []string{"Secret Person", "Hidden Street Five", "Private Town"}
	tests := []struct {
		name   string
		modify func(l *Letter)
		want   error
	}{
		{"ten recipient lines", func(l *Letter) {
			l.To = append(secret, "a", "b", "c", "d", "e", "f", "g")
		}, ErrTooManyLines},
		{"no recipient", func(l *Letter) { l.To = nil }, ErrNoRecipient},
		{"blank recipient", func(l *Letter) { l.To = []string{"", "  "} }, ErrNoRecipient},
		{"recipient line too wide", func(l *Letter) {
			l.To = append(secret, strings.Repeat("Secretlongname", 30))
		}, ErrDoesNotFit},
		{"unknown paper", func(l *Letter) { l.Paper = Paper(7) }, ErrUnknownPaper},
		{"sender block too tall", func(l *Letter) {
			l.From = strings.Split(strings.Repeat("Sender line\n", 30), "\n")
		}, ErrDoesNotFit},
		{"return line too long", func(l *Letter) {
			l.ReturnLine = strings.Repeat("Return address, ", 20)
		}, ErrDoesNotFit},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := localeCases()[0].letter
			l.To = secret
			l.Ref = "REF-ERR-42"
			tc.modify(&l)
			var buf bytes.Buffer
			_, err := r.Render(&buf, &l)
			checkLetterError(t, err, tc.want, l.Ref, secret)
			if buf.Len() != 0 {
				t.Errorf("%d bytes written on error", buf.Len())
			}

			// In a batch, the error also says which letter.
			ok := localeCases()[1].letter
			_, err = r.RenderBatch(&buf, []*Letter{&ok, &l})
			checkLetterError(t, err, tc.want, l.Ref, secret)
			if err != nil && !strings.Contains(err.Error(), "batch letter 2") {
				t.Errorf("batch error %q does not say which letter", err)
			}
		})
	}
	t.Run("nil letter", func(t *testing.T) {
		if _, err := r.Render(&bytes.Buffer{}, nil); err == nil {
			t.Error("no error")
		}
	})
	t.Run("empty batch", func(t *testing.T) {
		if _, err := r.RenderBatch(&bytes.Buffer{}, nil); err == nil {
			t.Error("no error")
		}
	})
}

func checkLetterError(t *testing.T, err, want error, ref string, secret []string) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error %v, want %v", err, want)
	}
	var le *Error
	if !errors.As(err, &le) || le.Ref != ref {
		t.Errorf("error %v: want an *Error with Ref %q", err, ref)
	}
	msg := err.Error()
	if !strings.Contains(msg, ref) {
		t.Errorf("error %q does not name the Ref", msg)
	}
	for _, s := range secret {
		for _, w := range strings.Fields(s) {
			if strings.Contains(msg, w) {
				t.Errorf("error %q contains personal data %q", msg, w)
			}
		}
	}
}

func TestParsePaper(t *testing.T) {
	tests := []struct {
		in      string
		want    Paper
		wantErr bool
	}{
		{"a4", A4, false},
		{"A4", A4, false},
		{"letter", USLetter, false},
		{" Letter ", USLetter, false},
		{"legal", 0, true},
		{"", 0, true},
	}
	for _, tc := range tests {
		got, err := ParsePaper(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("ParsePaper(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
		if err == nil && got.String() != strings.ToLower(strings.TrimSpace(tc.in)) {
			t.Errorf("%v.String() = %q, want %q", got, got.String(), strings.ToLower(strings.TrimSpace(tc.in)))
		}
	}
}
