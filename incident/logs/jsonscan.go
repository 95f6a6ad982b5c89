package logs

// A small, allocation-free scanner for one JSON object per line (Cloudflare
// Logpush, generic JSON lines). It walks the object once, validating it as
// it goes, captures the raw values of the keys a parser asked for (following
// dotted paths into nested objects in the same pass) and skips everything
// else. Strings are unescaped only when a parser uses them, in place: the
// reader owns the line and unescaping only shrinks.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

const (
	maxJSONDepth = 64 // objects and arrays nested deeper are rejected
	maxJSONSlots = 32 // values one query can capture
	maxJSONKeys  = 64 // wanted keys per object level
)

// jsonKind is the type of a captured value.
type jsonKind uint8

const (
	jsonAbsent jsonKind = iota // the key was not in the line
	jsonNull
	jsonString
	jsonNumber
	jsonBool
	jsonObject
	jsonArray
)

func (k jsonKind) String() string {
	switch k {
	case jsonNull:
		return "null"
	case jsonString:
		return "a string"
	case jsonNumber:
		return "a number"
	case jsonBool:
		return "true/false"
	case jsonObject:
		return "an object"
	case jsonArray:
		return "an array"
	}
	return "absent"
}

// jsonValue is a captured value. For a string, raw is the text between the
// quotes with its escapes as written (esc says whether it has any); for
// anything else it is the value's text.
type jsonValue struct {
	raw  []byte
	kind jsonKind
	esc  bool
}

// present reports a value that is there and not null.
func (v *jsonValue) present() bool { return v.kind > jsonNull }

// text returns a string's content, unescaping it in place the first time.
func (v *jsonValue) text() []byte {
	if v.esc {
		v.raw = unescapeInPlace(v.raw)
		v.esc = false
	}
	return v.raw
}

// jsonKeys is the set of wanted keys at one object level.
type jsonKeys struct {
	names []string
	slot  []int       // capture slot of each name, -1 when only descended into
	sub   []*jsonKeys // wanted keys inside each name's object value, or nil
	// Prefilters: bit i is set in byLen[len(names[i])] (63+ bytes: [63])
	// and in byEnd[its last byte]; few keys of a line pass both.
	byLen [64]uint64
	byEnd [256]uint64
	// The first, second and last eight bytes of each name as words (see
	// match); a name shorter than eight bytes is its head, zero-padded.
	words [maxJSONKeys]struct{ head, mid, tail uint64 }
}

// find returns the index of key in ks.names, or -1.
func (ks *jsonKeys) find(key []byte) int {
	n := len(key)
	if n == 0 {
		return -1
	}
	return ks.match(key, 0, n, ks.byLen[min(n, 63)]&ks.byEnd[key[n-1]])
}

// match returns the index of the name in m (names of the key's length)
// that is the key b[start:end], or -1. It compares words: the first, second
// and last eight bytes are the whole of a name up to 24 bytes. A shorter key
// is read as the eight bytes from start when the line goes on that far.
func (ks *jsonKeys) match(b []byte, start, end int, m uint64) int {
	n := end - start
	if n < 8 {
		if start+8 > len(b) {
			for ; m != 0; m &= m - 1 {
				if i := bits.TrailingZeros64(m); string(b[start:end]) == ks.names[i] {
					return i
				}
			}
			return -1
		}
		w := binary.LittleEndian.Uint64(b[start:start+8]) & (1<<(8*n) - 1)
		for ; m != 0; m &= m - 1 {
			if i := bits.TrailingZeros64(m) & (maxJSONKeys - 1); ks.words[i].head == w {
				return i
			}
		}
		return -1
	}
	k := b[start:end]
	head, tail := binary.LittleEndian.Uint64(k[:8]), binary.LittleEndian.Uint64(k[n-8:])
	var mid uint64
	if n > 16 {
		mid = binary.LittleEndian.Uint64(k[8:16])
	}
	for ; m != 0; m &= m - 1 {
		i := bits.TrailingZeros64(m) & (maxJSONKeys - 1)
		if kw := &ks.words[i]; kw.head == head && kw.tail == tail && kw.mid == mid && (n <= 24 || string(k[16:n-8]) == ks.names[i][16:n-8]) {
			return i
		}
	}
	return -1
}

// lookup is find for a key as written in the line (esc: it has escapes).
func (ks *jsonKeys) lookup(key []byte, esc bool) int {
	if !esc {
		return ks.find(key)
	}
	var buf [128]byte
	if len(key) > len(buf) {
		return -1
	}
	n := copy(buf[:], key)
	return ks.find(unescapeInPlace(buf[:n]))
}

// A jsonQuery says which values to capture from a line: each added path
// (a key, then keys of nested objects) gets a slot in the caller's
// []jsonValue, at least nslots long (an array on the caller's stack).
type jsonQuery struct {
	root   jsonKeys
	nslots int
}

// add registers path and returns its slot; adding a path twice returns the
// same slot.
func (q *jsonQuery) add(path ...string) (int, error) {
	if len(path) == 0 {
		return -1, fmt.Errorf("empty JSON key")
	}
	ks := &q.root
	for depth, name := range path {
		if name == "" {
			return -1, fmt.Errorf("JSON key %q has an empty part", strings.Join(path, "."))
		}
		i := -1
		for j, n := range ks.names {
			if n == name {
				i = j
				break
			}
		}
		if i < 0 {
			if len(ks.names) == maxJSONKeys {
				return -1, fmt.Errorf("more than %d JSON keys wanted in one object", maxJSONKeys)
			}
			i = len(ks.names)
			ks.names = append(ks.names, name)
			ks.slot = append(ks.slot, -1)
			ks.sub = append(ks.sub, nil)
			ks.byLen[min(len(name), 63)] |= 1 << i
			ks.byEnd[name[len(name)-1]] |= 1 << i
			var pad [8]byte
			copy(pad[:], name)
			h, md, t := binary.LittleEndian.Uint64(pad[:]), uint64(0), uint64(0)
			if len(name) >= 8 {
				t = binary.LittleEndian.Uint64([]byte(name[len(name)-8:]))
			}
			if len(name) > 16 {
				md = binary.LittleEndian.Uint64([]byte(name[8:16]))
			}
			ks.words[i].head, ks.words[i].mid, ks.words[i].tail = h, md, t
		}
		if depth == len(path)-1 {
			if ks.slot[i] < 0 {
				if q.nslots == maxJSONSlots {
					return -1, fmt.Errorf("more than %d JSON values wanted", maxJSONSlots)
				}
				ks.slot[i] = q.nslots
				q.nslots++
			}
			return ks.slot[i], nil
		}
		if ks.sub[i] == nil {
			ks.sub[i] = &jsonKeys{}
		}
		ks = ks.sub[i]
	}
	panic("unreachable")
}

// jsonField is where one part of a record is looked for: the slot of a key
// (or of a dotted path) and, for a dotted name, the slot of a top-level key
// spelled with the dots. -1: not configured.
type jsonField struct{ nested, literal int }

var noField = jsonField{-1, -1}

// addField registers a key that may be a dotted path ("http.status").
func (q *jsonQuery) addField(name string) (jsonField, error) {
	parts := strings.Split(name, ".")
	f := noField
	var err error
	if f.nested, err = q.add(parts...); err != nil || len(parts) == 1 {
		return f, err
	}
	f.literal, err = q.add(name)
	return f, err
}

// get returns the field's value: the nested path's if present (not null),
// else the literal key's if present, else the nested one (absent or null).
// It returns nil for a field that is not configured.
func (f jsonField) get(vals []jsonValue) *jsonValue {
	if f.nested < 0 {
		return nil
	}
	if f.literal >= 0 && !vals[f.nested].present() && vals[f.literal].present() {
		return &vals[f.literal]
	}
	return &vals[f.nested]
}

// jsonError says where and why a line is not a JSON object.
type jsonError struct {
	pos int
	msg string
}

func (e jsonError) reason() string {
	if e.msg == msgNotObject {
		return e.msg
	}
	return fmt.Sprintf("malformed JSON at byte %d: %s", e.pos, e.msg)
}

const (
	msgNotObject  = "not a JSON object (does not start with '{')"
	msgEnd        = "line ends inside the object (truncated?)"
	msgUnterm     = "unterminated string (truncated?)"
	msgControl    = "control character inside a string"
	msgEscape     = "invalid escape in a string"
	msgKey        = "expected a quoted key"
	msgColon      = "expected ':' after a key"
	msgObjSep     = "expected ',' or '}' after a value"
	msgArrSep     = "expected ',' or ']' after a value"
	msgValue      = "expected a value"
	msgNumber     = "invalid number"
	msgLiteral    = "invalid literal (want true, false or null)"
	msgDeep       = "nested deeper than 64 levels"
	msgAfterClose = "text after the closing '}'"
)

// scan walks the object that is the whole of b, storing the values of
// q's paths in vals. It reports false and where the line is malformed.
func (q *jsonQuery) scan(b []byte, vals []jsonValue) (jsonError, bool) {
	if len(vals) < q.nslots {
		panic("jsonQuery.scan: vals shorter than nslots")
	}
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return jsonError{i, msgNotObject}, false
	}
	i, msg := scanObject(b, i+1, &q.root, vals, 1)
	if msg != "" {
		return jsonError{i, msg}, false
	}
	if i = skipWS(b, i); i < len(b) {
		return jsonError{i, msgAfterClose}, false
	}
	return jsonError{}, true
}

func skipWS(b []byte, i int) int {
	for i < len(b) && b[i] <= ' ' && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// scanObject scans an object's members from i (just after its '{') and
// returns the index after its '}'. ks (nil: none) names the keys to
// capture into vals.
func scanObject(b []byte, i int, ks *jsonKeys, vals []jsonValue, depth int) (int, string) {
	if depth > maxJSONDepth {
		return i, msgDeep
	}
	i = skipWS(b, i)
	if i < len(b) && b[i] == '}' {
		return i + 1, ""
	}
	const lo = 0x0101010101010101
	const hi = 0x8080808080808080
	for {
		if i >= len(b) {
			return i, msgEnd
		}
		if b[i] != '"' {
			return i, msgKey
		}
		// The key. This loop and the one for string values below are
		// nextSpecial, inlined: they are the scanner's hot path. An escape
		// or an error continues in scanString.
		end := i + 1
		for {
			if end+8 > len(b) {
				end = nextSpecial(b, end)
				break
			}
			w := binary.LittleEndian.Uint64(b[end : end+8])
			x, y := w^(lo*0x02), w^(lo*'\\')
			if m := (((x - lo*0x21) &^ x) | ((y - lo) &^ y)) & hi; m != 0 {
				end += bits.TrailingZeros64(m) >> 3
				break
			}
			end += 8
		}
		esc := false
		var msg string
		if end >= len(b) || b[end] != '"' {
			if end, esc, msg = scanString(b, end); msg != "" {
				return end, msg
			}
		}
		k := -1
		if ks != nil && end > i+1 {
			if esc {
				k = ks.lookup(b[i+1:end], esc)
			} else if m := ks.byLen[min(end-i-1, 63)] & ks.byEnd[b[end-1]]; m != 0 {
				k = ks.match(b, i+1, end, m)
			}
		}
		i = end + 1
		if i < len(b) && b[i] != ':' {
			i = skipWS(b, i)
		}
		if i >= len(b) || b[i] != ':' {
			if i >= len(b) {
				return i, msgEnd
			}
			return i, msgColon
		}
		if i++; i < len(b) && b[i] <= ' ' {
			i = skipWS(b, i)
		}
		start := i
		var kind jsonKind
		switch {
		case i >= len(b):
			return i, msgEnd
		case b[i] == '"':
			end = i + 1
			for {
				if end+8 > len(b) {
					end = nextSpecial(b, end)
					break
				}
				w := binary.LittleEndian.Uint64(b[end : end+8])
				x, y := w^(lo*0x02), w^(lo*'\\')
				if m := (((x - lo*0x21) &^ x) | ((y - lo) &^ y)) & hi; m != 0 {
					end += bits.TrailingZeros64(m) >> 3
					break
				}
				end += 8
			}
			esc = false
			if end >= len(b) || b[end] != '"' {
				if end, esc, msg = scanString(b, end); msg != "" {
					return end, msg
				}
			}
			i, kind = end+1, jsonString
		case b[i]-'1' <= 8:
			// A positive integer, the common number: digits up to a
			// delimiter; a fraction or an exponent takes the full path.
			end = i + 1
			for end+8 <= len(b) && allDigits(binary.LittleEndian.Uint64(b[end:end+8])) {
				end += 8
			}
			for end < len(b) && b[end]-'0' <= 9 {
				end++
			}
			if end < len(b) && (b[end] == '.' || b[end] == 'e' || b[end] == 'E') {
				end, msg = scanNumber(b, i)
			}
			i, kind, esc = end, jsonNumber, false
		case k >= 0 && ks.sub[k] != nil && b[i] == '{':
			i, msg = scanObject(b, i+1, ks.sub[k], vals, depth+1)
			kind = jsonObject
		default:
			i, kind, esc, msg = scanValue(b, i, depth)
		}
		if msg != "" {
			return i, msg
		}
		if k >= 0 {
			if s := ks.slot[k]; s >= 0 {
				v := &vals[s]
				v.kind, v.esc = kind, esc
				if kind == jsonString {
					v.raw = b[start+1 : i-1]
				} else {
					v.raw = b[start:i]
				}
			}
		}
		if i < len(b) && b[i] != ',' && b[i] != '}' {
			i = skipWS(b, i)
		}
		if i >= len(b) {
			return i, msgEnd
		}
		switch b[i] {
		case ',':
			if i++; i < len(b) && b[i] <= ' ' {
				i = skipWS(b, i)
			}
		case '}':
			return i + 1, ""
		default:
			return i, msgObjSep
		}
	}
}

// scanArray scans an array's elements from i (just after its '[') and
// returns the index after its ']'.
func scanArray(b []byte, i int, depth int) (int, string) {
	if depth > maxJSONDepth {
		return i, msgDeep
	}
	i = skipWS(b, i)
	if i < len(b) && b[i] == ']' {
		return i + 1, ""
	}
	for {
		var msg string
		i, _, _, msg = scanValue(b, i, depth)
		if msg != "" {
			return i, msg
		}
		i = skipWS(b, i)
		if i >= len(b) {
			return i, msgEnd
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
		case ']':
			return i + 1, ""
		default:
			return i, msgArrSep
		}
	}
}

// scanValue scans the value starting at i (depth: of the container holding
// it) and returns the index after it, its kind and, for a string, whether it
// has escapes.
func scanValue(b []byte, i int, depth int) (int, jsonKind, bool, string) {
	if i >= len(b) {
		return i, jsonAbsent, false, msgEnd
	}
	switch c := b[i]; c {
	case '"':
		end, esc, msg := scanString(b, i+1)
		if msg != "" {
			return end, jsonString, esc, msg
		}
		return end + 1, jsonString, esc, ""
	case '{':
		end, msg := scanObject(b, i+1, nil, nil, depth+1)
		return end, jsonObject, false, msg
	case '[':
		end, msg := scanArray(b, i+1, depth+1)
		return end, jsonArray, false, msg
	case 't':
		return literal(b, i, "true", jsonBool)
	case 'f':
		return literal(b, i, "false", jsonBool)
	case 'n':
		return literal(b, i, "null", jsonNull)
	default:
		if c == '-' || ('0' <= c && c <= '9') {
			end, msg := scanNumber(b, i)
			return end, jsonNumber, false, msg
		}
	}
	return i, jsonAbsent, false, msgValue
}

func literal(b []byte, i int, word string, kind jsonKind) (int, jsonKind, bool, string) {
	if len(b)-i < len(word) || string(b[i:i+len(word)]) != word {
		if len(b)-i < len(word) && word[:len(b)-i] == string(b[i:]) {
			return len(b), kind, false, msgEnd
		}
		return i, kind, false, msgLiteral
	}
	return i + len(word), kind, false, ""
}

// scanNumber scans a JSON number (-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?).
func scanNumber(b []byte, i int) (int, string) {
	if b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return i, msgEnd
	case b[i] == '0':
		i++
	case '1' <= b[i] && b[i] <= '9':
		i = skipDigits(b, i+1)
	default:
		return i, msgNumber
	}
	if i < len(b) && b[i] == '.' {
		j := skipDigits(b, i+1)
		if j == i+1 {
			return j, msgNumber
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := skipDigits(b, i)
		if j == i {
			return j, msgNumber
		}
		i = j
	}
	return i, ""
}

func skipDigits(b []byte, i int) int {
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		i++
	}
	return i
}

// scanString finds the end of the string whose content starts at i and
// returns the index of its closing quote and whether it has escapes. It
// validates escapes and rejects raw control characters, as JSON requires.
func scanString(b []byte, i int) (int, bool, string) {
	esc := false
	for {
		i = nextSpecial(b, i)
		if i >= len(b) {
			return i, esc, msgUnterm
		}
		switch b[i] {
		case '"':
			return i, esc, ""
		case '\\':
		default:
			return i, esc, msgControl
		}
		esc = true
		if i+1 >= len(b) {
			return len(b), esc, msgUnterm
		}
		switch b[i+1] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			i += 2
		case 'u':
			if len(b)-i < 6 {
				return len(b), esc, msgUnterm
			}
			if _, ok := hex4(b[i+2 : i+6]); !ok {
				return i, esc, msgEscape
			}
			i += 6
		default:
			return i, esc, msgEscape
		}
	}
}

// nextSpecial returns the index of the first '"', '\\' or control
// character at or after i, or len(b). It tests eight bytes at a time: with
// x = w^0x02.., the bytes of w below 0x20 or equal to '"' are exactly those
// of x below 0x21, and y = w^0x5c.. is zero where w has a '\\'. A byte's
// high bit in m is set for those; borrows only run upwards from such a
// byte, so the lowest bit set in m is exact.
func nextSpecial(b []byte, i int) int {
	const lo = 0x0101010101010101
	const hi = 0x8080808080808080
	if i >= len(b) {
		return len(b)
	}
	rest := b[i:]
	for len(rest) >= 8 {
		w := binary.LittleEndian.Uint64(rest)
		x := w ^ (lo * 0x02)
		y := w ^ (lo * '\\')
		if m := ((x - lo*0x21) &^ x) | ((y - lo) &^ y); m&hi != 0 {
			return len(b) - len(rest) + bits.TrailingZeros64(m&hi)>>3
		}
		rest = rest[8:]
	}
	for j, c := range rest {
		if c == '"' || c == '\\' || c < 0x20 {
			return len(b) - len(rest) + j
		}
	}
	return len(b)
}

func hex4(b []byte) (rune, bool) {
	var r rune
	for _, c := range b[:4] {
		h, ok := unhex(c)
		if !ok {
			return 0, false
		}
		r = r<<4 | rune(h)
	}
	return r, true
}

// unescapeInPlace decodes a JSON string's escapes into b itself and returns
// the decoded prefix. Lone or broken surrogates become U+FFFD, as in
// encoding/json. Invalid escapes (already refused by scanString) are kept.
func unescapeInPlace(b []byte) []byte {
	i := bytes.IndexByte(b, '\\')
	if i < 0 {
		return b
	}
	w := i
	for i < len(b) {
		c := b[i]
		if c != '\\' {
			b[w] = c
			w++
			i++
			continue
		}
		if i+1 >= len(b) {
			b[w] = c
			w++
			break
		}
		switch e := b[i+1]; e {
		case '"', '\\', '/':
			c = e
		case 'b':
			c = '\b'
		case 'f':
			c = '\f'
		case 'n':
			c = '\n'
		case 'r':
			c = '\r'
		case 't':
			c = '\t'
		case 'u':
			r, ok := rune(0), false
			if i+6 <= len(b) {
				r, ok = hex4(b[i+2 : i+6])
			}
			if !ok {
				b[w] = c
				w++
				i++
				continue
			}
			i += 6
			if utf16.IsSurrogate(r) {
				r2, ok := rune(0), false
				if i+6 <= len(b) && b[i] == '\\' && b[i+1] == 'u' {
					r2, ok = hex4(b[i+2 : i+6])
				}
				if d := utf16.DecodeRune(r, r2); ok && d != utf8.RuneError {
					r = d
					i += 6
				} else {
					r = utf8.RuneError
				}
			}
			// The encoding (at most 4 bytes) never passes i: \uXXXX is 6.
			w += utf8.EncodeRune(b[w:], r)
			continue
		default:
			b[w] = c
			w++
			i++
			continue
		}
		b[w] = c
		w++
		i += 2
	}
	return b[:w]
}

// Conversions of captured values shared by the JSON formats. name is the
// key as the user knows it, for reject reasons.

// jsonText returns a string value's text (unescaped), or nil when absent or
// null; any other type is a reject.
func jsonText(name string, v *jsonValue) ([]byte, error) {
	switch v.kind {
	case jsonAbsent, jsonNull:
		return nil, nil
	case jsonString:
		return v.text(), nil
	}
	return nil, wrongType(name, v, "a string")
}

// jsonScalar is jsonText that also takes a number (an id, a colo number).
func jsonScalar(name string, v *jsonValue) ([]byte, error) {
	if v.kind == jsonNumber {
		return v.raw, nil
	}
	if v.kind == jsonString || !v.present() {
		return jsonText(name, v)
	}
	return nil, wrongType(name, v, "a string or a number")
}

func wrongType(name string, v *jsonValue, want string) error {
	return reject(fmt.Sprintf("%s is %s, want %s", name, v.kind, want))
}

// jsonTime parses a time value: an RFC 3339 string (with or without a
// fraction), an nginx $time_local string, or a Unix time as a number or a
// numeric string (see parseEpoch). v must be present.
func jsonTime(name string, v *jsonValue) (ns int64, coarse bool, err error) {
	var ok bool
	switch v.kind {
	case jsonString:
		s := v.text()
		if ns, coarse, ok = ParseRFC3339(s); ok {
			return ns, coarse, nil
		}
		if ns, ok = ParseCLFTime(s); ok {
			return ns, true, nil
		}
		if ns, coarse, ok = parseEpoch(s); ok {
			return ns, coarse, nil
		}
		return 0, false, reject(fmt.Sprintf("%s %q is not an RFC 3339 or Unix time", name, clip(s)))
	case jsonNumber:
		if ns, coarse, ok = parseEpoch(v.raw); ok {
			return ns, coarse, nil
		}
		return 0, false, reject(fmt.Sprintf("%s %s is not a Unix time in seconds, milliseconds, microseconds or nanoseconds", name, clip(v.raw)))
	}
	return 0, false, wrongType(name, v, "a string or a number")
}

// parseEpoch parses a Unix time, deciding the unit by the number of integer
// digits (a 2017 time has 10 in seconds, 13 in milliseconds, 16 in
// microseconds, 19 in nanoseconds): up to 11 are seconds, which may have a
// fraction; 12 to 14 milliseconds, 15 to 17 microseconds, 18 or 19
// nanoseconds. coarse reports whole seconds.
func parseEpoch(b []byte) (ns int64, coarse bool, ok bool) {
	var v uint64
	n := 0
	// Eight digits at a time while they last, then one by one.
	for n+8 <= len(b) && n < 16 {
		d, ok := eightDigits(binary.LittleEndian.Uint64(b[n:]))
		if !ok {
			break
		}
		v = v*1e8 + d
		n += 8
	}
	for ; n < len(b) && b[n]-'0' <= 9; n++ {
		if n < 19 {
			v = v*10 + uint64(b[n]-'0') // 19 digits fit in a uint64
		}
	}
	switch {
	case n == 0:
		return 0, false, false
	case n <= 11 && n == len(b):
		return int64(v) * 1e9, true, true
	case n <= 11:
		return ParseUnixDecimal(b)
	case n != len(b):
		return 0, false, false
	}
	var scale uint64
	switch {
	case n <= 14:
		scale = 1e6
	case n <= 17:
		scale = 1e3
	case n <= 19:
		scale = 1
	default:
		return 0, false, false
	}
	if v > (1<<63-1)/scale {
		return 0, false, false
	}
	return int64(v * scale), false, true
}

// allDigits reports whether the eight bytes of w are ASCII digits.
func allDigits(w uint64) bool {
	return (w&0xf0f0f0f0f0f0f0f0)|(((w+0x0606060606060606)&0xf0f0f0f0f0f0f0f0)>>4) == 0x3333333333333333
}

// eightDigits converts eight ASCII digits, the first in the low byte of w,
// to their value (the SWAR method of Lemire and Mula).
func eightDigits(w uint64) (uint64, bool) {
	if !allDigits(w) {
		return 0, false
	}
	w -= 0x3030303030303030
	w = w*10 + w>>8
	w = ((w&0x000000ff000000ff)*(100+(1000000<<32)) + (w>>16&0x000000ff000000ff)*(1+(10000<<32))) >> 32
	return w, true
}

// jsonStatus parses an HTTP status given as a number or a numeric string.
func jsonStatus(name string, v *jsonValue) (int, error) {
	var s []byte
	switch v.kind {
	case jsonNumber:
		s = v.raw
	case jsonString:
		s = v.text()
	default:
		return 0, wrongType(name, v, "a number")
	}
	st, ok := digits(s)
	if !ok || len(s) > 3 {
		return 0, reject(fmt.Sprintf("%s %q is not a status number", name, clip(s)))
	}
	return st, nil
}

// jsonFirstString returns the first element of an array of strings (a
// header as Caddy logs it: "Cookie":["a=1; sid=x"]), unescaped in place,
// or nil for an empty array. v must be an array; an element that is not a
// string rejects the line.
func jsonFirstString(name string, v *jsonValue) ([]byte, error) {
	b := v.raw
	i := skipWS(b, 1) // after '['
	if i >= len(b) || b[i] == ']' {
		return nil, nil
	}
	if b[i] != '"' {
		return nil, reject(fmt.Sprintf("%s is an array of other than strings, want a string", name))
	}
	end, esc, msg := scanString(b, i+1)
	if msg != "" { // the scanner validated the line: not reached
		return nil, reject(fmt.Sprintf("%s: %s", name, msg))
	}
	s := b[i+1 : end]
	if esc {
		s = unescapeInPlace(s)
	}
	return s, nil
}

// jsonHeader is jsonText that also takes an array of strings (its first).
func jsonHeader(name string, v *jsonValue) ([]byte, error) {
	if v.kind == jsonArray {
		return jsonFirstString(name, v)
	}
	return jsonText(name, v)
}

// jsonWord returns a cache result as logged: a string (or the first of an
// array of strings), or the text of true/false or of a number (Google's
// cacheHit, Akamai's numeric cacheStatus), which cache_values can name.
func jsonWord(name string, v *jsonValue) ([]byte, error) {
	switch v.kind {
	case jsonBool, jsonNumber:
		return v.raw, nil
	case jsonArray:
		return jsonFirstString(name, v)
	}
	return jsonText(name, v)
}

// jsonBoolValue reads true/false (or the strings "true"/"false", as some
// exporters write them); absent or null is false.
func jsonBoolValue(name string, v *jsonValue) (bool, error) {
	switch v.kind {
	case jsonAbsent, jsonNull:
		return false, nil
	case jsonBool:
		return v.raw[0] == 't', nil
	case jsonString:
		switch string(v.text()) {
		case "true":
			return true, nil
		case "false", "":
			return false, nil
		}
	}
	return false, wrongType(name, v, "true or false")
}
