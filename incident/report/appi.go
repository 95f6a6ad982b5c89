package report

import (
	"fmt"
	"strings"
	"time"

	"github.com/breachctl/breachctl/incident"
	"github.com/breachctl/breachctl/internal/textsafe"
)

// appiTitles are the nine items of Enforcement Rules Art. 8(1), numbered
// and worded as in REGULATIONS.md.
var appiTitles = []string{
	"概要",
	"漏えい等が発生し、又は発生したおそれがある個人データの項目",
	"本人の数",
	"原因",
	"二次被害又はそのおそれの有無及びその内容",
	"本人への対応の実施状況",
	"公表の実施状況",
	"再発防止のための措置",
	"その他参考となる事項",
}

var appiTriggerNames = map[int]string{
	1: "第1号（要配慮個人情報）",
	2: "第2号（財産的被害が生じるおそれがある個人データ）",
	3: "第3号（不正の目的をもって行われたおそれ）",
	4: "第4号（本人の数が1,000人を超える）",
}

// buildAPPI fills the PPC report: the preliminary one (速報) holds what is
// known now, the final one (確報) all nine items. Both list all nine; an
// item the case cannot fill is marked not yet known.
func buildAPPI(r *Report, in Input, final bool) {
	const lang = "ja"
	c, loc := in.Case, r.loc
	a := checkAPPI(in)
	nar := c.NarrativeFor("ja")

	unknownText := "現時点では不明（調査中のため、判明次第、確報で報告します）"
	kind, rule, deadline := "速報", "個人情報の保護に関する法律施行規則第8条第1項", a.preliminaryDeadline(c)
	if final {
		unknownText = "現時点では不明（確報ではすべての事項の記載が必要です。提出前に記入してください）"
		kind, rule, deadline = "確報", "個人情報の保護に関する法律施行規則第8条第2項", a.finalDeadline(c)
	}
	r.Title = "個人データの漏えい等の報告（" + kind + "）"

	var trig []string
	for _, t := range a.triggers() {
		trig = append(trig, appiTriggerNames[t])
	}
	trigText := "規則第7条" + strings.Join(trig, "、")
	if len(trig) == 0 {
		trigText = "該当なし（規則第7条各号のいずれにも該当しません）"
	}
	org := c.Organization
	r.Meta = []Field{
		{"報告の区分", kind + "（" + rule + "）"},
		{"報告者", org.Name},
		{"所在地", orUnknown(lang, org.Address)},
		{"連絡先", contact(lang, org)},
		{"事案", fmt.Sprintf("%s（第%d回集計）", c.ID, r.Run)},
		{"事態を知った日時", stamp(lang, c.Aware, loc)},
		{"報告期限", stamp(lang, deadline, loc) + "まで"},
		{"報告対象事態", trigText},
	}
	if !c.FirstSignal.IsZero() {
		r.Meta = append(r.Meta, Field{"最初の兆候の日時", stamp(lang, c.FirstSignal, loc)})
	}
	if !in.Determined.IsZero() {
		r.Meta = append(r.Meta, Field{"影響範囲を確定した日時", stamp(lang, in.Determined, loc)})
	}
	if r.Revision != nil {
		r.Meta = append(r.Meta, Field{"前回の報告", r.PreviousText() +
			fmt.Sprintf("。本報告の数値は第%d回集計によるもので、前回報告の数値を改めます（「前回報告からの変更」参照）", r.Run)})
	}

	switch {
	case !a.applies():
		r.Notes = append(r.Notes, "影響を受けた本人に日本に居住する方がいません。日本の個人情報取扱事業者でない場合、この報告は不要な可能性があります。")
	case len(trig) == 0:
		r.Notes = append(r.Notes, "規則第7条の報告対象事態に該当しないため、報告義務はない可能性があります（任意の報告として作成しています）。")
	}
	if in.Now.After(deadline) {
		r.Notes = append(r.Notes, fmt.Sprintf("報告期限（%s）を過ぎています。", stamp(lang, deadline, loc)))
	}
	if final {
		r.Notes = append(r.Notes, "確報には規則第8条第1項の9事項すべての記載が必要です。")
	} else {
		r.Notes = append(r.Notes, "速報は、報告の時点で把握している事項を記載するものです（規則第8条第1項）。確報の期限は"+
			stamp(lang, a.finalDeadline(c), loc)+fmt.Sprintf("（%d日）です。", a.finalDays()))
	}

	all := a.All
	item := func(i int, content string, known bool) {
		r.addItem(fmt.Sprint(i), appiTitles[i-1], content, known, unknownText)
	}

	// 1 概要
	observed := "ログ上、他者への表示は確認されていません"
	if !all.First.IsZero() {
		observed = span(lang, all.First, all.Last, loc)
	}
	item(1, strings.Join([]string{
		c.Title,
		"",
		"- 発生期間（不備のある設定が有効であった期間）: " + span(lang, c.Start, c.End, loc),
		"- アクセスログ上の露出: " + observed,
		"- 事態を知った日時: " + stamp(lang, c.Aware, loc),
		"- 封じ込め日時: " + stamp(lang, c.Contain, loc),
		"- 原因の種別: " + causeKindLabel(lang, c.CauseKind),
		"- 影響を受けた本人: " + levelSplit(lang, all.People, all.Confirmed, all.Possible),
	}, "\n"), true)

	// 2 データ項目
	var cats []string
	for _, cat := range sortedCategories(all.ByCategory) {
		line := fmt.Sprintf("- %s: %s", categoryLabel(lang, cat), people(lang, all.ByCategory[cat]))
		if n := all.ConfirmedByCategory[cat]; n > 0 {
			line += fmt.Sprintf("（うち漏えいを確認 %s）", people(lang, n))
		}
		cats = append(cats, line)
	}
	if ch := r.changeLines("by_category."); len(ch) > 0 {
		cats = append(cats, "", r.previousRef()+"からの変更:")
		cats = append(cats, ch...)
	}
	item(2, strings.Join(cats, "\n"), len(all.ByCategory) > 0)

	// 3 本人の数
	if all.People > 0 {
		item(3, levelSplit(lang, all.People, all.Confirmed, all.Possible)+"\n\n"+
			"地域別: "+regionListJA(all.ByRegion)+"\n\n"+
			fmt.Sprintf("第%d回集計（アクセスログ %dファイルの解析）による人数です。調査の進展により改訂することがあります。", r.Run, len(in.Evidence))+
			levelMeaningJA(in.Case)+revisedJA(r, "people.", "by_region."), true)
	} else {
		item(3, "", false)
	}

	// 4 原因
	if nar.Cause != "" {
		item(4, "原因の種別: "+causeKindLabel(lang, c.CauseKind)+"\n\n"+nar.Cause, true)
	} else {
		item(4, "原因の種別: "+causeKindLabel(lang, c.CauseKind), false)
	}

	// 5 二次被害
	facts := fmt.Sprintf("アクセスログ上、他者への表示が確認された回数: %s回", num(all.Views))
	if nar.Consequences != "" {
		item(5, nar.Consequences+"\n\n"+facts, true)
	} else {
		item(5, facts, false)
	}

	// 6 本人への対応
	content, known := deliveryText(lang, in.Delivery, all.People, loc)
	item(6, content, known)

	// 7 公表: the case file has no field for it.
	item(7, "公表の実施状況はケースファイルに記録されていません。", false)

	// 8 再発防止
	item(8, nar.Measures, nar.Measures != "")

	// 9 その他
	other := []string{
		"- 問い合わせ窓口: " + contact(lang, org),
		"- 該当する報告対象事態: " + trigText,
		fmt.Sprintf("- 根拠となる証跡: アクセスログ %dファイル（SHA-256 は「証跡」に記載）", len(in.Evidence)),
	}
	if o := otherLaws(in, "APPI"); o != "" {
		other = append(other, "- 他の法域での対応: "+o)
	}
	item(9, strings.Join(other, "\n"), true)
}

// revisedJA is a paragraph listing the changes of the figures under
// prefixes since the previous report ("" when none changed).
func revisedJA(r *Report, prefixes ...string) string {
	ch := r.changeLines(prefixes...)
	if len(ch) == 0 {
		return ""
	}
	return "\n\n" + r.previousRef() + "からの変更:\n" + strings.Join(ch, "\n")
}

func levelSplit(lang string, total, confirmed, possible int) string {
	switch lang {
	case "ja":
		return fmt.Sprintf("%s（漏えいを確認 %s、漏えいのおそれ %s）", people(lang, total), people(lang, confirmed), people(lang, possible))
	case "ko":
		return fmt.Sprintf("%s(유출 확인 %s, 유출 가능성 %s)", people(lang, total), people(lang, confirmed), people(lang, possible))
	case "pt-BR":
		return fmt.Sprintf("%s (confirmadas %s, possíveis %s)", people(lang, total), numPT(confirmed), numPT(possible))
	}
	return fmt.Sprintf("%s (confirmed %s, possible %s)", people(lang, total), num(confirmed), num(possible))
}

func regionListJA(m map[string]int) string {
	var parts []string
	for _, kc := range sortedCounts(m) {
		parts = append(parts, textsafe.MD(kc.Key)+" "+people("ja", kc.Count)) // from user records
	}
	return strings.Join(parts, "、")
}

func orUnknown(lang, s string) string {
	if strings.TrimSpace(s) == "" {
		return unknown(lang)
	}
	return s
}

// contact joins the organisation's contact points.
func contact(lang string, o incident.Organization) string {
	var parts []string
	for _, s := range []string{o.ContactEmail, o.ContactPhone, o.Website} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	if len(parts) == 0 {
		return unknown(lang)
	}
	if lang == "ja" {
		return strings.Join(parts, "、")
	}
	return strings.Join(parts, ", ")
}

// deliveryText says how far the notices to individuals went, from the
// delivery ledger; known is false before any notice is in the ledger.
func deliveryText(lang string, d Delivery, affected int, l *time.Location) (string, bool) {
	switch lang {
	case "ko":
		return deliveryTextKO(d, affected, l)
	case "pt-BR":
		return deliveryTextPT(d, affected, l)
	}
	if d.Total == 0 {
		if lang == "ja" {
			return fmt.Sprintf("本人への通知の配信記録はまだありません（通知の対象: %s）。", people(lang, affected)), false
		}
		return fmt.Sprintf("No notice is in the delivery ledger yet (%s to notify).", people(lang, affected)), false
	}
	if lang == "ja" {
		s := fmt.Sprintf("電子メールによる本人への通知: 対象 %s件のうち送信済み %s件、送信失敗 %s件、未送信 %s件、送信結果不明 %s件。",
			num(d.Total), num(d.Sent), num(d.Failed), num(d.Pending), num(d.Uncertain))
		if !d.FirstSent.IsZero() {
			s += "送信期間: " + span(lang, d.FirstSent, d.LastSent, l) + "。"
		}
		if d.Sent >= d.Total && d.Sent >= affected {
			s += "対象者全員への通知を完了しました。"
		}
		return s, true
	}
	s := fmt.Sprintf("Notices by email: %s in the delivery ledger; %s sent, %s failed, %s pending, %s uncertain.",
		num(d.Total), num(d.Sent), num(d.Failed), num(d.Pending), num(d.Uncertain))
	if !d.FirstSent.IsZero() {
		s += " Sent " + span(lang, d.FirstSent, d.LastSent, l) + "."
	}
	if d.Sent >= d.Total && d.Sent >= affected {
		s += " Every affected person has been notified."
	}
	return s, true
}

// otherLaws names the other laws the incident triggers, with their people.
func otherLaws(in Input, except string) string {
	seen := map[string]int{}
	var order []string
	for _, o := range Obligations(in) {
		if o.Law == except {
			continue
		}
		if _, ok := seen[o.Law]; !ok {
			order = append(order, o.Law)
		}
		seen[o.Law] = max(seen[o.Law], o.People)
	}
	var parts []string
	for _, l := range order {
		parts = append(parts, fmt.Sprintf("%s (%s)", l, num(seen[l])))
	}
	return strings.Join(parts, ", ")
}

// levelMeaningJA says what the two levels mean for the case's rules: in
// the cache's own words for a cache-only case (as before), in general
// words otherwise.
func levelMeaningJA(c *incident.Case) string {
	if onlyCache(c) {
		return "「漏えいを確認」は本人のページが他者に表示されたことがログで確認された方、「漏えいのおそれ」は本人のページが配信事業者のキャッシュに保存されたものの他者への表示が確認できない、又は特定できない方です。"
	}
	return "「漏えいを確認」は本人のデータが第三者に送信されたことがアクセスログで確認された方、「漏えいのおそれ」は第三者への送信の可能性があるもののログで確認できない、又は送信先を特定できない方（第三者によるログインのみが確認された方を含む）です。"
}

// levelMeaningEN is levelMeaningJA in English (GDPR Art. 33).
func levelMeaningEN(c *incident.Case) string {
	if onlyCache(c) {
		return "\"Confirmed\": the person's page was served to another party according to the access logs; \"possible\": it was stored in the CDN cache but a view by another party is not proven or cannot be attributed."
	}
	return "\"Confirmed\": the access logs prove the person's data was delivered to another party; \"possible\": it may have been, but the logs do not prove it or cannot tell who received it (including accounts only logged into by an attacker)."
}

// onlyCache reports whether the case's only rule is the cache rule.
func onlyCache(c *incident.Case) bool {
	for _, r := range c.Exposure.Rules {
		if r.Kind != incident.RuleCache {
			return false
		}
	}
	return true
}
