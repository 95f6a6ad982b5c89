package logs

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// scanQuery builds a query for the given (possibly dotted) paths.
func scanQuery(t testing.TB, paths ...string) (*jsonQuery, []int) {
	t.Helper()
	q := &jsonQuery{}
	slots := make([]int, len(paths))
	for i, p := range paths {
		s, err := q.add(strings.Split(p, ".")...)
		if err != nil {
			t.Fatal(err)
		}
		slots[i] = s
	}
	return q, slots
}

func TestJSONScan(t *testing.T) {
	paths := []string{"a", "b", "n.x", "n.y.z", "s"}
	tests := []struct {
		name string
		line string
		want map[string]string // path -> kind:value ("s:text" for a decoded string, "r:raw" otherwise); missing = absent
		err  string            // substring of the reason; empty = must scan
	}{
		{name: "flat", line: `{"a":"x","b":1}`, want: map[string]string{"a": "s:x", "b": "r:1"}},
		{name: "whitespace everywhere", line: " \t{ \"a\" : \"x\" ,\r\n \"b\" : [ 1 , 2 ] } \t", want: map[string]string{"a": "s:x", "b": "r:[ 1 , 2 ]"}},
		{name: "empty object", line: `{}`, want: map[string]string{}},
		{name: "nested path", line: `{"n":{"x":"1","y":{"z":true}},"a":null}`, want: map[string]string{"n.x": "s:1", "n.y.z": "r:true", "a": "r:null"}},
		{name: "nested key at the wrong level is not taken", line: `{"x":"top","n":{"n":{"x":"deep"}}}`, want: map[string]string{}},
		{name: "skips objects, arrays and braces in strings", line: `{"skip":{"a":"}","b":[{"c":"]"},[],{}],"d":"\"{"},"a":"after"}`, want: map[string]string{"a": "s:after"}},
		{name: "escapes decoded", line: `{"a":"q\"b\\s\/n\nt\tu\u00e9\u3042\ud83d\ude00"}`, want: map[string]string{"a": "s:q\"b\\s/n\nt\tuéあ😀"}},
		{name: "lone surrogate becomes U+FFFD", line: `{"a":"x\ud800y\udc00z"}`, want: map[string]string{"a": "s:x\uFFFDy\uFFFDz"}},
		{name: "escaped key matches", line: `{"\u0061":"by escape","\"b":"not b"}`, want: map[string]string{"a": "s:by escape"}},
		{name: "raw UTF-8", line: `{"a":"ギャラクシー","s":"é"}`, want: map[string]string{"a": "s:ギャラクシー", "s": "s:é"}},
		{name: "numbers", line: `{"a":-0.5e+10,"b":0,"s":1E3}`, want: map[string]string{"a": "r:-0.5e+10", "b": "r:0", "s": "r:1E3"}},
		{name: "object value captured whole", line: `{"n":{"x":"1"},"b":{"k":[1,{"l":2}]}}`, want: map[string]string{"n.x": "s:1", "b": `r:{"k":[1,{"l":2}]}`}},
		{name: "duplicate key: last wins", line: `{"a":"1","a":"2"}`, want: map[string]string{"a": "s:2"}},

		{name: "not JSON", line: `GET / HTTP/1.1`, err: "not a JSON object"},
		{name: "array", line: `[1,2]`, err: "not a JSON object"},
		{name: "empty", line: ``, err: "not a JSON object"},
		{name: "truncated mid-string", line: `{"a":"abc`, err: "unterminated string"},
		{name: "truncated mid-key", line: `{"a":"x","ClientRe`, err: "unterminated string"},
		{name: "truncated after a value", line: `{"a":"x"`, err: "line ends inside"},
		{name: "truncated mid-escape", line: `{"a":"x\u00`, err: "unterminated"},
		{name: "truncated mid-literal", line: `{"a":tr`, err: "line ends inside"},
		{name: "truncated nested", line: `{"n":{"x":[1,2`, err: "line ends inside"},
		{name: "trailing comma", line: `{"a":1,}`, err: "expected a quoted key"},
		{name: "missing colon", line: `{"a" 1}`, err: "expected ':'"},
		{name: "missing comma", line: `{"a":1 "b":2}`, err: "expected ',' or '}'"},
		{name: "bad escape", line: `{"a":"\x41"}`, err: "invalid escape"},
		{name: "bad unicode escape", line: `{"a":"\u12g4"}`, err: "invalid escape"},
		{name: "raw control character", line: "{\"a\":\"x\ty\"}", err: "control character"},
		{name: "bad number", line: `{"a":01}`, err: "expected ',' or '}'"},
		{name: "bad number fraction", line: `{"a":1.}`, err: "invalid number"},
		{name: "bad literal", line: `{"a":nul}`, err: "invalid literal"},
		{name: "single quotes", line: `{'a':1}`, err: "expected a quoted key"},
		{name: "text after the object", line: `{"a":1} x`, err: "text after the closing"},
		{name: "two objects", line: `{"a":1}{"a":2}`, err: "text after the closing"},
		{name: "too deep", line: `{"a":` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + `}`, err: "nested deeper"},
		{name: "bad array separator", line: `{"a":[1;2]}`, err: "expected ',' or ']'"},
	}
	q, slots := scanQuery(t, paths...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var vals [maxJSONSlots]jsonValue
			line := []byte(tc.line)
			e, ok := q.scan(line, vals[:])
			if tc.err != "" {
				if ok {
					t.Fatalf("scan(%q) succeeded, want error %q", tc.line, tc.err)
				}
				if !strings.Contains(e.reason(), tc.err) {
					t.Fatalf("scan(%q) reason %q, want it to contain %q", tc.line, e.reason(), tc.err)
				}
				return
			}
			if !ok {
				t.Fatalf("scan(%q): %s", tc.line, e.reason())
			}
			for i, p := range paths {
				v := &vals[slots[i]]
				var got string
				switch v.kind {
				case jsonAbsent:
				case jsonString:
					got = "s:" + string(v.text())
				default:
					got = "r:" + string(v.raw)
				}
				if want := tc.want[p]; got != want {
					t.Errorf("%s: got %q, want %q", p, got, want)
				}
			}
		})
	}
}

func TestJSONQueryAdd(t *testing.T) {
	q := &jsonQuery{}
	a, _ := q.add("a")
	b, _ := q.add("n", "x")
	a2, _ := q.add("a")
	n, _ := q.add("n")
	if a != a2 || a == b || n == b || q.nslots != 3 {
		t.Errorf("slots a=%d a again=%d n.x=%d n=%d (nslots %d): want a path's slot reused and distinct paths distinct", a, a2, b, n, q.nslots)
	}
	if _, err := q.add("x", ""); err == nil {
		t.Error("empty path part accepted")
	}
	for i := 0; q.nslots < maxJSONSlots; i++ {
		if _, err := q.add("k", strings.Repeat("x", i+1)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := q.add("one too many"); err == nil {
		t.Errorf("more than %d slots accepted", maxJSONSlots)
	}
}

func TestNextSpecial(t *testing.T) {
	naive := func(b []byte, i int) int {
		for ; i < len(b); i++ {
			if c := b[i]; c == '"' || c == '\\' || c < 0x20 {
				return i
			}
		}
		return i
	}
	base := []byte("abcdefghijklmnopqrstuvwxyzé€ABCDEFGH")
	for _, special := range []byte{'"', '\\', 0, 0x1f, '\n', '\t'} {
		for pos := 0; pos <= len(base); pos++ {
			for start := 0; start <= 3 && start <= pos; start++ {
				b := append([]byte{}, base...)
				if pos < len(b) {
					b[pos] = special
				}
				// A second special later must not hide the first.
				if pos+3 < len(b) {
					b[pos+3] = '"'
				}
				if got, want := nextSpecial(b, start), naive(b, start); got != want {
					t.Fatalf("nextSpecial(%q, %d) = %d, want %d", b, start, got, want)
				}
			}
		}
	}
	// Bytes just around the boundaries of the tested ranges.
	for c := 0; c < 256; c++ {
		b := bytes.Repeat([]byte{'a'}, 17)
		b[9] = byte(c)
		if got, want := nextSpecial(b, 0), naive(b, 0); got != want {
			t.Fatalf("byte %#x: nextSpecial = %d, want %d", c, got, want)
		}
	}
}

func TestParseEpoch(t *testing.T) {
	tests := []struct {
		in     string
		want   string // RFC 3339; empty = invalid
		coarse bool
	}{
		{"1498092060", "2017-06-22T00:41:00Z", true},
		{"1498092060.5", "2017-06-22T00:41:00.5Z", false},
		{"1498092060.123456789", "2017-06-22T00:41:00.123456789Z", false},
		{"1498092060123", "2017-06-22T00:41:00.123Z", false},
		{"1498092060123456", "2017-06-22T00:41:00.123456Z", false},
		{"1498092060123456789", "2017-06-22T00:41:00.123456789Z", false},
		{"0", "1970-01-01T00:00:00Z", true},
		{"99999999999999999999", "", false}, // 20 digits
		{"9999999999999999999", "", false},  // overflows int64 nanoseconds
		{"1498092060123.5", "", false},      // milliseconds with a fraction
		{"1.498e9", "", false},
		{"-1498092060", "", false},
		{"", "", false},
		{"abc", "", false},
	}
	for _, tc := range tests {
		got, coarse, ok := parseEpoch([]byte(tc.in))
		if tc.want == "" {
			if ok {
				t.Errorf("parseEpoch(%q) = %d, want invalid", tc.in, got)
			}
			continue
		}
		if !ok || got != ns(tc.want) || coarse != tc.coarse {
			t.Errorf("parseEpoch(%q) = %d, %v, %v; want %d, %v, true", tc.in, got, coarse, ok, ns(tc.want), tc.coarse)
		}
	}
}

// jsonScanSeeds are valid and broken objects for FuzzJSONScan.
var jsonScanSeeds = []string{
	`{"a":"x","b":1,"n":{"x":"1","y":{"z":true}},"s":[1,"two",{"3":null}]}`,
	`{"a":"q\"b\\s\/n\nt\tu\u00e9\u3042\ud83d\ude00","b":-1.5e-3}`,
	`{"a":"x\ud800y\udc00z","\u0061":"dup"}`,
	`{"skip":{"a":"}","b":[{"c":"]"},[],{}],"d":"\"{"},"a":"after"}`,
	` {"a" : [ ] , "b" : { } } `,
	`{"a":"abc`,
	`{"a":tru`,
	`{"a":1,}`,
	`[1,2,3]`,
	`{"a":"ギャラクシー"}`,
	"{\"a\":\"\xff\xfe\"}",
}

// FuzzJSONScan checks the scanner against encoding/json: the same lines are
// valid objects, and captured top-level strings decode to the same text.
func FuzzJSONScan(f *testing.F) {
	for _, s := range jsonScanSeeds {
		f.Add([]byte(s))
	}
	paths := []string{"a", "b", "s", "n.x", "n.y.z"}
	q, slots := scanQuery(f, paths...)
	f.Fuzz(func(t *testing.T, in []byte) {
		line := append([]byte(nil), in...)
		var vals [maxJSONSlots]jsonValue
		e, ok := q.scan(line, vals[:])
		first := skipWS(in, 0)
		isObject := first < len(in) && in[first] == '{'
		valid := json.Valid(in)
		if ok != (valid && isObject) && e.msg != msgDeep {
			t.Fatalf("scan ok=%v (%s), json.Valid=%v object=%v for %q", ok, e.reason(), valid, isObject, in)
		}
		if !ok {
			return
		}
		for i := range paths {
			v := &vals[slots[i]]
			if v.kind == jsonString {
				v.text()
			}
		}
		if !utf8.Valid(in) {
			return
		}
		var m map[string]any
		if err := json.Unmarshal(in, &m); err != nil {
			t.Fatalf("encoding/json: %v for %q", err, in)
		}
		for i, p := range paths[:3] {
			v := &vals[slots[i]]
			w, present := m[p]
			if present != (v.kind != jsonAbsent) {
				t.Fatalf("%s: present %v, encoding/json %v for %q", p, v.kind != jsonAbsent, present, in)
			}
			if s, isStr := w.(string); isStr && (v.kind != jsonString || string(v.raw) != s) {
				t.Fatalf("%s: got %q (%v), encoding/json %q for %q", p, v.raw, v.kind, s, in)
			}
		}
	})
}

func TestEightDigits(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"00000000", 0, true}, {"12345678", 12345678, true}, {"99999999", 99999999, true}, {"14980920", 14980920, true},
		{"1234567a", 0, false}, {"/1234567", 0, false}, {"1234:567", 0, false}, {"123 4567", 0, false}, {"\x001234567", 0, false},
	} {
		got, ok := eightDigits(binary.LittleEndian.Uint64([]byte(tc.in)))
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("eightDigits(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	// Every single wrong byte in every position is refused.
	for pos := 0; pos < 8; pos++ {
		for c := 0; c < 256; c++ {
			b := []byte("01234567")
			b[pos] = byte(c)
			_, ok := eightDigits(binary.LittleEndian.Uint64(b))
			if want := '0' <= c && c <= '9'; ok != want {
				t.Fatalf("eightDigits(%q) ok = %v, want %v", b, ok, want)
			}
		}
	}
}

// TestJSONKeyMatch checks key matching by words against plain comparison:
// keys of every length up to 40, each against names differing in any one
// byte, close to the end of the line and far from it.
func TestJSONKeyMatch(t *testing.T) {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN"
	for n := 1; n <= 40; n++ {
		name := alphabet[:n]
		q := &jsonQuery{}
		if _, err := q.add(name); err != nil {
			t.Fatal(err)
		}
		for pos := -1; pos < n; pos++ {
			key := []byte(name)
			if pos >= 0 {
				key[pos] = '_'
			}
			for _, tail := range []string{`:1}`, `:"a long value after the key"}`} {
				line := `{"` + string(key) + `"` + tail
				var vals [maxJSONSlots]jsonValue
				if e, ok := q.scan([]byte(line), vals[:]); !ok {
					t.Fatalf("%s: %s", line, e.reason())
				}
				if got, want := vals[0].kind != jsonAbsent, pos < 0; got != want {
					t.Fatalf("%s with wanted key %q: found %v, want %v", line, name, got, want)
				}
			}
		}
	}
}
