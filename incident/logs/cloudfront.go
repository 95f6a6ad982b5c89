package logs

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
	"strings"

	"github.com/breachctl/breachctl/incident"
)

// CloudFrontFields is the field order of current CloudFront standard logs,
// used until a file's #Fields header says otherwise.
const CloudFrontFields = "date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher x-edge-response-result-type cs-protocol-version fle-status fle-encrypted-fields c-port time-to-first-byte x-edge-detailed-result-type sc-content-type sc-content-len sc-range-start sc-range-end"

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
	cfRoles
)

var cfRoleField = [cfRoles]string{
	cfDate: "date", cfTime: "time", cfPop: "x-edge-location", cfIP: "c-ip",
	cfMethod: "cs-method", cfHost: "cs(Host)", cfHostHeader: "x-host-header",
	cfPath: "cs-uri-stem", cfStatus: "sc-status", cfQuery: "cs-uri-query",
	cfResult: "x-edge-result-type", cfCookie: "cs(Cookie)",
}

// cloudFront parses CloudFront standard (access) logs: tab-separated fields
// in the order of the file's #Fields header. It is immutable: a header
// yields a new cloudFront.
type cloudFront struct {
	vocab    *Vocab
	id       Identity
	byCookie bool
	cookie   []byte   // cookie:NAME's name
	fields   int      // fields the header names
	last     int      // the highest field index Parse reads
	roles    []uint16 // per field index up to last: bit r for each role r
	has      uint16   // roles present in the header
	noIdent  string   // when set, every line is rejected with it
}

// NewCloudFront returns the parser for CloudFront standard logs, reading
// fields in the CloudFrontFields order until a #Fields header line. The
// identity is cookie:NAME (from cs(Cookie)) or field:NAME (the field of that
// name in the #Fields header).
func NewCloudFront(id Identity) (HeaderParser, error) {
	switch id.Kind {
	case "cookie", "field":
	case "remote_user":
		return nil, fmt.Errorf("identity remote_user does not exist in CloudFront logs; use cookie:NAME (cs(Cookie)) or field:NAME")
	default:
		return nil, fmt.Errorf("identity %q: want cookie:NAME or field:NAME", id.Kind)
	}
	p, err := newCloudFront(id, strings.Fields(CloudFrontFields))
	if p == nil {
		return nil, err
	}
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
	p := &cloudFront{vocab: cloudFrontVocab, id: id, fields: len(names), last: -1}
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
		p.last = i
	}
	for _, role := range []int{cfDate, cfTime, cfPath, cfStatus, cfResult} {
		if p.has&(1<<role) == 0 {
			return nil, fmt.Errorf("the #Fields header has no %s field", cfRoleField[role])
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
	if len(line) > 0 && line[0] == '#' {
		return errHeader
	}
	if p.noIdent != "" {
		return reject(p.noIdent)
	}
	var f [cfRoles][]byte
	rest := line
	n := 0 // fields seen
	for k := 0; k <= p.last; k++ {
		var v []byte
		if i := indexTab(rest); i >= 0 {
			v, rest = rest[:i], rest[i+1:]
		} else {
			v, rest = rest, nil
			if k < p.last {
				return p.short(k + 1)
			}
			n = -1 // no field after this one
		}
		for r := p.roles[k]; r != 0; r &= r - 1 {
			f[bits.TrailingZeros16(r)] = v
		}
	}
	if n == 0 {
		n = p.last + 2 + bytes.Count(rest, []byte{'\t'})
	} else {
		n = p.last + 1
	}
	if n < p.fields {
		return p.short(n)
	}

	var ok bool
	if rec.Time, ok = ParseDateTime(f[cfDate], f[cfTime]); !ok {
		return reject(fmt.Sprintf("date %q time %q is not a valid date and time", clip(f[cfDate]), clip(f[cfTime])))
	}
	rec.Coarse = true
	st, ok := digits(f[cfStatus])
	if !ok || len(f[cfStatus]) > 3 {
		return reject(fmt.Sprintf("sc-status %q is not a number", clip(f[cfStatus])))
	}
	rec.Status = st // "000": the viewer closed the connection first
	rec.CacheRaw = f[cfResult]
	rec.Cache = p.vocab.Classify(rec.CacheRaw)
	rec.Path = f[cfPath]
	if q := f[cfQuery]; !anonymous(q) {
		rec.Query = decodeInPlace(q)
	}
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

func (p *cloudFront) setVocab(v *Vocab) { p.vocab = v }

// cloudFrontVocab is x-edge-result-type's. Error, LimitExceeded,
// CapacityExceeded and Redirect are responses CloudFront made itself, never
// from a stored object.
var cloudFrontVocab = NewVocab(
	[]string{"Miss"},
	[]string{"Hit", "RefreshHit"},
	[]string{"Error", "LimitExceeded", "CapacityExceeded", "Redirect"},
)

var cloudFrontFormat = &Format{
	Name:      "cloudfront",
	Title:     "Amazon CloudFront standard logs (tab-separated, field order from each file's #Fields header)",
	Vocab:     cloudFrontVocab,
	Config:    "nothing to paste: the #Fields header says the order; log the cs(Cookie) field for identity cookie:NAME",
	Example:   "2017-06-22\t00:41:00\tNRT57-C1\t512\t203.0.113.9\tGET\td111111abcdef8.cloudfront.net\t/mypage/profile\t200\t-\tMozilla/5.0\t-\tsid=abc\tHit\t…",
	CacheHint: "CloudFront always logs x-edge-result-type: check that the #Fields header is present",
	New: func(src incident.LogSource, id Identity) (Parser, error) {
		return NewCloudFront(id)
	},
}
