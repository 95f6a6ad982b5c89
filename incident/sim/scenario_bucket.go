package sim

import (
	"encoding/hex"
	"time"
)

// The bucket's downloaders (addresses none of the population uses).
const (
	bucketCrawlerIP = "5.188.62.214"
	bucketSecondIP  = "104.244.72.115"
	bucketThirdIP   = "2001:db8:4f::1a"
)

// bucketCats is what a customer's uploaded document shows.
const bucketCats = catGovernmentID | catName | catPostalAddress

// bucketPublic is when the file store was made public: the rule's from.
const bucketPublic = 78 * time.Minute // after the window's start

// bucket: a file store of customers' identity documents made public
// (DigitalOcean 2021, storage access logs). Anonymous downloads of a key
// expose every owner of the document; owners download their own with their
// session; before the store was made public it answered 403.
func (sc *scen) bucket() {
	us := sc.pop.users
	n := len(us)
	r := sc.r
	const rule = "bucket"
	minute, second := int64(time.Minute), int64(time.Second)
	from := sc.ws + int64(bucketPublic)

	type doc struct {
		key    string
		owners []int32
	}
	kinds := []struct{ prefix, ext string }{
		{"id-front", ".jpg"}, {"id-back", ".jpg"}, {"residence-card", ".jpg"},
		{"proof-of-address", ".pdf"}, {"household-registry", ".pdf"},
	}
	docs := make([]doc, clamp(n/15, 40, 5000)) // at least 20 left after the crawler's third
	table := ownerTable{name: "sim_documents"}
	seen := map[string]bool{}
	for i := range docs {
		d := &docs[i]
		for {
			var b [8]byte
			putUint64(b[:], r.Uint64())
			k := kinds[r.IntN(len(kinds))]
			d.key = k.prefix + "-" + hex.EncodeToString(b[:5]) + k.ext
			if !seen[d.key] {
				seen[d.key] = true
				break
			}
		}
		owners := 1
		switch x := r.IntN(100); {
		case x < 7:
			owners = 3
		case x < 25:
			owners = 2
		}
		for len(d.owners) < owners {
			u := int32(r.IntN(n))
			if !containsUser(d.owners, u) {
				d.owners = append(d.owners, u)
				table.rows = append(table.rows, ownerRow{object: d.key, user: u})
			}
		}
	}
	sc.tables = append(sc.tables, table)
	file := func(key string) string { return "/files/" + key }
	size := func() int { return 180000 + r.IntN(2400000) }

	// The crawler that found the listing takes a third of the documents,
	// one after another; two more addresses take a few each, some of them
	// the crawler's too. Every owner is confirmed for each.
	perm := r.Perm(len(docs))
	crawled := perm[:clamp(len(docs)/3, 10, 1500)]
	rest := perm[len(crawled):]
	get := func(t int64, ip string, ua uint8, d *doc) {
		x := sc.add(t, anonymous(ip, ua), false, file(d.key), "", 200, size())
		x.rule, x.kind, x.victims, x.cats, x.listed = rule, evObject, d.owners, bucketCats, true
	}
	t := from + 5*minute + r.Int64N(20*minute)
	for _, i := range crawled {
		t += 200*int64(time.Millisecond) + r.Int64N(3*second)
		get(t, bucketCrawlerIP, uaGoHTTP, &docs[i])
	}
	// Keys the listing shows that no customer owns: unattributed.
	for _, key := range []string{"index.html", "test-upload.txt", "backup-2017-06-01.tar.gz"} {
		t += second
		x := sc.add(t, anonymous(bucketCrawlerIP, uaGoHTTP), false, file(key), "", 200, 4000+r.IntN(90000))
		x.rule, x.kind, x.listed = rule, evUnattributed, true
	}
	for k := range 5 {
		i := crawled[r.IntN(len(crawled))]
		if k%2 == 0 {
			i = rest[k]
		}
		get(sc.between(from+minute, sc.we-minute), bucketSecondIP, uaAWSCLI, &docs[i])
	}
	for k := range 3 {
		get(sc.between(from+minute, sc.we-minute), bucketThirdIP, 3, &docs[rest[5+k]])
	}

	// Near misses.
	// Owners download their own documents with their session.
	for k := range 8 {
		d := &docs[perm[r.IntN(len(perm))]]
		c := sc.userClient(d.owners[0])
		lo := sc.ws + minute
		if k%2 == 0 {
			lo = from + minute
		}
		sc.add(sc.between(lo, sc.we-minute), c, false, file(d.key), "", 200, size()).near = "the owner's own download, with a session (viewers: anonymous only)"
	}
	// Before the store was public it refused, including documents that
	// nobody took later.
	for k := range 10 {
		d := &docs[rest[10+k]]
		sc.add(sc.between(sc.ws+10*minute, from-minute), anonymous(bucketCrawlerIP, uaGoHTTP), false, file(d.key), "", 403, 243).near = "403 before the store was public"
	}
	// Keys that do not exist.
	for range 6 {
		var b [8]byte
		putUint64(b[:], r.Uint64())
		sc.add(sc.between(from+minute, sc.we-minute), anonymous(bucketSecondIP, uaAWSCLI), false, file("id-front-"+hex.EncodeToString(b[:5])+".jpg"), "", 404, 243).near = "no such key (404)"
	}

	sc.spec = caseSpec{
		title:     "Customers' identity documents downloadable from a public file store (simulation)",
		causeKind: "misconfiguration",
		narrative: [3]string{
			"At 10:59 JST a change to the file store's access policy made the store behind /files/ public, with a listing of its keys: the identity documents and proofs of address customers had uploaded for verification could be downloaded by anyone. A crawler found the listing and downloaded many documents; two more addresses downloaded a few.",
			"The policy was reverted at 15:38 JST; the store is private again, documents are served only through short-lived signed links, and policy changes now need a second approver.",
			"The documents downloaded show the customer's identity document (number, name, date of birth and photo) or a proof of address; some belong to several members of a household.",
		},
		localNarrative: map[string][3]string{
			"ja": {
				"10時59分にファイル保管領域のアクセス設定を変更した際、/files/ 以下の保管領域が一覧とともに公開状態になり、お客様が本人確認のためにアップロードされた本人確認書類や住所確認書類を誰でも取得できる状態になっていました。一覧を見つけたクローラーが多数の書類を取得し、ほかに2つのアドレスが一部を取得しました。",
				"15時38分に設定を元に戻し、保管領域を非公開としました。書類は有効期限付きの署名付きリンクでのみ提供し、設定の変更には2人目の承認を必要とするよう改めました。",
				"取得された書類には、本人確認書類（番号、氏名、生年月日、顔写真）または住所を確認する書類が含まれます。ご家族で共有の書類もあります。",
			},
			"de": {
				"Durch eine Änderung der Zugriffsrichtlinie unseres Dateispeichers um 10:59 Uhr JST wurde der Speicher hinter /files/ öffentlich zugänglich, einschließlich einer Liste seiner Dateien: Die Ausweisdokumente und Adressnachweise, die Kundinnen und Kunden zur Identitätsprüfung hochgeladen hatten, konnten von jedermann heruntergeladen werden. Ein Crawler fand die Liste und lud zahlreiche Dokumente herunter; von zwei weiteren Adressen wurden einige wenige heruntergeladen.",
				"Wir haben die Richtlinie um 15:38 Uhr JST zurückgesetzt; der Speicher ist wieder privat. Dokumente werden nur noch über kurzlebige signierte Links bereitgestellt, und Änderungen der Richtlinie erfordern nun die Freigabe durch eine zweite Person.",
				"Die heruntergeladenen Dokumente zeigen das Ausweisdokument der Kundin bzw. des Kunden (Nummer, Name, Geburtsdatum und Foto) oder einen Adressnachweis; einige gehören mehreren Mitgliedern eines Haushalts.",
			},
			"fr": {
				"À 10 h 59 (heure du Japon, JST), une modification de la politique d'accès de notre stockage de fichiers a rendu public l'espace de stockage situé derrière /files/, avec la liste de ses fichiers : les pièces d'identité et justificatifs de domicile que des clients avaient téléversés pour la vérification de leur identité pouvaient être téléchargés par n'importe qui. Un robot d'indexation a trouvé cette liste et téléchargé de nombreux documents ; deux autres adresses en ont téléchargé quelques-uns.",
				"Nous avons rétabli la politique précédente à 15 h 38 (JST) ; le stockage est de nouveau privé, les documents ne sont plus accessibles que par des liens signés à durée de validité courte, et toute modification de la politique exige désormais l'approbation d'une seconde personne.",
				"Les documents téléchargés montrent la pièce d'identité du client (numéro, nom, date de naissance et photo) ou un justificatif de domicile ; certains concernent plusieurs membres d'un même foyer.",
			},
			"es": {
				"A las 10:59 (hora de Japón, JST), un cambio en la política de acceso de nuestro almacenamiento de archivos hizo público el almacenamiento situado tras /files/, junto con un listado de sus archivos: cualquiera podía descargar los documentos de identidad y justificantes de domicilio que los clientes habían subido para verificar su identidad. Un rastreador (crawler) encontró el listado y descargó numerosos documentos; otras dos direcciones descargaron algunos.",
				"A las 15:38 (JST) revertimos la política; el almacenamiento vuelve a ser privado, los documentos solo se ofrecen mediante enlaces firmados de corta duración y los cambios de política requieren ahora la aprobación de una segunda persona.",
				"Los documentos descargados muestran el documento de identidad del cliente (número, nombre, fecha de nacimiento y fotografía) o un justificante de domicilio; algunos pertenecen a varios miembros de un mismo hogar.",
			},
			"it": {
				"Alle 10:59 (ora giapponese, JST) una modifica della policy di accesso del nostro archivio di file ha reso pubblico l'archivio dietro /files/, insieme all'elenco dei suoi file: i documenti d'identità e i documenti a comprova dell'indirizzo caricati dai clienti per la verifica dell'identità potevano essere scaricati da chiunque. Un crawler ha trovato l'elenco e scaricato numerosi documenti; altri due indirizzi ne hanno scaricati alcuni.",
				"Alle 15:38 (JST) abbiamo ripristinato la policy precedente; l'archivio è di nuovo privato, i documenti sono forniti solo tramite link firmati di breve durata e le modifiche alla policy richiedono ora l'approvazione di una seconda persona.",
				"I documenti scaricati mostrano il documento d'identità del cliente (numero, nome, data di nascita e foto) oppure un documento a comprova dell'indirizzo; alcuni appartengono a più componenti dello stesso nucleo familiare.",
			},
			"nl": {
				"Door een wijziging van het toegangsbeleid van onze bestandsopslag om 10.59 uur (Japanse tijd, JST) werd de opslag achter /files/ openbaar, inclusief een lijst van de bestanden: de identiteitsbewijzen en adresbewijzen die klanten voor verificatie hadden geüpload, konden door iedereen worden gedownload. Een crawler vond de lijst en downloadde een groot aantal documenten; vanaf twee andere adressen werden er enkele gedownload.",
				"Om 15.38 uur (JST) hebben wij het beleid teruggedraaid; de opslag is weer privé, documenten worden alleen nog via kortlevende ondertekende links aangeboden, en wijzigingen in het beleid vereisen nu de goedkeuring van een tweede persoon.",
				"De gedownloade documenten tonen het identiteitsbewijs van de klant (nummer, naam, geboortedatum en foto) of een adresbewijs; sommige horen bij meerdere leden van een huishouden.",
			},
		},
		exposure: []string{
			"rules:",
			"  - kind: object",
			"    name: " + rule,
			"    from: " + windowStart.Add(bucketPublic).Format(time.RFC3339),
			"    routes:",
			`      - {match: 're:^/files/(?P<object>[A-Za-z0-9._-]+)$', categories: [government_id, name, postal_address]}`,
			"    owners_query: " + yamlQuote("SELECT object_id, user_id FROM sim_documents WHERE object_id = ANY($1)"),
			"    viewers: {anonymous: true}",
			"    statuses: [200]",
		},
	}
}

func containsUser(us []int32, u int32) bool {
	for _, v := range us {
		if v == u {
			return true
		}
	}
	return false
}
