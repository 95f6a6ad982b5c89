package logs

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"/mypage/profile?a=1&b=%E6%9D%B1", "/mypage/profile?a=1&b=%E6%9D%B1"},
		{"/東京/ü", "/東京/ü"},
		{"q=\x93\x8c\x8b\x9e", "q=%93%8C%8B%9E"}, // Shift_JIS 東京
		{"/bank\x93", "/bank%93"},
		{"/bank%93", "/bank%93"}, // a literal escape is kept as logged
		{"/a\x00b", "/a%00b"},
		{"tab\there\nnl\r\x7f", "tab%09here%0Anl%0D%7F"},
		{"\x1b[2J", "%1B[2J"},
		{"c1\u0085\u009b", "c1%C2%85%C2%9B"},
		{"nbsp\u00a0", "nbsp\u00a0"},
		{"\uFFFD", "\uFFFD"},          // a valid U+FFFD stays
		{"\xe6\x9d", "%E6%9D"},        // a cut UTF-8 sequence
		{"\xed\xa0\x80", "%ED%A0%80"}, // a surrogate is not UTF-8
		{"\xc0\xaf", "%C0%AF"},        // an over-long '/'
	}
	for _, tc := range tests {
		if got := Text([]byte(tc.in)); got != tc.want {
			t.Errorf("Text(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got := TextString(tc.in); got != tc.want {
			t.Errorf("TextString(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = TextString("/mypage/profile?x=1") }); n != 0 {
		t.Errorf("TextString of clean text: %v allocations, want 0", n)
	}
}

// percentDecodeLoose decodes every valid %XX and keeps everything else.
func percentDecodeLoose(s string) []byte {
	return decodeInPlace([]byte(s))
}

// FuzzText: the text is valid UTF-8 with no control character, printable
// ASCII is unchanged, and it percent-decodes to what the input decodes to.
func FuzzText(f *testing.F) {
	for _, s := range []string{"q=\x93\x8c\x8b\x9e", "/a\x00b", "%\x93", "%4\x01", "%A\x01", "\u009b", "\xe6\x9d", "/東京"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got := Text([]byte(in))
		if !utf8.ValidString(got) {
			t.Fatalf("Text(%q) = %q: not valid UTF-8", in, got)
		}
		if strings.ContainsFunc(got, func(r rune) bool { return r < 0x20 || (r >= 0x7f && r < 0xa0) }) {
			t.Fatalf("Text(%q) = %q: holds a control character", in, got)
		}
		if clean([]byte(in)) && got != in {
			t.Fatalf("Text(%q) = %q: printable ASCII changed", in, got)
		}
		if again := Text([]byte(got)); again != got {
			t.Fatalf("Text(Text(%q)) = %q, want %q unchanged", in, again, got)
		}
		if a, b := percentDecodeLoose(in), percentDecodeLoose(got); !bytes.Equal(a, b) {
			t.Fatalf("Text(%q) = %q decodes to %q, the input to %q", in, got, b, a)
		}
	})
}

func TestClean(t *testing.T) {
	for c := 0; c < 256; c++ {
		want := c >= 0x20 && c < 0x7f
		for pos := 0; pos < 17; pos++ {
			b := []byte(strings.Repeat("a", 17))
			b[pos] = byte(c)
			if got := clean(b); got != want {
				t.Fatalf("clean with byte %#x at %d = %v, want %v", c, pos, got, want)
			}
		}
	}
}
