package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/breachctl/breachctl/incident"
)

// nginxLogFormat is the case file's log_format for the nginx logs.
const nginxLogFormat = `$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" "$http_cookie" $upstream_cache_status $host $hostname`

const (
	sessionsQuery = `SELECT session_id, user_id FROM sim_sessions WHERE session_id = ANY($1)`
	// lookupQuery finds people by e-mail address for breachctl serve.
	lookupQuery = `SELECT id FROM sim_users WHERE lower(email) = lower($1)`
	usersQuery  = `SELECT id, email, name, locale, country, region, has_postal_address, has_phone, has_bank_account, has_payment_card, postal_address, email_consent FROM sim_users WHERE id = ANY($1)`
)

// yamlQuote returns s as a YAML double-quoted scalar (JSON string syntax is
// a subset of it).
func yamlQuote(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}

// yamlSingle returns s as a YAML single-quoted scalar.
func yamlSingle(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// caseSpec is what differs between the scenarios' case files.
type caseSpec struct {
	title     string
	causeKind string
	// narrative: cause, measures, consequences, in English (narrative:).
	narrative [3]string
	// localNarrative is the same in the other notice languages, by locale
	// (notify.narrative.<locale>), so that a letter in German does not
	// carry an English narrative.
	localNarrative map[string][3]string
	// subject: the logs carry the upstream X-User-Id (logs[].subject).
	subject bool
	// exposure is the body of exposure: (lines indented by two spaces).
	exposure []string
	// trailer is a closing comment line, "" for none.
	trailer string
}

// cacheCase is the cache-leak incident's case file.
func cacheCase(o Options) caseSpec {
	return caseSpec{
		title:     "Customer pages served to other customers by the CDN (simulation)",
		causeKind: "misconfiguration",
		narrative: [3]string{
			"During a switch of CDN configuration, responses of the members' area (\"My Page\": profile, bank account, card and order history) were made cacheable at the CDN edges, so a page fetched for one customer was served from cache to other customers.",
			"The faulty cache rule was removed and every edge cache purged at 15:38 JST; private pages now carry Cache-Control: private, no-store, and the CDN bypasses its cache for requests with a session cookie.",
			"Customers who opened My Page during the window may have been shown another customer's name, e-mail and postal address, phone number, bank account, card details or order history; no passwords or full card numbers were shown.",
		},
		localNarrative: map[string][3]string{
			"ja": {
				"CDN（コンテンツ配信ネットワーク）の設定を切り替えた際、会員ページ（「マイページ」のプロフィール、口座、カード、注文履歴）がCDNでキャッシュされる設定になっていたため、あるお客様向けに作られたページが、キャッシュから別のお客様に表示される状態になっていました。",
				"15時38分に誤ったキャッシュ設定を削除し、すべての配信拠点のキャッシュを消去しました。会員ページは今後キャッシュされない設定とし、ログイン中のお客様へのリクエストはCDNのキャッシュを使わない構成に改めました。",
				"期間中にマイページを開いたお客様に、別のお客様の氏名、メールアドレス、住所、電話番号、口座情報、カード情報の一部または注文履歴が表示された可能性があります。パスワードやカード番号の全桁は表示されていません。",
			},
			"de": {
				"Bei einer Umstellung der Konfiguration unseres CDN (Content Delivery Network) wurden die Antworten des Kundenbereichs („Meine Seite“, im Original „My Page“: Profil, Bankverbindung, Zahlungskarte und Bestellhistorie) auf den Edge-Servern des CDN zwischenspeicherbar. Dadurch wurde eine für einen Kunden abgerufene Seite aus dem Zwischenspeicher auch an andere Kunden ausgeliefert.",
				"Wir haben die fehlerhafte Cache-Regel um 15:38 Uhr JST entfernt und den Zwischenspeicher aller Edge-Server geleert. Private Seiten werden seitdem mit „Cache-Control: private, no-store“ ausgeliefert, und das CDN umgeht seinen Zwischenspeicher bei allen Anfragen, die ein Sitzungscookie enthalten.",
				"Wenn Kundinnen und Kunden im betroffenen Zeitraum „Meine Seite“ aufgerufen haben, wurden ihnen möglicherweise Name, E-Mail- und Postanschrift, Telefonnummer, Bankverbindung, Kartendaten oder Bestellhistorie einer anderen Person angezeigt. Passwörter und vollständige Kartennummern wurden nicht angezeigt.",
			},
			"fr": {
				"Lors d'une modification de la configuration de notre CDN (réseau de diffusion de contenu), les réponses de l'espace client (« Mon espace », en anglais « My Page » : profil, compte bancaire, carte de paiement et historique des commandes) sont devenues susceptibles d'être mises en cache sur les serveurs périphériques du CDN. Une page générée pour un client a ainsi pu être servie depuis le cache à d'autres clients.",
				"Nous avons supprimé la règle de cache erronée et vidé le cache de tous les serveurs périphériques à 15 h 38 (heure du Japon, JST). Les pages privées sont désormais envoyées avec l'en-tête « Cache-Control: private, no-store », et le CDN n'utilise plus son cache pour les requêtes portant un cookie de session.",
				"Les clients qui ont ouvert « Mon espace » pendant la période concernée ont pu voir s'afficher le nom, l'adresse électronique et postale, le numéro de téléphone, les coordonnées bancaires, les données de carte ou l'historique des commandes d'un autre client. Aucun mot de passe ni numéro de carte complet n'a été affiché.",
			},
			"es": {
				"Durante un cambio en la configuración de nuestra CDN (red de distribución de contenidos), las respuestas del área de clientes («Mi página», en inglés «My Page»: perfil, cuenta bancaria, tarjeta de pago e historial de pedidos) pasaron a poder almacenarse en la caché de los servidores perimetrales de la CDN, de modo que una página generada para un cliente se sirvió desde la caché a otros clientes.",
				"A las 15:38 (hora de Japón, JST) eliminamos la regla de caché errónea y vaciamos la caché de todos los servidores perimetrales. Desde entonces, las páginas privadas se envían con la cabecera «Cache-Control: private, no-store» y la CDN no utiliza su caché para las solicitudes que incluyen una cookie de sesión.",
				"Es posible que a los clientes que abrieron «Mi página» durante el periodo afectado se les mostraran el nombre, la dirección de correo electrónico y postal, el número de teléfono, la cuenta bancaria, los datos de la tarjeta o el historial de pedidos de otro cliente. No se mostraron contraseñas ni números de tarjeta completos.",
			},
			"it": {
				"Durante una modifica della configurazione della nostra CDN (rete di distribuzione dei contenuti), le risposte dell'area clienti («La mia pagina», in inglese «My Page»: profilo, conto bancario, carta di pagamento e cronologia degli ordini) sono diventate memorizzabili nella cache dei server periferici della CDN; di conseguenza, una pagina generata per un cliente è stata servita dalla cache ad altri clienti.",
				"Alle 15:38 (ora giapponese, JST) abbiamo rimosso la regola di cache errata e svuotato la cache di tutti i server periferici. Da allora le pagine private vengono inviate con l'intestazione «Cache-Control: private, no-store» e la CDN non utilizza la propria cache per le richieste che contengono un cookie di sessione.",
				"Ai clienti che hanno aperto «La mia pagina» nel periodo interessato potrebbero essere stati mostrati il nome, l'indirizzo e-mail e postale, il numero di telefono, il conto bancario, i dati della carta o la cronologia degli ordini di un altro cliente. Non sono state mostrate password né numeri di carta completi.",
			},
			"nl": {
				"Bij een wijziging van de configuratie van ons CDN (contentleveringsnetwerk) konden de antwoorden van de klantenomgeving (‘Mijn pagina’, in het Engels ‘My Page’: profiel, bankrekening, betaalkaart en bestelgeschiedenis) op de edgeservers van het CDN in de cache worden opgeslagen. Daardoor werd een pagina die voor de ene klant was opgevraagd, vanuit de cache ook aan andere klanten getoond.",
				"Om 15.38 uur (Japanse tijd, JST) hebben wij de foutieve cacheregel verwijderd en de cache van alle edgeservers geleegd. Privépagina's worden sindsdien verstuurd met de header ‘Cache-Control: private, no-store’, en het CDN gebruikt zijn cache niet meer voor verzoeken met een sessiecookie.",
				"Klanten die in de betreffende periode ‘Mijn pagina’ hebben geopend, kunnen de naam, het e-mail- en postadres, het telefoonnummer, de bankrekening, de kaartgegevens of de bestelgeschiedenis van een andere klant te zien hebben gekregen. Wachtwoorden en volledige kaartnummers werden niet getoond.",
			},
		},
		exposure: []string{
			"cache_key: [pop, host, path, query]",
			"cacheable_status: [200]",
			"routes:",
			"  - {match: /mypage/profile, categories: [name, email, postal_address, phone]}",
			`  - {match: "/mypage/bank*", categories: [bank_account]}`,
			"  - {match: /mypage/card, categories: [payment_card]}",
			`  - {match: "/mypage/orders*", categories: [purchase_history, postal_address]}`,
		},
		trailer: "# private-page cache TTL in the window: " + strconv.FormatFloat(o.TTL.Seconds(), 'f', -1, 64) + "s",
	}
}

// caseFile returns incident.yaml for o, in DESIGN.md's shape.
func caseFile(o Options) []byte {
	return caseText(o, cacheCase(o))
}

// caseText returns the case file of a scenario.
func caseText(o Options, cs caseSpec) []byte {
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	ts := func(t time.Time) string { return t.Format(time.RFC3339) }

	line("# Simulated incident written by breachctl simulate (seed %d, %s logs, precision %s).", o.Seed, o.Format, o.Precision)
	line("# Every person, address and session in it is invented.")
	line("id: %s", o.CaseID)
	line("title: %s", cs.title)
	line("timezone: Asia/Tokyo")
	line("window:")
	line("  start: %s", ts(windowStart))
	line("  end: %s", ts(windowEnd))
	line("discovered_at: %s", ts(discoveredAt))
	line("contained_at: %s", ts(windowEnd))
	line("organization:")
	line("  name: Example Market K.K.")
	line("  contact_email: privacy@example-market.jp")
	line(`  contact_phone: "+81-3-0000-0000"`)
	line("  website: https://www.example-market.jp")
	line(`  address: "1-1 Example, Chiyoda-ku, Tokyo"`)
	line("  dpo_email: dpo@example-market.jp")
	line("cause_kind: %s", cs.causeKind)
	line("narrative:")
	line("  cause: %s", yamlQuote(cs.narrative[0]))
	line("  measures: %s", yamlQuote(cs.narrative[1]))
	line("  consequences: %s", yamlQuote(cs.narrative[2]))
	line("logs:")
	switch o.Format {
	case FormatNginx, FormatJSONL:
		line(`  - paths: ["logs/*/*.log", "logs/*/*.log.gz"]`)
	default:
		line(`  - paths: ["logs/*/*.log.gz"]`)
	}
	line("    format: %s", o.Format)
	if o.Format == FormatNginx {
		lf := nginxLogFormat
		if cs.subject {
			lf += ` "$upstream_http_x_user_id"`
		}
		if o.Precision == PrecisionMillisecond {
			lf += " $msec"
		}
		line("    log_format: %s", yamlSingle(lf))
	}
	if o.Format == FormatJSONL {
		line("    identity: field:session")
		line("    fields: {time: ts, ip: client, method: method, host: host, path: uri_path, query: qs, status: code, cache: cache, pop: edge}")
		if cs.subject {
			line("    subject: field:x_user_id")
		}
	} else {
		line("    identity: cookie:sid")
		if cs.subject {
			line("    subject: field:upstream_http_x_user_id")
		}
	}
	line("identity_kind: session")
	line("users:")
	line("  database_url: %s", yamlQuote(o.UsersDBURL))
	line("  sessions_query: %s", yamlQuote(sessionsQuery))
	line("  users_query: %s", yamlQuote(usersQuery))
	line("  lookup_query: %s", yamlQuote(lookupQuery))
	line("exposure:")
	for _, l := range cs.exposure {
		line("  %s", l)
	}
	line("notify:")
	line(`  from: "Example Market Privacy Office <privacy@example-market.jp>"`)
	line("  default_locale: ja")
	line("  law_enforcement_delay: \"no\"")
	line("  # Who is reached how: e-mail to everyone; a letter where the law asks for")
	line("  # one (US residents and people whose health data was exposed, without")
	line("  # e-mail consent) or where e-mail did not reach the person.")
	line("  channels:")
	line("    - {channel: email}")
	line("    - channel: letter")
	line("      when: [required, fallback]")
	line(`      return_address: ["1-1 Example, Chiyoda-ku", "Tokyo 100-0001", "Japan"]`)
	line("  narrative:")
	for _, loc := range narrativeLocales(cs, incident.Locales) {
		n := cs.localNarrative[loc]
		line("    %s:", loc)
		line("      cause: %s", yamlQuote(n[0]))
		line("      measures: %s", yamlQuote(n[1]))
		line("      consequences: %s", yamlQuote(n[2]))
	}
	if cs.trailer != "" {
		line("%s", cs.trailer)
	}
	return []byte(b.String())
}

// narrativeLocales returns the locales of cs's local narratives that are
// notice locales, in the order of locales: a narrative written for a
// language that has no notice templates yet would fail validation, and is
// left out until the templates exist.
func narrativeLocales(cs caseSpec, locales []string) []string {
	var out []string
	for _, loc := range locales {
		if _, ok := cs.localNarrative[loc]; ok {
			out = append(out, loc)
		}
	}
	return out
}

// writeCaseFile writes the cache incident's case file with mode 0600: it
// names a database URL.
func writeCaseFile(path string, o Options) error {
	return writeCaseText(path, caseFile(o))
}

// writeCaseText writes a case file with mode 0600.
func writeCaseText(path string, text []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("simulate: write case file: %w", err)
	}
	_, err = f.Write(text)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("simulate: write case file %s: %w", path, err)
	}
	return nil
}
