package logs

import (
	"encoding/binary"
	"unicode/utf8"
)

// Text is how a logged value leaves the engine for the case database and
// every output: valid UTF-8 with no control character, that still
// identifies the bytes the log held. A log may hold any byte (a Shift_JIS
// query decoded from %XX, a raw 0x93 in an nginx path, a NUL); PostgreSQL
// text takes neither invalid UTF-8 nor NUL, and a terminal must not be
// handed control bytes.
//
// The rule: valid UTF-8 is kept as it is ('%' included); every byte that is
// not part of a valid UTF-8 sequence, and every byte of a control character
// (C0 U+0000–U+001F, DEL, C1 U+0080–U+009F), is written as %XX (upper-case
// hex). This is percent-encoding, so the text percent-decodes to the same
// bytes the logged value percent-decodes to: a raw 0x93 is shown as %93,
// which is how a browser would have sent it.
//
// Text is for people and storage, not for identity: a literal "%93" and a
// raw 0x93 are shown alike, yet they are different cache objects (a CDN
// keys on the bytes). Correlation therefore works on the raw bytes (see
// incident/correlate), and every stored event names its evidence file and
// line, where the exact bytes are. Escaping '%' as well would not make the
// text one-to-one without also changing every ordinary percent-encoded URL.
func Text(b []byte) string {
	if clean(b) {
		return string(b)
	}
	return string(appendText(make([]byte, 0, len(b)+len(b)/2+8), b))
}

// TextString is Text for a string; it returns s itself when s needs no
// escaping (no allocation).
func TextString(s string) string {
	if clean([]byte(s)) { // no copy: the conversion does not escape
		return s
	}
	return string(appendText(make([]byte, 0, len(s)+len(s)/2+8), []byte(s)))
}

// clean reports whether b is printable ASCII only (the common case),
// eight bytes at a time: the store asks it of every text of every row.
func clean(b []byte) bool {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	for len(b) >= 8 {
		w := binary.LittleEndian.Uint64(b)
		// No high bit; every byte + 0x60 reaches 0x80 (byte >= 0x20); no
		// byte + 1 does (byte != 0x7f). No sum carries into the next byte.
		if w&hi != 0 || (w+0x60*lo)&hi != hi || (w+lo)&hi != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c < 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}

const upperHex = "0123456789ABCDEF"

// appendText appends Text(b) to dst.
func appendText(dst, b []byte) []byte {
	for i := 0; i < len(b); {
		c := b[i]
		if c >= 0x20 && c < 0x7f {
			dst = append(dst, c)
			i++
			continue
		}
		n := 1
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRune(b[i:])
			if r != utf8.RuneError || size > 1 {
				if r >= 0xa0 { // not a C1 control: keep the sequence
					dst = append(dst, b[i:i+size]...)
					i += size
					continue
				}
				n = size // a C1 control: escape each of its bytes
			}
		}
		for _, e := range b[i : i+n] {
			dst = append(dst, '%', upperHex[e>>4], upperHex[e&15])
		}
		i += n
	}
	return dst
}
