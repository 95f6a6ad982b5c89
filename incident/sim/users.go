package sim

import (
	"context"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"

	"github.com/jmoiron/sqlx"
)

// user is one simulated customer.
type user struct {
	id        int64
	email     string
	name      string
	locale    string
	country   string
	region    string
	onFile    catMask // categories the organisation holds for this person
	firstSess int32   // index of the first of the user's sessions
	nSess     int32   // 1 or 2 (two devices)
}

// session is one logged-in device of a user.
type session struct {
	id     string // 32 hex chars, the sid cookie
	user   int32  // index into population.users
	ip     string // stable client address
	ua     uint8  // index into userAgents
	h2     bool
	cookie string // the Cookie header as sent
}

// anonClient is a client that is not logged in.
type anonClient struct {
	ip     string
	ua     uint8
	h2     bool
	cookie string // "" or an analytics cookie only
}

type population struct {
	users    []user
	sessions []session
	anon     []anonClient
}

// Random streams, one per purpose, so that adding draws to one purpose never
// changes another's output, and per-edge work is deterministic in parallel.
const (
	streamUsers uint64 = iota + 1
	streamAnon
	streamEdge     // + edge index * streamStride
	streamShuffle  // + edge index * streamStride
	streamTruncate // + edge index * streamStride
	streamIDs      // + edge index * streamStride
	streamScenario
	streamScenarioIDs // + edge index * streamStride
	streamStride      = 16
)

// newRand returns the random stream for purpose under seed.
func newRand(seed, purpose uint64) *rand.Rand {
	return rand.New(rand.NewPCG(splitmix(seed), splitmix(seed^(purpose*0x9e3779b97f4a7c15)+purpose)))
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

type nameRomaji struct{ kanji, romaji string }

var (
	jpFamily = []nameRomaji{
		{"佐藤", "sato"}, {"鈴木", "suzuki"}, {"高橋", "takahashi"}, {"田中", "tanaka"},
		{"伊藤", "ito"}, {"渡辺", "watanabe"}, {"山本", "yamamoto"}, {"中村", "nakamura"},
		{"小林", "kobayashi"}, {"加藤", "kato"}, {"吉田", "yoshida"}, {"山田", "yamada"},
		{"佐々木", "sasaki"}, {"山口", "yamaguchi"}, {"松本", "matsumoto"}, {"井上", "inoue"},
		{"木村", "kimura"}, {"林", "hayashi"}, {"斎藤", "saito"}, {"清水", "shimizu"},
		{"山崎", "yamazaki"}, {"森", "mori"}, {"池田", "ikeda"}, {"橋本", "hashimoto"},
		{"阿部", "abe"}, {"石川", "ishikawa"}, {"山下", "yamashita"}, {"中島", "nakajima"},
		{"石井", "ishii"}, {"小川", "ogawa"}, {"前田", "maeda"}, {"岡田", "okada"},
	}
	jpGiven = []nameRomaji{
		{"健", "ken"}, {"翔太", "shota"}, {"大輔", "daisuke"}, {"拓也", "takuya"},
		{"直樹", "naoki"}, {"陽子", "yoko"}, {"美咲", "misaki"}, {"優子", "yuko"},
		{"愛", "ai"}, {"さくら", "sakura"}, {"花子", "hanako"}, {"太郎", "taro"},
		{"恵", "megumi"}, {"翼", "tsubasa"}, {"誠", "makoto"}, {"由美", "yumi"},
		{"結衣", "yui"}, {"蓮", "ren"}, {"陽菜", "hina"}, {"裕子", "hiroko"},
		{"大翔", "hiroto"}, {"真由美", "mayumi"}, {"和也", "kazuya"}, {"明美", "akemi"},
	}
	latinGiven = []string{
		"James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda",
		"David", "Elizabeth", "Sarah", "Emily", "Chloé", "José", "Zoë", "Renée",
		"Seán", "Jürgen", "François", "Ana", "Lukas", "Sophie", "Marco", "Giulia",
		"Lucía", "Pieter", "Siobhán", "Noah", "Olivia", "Björn",
	}
	latinFamily = []string{
		"Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
		"O'Brien", "O'Neill", "Müller", "Schmidt", "Schröder", "Dubois", "Lefèvre",
		"García", "Martínez", "Rossi", "Bianchi", "de Vries", "van den Berg", "Murphy",
		"Kelly", "Núñez", "D'Angelo", "Nguyen", "Wagner", "Fernández", "Jansen", "Byrne",
	}
)

type weighted struct {
	v string
	w int
}

var (
	jpRegions = []weighted{{"JP-13", 35}, {"JP-27", 15}, {"JP-14", 15}, {"JP-23", 10}, {"JP-11", 9}, {"JP-01", 8}, {"JP-40", 8}}
	usRegions = []weighted{{"US-CA", 50}, {"US-NY", 15}, {"US-TX", 12}, {"US-WA", 10}, {"US-FL", 6}, {"US-CO", 4}, {"US-DE", 3}}
	euRegions = []weighted{{"DE-BY", 18}, {"DE-BE", 16}, {"FR-IDF", 20}, {"IE-D", 14}, {"NL-NH", 12}, {"ES-MD", 10}, {"IT-RM", 10}}
	// euLocales is the language an EU customer's record holds, by the
	// country of euRegions; a country missing here gets en.
	euLocales = map[string]string{"DE": "de", "FR": "fr", "ES": "es", "IT": "it", "NL": "nl", "IE": "en"}
)

// euLocale returns the locale on record for a customer living in country,
// one of euRegions' countries.
func euLocale(country string) string {
	if l, ok := euLocales[country]; ok {
		return l
	}
	return "en"
}

func pick(r *rand.Rand, ws []weighted) string {
	total := 0
	for _, w := range ws {
		total += w.w
	}
	x := r.IntN(total)
	for _, w := range ws {
		if x < w.w {
			return w.v
		}
		x -= w.w
	}
	return ws[len(ws)-1].v
}

// Where a user lives; it drives names, locale, addresses and traffic.
const (
	geoJP = iota
	geoUS
	geoEU
)

// newPopulation builds n users with their sessions, and a pool of anonymous
// clients, deterministically from seed.
func newPopulation(seed uint64, n int) *population {
	r := newRand(seed, streamUsers)
	p := &population{users: make([]user, n), sessions: make([]session, 0, n+n/5)}
	emails := make(map[string]int, n)
	sids := make(map[string]struct{}, n+n/5)
	id := int64(100000 + r.IntN(1000))
	for i := range p.users {
		id += 1 + int64(r.IntN(3)) // closed accounts leave gaps
		u := &p.users[i]
		u.id = id
		geo := geoEU
		switch x := r.IntN(100); {
		case x < 60:
			geo = geoJP
		case x < 85:
			geo = geoUS
		}
		// siteLang is the shop's display language in the lang cookie: the
		// site is in Japanese and English only, whatever language the
		// customer's record holds for letters.
		siteLang := "en"
		var local, domain string
		switch geo {
		case geoJP:
			fam, giv := jpFamily[r.IntN(len(jpFamily))], jpGiven[r.IntN(len(jpGiven))]
			u.name = fam.kanji + " " + giv.kanji
			u.country, u.region = "JP", pick(r, jpRegions)
			u.locale = "ja"
			if r.IntN(10) == 0 {
				u.locale = "en"
			}
			siteLang = u.locale
			local = emailLocal(r, giv.romaji, fam.romaji)
			domain = "example.jp"
			if r.IntN(5) == 0 {
				domain = "example.com"
			}
		default:
			giv, fam := latinGiven[r.IntN(len(latinGiven))], latinFamily[r.IntN(len(latinFamily))]
			u.name = giv + " " + fam
			u.locale = "en"
			if geo == geoUS {
				u.region = pick(r, usRegions)
			} else {
				u.region = pick(r, euRegions)
			}
			u.country = u.region[:2]
			if geo == geoEU {
				// From the country, with no random draw, so that every
				// other value stays the same for a seed.
				u.locale = euLocale(u.country)
			}
			local = emailLocal(r, asciiFold(giv), asciiFold(fam))
			domain = "example.com"
			if r.IntN(3) == 0 {
				domain = "example.net"
			}
		}
		addr := local + "@" + domain
		if k := emails[addr]; k > 0 {
			// Same name taken: number it, as mail providers make people do.
			for {
				k++
				alt := local + strconv.Itoa(k) + "@" + domain
				if emails[alt] == 0 {
					emails[addr] = k
					addr = alt
					break
				}
			}
		}
		emails[addr] = 1
		u.email = addr

		u.onFile = catName | catEmail | catPurchaseHistory
		if r.IntN(100) < 85 {
			u.onFile |= catPostalAddress
		}
		if r.IntN(100) < 70 {
			u.onFile |= catPhone
		}
		if r.IntN(100) < 40 {
			u.onFile |= catBankAccount
		}
		if r.IntN(100) < 55 {
			u.onFile |= catPaymentCard
		}

		u.firstSess = int32(len(p.sessions))
		u.nSess = 1
		if r.IntN(100) < 15 {
			u.nSess = 2
		}
		for range u.nSess {
			var sid string
			for {
				var b [16]byte
				putUint64(b[:8], r.Uint64())
				putUint64(b[8:], r.Uint64())
				sid = hex.EncodeToString(b[:])
				if _, dup := sids[sid]; !dup {
					break
				}
			}
			sids[sid] = struct{}{}
			s := session{
				id:   sid,
				user: int32(i),
				ip:   randomIP(r, geo, r.IntN(100) < 12),
				ua:   uint8(r.IntN(numPeopleUAs)),
				h2:   r.IntN(100) < 45,
			}
			s.cookie = sessionCookie(r, sid, siteLang)
			p.sessions = append(p.sessions, s)
		}
	}

	ra := newRand(seed, streamAnon)
	p.anon = make([]anonClient, max(256, n/2))
	for i := range p.anon {
		geo := geoJP
		switch x := ra.IntN(100); {
		case x >= 85:
			geo = geoEU
		case x >= 65:
			geo = geoUS
		}
		a := &p.anon[i]
		a.ip = randomIP(ra, geo, ra.IntN(100) < 10)
		a.ua = uint8(ra.IntN(len(userAgents)))
		a.h2 = ra.IntN(100) < 40
		if ra.IntN(100) < 35 {
			a.cookie = gaCookie(ra)
		}
	}
	return p
}

func putUint64(b []byte, v uint64) {
	for i := range 8 {
		b[i] = byte(v >> (56 - 8*i))
	}
}

// emailLocal makes the local part of an address from a given and family name.
func emailLocal(r *rand.Rand, given, family string) string {
	switch r.IntN(5) {
	case 0:
		return given + "." + family
	case 1:
		return given[:1] + "." + family
	case 2:
		return family + "." + given
	case 3:
		return given + family
	default:
		return given + "_" + family + strconv.Itoa(r.IntN(90)+10)
	}
}

// asciiFold lowercases a Latin name and drops accents, apostrophes and spaces
// for an e-mail address.
func asciiFold(s string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(s) {
		switch c {
		case 'á', 'à', 'â', 'ä':
			b.WriteByte('a')
		case 'é', 'è', 'ê', 'ë':
			b.WriteByte('e')
		case 'í', 'ì', 'î', 'ï':
			b.WriteByte('i')
		case 'ó', 'ò', 'ô', 'ö':
			b.WriteByte('o')
		case 'ú', 'ù', 'û', 'ü':
			b.WriteByte('u')
		case 'ñ':
			b.WriteByte('n')
		case 'ç':
			b.WriteByte('c')
		default:
			if c >= 'a' && c <= 'z' {
				b.WriteRune(c)
			}
		}
	}
	return b.String()
}

var (
	v4Prefixes = [3][]byte{
		geoJP: {126, 153, 180, 219, 114, 60, 220, 118, 106},
		geoUS: {73, 98, 71, 24, 108, 67, 76},
		geoEU: {84, 91, 80, 62, 93, 85, 77},
	}
	v6Prefixes = [3][]uint16{
		geoJP: {0x240b, 0x2400, 0x240f},
		geoUS: {0x2600, 0x2601, 0x2602},
		geoEU: {0x2a02, 0x2a01, 0x2003},
	}
)

// randomIP returns a plausible client address for geo, in canonical text form.
func randomIP(r *rand.Rand, geo int, v6 bool) string {
	if v6 {
		var b [16]byte
		pre := v6Prefixes[geo][r.IntN(len(v6Prefixes[geo]))]
		b[0], b[1] = byte(pre>>8), byte(pre)
		putUint64(b[8:], r.Uint64())
		mid := r.Uint64()
		for i := 2; i < 8; i++ {
			b[i] = byte(mid >> (8 * i))
		}
		return netip.AddrFrom16(b).String()
	}
	pre := v4Prefixes[geo]
	return netip.AddrFrom4([4]byte{pre[r.IntN(len(pre))], byte(r.IntN(256)), byte(r.IntN(256)), byte(1 + r.IntN(254))}).String()
}

func gaCookie(r *rand.Rand) string {
	return "_ga=GA1.2." + strconv.Itoa(100000000+r.IntN(900000000)) + "." + strconv.Itoa(1480000000+r.IntN(18000000))
}

// sessionCookie returns a Cookie header carrying sid: sometimes first,
// sometimes last, sometimes alone.
func sessionCookie(r *rand.Rand, sid, locale string) string {
	lang := "lang=" + locale
	switch r.IntN(4) {
	case 0:
		return gaCookie(r) + "; sid=" + sid + "; " + lang
	case 1:
		return "sid=" + sid + "; " + gaCookie(r) + "; " + lang
	case 2:
		return lang + "; " + gaCookie(r) + "; sid=" + sid
	default:
		return "sid=" + sid
	}
}

// loadPopulation drops and recreates sim_users and sim_sessions in the user
// database and fills them with COPY. The names are unqualified so that a
// search_path in the database URL chooses the schema.
func loadPopulation(ctx context.Context, db *sqlx.DB, p *population) error {
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("simulate: load users: %w", err)
	}
	defer func() { _ = tx.Rollback() }()

	for _, q := range []string{
		`DROP TABLE IF EXISTS sim_sessions`,
		`DROP TABLE IF EXISTS sim_users`,
		`CREATE TABLE sim_users (
			id bigint NOT NULL,
			email text NOT NULL,
			name text NOT NULL,
			locale text NOT NULL,
			country text NOT NULL,
			region text NOT NULL,
			has_postal_address bool NOT NULL,
			has_phone bool NOT NULL,
			has_bank_account bool NOT NULL,
			has_payment_card bool NOT NULL,
			postal_address text,
			email_consent bool NOT NULL)`,
		`CREATE TABLE sim_sessions (
			session_id text NOT NULL,
			user_id bigint NOT NULL)`,
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("simulate: create user tables: %w", err)
		}
	}

	// The statements pq.CopyIn builds (it is deprecated in favour of
	// writing them out).
	users, err := tx.PrepareContext(ctx, `COPY sim_users (id, email, name, locale, country, region,
		has_postal_address, has_phone, has_bank_account, has_payment_card, postal_address, email_consent) FROM STDIN`)
	if err != nil {
		return fmt.Errorf("simulate: copy sim_users: %w", err)
	}
	for i := range p.users {
		u := &p.users[i]
		if _, err := users.ExecContext(ctx, u.id, u.email, u.name, u.locale, u.country, u.region,
			u.onFile&catPostalAddress != 0, u.onFile&catPhone != 0,
			u.onFile&catBankAccount != 0, u.onFile&catPaymentCard != 0, postalAddress(u.id, u.region), emailConsent(u.id)); err != nil {
			_ = users.Close()
			return fmt.Errorf("simulate: copy sim_users row %d: %w", i, err)
		}
	}
	if _, err := users.ExecContext(ctx); err != nil {
		_ = users.Close()
		return fmt.Errorf("simulate: copy sim_users: %w", err)
	}
	if err := users.Close(); err != nil {
		return fmt.Errorf("simulate: copy sim_users: %w", err)
	}

	sessions, err := tx.PrepareContext(ctx, `COPY sim_sessions (session_id, user_id) FROM STDIN`)
	if err != nil {
		return fmt.Errorf("simulate: copy sim_sessions: %w", err)
	}
	for i := range p.sessions {
		s := &p.sessions[i]
		if _, err := sessions.ExecContext(ctx, s.id, p.users[s.user].id); err != nil {
			_ = sessions.Close()
			return fmt.Errorf("simulate: copy sim_sessions row %d: %w", i, err)
		}
	}
	if _, err := sessions.ExecContext(ctx); err != nil {
		_ = sessions.Close()
		return fmt.Errorf("simulate: copy sim_sessions: %w", err)
	}
	if err := sessions.Close(); err != nil {
		return fmt.Errorf("simulate: copy sim_sessions: %w", err)
	}

	// Constraints after the bulk load: the same tables, built faster.
	for _, q := range []string{
		`ALTER TABLE sim_users ADD PRIMARY KEY (id)`,
		`ALTER TABLE sim_sessions ADD PRIMARY KEY (session_id)`,
		`CREATE INDEX sim_users_email ON sim_users (lower(email))`,
		`ALTER TABLE sim_sessions ADD FOREIGN KEY (user_id) REFERENCES sim_users (id)`,
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("simulate: index user tables: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("simulate: load users: %w", err)
	}
	return nil
}
