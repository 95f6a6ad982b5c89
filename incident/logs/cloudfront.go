package logs

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
	"strings"

	"github.com/breachctl/breachctl/incident"
)

// CloudFront standard logs, as documented in the Amazon CloudFront Developer
// Guide, "Standard logging reference" (standard-logs-reference: the log file
// fields, x-edge-result-type, x-edge-response-result-type and
// x-edge-detailed-result-type with their values, and the example file) and
// "Configure standard logging (v2)" (standard-logging: the JSON, W3C and
// Plain outputs, the real-time fields timestamp(ms), origin-fbl,
// origin-lbl, asn, c-country and cache-behavior-path-pattern, and the JSON
// example lines sent to Firehose). The JSON output is read by
// cloudfront_v2.go.

// CloudFrontFields is the field order of current CloudFront standard logs,
// used until a file's #Fields header says otherwise: the 33 documented
// fields, then distribution-tenant-id and connection-id, which the
// reference lists last (a file with 33 fields still parses: only fields
// breachctl reads must be there).
const CloudFrontFields = "date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher x-edge-response-result-type cs-protocol-version fle-status fle-encrypted-fields c-port time-to-first-byte x-edge-detailed-result-type sc-content-type sc-content-len sc-range-start sc-range-end"

// cloudFrontNewer are the fields the reference lists after the 33: a line
// of the default order may have them or not.
const cloudFrontNewer = "distribution-tenant-id connection-id"

// What Parse reads from a field; a field can serve several (field:c-ip).
const (
	cfDate = iota
	cfTime
	cfPop
	cfIP
	cfMethod
	cfHost
	cfHostHeader
	cfPath
	cfStatus
	cfQuery
	cfResult
	cfCookie
	cfIdent
	cfDetailed // x-edge-detailed-result-type
	cfResponse // x-edge-response-result-type
	cfEpoch    // timestamp(ms) (standard logging v2)
	cfRoles
)

var cfRoleField = [cfRoles]string{
	cfDate: "date", cfTime: "time", cfPop: "x-edge-location", cfIP: "c-ip",
	cfMethod: "cs-method", cfHost: "cs(Host)", cfHostHeader: "x-host-header",
	cfPath: "cs-uri-stem", cfStatus: "sc-status", cfQuery: "cs-uri-query",
	cfResult: "x-edge-result-type", cfCookie: "cs(Cookie)",
	cfDetailed: "x-edge-detailed-result-type", cfResponse: "x-edge-response-result-type",
	cfEpoch: "timestamp(ms)",
}

// cloudFront parses CloudFront standard (access) logs: tab-separated fields
// in the order of the file's #Fields header. It is immutable: a header
// yields a new cloudFront.
type cloudFront struct {
	vocab    *Vocab
	id       Identity
	byCookie bool
	cookie   []byte // cookie:NAME's name
	fields   int    // fields the header names
	last     int    // the highest field index Parse reads from the start of a line
	// Where x-edge-detailed-result-type and x-edge-response-result-type
	// are when they come after every other field read (-1: not there, or
	// read with those): read from the end of the line, and only when needed.
	tailD, tailR int
	roles        []uint16 // per field index up to last: bit r for each role r
	has          uint16   // roles present in the header
	noIdent      string   // when set, every line is rejected with it
	// json reads standard logging v2's JSON output (a line starting with
	// '{'); only the parser used before any #Fields header has one.
	json *cloudFrontJSON
}

// NewCloudFront returns the parser for CloudFront standard logs, reading
// fields in the CloudFrontFields order until a #Fields header line, and a
// line that starts with '{' as standard logging v2's JSON output. The
// identity is cookie:NAME (from cs(Cookie)), field:NAME (the field of that
// name in the #Fields header, or the JSON key) or none (Kind "": every
// request anonymous).
func NewCloudFront(id Identity) (HeaderParser, error) {
	switch id.Kind {
	case "cookie", "field", "":
	case "remote_user":
		return nil, fmt.Errorf("identity remote_user does not exist in CloudFront logs; use cookie:NAME (cs(Cookie)) or field:NAME")
	default:
		return nil, fmt.Errorf("identity %q: want cookie:NAME or field:NAME", id.Kind)
	}
	js, err := newCloudFrontJSON(id)
	if err != nil {
		return nil, err
	}
	p, err := newCloudFront(id, strings.Fields(CloudFrontFields))
	if p == nil {
		return nil, err
	}
	p.json = js
	if err != nil {
		// Only the identity field can be missing from the default order:
		// a file's #Fields header may still name it.
		p.noIdent = fmt.Sprintf("no #Fields header before this line, and the standard fields have no %s field (identity field:%s)", id.Name, id.Name)
	}
	return p, nil
}

// newCloudFront builds the parser for one field order. On a missing field
// it returns the error and a parser that is otherwise usable.
func newCloudFront(id Identity, names []string) (*cloudFront, error) {
	p := &cloudFront{vocab: cloudFrontVocab, id: id, fields: len(names), last: -1, tailD: -1, tailR: -1}
	if id.Kind == "cookie" {
		p.byCookie, p.cookie = true, []byte(id.Name)
	}
	for i, n := range names {
		var r uint16
		for role, f := range cfRoleField {
			if f != "" && n == f && p.has&(1<<role) == 0 {
				r |= 1 << role
			}
		}
		if id.Kind == "field" && n == id.Name && p.has&(1<<cfIdent) == 0 {
			r |= 1 << cfIdent
		}
		if r == 0 {
			continue
		}
		p.has |= r
		for len(p.roles) < i {
			p.roles = append(p.roles, 0)
		}
		p.roles = append(p.roles, r)
		if r&^(1<<cfDetailed|1<<cfResponse) != 0 {
			p.last = i
		}
	}
	if p.has&(1<<cfEpoch) == 0 {
		for _, role := range []int{cfDate, cfTime} {
			if p.has&(1<<role) == 0 {
				return nil, fmt.Errorf("the #Fields header has no %s field (and no timestamp(ms))", cfRoleField[role])
			}
		}
	}
	for _, role := range []int{cfPath, cfStatus} {
		if p.has&(1<<role) == 0 {
			return nil, fmt.Errorf("the #Fields header has no %s field", cfRoleField[role])
		}
	}
	if p.has&(1<<cfResult|1<<cfDetailed|1<<cfResponse) == 0 {
		return nil, fmt.Errorf("the #Fields header has no x-edge-result-type field (nor x-edge-detailed-result-type): add it to the logged fields")
	}
	for i := p.last + 1; i < len(p.roles); i++ {
		if p.roles[i]&(1<<cfDetailed) != 0 {
			p.tailD = i
		}
		if p.roles[i]&(1<<cfResponse) != 0 {
			p.tailR = i
		}
	}
	switch {
	case id.Kind == "cookie" && p.has&(1<<cfCookie) == 0:
		return p, fmt.Errorf("the #Fields header has no cs(Cookie) field, needed for identity cookie:%s", id.Name)
	case id.Kind == "field" && p.has&(1<<cfIdent) == 0:
		return p, fmt.Errorf("the #Fields header has no %s field, needed for identity field:%s", id.Name, id.Name)
	}
	return p, nil
}

// Header implements HeaderParser: a #Fields line gives the field order of
// the lines after it; #Version and other comment lines change nothing.
func (p *cloudFront) Header(line []byte) (Parser, error) {
	line = bytes.TrimRight(line, "\r\n")
	const fieldsPrefix = "#Fields:"
	if len(line) >= len(fieldsPrefix) && strings.EqualFold(string(line[:len(fieldsPrefix)]), fieldsPrefix) {
		names := strings.Fields(string(line[len(fieldsPrefix):]))
		if len(names) == 0 {
			return nil, fmt.Errorf("the #Fields header names no fields")
		}
		np, err := newCloudFront(p.id, names)
		if err != nil {
			return nil, err
		}
		np.vocab = p.vocab
		return np, nil
	}
	if len(line) > 0 && line[0] == '#' {
		return p, nil
	}
	return nil, fmt.Errorf("not a header line (does not start with '#')")
}

// Parse implements Parser.
func (p *cloudFront) Parse(line []byte, rec *Record) error {
	for len(line) > 0 && (line[len(line)-1] == '\r' || line[len(line)-1] == '\n') {
		line = line[:len(line)-1]
	}
	if len(line) > 0 {
		switch line[0] {
		case '#':
			return errHeader
		case '{':
			if p.json != nil {
				return p.json.Parse(line, rec)
			}
		}
	}
	if p.noIdent != "" {
		return reject(p.noIdent)
	}
	// The fields up to the last one read but the refinements of the cache
	// result, which come later in the standard order: those are found from
	// the end of the line, and only when x-edge-result-type is not already
	// a hit (the reference documents x-edge-detailed-result-type as the
	// same value then, and a hit is CACHED whatever
	// x-edge-response-result-type says). Most lines of a CDN's logs are
	// hits; a miss costs a few more steps back from the end.
	var f [cfRoles][]byte
	rest, ended := line, false
	for k := 0; k <= p.last; k++ {
		var v []byte
		if i := indexTab(rest); i >= 0 {
			v, rest = rest[:i], rest[i+1:]
		} else {
			if k < p.last {
				return p.short(k + 1)
			}
			v, rest, ended = rest, nil, true
		}
		for r := p.roles[k]; r != 0; r &= r - 1 {
			f[bits.TrailingZeros16(r)] = v
		}
	}
	n := p.last + 1 // fields seen
	if !ended {
		n += 1 + bytes.Count(rest, []byte{'\t'})
	}
	if n < p.fields {
		return p.short(n)
	}
	// rest holds fields p.last+1 to n-1 (n > every tail index).
	rc := CacheUnknown
	if p.has&(1<<cfResult) != 0 {
		rc = p.vocab.Classify(f[cfResult])
	}
	if rc == CacheCached {
		rec.CacheRaw, rec.Cache = f[cfResult], CacheCached
	} else {
		if p.tailD >= 0 {
			f[cfDetailed] = fieldFromEnd(rest, p.last+1, n, p.tailD)
		}
		raw, c := f[cfResult], rc
		if d := f[cfDetailed]; !anonymous(d) && !bytes.Equal(d, raw) {
			raw, c = d, p.vocab.Classify(d)
		}
		if c == CacheOrigin {
			// A disconnect after a cached (or fetched) response: see cfCache.
			if p.tailR >= 0 {
				f[cfResponse] = fieldFromEnd(rest, p.last+1, n, p.tailR)
			}
			if r := f[cfResponse]; !anonymous(r) {
				if c2 := p.vocab.Classify(r); c2 == CacheCached || c2 == CacheFill {
					raw, c = r, c2
				}
			}
		}
		rec.CacheRaw, rec.Cache = raw, c
	}

	if ep := f[cfEpoch]; !anonymous(ep) {
		if err := cfReadTime(ep, nil, nil, rec); err != nil {
			return err
		}
	} else {
		var ok bool
		if rec.Time, ok = ParseDateTime(f[cfDate], f[cfTime]); !ok {
			return reject(fmt.Sprintf("date %q time %q is not a valid date and time", clip(f[cfDate]), clip(f[cfTime])))
		}
		rec.Coarse = true
	}
	st, ok := digits(f[cfStatus])
	if !ok || len(f[cfStatus]) > 3 {
		return reject(fmt.Sprintf("sc-status %q is not a number", clip(f[cfStatus])))
	}
	rec.Status = st // "000": the viewer closed the connection first
	rec.Pop = dash(f[cfPop])
	if p.has&(1<<cfIP) != 0 {
		var err error
		if rec.ClientIP, err = clientAddr("c-ip", f[cfIP]); err != nil {
			return err
		}
	}
	rec.Method = dash(f[cfMethod])
	// x-host-header is the site's own name as the viewer sent it (what
	// people recognise, and what the site's cache rules key on); cs(Host) is
	// the distribution's cloudfront.net domain, used when the former is absent.
	rec.Host = dash(f[cfHostHeader])
	if rec.Host == nil {
		rec.Host = dash(f[cfHost])
	}
	if stem := f[cfPath]; len(stem) > 0 && stem[0] == '/' {
		rec.Path = stem
	} else if err := cfTarget(stem, rec); err != nil {
		return err
	}
	if q := f[cfQuery]; !anonymous(q) {
		rec.Query = decodeInPlace(q)
	}

	var id []byte
	if p.byCookie {
		if h := f[cfCookie]; !anonymous(h) {
			id = CookieValue(decodeInPlace(h), p.cookie)
		}
	} else {
		id = f[cfIdent]
	}
	if !anonymous(id) {
		rec.Identity = id
	}
	return nil
}

// cfReadTime reads the time: timestamp(ms) when the logs have it (standard
// logging v2 can add it: millisecond precision), else date and time (UTC,
// whole seconds; the time the edge finished responding).
func cfReadTime(epoch, date, clock []byte, rec *Record) error {
	if !anonymous(epoch) {
		ns, coarse, ok := parseEpoch(epoch)
		if !ok {
			return reject(fmt.Sprintf("timestamp(ms) %q is not a Unix time in milliseconds", clip(epoch)))
		}
		rec.Time, rec.Coarse = ns, coarse
		return nil
	}
	var ok bool
	if rec.Time, ok = ParseDateTime(date, clock); !ok {
		return reject(fmt.Sprintf("date %q time %q is not a valid date and time", clip(date), clip(clock)))
	}
	rec.Coarse = true
	return nil
}

// cfCache decides a line's cache result from its three result fields (any
// may be nil: not logged) and returns the value it used with its class.
//
//   - x-edge-detailed-result-type, when logged, is x-edge-result-type made
//     more precise: the same value, except OriginShieldHit (served from the
//     Origin Shield's cache), MissGeneratedResponse (an origin-request
//     Lambda@Edge function made the response) and, for Error, the kind of
//     error. It is used when present.
//   - When the value used says ORIGIN (an error) but
//     x-edge-response-result-type says Hit, RefreshHit or Miss, the
//     response had been served from the cache (or the origin) and the viewer
//     disconnected before its last byte: the reference says so for Error
//     with a response result type that is not Error. The bytes the viewer
//     got were the stored page, so that class is used: reading it as ORIGIN
//     would drop an exposure.
func cfCache(v *Vocab, result, detailed, response []byte) ([]byte, Cache) {
	raw := result
	if !anonymous(detailed) {
		raw = detailed
	}
	c := v.Classify(raw)
	if c == CacheOrigin && !anonymous(response) {
		if rc := v.Classify(response); rc == CacheCached || rc == CacheFill {
			return response, rc
		}
	}
	return raw, c
}

// cfTarget reads cs-uri-stem: a path, as logged. The reference documents a
// path ("/images/cat.jpg"); a full URL is split into host and path, and
// anything else rejects the line (read as a path it would match no route).
func cfTarget(stem []byte, rec *Record) error {
	if len(stem) > 0 && stem[0] == '/' {
		rec.Path = stem
		return nil
	}
	if _, ok := cutScheme(stem); ok {
		return splitTarget(stem, rec)
	}
	return reject(fmt.Sprintf("cs-uri-stem %q is neither a path beginning with / nor a full URL", clip(stem)))
}

// fieldFromEnd returns field t of a line whose fields first to n-1 are
// rest (tab-separated), stepping back from its end: the fields after the
// last one Parse needs are few and short.
func fieldFromEnd(rest []byte, first, n, t int) []byte {
	end := len(rest)
	for i := n - 1; i > t; i-- {
		end = bytes.LastIndexByte(rest[:end], '\t')
	}
	start := 0
	if t > first {
		start = bytes.LastIndexByte(rest[:end], '\t') + 1
	}
	return rest[start:end]
}

func (p *cloudFront) short(n int) error {
	return reject(fmt.Sprintf("has %d fields, the #Fields header names %d", n, p.fields))
}

// indexTab is bytes.IndexByte(b, '\t'), testing the first sixteen bytes
// itself, eight at a time: most fields are short, and for them the call
// costs more than the search.
func indexTab(b []byte) int {
	const lo = 0x0101010101010101
	const hi = 0x8080808080808080
	if len(b) >= 16 {
		x := binary.LittleEndian.Uint64(b[:8]) ^ (lo * '\t')
		if m := (x - lo) &^ x & hi; m != 0 {
			return bits.TrailingZeros64(m) >> 3
		}
		x = binary.LittleEndian.Uint64(b[8:16]) ^ (lo * '\t')
		if m := (x - lo) &^ x & hi; m != 0 {
			return 8 + bits.TrailingZeros64(m)>>3
		}
		if i := bytes.IndexByte(b[16:], '\t'); i >= 0 {
			return 16 + i
		}
		return -1
	}
	return bytes.IndexByte(b, '\t')
}

// dash returns nil for an empty or "-" field.
func dash(v []byte) []byte {
	if anonymous(v) {
		return nil
	}
	return v
}

// decodeInPlace percent-decodes b into itself (decoding only shrinks), as
// percentDecode does: '+' is kept, and so is a malformed escape. The text
// between escapes moves in runs.
func decodeInPlace(b []byte) []byte {
	i := bytes.IndexByte(b, '%')
	if i < 0 {
		return b
	}
	w := i
	for {
		// b[i] is a '%'.
		c, n := byte('%'), 1
		if i+2 < len(b) {
			if h, ok := unhex(b[i+1]); ok {
				if l, ok := unhex(b[i+2]); ok {
					c, n = h<<4|l, 3
				}
			}
		}
		b[w] = c
		w++
		i += n
		j := bytes.IndexByte(b[i:], '%')
		if j < 0 {
			w += copy(b[w:], b[i:])
			return b[:w]
		}
		w += copy(b[w:], b[i:i+j])
		i += j
	}
}

func (p *cloudFront) setVocab(v *Vocab) {
	p.vocab = v
	if p.json != nil {
		p.json.vocab = v
	}
}

// cloudFrontVocab holds the values of x-edge-result-type,
// x-edge-response-result-type and x-edge-detailed-result-type (one
// vocabulary: the three share their values).
//
//   - FILL: Miss (fetched from the origin; the edge may store it, WebSocket
//     and gRPC connections are logged as Miss too); MissGeneratedResponse
//     (not in the cache, made by an origin-request Lambda@Edge function,
//     and such responses are cached: the Lambda@Edge guide, "Generating
//     HTTP responses in request triggers").
//   - CACHED: Hit, RefreshHit (revalidated, then served from the cache),
//     and OriginShieldHit: this edge missed and the Origin Shield's cache
//     had the object. The edge stores what it got, so it is also a fill of
//     this edge's cache, but the response served was a stored object that
//     some earlier request put in the shield, possibly through another
//     edge: another person's page. Read as FILL, the viewer would become the
//     page's owner (a wrong person, later confirmed as a victim) and the
//     view itself would be no exposure at all; read as CACHED it is an
//     exposure event of the page's owner (unattributed when its fill was
//     logged at another edge: counted and shown). CACHED never drops one.
//   - ORIGIN: responses CloudFront made itself, never from a stored object:
//     Redirect (HTTP to HTTPS), LimitExceeded, CapacityExceeded, Error and
//     its detailed kinds (AbortedOrigin, ClientCommError, ClientGeoBlocked,
//     ClientHungUpRequest, InvalidRequest*, Origin*Error, SlowReaderOriginError),
//     LambdaExecutionError; FunctionGeneratedResponse and
//     LambdaGeneratedResponse (seen in X-Cache headers: a CloudFront
//     Function or viewer-request Lambda@Edge answered before the cache,
//     and such responses are not cached). A disconnect after a cached
//     response is read from x-edge-response-result-type (cfCache).
var cloudFrontVocab = NewVocab(
	[]string{"Miss", "MissGeneratedResponse"},
	[]string{"Hit", "RefreshHit", "OriginShieldHit"},
	[]string{"Error", "LimitExceeded", "CapacityExceeded", "Redirect", "LambdaExecutionError",
		"FunctionGeneratedResponse", "LambdaGeneratedResponse",
		"AbortedOrigin", "ClientCommError", "ClientGeoBlocked", "ClientHungUpRequest",
		"InvalidRequest", "InvalidRequestBlocked", "InvalidRequestCertificate", "InvalidRequestHeader", "InvalidRequestMethod",
		"OriginCommError", "OriginConnectError", "OriginContentRangeLengthError", "OriginDnsError", "OriginError",
		"OriginHeaderTooBigError", "OriginInvalidResponseError", "OriginReadError", "OriginWriteError",
		"OriginZeroSizeObjectError", "SlowReaderOriginError"},
)

var cloudFrontFormat = &Format{
	Name:  "cloudfront",
	Title: "Amazon CloudFront standard logs: legacy and v2 W3C/Plain files (tab-separated, field order from each file's #Fields header) and v2 JSON lines (one object per line, detected by its '{')",
	Vocab: cloudFrontVocab,
	Config: "nothing to paste: the #Fields header (or the JSON keys) names the fields. Standard logging v2: choose the JSON or W3C output with the tab field delimiter (Parquet: convert to JSON first) " +
		"and select at least date and time (or timestamp(ms), which gives millisecond times), c-ip, cs-method, x-host-header, cs-uri-stem, cs-uri-query, sc-status, x-edge-location, " +
		"x-edge-result-type, x-edge-response-result-type and x-edge-detailed-result-type; turn on cookie logging (cs(Cookie)) for identity cookie:NAME, or name any field with field:NAME. " +
		"x-edge-detailed-result-type is used when logged (OriginShieldHit reads as CACHED). Takes cache_values, prefix, accept_missing",
	Example:   "2017-06-22\t00:41:00\tNRT57-C1\t5380\t203.0.113.9\tGET\td111111abcdef8.cloudfront.net\t/mypage/profile\t200\t-\tMozilla/5.0%20(Windows%20NT%2010.0)\t-\tsid=abc123\tHit\tSOX4xwn4XV6Q4rgb7XiVGOHms_BGlTAC4KyHmureZmBNrjGdRLiNIQ==\twww.example.jp\thttps\t412\t0.002\t-\tTLSv1.3\tTLS_AES_128_GCM_SHA256\tHit\tHTTP/2.0\t-\t-\t51234\t0.001\tHit\ttext/html\t5123\t-\t-",
	CacheHint: "log x-edge-result-type (or x-edge-detailed-result-type): standard logging v2 lets you leave it out of the selected fields",
	New: func(src incident.LogSource, id Identity) (Parser, error) {
		return NewCloudFront(id)
	},
}
