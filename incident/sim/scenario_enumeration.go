package sim

import (
	"strconv"
	"time"
)

// The API's routes and what their responses show.
const (
	apiProfileCats = catName | catEmail | catPostalAddress | catPhone
	apiOrderCats   = catPurchaseHistory | catPostalAddress
)

// The enumeration's parties (documentation and hosting addresses, none of
// which the population uses).
const (
	enumAttackerIP = "45.76.63.122"
	enumScannerIP  = "185.220.101.34"
)

func clamp(v, lo, hi int) int { return max(lo, min(v, hi)) }

// enumeration: broken object-level authorisation on the API (Optus 2022,
// T-Mobile 2023). A registered account walks user ids on
// /api/users/{id}/profile and order ids on /api/orders?order_id=N with a
// script; an anonymous scanner fetches a few profiles. Customers use the
// same API for their own profile and orders.
func (sc *scen) enumeration() {
	us := sc.pop.users
	n := len(us)
	r := sc.r
	const rule = "enumeration"
	minute := int64(time.Minute)

	// The walk over user ids covers users [s0, s0+walk); the attacker's
	// own account is one of them.
	walk := clamp(n/8, 30, 2500)
	s0 := 5 + r.IntN(n-walk-10)
	attacker := int32(s0 + r.IntN(walk))

	// Orders: 0-3 per customer (none for the attacker's fresh account),
	// numbered in the order they were placed, with gaps (cancelled
	// orders); a few are a household's, with two owners.
	var slots []int32
	for u := range us {
		if int32(u) == attacker {
			continue
		}
		for range r.IntN(4) {
			slots = append(slots, int32(u))
		}
	}
	r.Shuffle(len(slots), func(i, j int) { slots[i], slots[j] = slots[j], slots[i] })
	type order struct {
		id     int
		owners []int32
	}
	orders := make([]order, 0, len(slots))
	byOwner := map[int32][]int{} // single-owner orders per user
	id := 7_000_000 + r.IntN(1000)
	table := ownerTable{name: "sim_orders"}
	for _, u := range slots {
		id += 1 + r.IntN(8)/7 // one in eight ids is a cancelled order
		o := order{id: id, owners: []int32{u}}
		if v := u + 1; r.IntN(100) < 6 && int(v) < n && v != attacker {
			o.owners = append(o.owners, v)
		} else {
			byOwner[u] = append(byOwner[u], len(orders))
		}
		for _, w := range o.owners {
			table.rows = append(table.rows, ownerRow{object: strconv.Itoa(o.id), user: w})
		}
		orders = append(orders, o)
	}
	sc.tables = append(sc.tables, table)

	profile := func(u int32) string { return "/api/users/" + us[u].idString() + "/profile" }
	orderQuery := func(id int) string { return "order_id=" + strconv.Itoa(id) }

	// Customers read their own profile and orders, all day.
	lo, hi := sc.ws-logMargin.Nanoseconds(), sc.we+logMargin.Nanoseconds()
	for range clamp(n/10, 20, 3000) {
		u := int32(r.IntN(n))
		if u == attacker {
			continue
		}
		t := sc.between(lo, hi)
		c := sc.userClient(u)
		var x *sreq
		if own := byOwner[u]; len(own) > 0 && r.IntN(100) < 40 {
			x = sc.add(t, c, false, "/api/orders", orderQuery(orders[own[r.IntN(len(own))]].id), 200, 2000+r.IntN(3000))
		} else {
			x = sc.add(t, c, false, profile(u), "", 200, 900+r.IntN(500))
		}
		if t >= sc.ws && t < sc.we {
			x.near = "the customer's own data"
		}
	}

	// The attacker's account, from a hosting address, with a script.
	ac := sc.userClient(attacker)
	ac.ip, ac.ua, ac.h2 = enumAttackerIP, uaPythonRequests, false

	// Probes minutes before the declared window, of ids just below the
	// walk that it does not reach again: outside the rule's range.
	t := sc.ws - 3*minute
	for u := int32(s0 - 4); u < int32(s0); u++ {
		t += int64(2 * time.Second)
		sc.add(t, ac, false, profile(u), "", 200, 900+r.IntN(500)).near = "before the window"
	}

	// The walk: every id in turn, 404 for ids nobody has.
	t = sc.ws + 47*minute + r.Int64N(10*minute)
	next := int32(s0)
	walked := 0
	for id := us[s0].id; id <= us[s0+walk-1].id; id++ {
		t += int64(350*time.Millisecond) + r.Int64N(int64(550*time.Millisecond))
		path := "/api/users/" + strconv.FormatInt(id, 10) + "/profile"
		if us[next].id != id {
			sc.add(t, ac, false, path, "", 404, 60).near = "no such user (404)"
			continue
		}
		u := next
		next++
		walked++
		switch {
		case u == attacker:
			sc.add(t, ac, false, path, "", 200, 900+r.IntN(500)).near = "the attacker's own profile"
		case walked%60 == 7: // the server failed now and then
			sc.add(t, ac, false, path, "", 500, 180).near = "status 500"
		default:
			x := sc.add(t, ac, false, path, "", 200, 900+r.IntN(500))
			x.rule, x.kind, x.victims, x.cats = rule, evObject, []int32{u}, apiProfileCats
		}
	}
	// Pages of the profile that are not the route (the pattern is anchored).
	for u := int32(s0 + walk); u < int32(s0+walk+5); u++ {
		t += int64(time.Second)
		sc.add(t, ac, false, profile(u)+"/edit", "", 200, 1500+r.IntN(500)).near = "/profile/edit is not the route (the pattern is anchored)"
	}

	// Then a run of order ids.
	span := clamp(len(orders)/10, 10, 800)
	o0 := r.IntN(len(orders) - span)
	t += 5*minute + r.Int64N(20*minute)
	k := o0
	for id := orders[o0].id; id <= orders[o0+span-1].id; id++ {
		t += int64(700*time.Millisecond) + r.Int64N(int64(600*time.Millisecond))
		if orders[k].id != id {
			sc.add(t, ac, false, "/api/orders", orderQuery(id), 404, 60).near = "no such order (404)"
			continue
		}
		x := sc.add(t, ac, false, "/api/orders", orderQuery(id), 200, 2000+r.IntN(3000))
		x.rule, x.kind, x.victims, x.cats = rule, evObject, orders[k].owners, apiOrderCats
		k++
	}

	// An anonymous scanner fetches a few profiles outside the walk, one
	// inside it, and one id nobody has.
	sv := anonymous(enumScannerIP, 15) // curl
	var picks []int32
	for len(picks) < clamp(n/200, 3, 40) {
		u := int32(r.IntN(n))
		if u < int32(s0-4) || u >= int32(s0+walk+5) {
			picks = append(picks, u)
		}
	}
	if u := int32(s0 + r.IntN(walk)); u != attacker {
		picks = append(picks, u)
	}
	for _, u := range picks {
		x := sc.add(sc.between(sc.ws+minute, sc.we-minute), sv, false, profile(u), "", 200, 900+r.IntN(500))
		x.rule, x.kind, x.victims, x.cats = rule, evObject, []int32{u}, apiProfileCats
	}
	if s0 > 0 && us[s0].id-us[s0-1].id > 1 {
		sc.add(sc.between(sc.ws+minute, sc.we-minute), sv, false, "/api/users/"+strconv.FormatInt(us[s0].id-1, 10)+"/profile", "", 404, 60).near = "no such user (404)"
	}

	sc.spec = caseSpec{
		title:     "Customer profiles and orders read through the API by enumeration (simulation)",
		causeKind: "unauthorized_access",
		narrative: [3]string{
			"A release of the shop's API at 09:41 JST dropped the ownership check of /api/users/{id}/profile and /api/orders: a request received the profile or order of whatever id it named. A registered account walked customer ids and order ids with a script from a hosting provider's address, and an anonymous client fetched a few profiles.",
			"The ownership check was restored at 15:38 JST and the account suspended; the API now limits id lookups per session and per address, and alerts on sequential ids.",
			"The profiles read show the customer's name, e-mail and postal address and phone number; the orders show the items bought and the delivery address. Passwords and card numbers are not part of these responses.",
		},
		narrativeJA: [3]string{
			"6月22日9時41分に公開したAPIの更新で、/api/users/{id}/profile と /api/orders の所有者確認が外れ、指定したIDのプロフィールや注文を誰でも取得できる状態になっていました。登録済みの1つのアカウントがホスティング事業者のアドレスからプログラムで顧客IDと注文番号を順に取得し、ログインしていない別の利用者も一部のプロフィールを取得しました。",
			"15時38分に所有者確認を復旧し、当該アカウントを停止しました。IDによる取得回数をセッションとアドレスごとに制限し、連番での取得を検知する仕組みを導入しました。",
			"取得されたプロフィールには氏名、メールアドレス、住所、電話番号が、注文には購入商品とお届け先住所が含まれます。パスワードやカード番号は含まれていません。",
		},
		exposure: []string{
			"rules:",
			"  - kind: object",
			"    name: " + rule,
			"    routes:",
			`      - {match: 're:^/api/users/(?P<user>[0-9]+)/profile$', categories: [name, email, postal_address, phone]}`,
			`      - {match: /api/orders, object: 'query:order_id', categories: [purchase_history, postal_address]}`,
			"    owners_query: " + yamlQuote("SELECT object_id, user_id FROM sim_orders WHERE object_id = ANY($1)"),
			"    statuses: [200]",
		},
	}
}
