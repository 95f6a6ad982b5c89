package letter

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// Realistic one-page notices: about 2,500 characters of English and 1,200
// of Japanese in all (sender, recipient, subject and body).
var (
	benchEN = &Letter{
		Paper:      A4,
		Locale:     "en",
		From:       []string{"Example Retail Ltd", "Data Protection Office", "1 King Street", "London EC2V 8AU", "United Kingdom"},
		ReturnLine: "Example Retail Ltd · 1 King Street · London EC2V 8AU",
		To:         []string{"Ms Jane Doe", "Flat 4", "27 Acacia Avenue", "Manchester M1 2AB", "United Kingdom"},
		Date:       "3 March 2025",
		Ref:        "BR-2025-000123",
		Subject:    "Important: a data security incident involving your personal information",
		Body: strings.Join([]string{
			"Dear Ms Doe,",
			"",
			"We are writing to tell you about a data security incident that involved some of your personal information. We take the protection of your information very seriously, and we are sorry that this happened.",
			"",
			"What happened: on 14 February 2025 we discovered that an unauthorised party had gained access to one of our customer databases between 2 and 13 February 2025. We stopped the access the same day, engaged independent forensic specialists and informed the Information Commissioner's Office.",
			"",
			"What information was involved: your name, postal address, email address, telephone number and order history. Your payment card details and passwords were not stored in this database and were not affected.",
			"",
			"What we are doing: we have reset all access credentials for the affected systems, added continuous monitoring of access to customer data, and commissioned an independent review of our security controls. We are cooperating fully with the Information Commissioner's Office and with the police, and we will write to you again if we learn anything that changes what this letter says.",
			"",
			"Why this matters to you: information such as your name, address and order history can be used to make fraudulent messages look genuine. Criminals sometimes contact people after an incident like this one, pretending to be us or a bank, and ask for payment details.",
			"",
			"What you can do:",
			"- Be alert to emails, calls or letters that mention your orders with us and ask for personal or financial details; we will never ask for your password.",
			"- Consider placing a free fraud alert with the credit reference agencies.",
			"- Contact us if you notice anything unusual.",
			"",
			"We have also arranged twelve months of free identity monitoring for you. To activate it, visit the address printed on the enclosed sheet and enter the activation code shown there before 30 June 2025.",
			"",
			"If you have any questions, please call our dedicated helpline on 0800 123 4567, Monday to Friday, 9 am to 5 pm, quoting the reference above.",
			"",
			"Yours sincerely,",
			"",
			"Alex Smith, Data Protection Officer",
		}, "\n"),
	}
	benchJA = &Letter{
		Paper:      A4,
		Locale:     "ja",
		From:       []string{"株式会社サンプル", "個人情報保護室", "〒100-0001", "東京都千代田区千代田1-1"},
		ReturnLine: "株式会社サンプル 〒100-0001 東京都千代田区千代田1-1",
		To:         []string{"〒530-0001", "大阪府大阪市北区梅田2-4-9", "山田 花子 様"},
		Date:       "2025年3月3日",
		Ref:        "BR-2025-000124",
		Subject:    "お客様の個人情報の漏えいに関するお知らせとお詫び",
		Body: strings.Join([]string{
			"拝啓　平素は格別のご高配を賜り、厚く御礼申し上げます。",
			"",
			"このたび、当社のお客様データベースの一部に対して第三者による不正アクセスが行われ、お客様の個人情報が漏えいした可能性があることが判明いたしました。お客様には多大なるご迷惑とご心配をおかけしますことを、心より深くお詫び申し上げます。",
			"",
			"１．経緯　2025年2月14日、当社システムの監視において不審な通信を検知し、調査を開始いたしました。外部の専門機関による調査の結果、2月2日から2月13日までの間、第三者がお客様情報を保管するデータベースにアクセスしていたことが確認されました。当社は同日中に不正アクセスを遮断し、個人情報保護委員会へ報告いたしました。",
			"",
			"２．漏えいした可能性のある情報　氏名、住所、電話番号、メールアドレス、ご購入履歴。なお、クレジットカード情報およびパスワードは当該データベースに保存されておらず、今回の事案による影響はございません。",
			"",
			"３．お客様へのお願い　当社を装った不審なメールや電話にご注意ください。当社からパスワードをお尋ねすることは一切ございません。「不審な連絡」を受けられた場合は、下記の窓口までご連絡ください。また、身に覚えのない請求や郵便物が届いた場合も、速やかにご連絡くださいますようお願い申し上げます。",
			"- 不審なメールに記載されたリンクは開かないでください。",
			"- 電話でカード番号や暗証番号をお伝えにならないでください。",
			"- ご利用明細をご確認いただき、心当たりのないお取引がないかご確認ください。",
			"",
			"４．当社の対応　全ての認証情報の再設定、監視体制の強化を実施いたしました。さらに、外部の専門家による第三者委員会を設置し、セキュリティ対策全般の見直しを進めております。調査の結果、新たな事実が判明した場合には、改めてお知らせいたします。",
			"",
			"５．再発防止策　今回の事態を厳粛に受け止め、アクセス権限の管理の厳格化、通信の常時監視、従業員教育の徹底など、再発防止に全力で取り組んでまいります。お客様の大切な個人情報をお預かりする企業としての責任を改めて自覚し、信頼の回復に努めてまいります。",
			"",
			"本件に関するお問い合わせは、専用窓口（フリーダイヤル0120-123-456、平日9時から17時）までお願いいたします。お問い合わせの際は、上記の番号をお伝えください。お客様にはご不便とご心配をおかけしますことを、重ねてお詫び申し上げます。",
			"",
			"敬具",
		}, "\n"),
	}
)

func BenchmarkRenderEN(b *testing.B) { benchRender(b, benchEN) }
func BenchmarkRenderJA(b *testing.B) { benchRender(b, benchJA) }

// benchRender renders the letter on all cores at once (b.RunParallel) and
// reports letters per second.
func benchRender(b *testing.B, l *Letter) {
	r := NewRenderer(testFonts(b))
	res, err := r.Render(io.Discard, l)
	if err != nil {
		b.Fatal(err)
	}
	if res.Pages != 1 || res.Missing != 0 {
		b.Fatalf("benchmark letter: %+v, want 1 page and nothing missing", res)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var buf bytes.Buffer
		for pb.Next() {
			buf.Reset()
			if _, err := r.Render(&buf, l); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "letters/s")
}
