package correlate_test

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestHostileKeyBytes (issue 21 item 2): the lineage keys on the bytes the
// CDN used, whatever they are, while what an event shows is valid UTF-8
// (logs.Text). The attacks: a NUL inside a path used to split the cache
// key at the wrong place, so that path "…\x00" with query "x" and path "…"
// with query "\x00x" were one cache object (and the shown path stopped at
// the NUL); a raw 0x93 and a literal "%93" are different cache objects even
// though both are shown as %93.
func TestHostileKeyBytes(t *testing.T) {
	tests := []struct {
		name string
		recs []rrec
		// victim, viewer, shown path and key of each event
		want [][4]string
	}{
		{
			name: "NUL moves no byte from path to query",
			recs: []rrec{
				fill("10:00:00", "sess-a", bank+"\x00").q("x"),
				fill("10:00:01", "sess-c", bank).q("\x00x"),
				hit("10:00:05", "sess-b", bank+"\x00").q("x"),
			},
			want: [][4]string{{"1", "user:2", bank + "%00", "NRT www.example.jp " + bank + "%00?x"}},
		},
		{
			name: "raw 0x93 and literal %93 are two objects",
			recs: []rrec{
				fill("10:00:00", "sess-a", bank+"\x93"),
				fill("10:00:01", "sess-c", bank+"%93"),
				hit("10:00:05", "sess-b", bank+"\x93").q("q=\x93\x8c"),
				hit("10:00:06", "sess-b", bank+"\x93"),
				hit("10:00:07", "sess-d", bank+"%93"),
			},
			want: [][4]string{
				{"", "user:2", bank + "%93", "NRT www.example.jp " + bank + "%93?q=%93%8C"},
				{"1", "user:2", bank + "%93", "NRT www.example.jp " + bank + "%93"},
				{"3", "user:4", bank + "%93", "NRT www.example.jp " + bank + "%93"},
			},
		},
		{
			name: "control bytes and a C1 control in a pop are escaped",
			recs: []rrec{
				fill("10:00:00", "sess-a", bank).on("N\x1b[2J\u009b"),
				hit("10:00:05", "sess-b", bank).on("N\x1b[2J\u009b"),
			},
			want: [][4]string{{"1", "user:2", bank, "N%1B[2J%C2%9B www.example.jp " + bank}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := loadCase(t, "session")
			res := runOnce(t, c, tc.recs, newResolver(t, nil), false)
			var got [][4]string
			for _, e := range res.Events() {
				got = append(got, [4]string{e.Victim, e.Viewer, e.Path, e.CacheKey})
				for _, s := range []string{e.Pop, e.Path, e.CacheKey, e.Viewer} {
					if !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || (r >= 0x7f && r < 0xa0) }) {
						t.Errorf("event text %q: want valid UTF-8 without control characters", s)
					}
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("events (victim, viewer, path, key):\n got %q\nwant %q", got, tc.want)
			}
			split := runOnce(t, c, tc.recs, streamingResolver{newResolver(t, nil)}, true)
			sameResult(t, "reversed on two sinks vs in order on one", split, res)
		})
	}
}
