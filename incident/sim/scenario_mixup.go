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
		localNarrative: map[string][3]string{
			"ja": {
				"9時41分に行ったセッション用キャッシュのクライアント更新により、応答待ちの接続がプールに戻される不具合が生じ、アクセスが集中した際にマイページの応答が同時刻に利用していた別のお客様の情報で作られることがありました。応答に含まれる情報がどのお客様のものかはX-User-Idヘッダーとして配信ログに記録されています。",
				"15時38分にクライアントを元の版に戻してキャッシュを消去し、送信前に応答がセッションの利用者のものか確認する仕組みを追加しました。",
				"期間中にマイページを開いたお客様に、別のお客様の氏名、メールアドレス、住所、電話番号、口座情報、カード情報の一部または注文履歴が表示された可能性があります。パスワードやカード番号の全桁は表示されていません。",
			},
			"de": {
				"Nach einer Aktualisierung des Clients für unseren Sitzungs-Cache um 09:41 Uhr JST wurden Verbindungen an den Pool zurückgegeben, während noch eine Antwort ausstand. Unter Last wurde eine Antwort des Kundenbereichs deshalb mitunter aus den Daten einer anderen, im selben Moment bedienten Person erstellt. Die Anwendung nennt im Header X-User-Id, wessen Daten eine Antwort enthält; dieser Header wird in den Protokollen der Edge-Server aufgezeichnet.",
				"Wir haben die Client-Bibliothek um 15:38 Uhr JST auf die vorherige Version zurückgesetzt und den Cache geleert. Jede Antwort wird nun vor dem Versand daraufhin geprüft, ob sie zur Nutzerin bzw. zum Nutzer der Sitzung gehört.",
				"Wenn Kundinnen und Kunden im betroffenen Zeitraum „Meine Seite“ aufgerufen haben, wurden ihnen möglicherweise Name, E-Mail- und Postanschrift, Telefonnummer, Bankverbindung, Kartendaten oder Bestellhistorie einer anderen Person angezeigt. Passwörter und vollständige Kartennummern wurden nicht angezeigt.",
			},
			"fr": {
				"Une mise à jour du client de notre cache de sessions, à 9 h 41 (heure du Japon, JST), a eu pour effet de remettre des connexions dans le pool alors qu'une réponse était encore attendue. En période de forte charge, une réponse de l'espace client était ainsi parfois construite à partir des données d'un autre client servi au même moment. L'application indique dans son en-tête X-User-Id à quel client appartiennent les données d'une réponse ; cet en-tête est enregistré dans les journaux des serveurs périphériques.",
				"Nous avons rétabli la version précédente de la bibliothèque cliente à 15 h 38 (JST) et vidé le cache. Chaque réponse est désormais vérifiée avant son envoi afin de s'assurer qu'elle correspond bien à l'utilisateur de la session.",
				"Les clients qui ont ouvert « Mon espace » pendant la période concernée ont pu voir s'afficher le nom, l'adresse électronique et postale, le numéro de téléphone, les coordonnées bancaires, les données de carte ou l'historique des commandes d'un autre client. Aucun mot de passe ni numéro de carte complet n'a été affiché.",
			},
			"es": {
				"Una actualización del cliente de nuestra caché de sesiones, a las 09:41 (hora de Japón, JST), hacía que las conexiones se devolvieran al grupo de conexiones (pool) mientras aún había una respuesta pendiente, de modo que, con carga elevada, una respuesta del área de clientes se generaba a veces con los datos de otro cliente atendido en el mismo momento. La aplicación indica en su cabecera X-User-Id a qué cliente pertenecen los datos de cada respuesta, y los registros de los servidores perimetrales recogen esa cabecera.",
				"A las 15:38 (JST) restablecimos la versión anterior de la biblioteca cliente y vaciamos la caché. Ahora, antes de enviar cada respuesta, se comprueba que corresponda al usuario de la sesión.",
				"Es posible que a los clientes que abrieron «Mi página» durante el periodo afectado se les mostraran el nombre, la dirección de correo electrónico y postal, el número de teléfono, la cuenta bancaria, los datos de la tarjeta o el historial de pedidos de otro cliente. No se mostraron contraseñas ni números de tarjeta completos.",
			},
			"it": {
				"Un aggiornamento del client della nostra cache delle sessioni, effettuato alle 09:41 (ora giapponese, JST), restituiva le connessioni al pool mentre una risposta era ancora in attesa; in condizioni di carico elevato, una risposta dell'area clienti veniva quindi talvolta generata con i dati di un altro cliente servito nello stesso momento. L'applicazione indica nell'intestazione X-User-Id a quale cliente appartengono i dati contenuti in una risposta, e tale intestazione è registrata nei log dei server periferici.",
				"Alle 15:38 (JST) abbiamo ripristinato la versione precedente della libreria client e svuotato la cache. Ora ogni risposta viene verificata prima dell'invio per accertare che corrisponda all'utente della sessione.",
				"Ai clienti che hanno aperto «La mia pagina» nel periodo interessato potrebbero essere stati mostrati il nome, l'indirizzo e-mail e postale, il numero di telefono, il conto bancario, i dati della carta o la cronologia degli ordini di un altro cliente. Non sono state mostrate password né numeri di carta completi.",
			},
			"nl": {
				"Door een update van de client van onze sessiecache om 9.41 uur (Japanse tijd, JST) werden verbindingen aan de pool teruggegeven terwijl er nog een antwoord werd verwacht. Bij hoge belasting werd een antwoord van de klantenomgeving daardoor soms opgebouwd uit de gegevens van een andere klant die op hetzelfde moment werd bediend. De applicatie vermeldt in de header X-User-Id van wie de gegevens in een antwoord zijn; de logbestanden van de edgeservers leggen die header vast.",
				"Om 15.38 uur (JST) hebben wij de clientbibliotheek teruggezet naar de vorige versie en de cache geleegd. Elk antwoord wordt nu vóór verzending gecontroleerd: het moet horen bij de gebruiker van de sessie.",
				"Klanten die in de betreffende periode ‘Mijn pagina’ hebben geopend, kunnen de naam, het e-mail- en postadres, het telefoonnummer, de bankrekening, de kaartgegevens of de bestelgeschiedenis van een andere klant te zien hebben gekregen. Wachtwoorden en volledige kaartnummers werden niet getoond.",
			},
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
