package sim

import (
	"strconv"
	"time"
)

// myPageRules are the members' area routes as an owner or actor rule
// lists them, in the cache rule's words.
var myPageRules = []string{
	"      - {match: /mypage/profile, categories: [name, email, postal_address, phone]}",
	`      - {match: "/mypage/bank*", categories: [bank_account]}`,
	"      - {match: /mypage/card, categories: [payment_card]}",
	`      - {match: "/mypage/orders*", categories: [purchase_history, postal_address]}`,
}

// privateKey returns one of the members' area pages at random.
func (sc *scen) privateKey() *key {
	return &sc.private[sc.r.IntN(numPrivateKeys)]
}

// mixup: cross-wired responses (ChatGPT March 2023, GitHub March 2021).
// The application logs whose data each response carried (X-User-Id, in
// the edge logs as $upstream_http_x_user_id); during the window some
// members' area responses carried another customer's.
func (sc *scen) mixup() {
	us := sc.pop.users
	n := len(us)
	r := sc.r
	const rule = "mixup"
	minute := int64(time.Minute)
	sc.bg.subjects = true

	victim := func(a int32, avoid map[int32]bool) int32 {
		for {
			b := int32(r.IntN(n))
			if b != a && !avoid[b] {
				return b
			}
		}
	}
	cross := func(t int64, a, b int32, k *key, status int) *sreq {
		bytes := k.bytesLo + r.IntN(k.bytesHi-k.bytesLo)
		if status != 200 {
			bytes = 180
		}
		x := sc.add(t, sc.userClient(a), false, k.path, k.query, status, bytes)
		x.line.subject = us[b].idString()
		return x
	}

	victims := map[int32]bool{}
	for range clamp(sc.o.Requests/1500, 10, 3000) {
		a := int32(r.IntN(n))
		b := victim(a, nil)
		k := sc.privateKey()
		x := cross(sc.between(sc.ws+minute, sc.we-minute), a, b, k, 200)
		x.rule, x.kind, x.victims, x.cats = rule, evOwner, []int32{b}, k.cats
		victims[b] = true
	}

	// Bank pages of customers without a bank account on file: events
	// that exposed nothing.
	bank := &sc.private[keyBank]
	for k := 0; k < 2; {
		a, b := int32(r.IntN(n)), int32(r.IntN(n))
		if a == b || us[b].onFile&catBankAccount != 0 {
			continue
		}
		x := cross(sc.between(sc.ws+minute, sc.we-minute), a, b, bank, 200)
		x.rule, x.kind, x.victims, x.cats = rule, evOwner, []int32{b}, bank.cats
		k++
	}

	// Near misses, each with a customer nobody else exposed.
	for range 6 {
		a := int32(r.IntN(n))
		b := victim(a, victims)
		item := "/items/" + strconv.Itoa(1+r.IntN(numItems))
		x := sc.add(sc.between(sc.ws+minute, sc.we-minute), sc.userClient(a), false, item, "", 200, 11000+r.IntN(13000))
		x.line.subject = us[b].idString()
		x.near = "cross-wired on a public route"
	}
	for range 6 {
		a := int32(r.IntN(n))
		cross(sc.between(sc.ws+minute, sc.we-minute), a, victim(a, victims), sc.privateKey(), 500).near = "status 500"
	}
	for range 6 {
		a := int32(r.IntN(n))
		k := sc.privateKey()
		x := sc.add(sc.between(sc.ws+minute, sc.we-minute), sc.userClient(a), false, k.path, k.query, 200, k.bytesLo)
		x.line.subject = ""
		x.near = "no subject logged"
	}
	for range 6 {
		a := int32(r.IntN(n))
		cross(sc.between(sc.ws-30*minute, sc.ws-int64(time.Second)), a, victim(a, victims), sc.privateKey(), 200).near = "before the window"
	}
	for range 3 {
		a := int32(r.IntN(n))
		cross(sc.between(sc.we+int64(time.Second), sc.we+20*minute), a, victim(a, victims), sc.privateKey(), 200).near = "after the window"
	}

	sc.spec = caseSpec{
		title:     "Members' pages that carried another customer's data (simulation)",
		causeKind: "misconfiguration",
		subject:   true,
		narrative: [3]string{
			"An upgrade of the session cache client at 09:41 JST returned connections to the pool while a reply was pending, so under load a members' area response was sometimes built from the data of another customer served at the same moment. The application names the customer whose data a response holds in its X-User-Id header, which the edge logs record.",
			"The client library was rolled back at 15:38 JST and the cache flushed; every response is now checked against the session's user before it is sent.",
			"Customers who opened My Page during the window may have been shown another customer's name, e-mail and postal address, phone number, bank account, card details or order history; no passwords or full card numbers were shown.",
		},
		narrativeJA: [3]string{
			"9時41分に行ったセッション用キャッシュのクライアント更新により、応答待ちの接続がプールに戻される不具合が生じ、アクセスが集中した際にマイページの応答が同時刻に利用していた別のお客様の情報で作られることがありました。応答に含まれる情報がどのお客様のものかはX-User-Idヘッダーとして配信ログに記録されています。",
			"15時38分にクライアントを元の版に戻してキャッシュを消去し、送信前に応答がセッションの利用者のものか確認する仕組みを追加しました。",
			"期間中にマイページを開いたお客様に、別のお客様の氏名、メールアドレス、住所、電話番号、口座情報、カード情報の一部または注文履歴が表示された可能性があります。パスワードやカード番号の全桁は表示されていません。",
		},
		exposure: append([]string{
			"rules:",
			"  - kind: owner",
			"    name: " + rule,
			"    statuses: [200]",
			"    routes:",
		}, myPageRules...),
	}
}
