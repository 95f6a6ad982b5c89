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
		localNarrative: map[string][3]string{
			"ja": {
				"6月22日9時41分に公開したAPIの更新で、/api/users/{id}/profile と /api/orders の所有者確認が外れ、指定したIDのプロフィールや注文を誰でも取得できる状態になっていました。登録済みの1つのアカウントがホスティング事業者のアドレスからプログラムで顧客IDと注文番号を順に取得し、ログインしていない別の利用者も一部のプロフィールを取得しました。",
				"15時38分に所有者確認を復旧し、当該アカウントを停止しました。IDによる取得回数をセッションとアドレスごとに制限し、連番での取得を検知する仕組みを導入しました。",
				"取得されたプロフィールには氏名、メールアドレス、住所、電話番号が、注文には購入商品とお届け先住所が含まれます。パスワードやカード番号は含まれていません。",
			},
			"de": {
				"Mit einer neuen Version der API unseres Shops um 09:41 Uhr JST entfiel bei /api/users/{id}/profile und /api/orders die Prüfung, ob die angefragten Daten dem anfragenden Konto gehören: Jede Anfrage erhielt das Profil bzw. die Bestellung zu der angegebenen ID. Ein registriertes Konto rief mit einem Skript von der Adresse eines Hosting-Anbieters der Reihe nach Kunden-IDs und Bestellnummern ab; außerdem rief ein nicht angemeldeter Client einige Profile ab.",
				"Wir haben die Prüfung um 15:38 Uhr JST wiederhergestellt und das Konto gesperrt. Die API begrenzt Abfragen nach ID nun je Sitzung und je Adresse und löst bei fortlaufenden IDs eine Warnung aus.",
				"Die abgerufenen Profile zeigen Name, E-Mail- und Postanschrift sowie Telefonnummer der Kundin bzw. des Kunden, die Bestellungen die gekauften Artikel und die Lieferanschrift. Passwörter und Kartennummern sind in diesen Antworten nicht enthalten.",
			},
			"fr": {
				"Une nouvelle version de l'API de notre boutique, mise en ligne à 9 h 41 (heure du Japon, JST), a supprimé la vérification du titulaire des données sur /api/users/{id}/profile et /api/orders : toute requête recevait le profil ou la commande correspondant à l'identifiant indiqué. Un compte inscrit a parcouru les identifiants de clients et les numéros de commande au moyen d'un script, depuis l'adresse d'un hébergeur, et un visiteur non connecté a récupéré quelques profils.",
				"Nous avons rétabli la vérification à 15 h 38 (JST) et suspendu le compte. L'API limite désormais les consultations par identifiant pour chaque session et chaque adresse, et déclenche une alerte lorsque des identifiants sont consultés à la suite.",
				"Les profils consultés contiennent le nom, l'adresse électronique et postale et le numéro de téléphone du client ; les commandes contiennent les articles achetés et l'adresse de livraison. Les mots de passe et les numéros de carte ne figurent pas dans ces réponses.",
			},
			"es": {
				"Una nueva versión de la API de nuestra tienda, publicada a las 09:41 (hora de Japón, JST), eliminó la comprobación de titularidad en /api/users/{id}/profile y /api/orders: cualquier solicitud recibía el perfil o el pedido correspondiente al identificador indicado. Una cuenta registrada recorrió con un script, desde la dirección de un proveedor de alojamiento, identificadores de clientes y números de pedido, y un usuario sin sesión iniciada obtuvo algunos perfiles.",
				"A las 15:38 (JST) restablecimos la comprobación y suspendimos la cuenta. La API limita ahora las consultas por identificador por sesión y por dirección, y genera una alerta ante identificadores consecutivos.",
				"Los perfiles consultados muestran el nombre, la dirección de correo electrónico y postal y el número de teléfono del cliente; los pedidos muestran los artículos comprados y la dirección de entrega. Las contraseñas y los números de tarjeta no forman parte de estas respuestas.",
			},
			"it": {
				"Una nuova versione dell'API del nostro negozio online, pubblicata alle 09:41 (ora giapponese, JST), ha eliminato il controllo di titolarità su /api/users/{id}/profile e /api/orders: qualsiasi richiesta riceveva il profilo o l'ordine corrispondente all'identificativo indicato. Un account registrato ha scorso in sequenza identificativi cliente e numeri d'ordine tramite uno script, dall'indirizzo di un fornitore di hosting, e un utente non autenticato ha ottenuto alcuni profili.",
				"Alle 15:38 (JST) abbiamo ripristinato il controllo e sospeso l'account. L'API ora limita le consultazioni per identificativo per ciascuna sessione e ciascun indirizzo e genera un avviso in caso di identificativi consecutivi.",
				"I profili consultati riportano il nome, l'indirizzo e-mail e postale e il numero di telefono del cliente; gli ordini riportano gli articoli acquistati e l'indirizzo di consegna. Password e numeri di carta non fanno parte di queste risposte.",
			},
			"nl": {
				"Met een nieuwe versie van de API van onze webwinkel om 9.41 uur (Japanse tijd, JST) verviel bij /api/users/{id}/profile en /api/orders de controle of de opgevraagde gegevens bij de aanvrager horen: elk verzoek kreeg het profiel of de bestelling van het opgegeven id. Een geregistreerd account heeft met een script vanaf het adres van een hostingprovider klant-id's en bestelnummers een voor een opgevraagd, en een niet-ingelogde gebruiker heeft enkele profielen opgehaald.",
				"Om 15.38 uur (JST) hebben wij de controle hersteld en het account geblokkeerd. De API beperkt opvragingen per id nu per sessie en per adres, en geeft een waarschuwing bij opeenvolgende id's.",
				"De opgevraagde profielen tonen de naam, het e-mail- en postadres en het telefoonnummer van de klant; de bestellingen tonen de gekochte artikelen en het afleveradres. Wachtwoorden en kaartnummers maken geen deel uit van deze antwoorden.",
			},
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
