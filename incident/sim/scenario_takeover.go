package sim

import (
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"time"
)

// The takeover's infrastructure (documentation addresses, none of which
// the population uses).
const (
	takeoverCIDR      = "203.0.113.0/24"
	takeoverNoisyIP   = "198.51.100.73"  // outside the CIDR: found by the threshold
	takeoverFailingIP = "192.0.2.44"     // past the threshold, never succeeds
	takeoverQuietIP   = "192.0.2.150"    // below the threshold, one success
	takeoverEarlyIP   = "198.51.100.201" // most failures before the window
	takeoverThreshold = 20
)

// takeoverLoginCats is login.categories by default: every category of the
// rule's routes.
const takeoverLoginCats = catName | catEmail | catPostalAddress | catPhone | catBankAccount | catPaymentCard | catPurchaseHistory

// takeover: credential stuffing and account takeover (PayPal 2022, Roku
// 2024). Logins from a hosting network, and from one more address found
// only by its failed logins; a successful login authenticates the session
// its request carries, and some of those sessions then open members'
// pages.
func (sc *scen) takeover() {
	us := sc.pop.users
	n := len(us)
	r := sc.r
	const rule = "takeover"
	minute, second := int64(time.Minute), int64(time.Second)
	sc.bg.failFrom, sc.bg.failTo = sc.ws, sc.we

	used := map[int32]bool{}
	fresh := func() int32 {
		for {
			u := int32(r.IntN(n))
			if !used[u] {
				used[u] = true
				return u
			}
		}
	}
	newSID := func() string {
		var b [16]byte
		putUint64(b[:8], r.Uint64())
		putUint64(b[8:], r.Uint64())
		return hex.EncodeToString(b[:])
	}
	// A session the sessions table maps to u, authenticated from ip.
	newSession := func(u int32, ip string) client {
		sid := newSID()
		sc.pop.sessions = append(sc.pop.sessions, session{id: sid, user: u, ip: ip, ua: uaOpera, cookie: "sid=" + sid})
		return client{ip: ip, ua: uaPythonRequests, sid: sid, cookie: "sid=" + sid, user: u}
	}
	// A failed login: a pre-login session nobody has.
	fail := func(t int64, ip string) *sreq {
		sid := newSID()
		return sc.add(t, client{ip: ip, ua: uaPythonRequests, sid: sid, cookie: "sid=" + sid, user: -1}, true, "/login", "", 401, 4100+r.IntN(90))
	}
	login := func(t int64, c client) *sreq { return sc.add(t, c, true, "/login", "", 302, 154) }
	view := func(t int64, c client) (*sreq, *key) {
		k := sc.privateKey()
		c.ua = uaOpera
		return sc.add(t, c, false, k.path, k.query, 200, k.bytesLo+r.IntN(k.bytesHi-k.bytesLo)), k
	}
	counted := func(x *sreq, kind uint8, u int32, cats catMask) {
		x.rule, x.kind, x.victims, x.cats = rule, kind, []int32{u}, cats
	}
	// A success from the infrastructure: possible, and confirmed for
	// the pages its session opens (browse: how many, from which addresses).
	takeOver := func(t int64, ip string, browse int, from func() string) client {
		u := fresh()
		c := newSession(u, ip)
		counted(login(t, c), evActorLogin, u, takeoverLoginCats)
		for range browse {
			t += 2*second + r.Int64N(8*minute)
			vc := c
			vc.ip = from()
			x, k := view(t, vc)
			counted(x, evActorView, u, k.cats)
		}
		return c
	}

	cidr := make([]string, 24)
	for i := range cidr {
		cidr[i] = "203.0.113." + strconv.Itoa(10+i)
	}
	anyCIDR := func() string { return cidr[r.IntN(len(cidr))] }

	// Stuffing from the network, all window long.
	var taken []client
	for range clamp(n/20, 30, 3000) {
		t := sc.between(sc.ws+5*minute, sc.we-40*minute)
		ip := anyCIDR()
		if r.IntN(100) >= 9 {
			fail(t, ip)
			continue
		}
		browse := 0
		if r.IntN(100) < 60 {
			browse = 1 + r.IntN(4)
		}
		same := func() string { return ip }
		if r.IntN(3) == 0 {
			same = anyCIDR
		}
		taken = append(taken, takeOver(t, ip, browse, same))
	}

	// The noisy address: 40 failures in 40 minutes and three successes,
	// the first of them before its 20th failure (it counts all the same).
	noisy := func() string { return takeoverNoisyIP }
	t0 := sc.ws + 60*minute
	var fails []int64
	for range 40 {
		fails = append(fails, sc.between(t0, t0+40*minute))
	}
	slices.Sort(fails)
	for _, t := range fails {
		fail(t, takeoverNoisyIP)
	}
	takeOver(fails[5]+second, takeoverNoisyIP, 2, noisy)
	takeOver(fails[30]+second, takeoverNoisyIP, 1, noisy)
	takeOver(fails[39]+second, takeoverNoisyIP, 0, noisy)

	// Near misses.
	// An address past the threshold that never gets in.
	for range 30 {
		fail(sc.between(sc.ws+2*60*minute, sc.ws+2*60*minute+30*minute), takeoverFailingIP).near = "a failed login (flagged address that never logs in)"
	}
	// An address below the threshold that gets in once.
	t1 := sc.ws + 150*minute
	for i := range 12 {
		fail(t1+int64(i)*40*second, takeoverQuietIP).near = "a failed login (12, below login.threshold)"
	}
	qc := newSession(fresh(), takeoverQuietIP)
	login(t1+10*minute, qc).near = "a login from an address below login.threshold, not listed"
	x, _ := view(t1+11*minute, qc)
	x.near = "a page view from an address below login.threshold, not listed"
	// An address whose failures fall mostly before the window.
	for range 18 {
		fail(sc.between(sc.ws-50*minute, sc.ws-10*minute), takeoverEarlyIP).near = "a failed login before the window (does not count toward login.threshold)"
	}
	t2 := sc.ws + 180*minute
	for i := range 8 {
		fail(t2+int64(i)*30*second, takeoverEarlyIP).near = "a failed login (8 inside the window, below login.threshold)"
	}
	ec := newSession(fresh(), takeoverEarlyIP)
	login(t2+6*minute, ec).near = "a login from an address with 8 failed logins in the window"
	x, _ = view(t2+7*minute, ec)
	x.near = "a page view from an address with 8 failed logins in the window"
	// The network, before the window.
	pc := newSession(fresh(), cidr[0])
	login(sc.ws-12*minute, pc).near = "a login from the network before the window"
	x, _ = view(sc.ws-11*minute, pc)
	x.near = "a page view from the network before the window"
	// The network on public pages, with taken-over sessions.
	for i := range min(10, len(taken)) {
		c := taken[i]
		c.ua = uaOpera
		path := "/items/" + strconv.Itoa(1+r.IntN(numItems))
		if i%3 == 0 {
			path = "/"
		}
		sc.add(sc.between(sc.ws+10*minute, sc.we-10*minute), c, false, path, "", 200, 11000+r.IntN(20000)).near = "the attacker on a public page"
	}
	// Customers who mistype their password a few times, then log in,
	// from their own addresses.
	for range clamp(n/500, 5, 50) {
		u := fresh()
		c := sc.userClient(u)
		t := sc.between(sc.ws+5*minute, sc.we-10*minute)
		for range 2 + r.IntN(3) {
			t += 5*second + r.Int64N(20*second)
			pre := c
			pre.sid = newSID()
			pre.cookie, pre.user = "sid="+pre.sid, -1
			sc.add(t, pre, true, "/login", "", 401, 4100+r.IntN(90)).near = "a customer's failed login from their own address"
		}
		t += 5 * second
		login(t, c).near = "a customer's own login"
	}

	// No ordinary client may reach the threshold, and the addresses meant
	// to be above or below it must be.
	sc.check = func(results []*edgeResult) error {
		fails := map[string]int{}
		for _, res := range results {
			for ip, k := range res.failures {
				fails[ip] += k
			}
		}
		for _, x := range sc.reqs {
			if x.line.post && x.line.status == 401 && x.line.wt >= sc.ws && x.line.wt < sc.we {
				fails[x.line.ip]++
			}
		}
		for ip, k := range fails {
			above := k >= takeoverThreshold
			want := ip == takeoverNoisyIP || ip == takeoverFailingIP || inCIDR(ip)
			if above && !want {
				return fmt.Errorf("simulate: takeover: %s (not an attacker) has %d failed logins in the window, at or above login.threshold %d: use more users", ip, k, takeoverThreshold)
			}
			if !above && (ip == takeoverNoisyIP || ip == takeoverFailingIP) {
				return fmt.Errorf("simulate: internal: takeover: %s has %d failed logins, below the threshold", ip, k)
			}
		}
		return nil
	}

	sc.spec = caseSpec{
		title:     "Customer accounts taken over by credential stuffing (simulation)",
		causeKind: "unauthorized_access",
		narrative: [3]string{
			"From 09:41 JST an attacker tried e-mail addresses and passwords leaked from other services against the login page, from a hosting network (203.0.113.0/24) and from one more address. Where a customer had reused a password the login succeeded, and the attacker opened some of those customers' My Page.",
			"The network and the address were blocked at 15:38 JST, every session they opened revoked and the passwords of the accounts they logged into reset; logins now require a second factor after failed attempts, and are rate-limited per address.",
			"The attacker may have seen, for every account it logged into, the name, e-mail and postal address, phone number, bank account, card details and order history shown on My Page; for the pages it opened this is certain. Full card numbers and passwords are never shown.",
		},
		localNarrative: map[string][3]string{
			"ja": {
				"9時41分から、他のサービスから流出したメールアドレスとパスワードの組み合わせを使ったログインの試行（リスト型攻撃）が、ホスティング事業者のネットワーク（203.0.113.0/24）ともう1つのアドレスから行われました。他のサービスと同じパスワードをお使いのお客様のアカウントではログインが成功し、一部のお客様のマイページが閲覧されました。",
				"15時38分に当該ネットワークとアドレスを遮断し、攻撃者が開いたセッションをすべて無効にして、ログインされたアカウントのパスワードをリセットしました。ログインに失敗が続いた場合の追加認証と、アドレスごとの試行回数の制限を導入しました。",
				"ログインされたアカウントについては、マイページに表示される氏名、メールアドレス、住所、電話番号、口座情報、カード情報の一部、注文履歴を攻撃者が見た可能性があります。閲覧されたページについては確実です。カード番号の全桁やパスワードは表示されません。",
			},
			"de": {
				"Ab 09:41 Uhr JST hat ein Angreifer auf unserer Anmeldeseite E-Mail-Adressen und Passwörter ausprobiert, die aus Datenlecks anderer Dienste stammten (sogenanntes Credential Stuffing), und zwar aus dem Netz eines Hosting-Anbieters (203.0.113.0/24) und von einer weiteren Adresse. Wo eine Kundin oder ein Kunde ein Passwort mehrfach verwendet hatte, war die Anmeldung erfolgreich, und der Angreifer hat bei einigen dieser Konten „Meine Seite“ („My Page“) aufgerufen.",
				"Wir haben das Netz und die Adresse um 15:38 Uhr JST gesperrt, alle von dort geöffneten Sitzungen beendet und die Passwörter der Konten zurückgesetzt, in die sich der Angreifer angemeldet hatte. Nach fehlgeschlagenen Anmeldeversuchen ist nun ein zweiter Faktor erforderlich, und die Zahl der Anmeldeversuche je Adresse ist begrenzt.",
				"Bei jedem Konto, in das sich der Angreifer angemeldet hat, hat er möglicherweise die auf „Meine Seite“ angezeigten Daten gesehen: Name, E-Mail- und Postanschrift, Telefonnummer, Bankverbindung, Kartendaten und Bestellhistorie; bei den Seiten, die er aufgerufen hat, steht dies fest. Vollständige Kartennummern und Passwörter werden nie angezeigt.",
			},
			"fr": {
				"À partir de 9 h 41 (heure du Japon, JST), un attaquant a essayé sur notre page de connexion des adresses électroniques et des mots de passe issus de fuites de données d'autres services (attaque par « credential stuffing »), depuis le réseau d'un hébergeur (203.0.113.0/24) et depuis une autre adresse. Lorsqu'un client avait réutilisé un mot de passe, la connexion a réussi, et l'attaquant a ouvert « Mon espace » (« My Page ») de certains de ces clients.",
				"Nous avons bloqué ce réseau et cette adresse à 15 h 38 (JST), révoqué toutes les sessions ouvertes depuis ceux-ci et réinitialisé les mots de passe des comptes auxquels l'attaquant s'est connecté. Après des tentatives infructueuses, la connexion exige désormais un second facteur d'authentification, et le nombre de tentatives est limité par adresse.",
				"Pour chaque compte auquel il s'est connecté, l'attaquant a pu voir les informations affichées dans « Mon espace » : nom, adresse électronique et postale, numéro de téléphone, coordonnées bancaires, données de carte et historique des commandes ; pour les pages qu'il a ouvertes, c'est certain. Les numéros de carte complets et les mots de passe ne sont jamais affichés.",
			},
			"es": {
				"A partir de las 09:41 (hora de Japón, JST), un atacante probó en nuestra página de inicio de sesión direcciones de correo electrónico y contraseñas filtradas de otros servicios (ataque de «credential stuffing»), desde la red de un proveedor de alojamiento (203.0.113.0/24) y desde otra dirección. Cuando un cliente había reutilizado una contraseña, el inicio de sesión tuvo éxito, y el atacante abrió «Mi página» («My Page») de algunos de esos clientes.",
				"A las 15:38 (JST) bloqueamos la red y la dirección, revocamos todas las sesiones abiertas desde ellas y restablecimos las contraseñas de las cuentas en las que el atacante inició sesión. Ahora, tras intentos fallidos, el inicio de sesión exige un segundo factor de autenticación, y el número de intentos por dirección está limitado.",
				"En cada cuenta en la que inició sesión, es posible que el atacante viera los datos que se muestran en «Mi página»: nombre, dirección de correo electrónico y postal, número de teléfono, cuenta bancaria, datos de la tarjeta e historial de pedidos; en las páginas que abrió, es seguro. Los números de tarjeta completos y las contraseñas nunca se muestran.",
			},
			"it": {
				"A partire dalle 09:41 (ora giapponese, JST), un aggressore ha provato sulla nostra pagina di accesso indirizzi e-mail e password provenienti da fughe di dati di altri servizi (attacco di «credential stuffing»), dalla rete di un fornitore di hosting (203.0.113.0/24) e da un ulteriore indirizzo. Nei casi in cui un cliente aveva riutilizzato una password, l'accesso è riuscito e l'aggressore ha aperto «La mia pagina» («My Page») di alcuni di questi clienti.",
				"Alle 15:38 (JST) abbiamo bloccato la rete e l'indirizzo, revocato tutte le sessioni aperte da essi e reimpostato le password degli account a cui l'aggressore aveva effettuato l'accesso. Dopo tentativi di accesso non riusciti è ora richiesto un secondo fattore di autenticazione, e il numero di tentativi per indirizzo è limitato.",
				"Per ogni account a cui ha avuto accesso, l'aggressore potrebbe aver visto i dati mostrati in «La mia pagina»: nome, indirizzo e-mail e postale, numero di telefono, conto bancario, dati della carta e cronologia degli ordini; per le pagine che ha aperto, ciò è certo. I numeri di carta completi e le password non vengono mai mostrati.",
			},
			"nl": {
				"Vanaf 9.41 uur (Japanse tijd, JST) heeft een aanvaller op onze inlogpagina e-mailadressen en wachtwoorden uitgeprobeerd die afkomstig waren uit datalekken bij andere diensten (‘credential stuffing’), vanuit het netwerk van een hostingprovider (203.0.113.0/24) en vanaf nog één ander adres. Waar een klant een wachtwoord had hergebruikt, lukte het inloggen, en de aanvaller heeft bij een deel van die klanten ‘Mijn pagina’ (‘My Page’) geopend.",
				"Om 15.38 uur (JST) hebben wij het netwerk en het adres geblokkeerd, alle daarvandaan geopende sessies ingetrokken en de wachtwoorden opnieuw ingesteld van de accounts waarop de aanvaller had ingelogd. Na mislukte inlogpogingen is nu een tweede factor vereist, en het aantal pogingen per adres is beperkt.",
				"Bij elk account waarop de aanvaller heeft ingelogd, kan hij de gegevens op ‘Mijn pagina’ hebben gezien: naam, e-mail- en postadres, telefoonnummer, bankrekening, kaartgegevens en bestelgeschiedenis; voor de pagina's die hij heeft geopend, staat dit vast. Volledige kaartnummers en wachtwoorden worden nooit getoond.",
			},
		},
		exposure: append([]string{
			"rules:",
			"  - kind: actor",
			"    name: " + rule,
			"    actors: {cidrs: [" + takeoverCIDR + "]}",
			"    login: {match: /login, success: [302], failure: [401], threshold: " + strconv.Itoa(takeoverThreshold) + "}",
			"    statuses: [200]",
			"    routes:",
		}, myPageRules...),
	}
}

// inCIDR reports whether ip is in takeoverCIDR.
func inCIDR(ip string) bool {
	const prefix = "203.0.113."
	return len(ip) > len(prefix) && ip[:len(prefix)] == prefix
}
