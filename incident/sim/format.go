package sim

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"time"
)

// cacheResult is what the edge did with a request.
type cacheResult uint8

const (
	resMiss        cacheResult = iota // FILL: no object, fetched and stored
	resHit                            // CACHED: a live object
	resExpired                        // FILL: an expired object, refetched and stored
	resRevalidated                    // CACHED: an expired object, revalidated and served
	resOrigin                         // not cacheable: private route outside the window
	resPost                           // not cacheable: POST
	numResults
)

// cacheWords returns how format writes each cacheResult. CloudFront logs
// uncached responses as Miss.
func cacheWords(format string) [numResults]string {
	switch format {
	case FormatCloudFront:
		return [numResults]string{"Miss", "Hit", "Miss", "RefreshHit", "Miss", "Miss"}
	case FormatCloudflare:
		return [numResults]string{"miss", "hit", "expired", "revalidated", "dynamic", "bypass"}
	default: // nginx and jsonl
		return [numResults]string{"MISS", "HIT", "EXPIRED", "REVALIDATED", "BYPASS", "BYPASS"}
	}
}

// writtenAsFill reports whether DESIGN.md's normalisation reads the word
// written for res in format as FILL (as opposed to CACHED or ORIGIN).
func writtenAsFill(format string, res cacheResult) bool {
	switch res {
	case resMiss, resExpired:
		return true
	case resOrigin, resPost:
		return format == FormatCloudFront
	}
	return false
}

// userAgents are the clients' User-Agent headers; some carry quotes and
// non-ASCII text to exercise escaping. Robots come last.
var userAgents = []string{
	"Mozilla/5.0 (iPhone; CPU iPhone OS 10_3_2 like Mac OS X) AppleWebKit/603.2.4 (KHTML, like Gecko) Version/10.0 Mobile/14F89 Safari/602.1",
	"Mozilla/5.0 (Linux; Android 7.0; SO-01J Build/39.2.B.0.327) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/58.0.3029.83 Mobile Safari/537.36",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/59.0.3071.104 Safari/537.36",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_12_5) AppleWebKit/603.2.4 (KHTML, like Gecko) Version/10.1.1 Safari/603.2.4",
	"Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:54.0) Gecko/20100101 Firefox/54.0",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 10_3_2 like Mac OS X) AppleWebKit/603.2.4 (KHTML, like Gecko) Mobile/14F89 Line/7.6.1",
	"Mozilla/5.0 (Linux; Android 6.0.1; SC-04G Build/MMB29K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/58.0.3029.83 Mobile Safari/537.36",
	`ExampleMarket/3.2.1 (iPhone; iOS 10.3.2; "Example Market" app; ja_JP)`,
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/52.0.2743.116 Safari/537.36 Edge/15.15063",
	`ExampleMarket/3.1.9 (Android 7.0; "SOV34"; ja_JP)`,
	"Mozilla/5.0 (iPad; CPU OS 10_3_2 like Mac OS X) AppleWebKit/603.2.4 (KHTML, like Gecko) Version/10.0 Mobile/14F89 Safari/602.1",
	"ExampleMarket/3.2.1 (Android 6.0; ギャラクシー; ja_JP)",
	"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/59.0.3071.86 Safari/537.36",
	// Robots last: they never log in (see numPeopleUAs).
	"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
	"curl/7.52.1",
}

// numPeopleUAs is how many of userAgents are people's browsers and apps.
const numPeopleUAs = 14

// toolAgents are the scenarios' attackers' clients. The formatters know
// them after userAgents (index len(userAgents)+i), so that the clients of
// the cache simulation draw from userAgents alone.
var toolAgents = []string{
	"python-requests/2.18.1",
	"Go-http-client/1.1",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/58.0.3029.110 Safari/537.36 OPR/45.0",
	"aws-cli/1.11.100 Python/2.7.12 Linux/4.9.27-14.31.amzn1.x86_64 botocore/1.5.63",
}

// Indices of toolAgents as lineIn.ua values.
const (
	uaPythonRequests = iota + 16 // len(userAgents)
	uaGoHTTP
	uaOpera
	uaAWSCLI
)

// allAgents is what the formatters index with lineIn.ua.
var allAgents = append(slices.Clip(userAgents), toolAgents...)

// referers are the Referer headers; "-" (none) is the most common.
var referers = []string{
	"-", "-", "-", "-", "-", "-",
	"https://www.example-market.jp/",
	"https://www.example-market.jp/",
	"https://www.example-market.jp/items/1024",
	"https://www.example-market.jp/mypage/profile",
	"https://www.example-market.jp/search?q=%E6%9D%B1%E4%BA%AC",
	"https://www.google.co.jp/",
	"https://search.yahoo.co.jp/search?p=example+market&ei=UTF-8",
	"https://t.co/Ab3dEf9Hq2",
	"https://www.facebook.com/",
	"android-app://com.google.android.gm",
}

// escapeAll returns every string of in escaped by esc.
func escapeAll(in []string, esc func(dst []byte, s string) []byte) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = string(esc(nil, s))
	}
	return out
}

// appendNginxEscaped appends s as nginx writes a quoted variable here:
// quotes and backslashes escaped with a backslash.
func appendNginxEscaped(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '"' || c == '\\' {
			dst = append(dst, '\\', c)
		} else {
			dst = append(dst, c)
		}
	}
	return dst
}

// lineIn is one request as the formats need it.
type lineIn struct {
	wt     int64 // time as written: ns since the epoch, truncated to the precision
	ip     string
	post   bool
	k      *key
	status int
	bytes  int
	cache  cacheResult
	ua     uint8
	ref    uint8
	h2     bool
	sid    string // "" when not logged in
	cookie string // the Cookie header, "" when none
	// subject is the upstream X-User-Id (whose data the response carried),
	// "" when none; written only by formatters with subject set.
	subject string
}

const hexDigits = "0123456789abcdef"

// appendJSONContent appends s escaped as the inside of a JSON string.
// s must be valid UTF-8; non-ASCII is written as is.
func appendJSONContent(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c == '\t':
			dst = append(dst, '\\', 't')
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// appendCloudFrontEncoded appends s URL-encoded the way CloudFront writes
// header values and query strings: spaces, quotes, backslashes, controls and
// non-ASCII bytes as %XX; existing %XX escapes are kept.
func appendCloudFrontEncoded(dst []byte, s string) []byte {
	const upper = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == '"' || c == '\\' {
			dst = append(dst, '%', upper[c>>4], upper[c&15])
			continue
		}
		dst = append(dst, c)
	}
	return dst
}

// appendMillis appends the three millisecond digits of wt.
func appendMillis(dst []byte, wt int64) []byte {
	ms := (wt / 1e6) % 1000
	return append(dst, byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10))
}

// CloudFront standard log fields, in the documented order.
const (
	cfDate = iota
	cfTime
	cfEdgeLocation
	cfSCBytes
	cfCIP
	cfMethod
	cfHost
	cfURIStem
	cfStatus
	cfReferer
	cfUserAgent
	cfURIQuery
	cfCookie
	cfResultType
	cfRequestID
	cfHostHeader
	cfProtocol
	cfCSBytes
	cfTimeTaken
	cfForwardedFor
	cfSSLProtocol
	cfSSLCipher
	cfResponseResultType
	cfProtocolVersion
	cfNumFields
)

var cfFieldNames = [cfNumFields]string{
	"date", "time", "x-edge-location", "sc-bytes", "c-ip", "cs-method", "cs(Host)",
	"cs-uri-stem", "sc-status", "cs(Referer)", "cs(User-Agent)", "cs-uri-query",
	"cs(Cookie)", "x-edge-result-type", "x-edge-request-id", "x-host-header",
	"cs-protocol", "cs-bytes", "time-taken", "x-forwarded-for", "ssl-protocol",
	"ssl-cipher", "x-edge-response-result-type", "cs-protocol-version",
}

// cfStandardOrder and cfAltOrder are the #Fields orders; one edge uses the
// alternative so that parsers must read the header.
var (
	cfStandardOrder = func() []int {
		o := make([]int, cfNumFields)
		for i := range o {
			o[i] = i
		}
		return o
	}()
	cfAltOrder = []int{
		cfDate, cfTime, cfEdgeLocation, cfCIP, cfMethod, cfHost, cfURIStem, cfURIQuery,
		cfStatus, cfResultType, cfCookie, cfUserAgent, cfReferer, cfSCBytes, cfRequestID,
		cfHostHeader, cfProtocol, cfCSBytes, cfTimeTaken, cfForwardedFor, cfSSLProtocol,
		cfSSLCipher, cfResponseResultType, cfProtocolVersion,
	}
)

// cloudFrontDistribution is cs(Host): CloudFront logs the distribution's own
// domain there and the site's Host header in x-host-header.
const cloudFrontDistribution = "d1f2example7q3.cloudfront.net"

func cloudFrontHeader(order []int) []byte {
	b := []byte("#Version: 1.0\n#Fields:")
	for _, f := range order {
		b = append(b, ' ')
		b = append(b, cfFieldNames[f]...)
	}
	return append(b, '\n')
}

// formatter writes one edge's lines. It caches the formatted current second.
type formatter struct {
	format  string
	ms      bool // millisecond precision
	pop     string
	words   [numResults]string
	ua      []string // userAgents escaped for the format
	ref     []string // referers escaped for the format
	cfOrder []int
	rid     *rand.Rand // request ids and timings, a stream of its own
	subject bool       // write lineIn.subject (nginx: "$upstream_http_x_user_id" before $msec; jsonl: x_user_id)

	sec    int64  // the second secBuf holds, -1 for none
	secBuf []byte // format-specific text of that second
	cfDate []byte // CloudFront date field for sec

	cf    []byte // CloudFront fields of the current line
	cfEnd [cfNumFields]int
}

func newFormatter(format string, ms bool, pop string, cfOrder []int, rid *rand.Rand) *formatter {
	f := &formatter{format: format, ms: ms, pop: pop, words: cacheWords(format), cfOrder: cfOrder, rid: rid, sec: -1}
	switch format {
	case FormatNginx:
		f.ua, f.ref = escapeAll(allAgents, appendNginxEscaped), referers
	case FormatCloudFront:
		f.ua, f.ref = escapeAll(allAgents, appendCloudFrontEncoded), escapeAll(referers, appendCloudFrontEncoded)
	default:
		f.ua, f.ref = escapeAll(allAgents, appendJSONContent), referers
	}
	return f
}

// second updates the cached text for the second of wt.
func (f *formatter) second(wt int64) {
	sec := wt / 1e9
	if sec == f.sec {
		return
	}
	f.sec = sec
	t := time.Unix(sec, 0)
	switch f.format {
	case FormatNginx:
		f.secBuf = t.In(jst).AppendFormat(f.secBuf[:0], "[02/Jan/2006:15:04:05 -0700]")
	case FormatCloudFront:
		f.cfDate = t.UTC().AppendFormat(f.cfDate[:0], "2006-01-02")
		f.secBuf = t.UTC().AppendFormat(f.secBuf[:0], "15:04:05")
	default:
		f.secBuf = t.UTC().AppendFormat(f.secBuf[:0], "2006-01-02T15:04:05")
	}
}

func (f *formatter) appendLine(dst []byte, l *lineIn) []byte {
	f.second(l.wt)
	switch f.format {
	case FormatNginx:
		return f.appendNginx(dst, l)
	case FormatCloudFront:
		return f.appendCloudFront(dst, l)
	case FormatCloudflare:
		return f.appendCloudflare(dst, l)
	default:
		return f.appendJSONL(dst, l)
	}
}

func method(l *lineIn) string {
	if l.post {
		return "POST"
	}
	return "GET"
}

// appendNginx writes the case file's log_format:
// $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent
// "$http_referer" "$http_user_agent" "$http_cookie" $upstream_cache_status
// $host $hostname [$msec].
func (f *formatter) appendNginx(dst []byte, l *lineIn) []byte {
	dst = append(dst, l.ip...)
	dst = append(dst, " - - "...)
	dst = append(dst, f.secBuf...)
	dst = append(dst, " \""...)
	dst = append(dst, method(l)...)
	dst = append(dst, ' ')
	dst = append(dst, l.k.uri...)
	if l.h2 {
		dst = append(dst, " HTTP/2.0\" "...)
	} else {
		dst = append(dst, " HTTP/1.1\" "...)
	}
	dst = strconv.AppendInt(dst, int64(l.status), 10)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, int64(l.bytes), 10)
	dst = append(dst, " \""...)
	dst = append(dst, f.ref[l.ref]...)
	dst = append(dst, "\" \""...)
	dst = append(dst, f.ua[l.ua]...)
	dst = append(dst, "\" \""...)
	if l.cookie == "" {
		dst = append(dst, '-')
	} else {
		dst = append(dst, l.cookie...)
	}
	dst = append(dst, "\" "...)
	dst = append(dst, f.words[l.cache]...)
	dst = append(dst, ' ')
	dst = append(dst, siteHost...)
	dst = append(dst, ' ')
	dst = append(dst, f.pop...)
	if f.subject {
		dst = append(dst, " \""...)
		if l.subject == "" {
			dst = append(dst, '-')
		} else {
			dst = append(dst, l.subject...)
		}
		dst = append(dst, '"')
	}
	if f.ms {
		dst = append(dst, ' ')
		dst = strconv.AppendInt(dst, l.wt/1e9, 10)
		dst = append(dst, '.')
		dst = appendMillis(dst, l.wt)
	}
	return append(dst, '\n')
}

const base64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// appendCloudFront writes a CloudFront standard log line (tab separated,
// fields in the edge's #Fields order).
func (f *formatter) appendCloudFront(dst []byte, l *lineIn) []byte {
	b := f.cf[:0]
	// Fields are built in the documented order, then emitted in f.cfOrder.
	b = append(b, f.cfDate...)
	f.cfEnd[cfDate] = len(b)
	b = append(b, f.secBuf...)
	f.cfEnd[cfTime] = len(b)
	b = append(b, f.pop...)
	f.cfEnd[cfEdgeLocation] = len(b)
	b = strconv.AppendInt(b, int64(l.bytes+280+f.rid.IntN(160)), 10)
	f.cfEnd[cfSCBytes] = len(b)
	b = append(b, l.ip...)
	f.cfEnd[cfCIP] = len(b)
	b = append(b, method(l)...)
	f.cfEnd[cfMethod] = len(b)
	b = append(b, cloudFrontDistribution...)
	f.cfEnd[cfHost] = len(b)
	b = append(b, l.k.path...)
	f.cfEnd[cfURIStem] = len(b)
	b = strconv.AppendInt(b, int64(l.status), 10)
	f.cfEnd[cfStatus] = len(b)
	b = append(b, f.ref[l.ref]...)
	f.cfEnd[cfReferer] = len(b)
	b = append(b, f.ua[l.ua]...)
	f.cfEnd[cfUserAgent] = len(b)
	b = append(b, l.k.cfQuery...)
	f.cfEnd[cfURIQuery] = len(b)
	if l.cookie == "" {
		b = append(b, '-')
	} else {
		b = appendCloudFrontEncoded(b, l.cookie)
	}
	f.cfEnd[cfCookie] = len(b)
	b = append(b, f.words[l.cache]...)
	f.cfEnd[cfResultType] = len(b)
	for n := 0; n < 54; {
		x := f.rid.Uint64()
		for j := 0; j < 10 && n < 54; j++ {
			b = append(b, base64URL[x&63])
			x >>= 6
			n++
		}
	}
	b = append(b, "=="...)
	f.cfEnd[cfRequestID] = len(b)
	b = append(b, siteHost...)
	f.cfEnd[cfHostHeader] = len(b)
	b = append(b, "https"...)
	f.cfEnd[cfProtocol] = len(b)
	b = strconv.AppendInt(b, int64(180+f.rid.IntN(700)), 10)
	f.cfEnd[cfCSBytes] = len(b)
	b = append(b, "0."...)
	b = appendMillis(b, int64(2+f.rid.IntN(400))*1e6)
	f.cfEnd[cfTimeTaken] = len(b)
	b = append(b, '-')
	f.cfEnd[cfForwardedFor] = len(b)
	b = append(b, "TLSv1.2"...)
	f.cfEnd[cfSSLProtocol] = len(b)
	b = append(b, "ECDHE-RSA-AES128-GCM-SHA256"...)
	f.cfEnd[cfSSLCipher] = len(b)
	b = append(b, f.words[l.cache]...)
	f.cfEnd[cfResponseResultType] = len(b)
	if l.h2 {
		b = append(b, "HTTP/2.0"...)
	} else {
		b = append(b, "HTTP/1.1"...)
	}
	f.cfEnd[cfProtocolVersion] = len(b)
	f.cf = b

	for i, fi := range f.cfOrder {
		if i > 0 {
			dst = append(dst, '\t')
		}
		start := 0
		if fi > 0 {
			start = f.cfEnd[fi-1]
		}
		dst = append(dst, b[start:f.cfEnd[fi]]...)
	}
	return append(dst, '\n')
}

// appendCloudflare writes a Cloudflare Logpush JSON line.
func (f *formatter) appendCloudflare(dst []byte, l *lineIn) []byte {
	dst = append(dst, `{"ClientIP":"`...)
	dst = append(dst, l.ip...)
	dst = append(dst, `","ClientRequestHost":"`...)
	dst = append(dst, siteHost...)
	dst = append(dst, `","ClientRequestMethod":"`...)
	dst = append(dst, method(l)...)
	dst = append(dst, `","ClientRequestURI":"`...)
	dst = append(dst, l.k.jsonURI...)
	dst = append(dst, `","ClientRequestUserAgent":"`...)
	dst = append(dst, f.ua[l.ua]...)
	dst = append(dst, `","EdgeStartTimestamp":`...)
	if f.ms {
		dst = strconv.AppendInt(dst, l.wt, 10)
	} else {
		dst = append(dst, '"')
		dst = append(dst, f.secBuf...)
		dst = append(dst, `Z"`...)
	}
	dst = append(dst, `,"EdgeResponseStatus":`...)
	dst = strconv.AppendInt(dst, int64(l.status), 10)
	dst = append(dst, `,"CacheCacheStatus":"`...)
	dst = append(dst, f.words[l.cache]...)
	dst = append(dst, `","EdgeColoCode":"`...)
	dst = append(dst, f.pop...)
	dst = append(dst, `","RayID":"`...)
	x := f.rid.Uint64()
	for range 16 {
		dst = append(dst, hexDigits[x>>60])
		x <<= 4
	}
	dst = append(dst, `","Cookies":{`...)
	if l.sid != "" {
		dst = append(dst, `"sid":"`...)
		dst = append(dst, l.sid...)
		dst = append(dst, '"')
	}
	return append(dst, "}}\n"...)
}

// appendJSONL writes a generic JSON line.
func (f *formatter) appendJSONL(dst []byte, l *lineIn) []byte {
	dst = append(dst, `{"ts":"`...)
	dst = append(dst, f.secBuf...)
	if f.ms {
		dst = append(dst, '.')
		dst = appendMillis(dst, l.wt)
	}
	dst = append(dst, `Z","edge":"`...)
	dst = append(dst, f.pop...)
	dst = append(dst, `","client":"`...)
	dst = append(dst, l.ip...)
	dst = append(dst, `","method":"`...)
	dst = append(dst, method(l)...)
	dst = append(dst, `","host":"`...)
	dst = append(dst, siteHost...)
	dst = append(dst, `","uri_path":"`...)
	dst = append(dst, l.k.jsonPath...)
	dst = append(dst, `","qs":"`...)
	dst = append(dst, l.k.jsonQuery...)
	dst = append(dst, `","code":`...)
	dst = strconv.AppendInt(dst, int64(l.status), 10)
	dst = append(dst, `,"cache":"`...)
	dst = append(dst, f.words[l.cache]...)
	if l.sid == "" {
		dst = append(dst, `","session":null,"ua":"`...)
	} else {
		dst = append(dst, `","session":"`...)
		dst = append(dst, l.sid...)
		dst = append(dst, `","ua":"`...)
	}
	dst = append(dst, f.ua[l.ua]...)
	if f.subject {
		if l.subject == "" {
			return append(dst, "\",\"x_user_id\":null}\n"...)
		}
		dst = append(dst, `","x_user_id":"`...)
		dst = append(dst, l.subject...)
	}
	return append(dst, "\"}\n"...)
}

// lastSeparator returns the index in line (without its newline) of the
// separator before the last field: cutting a line at or before it leaves a
// line that no parser can take for a whole one.
func lastSeparator(format string, line []byte) int {
	switch format {
	case FormatNginx:
		return lastIndexByte(line, ' ')
	case FormatCloudFront:
		return lastIndexByte(line, '\t')
	default:
		return len(line) - 1 // the closing brace
	}
}

func lastIndexByte(b []byte, c byte) int {
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == c {
			return i
		}
	}
	return -1
}
