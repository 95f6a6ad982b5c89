package sim

import (
	"math/bits"
	"net/url"
	"strconv"
	"time"
)

// catMask is a set of data categories. Bits are in alphabetical order of
// the category names, so iterating bits yields sorted names.
type catMask uint8

const (
	catBankAccount catMask = 1 << iota
	catEmail
	catGovernmentID
	catName
	catPaymentCard
	catPhone
	catPostalAddress
	catPurchaseHistory
)

var catNames = [...]string{
	"bank_account", "email", "government_id", "name", "payment_card", "phone", "postal_address", "purchase_history",
}

// names returns the categories in m, sorted; never nil.
func (m catMask) names() []string {
	out := make([]string, 0, bits.OnesCount8(uint8(m)))
	for i, n := range catNames {
		if m&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return out
}

// The site's host name (the Host header).
const siteHost = "www.example-market.jp"

// key is one cache key of the site (host, path and query; the pop is the
// edge). Private keys come first and are indexed by route.
type key struct {
	path, query string
	uri         string  // path, plus "?" and query when there is one
	private     bool    // a "My Page" route
	cats        catMask // the route's categories (private routes)
	ttl         int64   // public objects' TTL, ns
	bytesLo     int     // response size range
	bytesHi     int
	// Pre-escaped forms for the formats.
	jsonURI, jsonPath, jsonQuery string // JSON string contents
	cfQuery                      string // CloudFront cs-uri-query ("-" when none)
}

// Private routes (the exposure.routes of the case file) and their keys.
const (
	keyProfile = iota
	keyBank
	keyBankEdit
	keyCard
	keyOrders
	keyOrdersPage2
	numPrivateKeys
)

// Public keys follow the private ones.
const (
	keyHome = numPrivateKeys + iota
	keyLogin
	keyFirstStatic // numStatic keys
)

const (
	numStatic = 3
	numItems  = 3000
)

var searchWords = []struct {
	word string
	raw  bool // sent as raw UTF-8 rather than percent-encoded
}{
	{"shoes", false}, {"camera", false}, {"t-shirt", false}, {"bag", false},
	{"iphone case", false}, {"東京", false}, {"スニーカー", false}, {"傘", true},
	{"café", false}, {"rice cooker", false}, {"ワンピース", true}, {"腕時計", false},
	{"100% cotton", false}, {"lego", false}, {"北海道 メロン", false}, {"水着", true},
}

// siteKeys is the site's key table: private keys, "/", "/login", static
// assets, searches, then items.
type siteKeys struct {
	keys      []key
	firstWord int
	firstItem int
	numSearch int
}

func newSiteKeys() *siteKeys {
	s := &siteKeys{}
	priv := func(path, query string, cats catMask, lo, hi int) {
		s.keys = append(s.keys, key{path: path, query: query, private: true, cats: cats, bytesLo: lo, bytesHi: hi})
	}
	profile := catName | catEmail | catPostalAddress | catPhone
	orders := catPurchaseHistory | catPostalAddress
	priv("/mypage/profile", "", profile, 5200, 7400)
	priv("/mypage/bank", "", catBankAccount, 4100, 4900)
	priv("/mypage/bank/edit", "", catBankAccount, 6100, 6900)
	priv("/mypage/card", "", catPaymentCard, 4300, 5200)
	priv("/mypage/orders", "", orders, 8800, 21000)
	priv("/mypage/orders", "page=2", orders, 7800, 19000)

	pub := func(path, query string, ttl time.Duration, lo, hi int) {
		s.keys = append(s.keys, key{path: path, query: query, ttl: int64(ttl), bytesLo: lo, bytesHi: hi})
	}
	pub("/", "", time.Minute, 31000, 36000)
	pub("/login", "", 10*time.Minute, 3900, 4200)
	for _, h := range []string{"/static/app.3f9a2c1e.js", "/static/app.3f9a2c1e.css", "/static/vendor.8b41d07a.js"} {
		pub(h, "", 24*time.Hour, 48000, 260000)
	}
	s.firstWord = len(s.keys)
	for _, w := range searchWords {
		q := "q=" + url.QueryEscape(w.word)
		if w.raw {
			q = "q=" + w.word
		}
		pub("/search", q, 2*time.Minute, 14000, 29000)
	}
	s.numSearch = len(searchWords)
	s.firstItem = len(s.keys)
	for i := 1; i <= numItems; i++ {
		pub("/items/"+strconv.Itoa(i), "", 5*time.Minute, 11000, 24000)
	}
	for i := range s.keys {
		s.keys[i].escape()
	}
	return s
}

// escape fills in k's URI and its pre-escaped forms from path and query.
func (k *key) escape() {
	k.uri = k.path
	if k.query != "" {
		k.uri += "?" + k.query
	}
	k.jsonURI = string(appendJSONContent(nil, k.uri))
	k.jsonPath = string(appendJSONContent(nil, k.path))
	k.jsonQuery = string(appendJSONContent(nil, k.query))
	k.cfQuery = "-"
	if k.query != "" {
		k.cfQuery = string(appendCloudFrontEncoded(nil, k.query))
	}
}

// newKey returns a key for one request of a scenario (an API or file path).
func newKey(path, query string) *key {
	k := &key{path: path, query: query}
	k.escape()
	return k
}
