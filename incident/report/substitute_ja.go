package report

import (
	"fmt"
	"strings"

	"github.com/breachctl/breachctl/incident"
	"github.com/breachctl/breachctl/internal/textsafe"
)

// substituteItemsJA are the sections of the Japanese public notice, with
// the English one's ids.
var substituteItemsJA = []struct{ ID, Title string }{
	{"what_happened", "発生した事案の概要"},
	{"what_information", "対象となった情報"},
	{"how_many", "対象となったお客様の人数"},
	{"what_we_are_doing", "当社の対応"},
	{"what_you_can_do", "お客様にお願いしたいこと"},
	{"more_information", "ご自身が対象かどうかの確認とお問い合わせ先"},
	{"posting_period", "本お知らせの掲載期間"},
	{"press_release", "報道発表文"},
}

// jaAdvice is what a person can do, per category, in Japanese (the
// notices' advice, shortened for a public page).
var jaAdvice = map[string]string{
	"name":             "お名前を名乗って連絡してくる相手であっても、それだけで当社や正規の事業者からの連絡とは判断なさらないようご注意ください。",
	"email":            "当社や他社を装ったフィッシングメールにご注意ください。当社がメールでパスワードやカード番号をお尋ねすることはございません。",
	"phone":            "当社を名乗るものも含め、心当たりのない電話やSMSにご注意ください。パスワード、認証コード、カード番号などを電話でお伝えにならないでください。",
	"postal_address":   "身に覚えのない郵便物や荷物（特に代金引換の荷物）、不審な訪問や電話にご注意ください。",
	"date_of_birth":    "生年月日を暗証番号、パスワード、秘密の質問の答えなどにお使いの場合は、変更をお勧めいたします。",
	"bank_account":     "金融機関の入出金明細をご確認いただき、身に覚えのない振込や引き落としがございましたら、速やかに金融機関へご連絡ください。",
	"payment_card":     "カードのご利用明細をご確認いただき、身に覚えのない請求がございましたら、カード発行会社の窓口へご連絡ください。",
	"purchase_history": "過去のご注文内容に触れて本物らしく装った、偽の配送通知や返金のご案内にご注意ください。",
	"account_balance":  "アカウントの残高やご利用履歴をご確認いただき、不審な点がございましたら当社までご連絡ください。",
	"government_id":    "身に覚えのない契約、請求、ローンのお申込みなどがないかご注意ください。信用情報機関の本人申告制度のご利用もご検討ください。",
	"credentials":      "当社サービスのパスワードを速やかに変更してください。同じパスワードを他のサービスでもお使いの場合は、そちらも変更をお願いいたします。",
	"health":           "保険者や医療機関から届く医療費のお知らせなどをご確認いただき、受けた覚えのない診療等の記載がございましたら、各保険者・医療機関へご連絡ください。",
}

// buildSubstituteJA fills the public substitute notice in Japanese, for a
// case whose people read Japanese (the 2017 case wrote to its customers in
// Japanese): the same sections and facts as buildSubstitute, with the
// case's Japanese narrative (notify.narrative.ja). Like it, it holds no
// personal data.
func buildSubstituteJA(r *Report, in Input) {
	const lang = "ja"
	c, loc := in.Case, r.loc
	org := c.Organization
	nar := c.NarrativeFor(lang)
	all := tallyOf(in.Affected, nil)
	health := checkHIPAA(in).Health
	r.Evidence = []EvidenceFile{} // internal files are not the public's business

	name := org.Name
	if name == "" {
		name = "当社"
	}
	r.Title = "個人情報の漏えいに関するお知らせとお詫び"
	if org.Name != "" {
		r.Title = org.Name + "：" + r.Title
	}
	until := r.GeneratedAt.AddDate(0, 0, substituteDays)
	r.Meta = []Field{
		{"事業者", orUnknown(lang, org.Name)},
		{"掲載日", day(lang, r.GeneratedAt, loc)},
		{"作成元", fmt.Sprintf("事案 %s（実行 %d）", c.ID, r.Run)},
		{"個人データ", "含まない（人数、情報の種類、日時、当社の連絡先のみ）"},
	}
	if r.Revision != nil {
		r.Meta = append(r.Meta, Field{"更新", r.PreviousText() + "を置き換えるものです" +
			fmt.Sprintf("（人数は実行 %d による）", r.Run)})
	}
	r.Notes = append(r.Notes, "代替的な公表（ホームページへの掲載と報道発表）は、通知の届かない方のためのものです。各法令の要件（個人情報保護法では本人への通知が困難な場合の公表、HIPAAでは連絡先の古い方が10人以上の場合など）を確認してください。")
	r.Notes = append(r.Notes, fmt.Sprintf("掲載期間は少なくとも%d日間としています（HIPAA, 45 CFR 164.404(d)(2)）。各国・各州の法令の期間と条件は個別に確認してください。", substituteDays))
	if in.Delivery.Total > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("送信台帳：%s件中、失敗 %s件、未送信 %s件、配信不明 %s件。",
			num(in.Delivery.Total), num(in.Delivery.Failed), num(in.Delivery.Pending), num(in.Delivery.Uncertain)))
	}
	if c.NarrativeBorrowed(lang) {
		r.Notes = append(r.Notes, "事案ファイルに日本語の記述（notify.narrative.ja）がない部分は原文（英語）のまま引用しています。掲載前に日本語に訳してください。")
	}
	if health.People > 0 {
		r.Notes = append(r.Notes, "健康情報が含まれるため、HIPAAでは少なくとも90日間有効なフリーダイヤルの掲載が求められます。事案ファイルにはフリーダイヤルの記録がありません（organization.contact_phone を表示しています）。掲載前に追加してください。")
	}

	item := func(i int, content string, known bool) {
		r.addItem(substituteItemsJA[i].ID, substituteItemsJA[i].Title, content, known, unknown(lang)+"。")
	}

	dates := strings.Join([]string{
		"- 発生期間：" + span(lang, c.Start, c.End, loc),
		"- 当社が把握した日時：" + stamp(lang, c.Aware, loc),
		"- 対応を完了した日時：" + stamp(lang, c.Contain, loc),
	}, "\n")
	happened := dates
	if nar.Cause != "" {
		happened = nar.Cause + "\n\n" + dates
	}
	item(0, happened, nar.Cause != "")

	cats := sortedCategories(all.ByCategory)
	var lines []string
	for _, cat := range cats {
		n, conf := all.ByCategory[cat], all.ConfirmedByCategory[cat]
		lines = append(lines, fmt.Sprintf("- %s：%s（漏えいを確認 %s、漏えいのおそれ %s）", categoryLabel(lang, cat), people(lang, n), people(lang, conf), people(lang, n-conf)))
	}
	info := strings.Join(lines, "\n")
	if len(lines) > 0 {
		info = "対象となったのは、お客様ごとに当社がお預かりしていた情報のみです。\n\n" + info +
			"\n\n「漏えいを確認」は他の方に表示されたことが当社の記録で確認できたもの、「漏えいのおそれ」は表示された可能性があるものです。"
		if nar.Consequences != "" {
			info += "\n\n" + nar.Consequences
		}
	}
	item(1, info, len(lines) > 0)

	countries := affectedByCountry(in, "不明")
	howMany := "合計：" + levelSplit(lang, all.People, all.Confirmed, all.Possible) + "。"
	if len(countries) > 0 {
		var parts []string
		for _, kc := range sortedCounts(countries) {
			parts = append(parts, "- "+textsafe.MD(kc.Key)+"："+people(lang, kc.Count)) // from user records
		}
		howMany += "\n\n国・地域別：\n\n" + strings.Join(parts, "\n")
	}
	item(2, howMany, true)

	item(3, nar.Measures, nar.Measures != "")

	advice := adviceLines(cats, func(c incident.Category) string { return jaAdvice[string(c)] })
	item(4, strings.Join(advice, "\n"), len(advice) > 0)

	more := []string{
		"対象となった方のうち、ご連絡先の分かる方には個別にお知らせしております。ご自身が対象かどうか分からない方、当社からのお知らせが届いていない方は、" + name + "までお問い合わせください。お調べしてお答えいたします。当社がパスワードをお尋ねすることはございません。",
		"",
	}
	contacts := 0
	for _, kv := range [][2]string{{"メール", org.ContactEmail}, {"電話", org.ContactPhone}, {"ウェブサイト", org.Website}, {"郵送", org.Address}} {
		if kv[1] != "" {
			more = append(more, "- "+kv[0]+"："+kv[1])
			contacts++
		}
	}
	if health.People > 0 {
		more = append(more, "", fmt.Sprintf("健康情報が含まれるため、少なくとも%d日間ご利用いただけるフリーダイヤルを設けております。", substituteDays))
	}
	item(5, strings.Join(more, "\n"), contacts > 0)

	item(6, fmt.Sprintf("本お知らせは、少なくとも%d日間（%sまで）当社ウェブサイトに掲載いたします。", substituteDays, day(lang, until, loc)), !r.GeneratedAt.IsZero())

	press := []string{fmt.Sprintf("%s、%sは、%sの個人情報が漏えいした、またはそのおそれがある事案が発生したことを公表しました。",
		day(lang, r.GeneratedAt, loc), name, people(lang, all.People))}
	what := fmt.Sprintf("事案は%sから%sまでの間に発生しました。", stamp(lang, c.Start, loc), stamp(lang, c.End, loc))
	if nar.Cause != "" {
		what += nar.Cause
	}
	what += fmt.Sprintf("%sは%sに事案を把握し、%sに対応を完了しました。", name, stamp(lang, c.Aware, loc), stamp(lang, c.Contain, loc))
	press = append(press, what)
	if len(cats) > 0 {
		press = append(press, fmt.Sprintf("対象となった情報：%s。対象となった方は合計%s（漏えいを確認 %s、漏えいのおそれ %s）です。",
			joinCats(lang, cats, all.ByCategory), people(lang, all.People), people(lang, all.Confirmed), people(lang, all.Possible)))
	}
	if nar.Measures != "" {
		press = append(press, nar.Measures)
	}
	press = append(press, "ご自身が対象かもしれないと思われる方は、"+name+"（"+contact(lang, org)+"）までお問い合わせください。詳しいお知らせは"+orUnknown(lang, org.Website)+"に掲載しております。")
	item(7, strings.Join(press, "\n\n"), nar.Cause != "" && len(cats) > 0)
}
