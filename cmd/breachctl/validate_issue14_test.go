package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestValidateParsesSample: validate parses the first 1,000 lines of each
// file with the configured parser and reports its parse rate, example
// rejects and unknown cache results; a file of which most lines reject
// fails, and is never said to look like its format.
func TestValidateParsesSample(t *testing.T) {
	good := func(cache string) string { return nginxLine("09:42:00", "/mypage/profile", cache) }
	many := func(n int, l string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = l
		}
		return out
	}
	tests := []struct {
		name    string
		lines   []string
		code    int
		want    []string
		notWant []string
	}{
		{"nothing parses", many(5, `{"ts":"2017-06-22T00:41:00Z","uri":"/x"}`), 1,
			[]string{`FAIL  logs/a.log: 5 of its first 5 lines do not parse as nginx (e.g. line 1: `, "; line 3: ", "check logs[0].format"},
			[]string{"look like", "ok    logs[0]", "line 4: "}},
		{"half rejected", append(many(3, good("HIT")), many(3, "junk")...), 1,
			[]string{"FAIL  logs/a.log: 3 of its first 6 lines do not parse as nginx"}, []string{"ok    logs[0]"}},
		{"some rejects and unknown cache results", append(append(many(8, good("HIT")), "junk", "host.example"+good("MISS")[len("203.0.113.9"):]), many(2, good("PASS"))...), 0,
			[]string{
				`ok    logs/a.log: 10 of its first 12 lines parse as nginx (83.3%); e.g. line 9: `,
				`; line 10: $remote_addr "host.example" is not an IP address; unknown cache results (neither hits nor fills; map them with logs[].cache_values): "PASS" 2`,
				"ok    logs[0]: 1 files, ", "10 of the first 12 lines parse as nginx (83.3%)", "all 5 checks passed"},
			nil},
		{"only the first 1,000 lines", append(many(1000, good("MISS")), many(1001, "junk")...), 0,
			[]string{"ok    logs[0]: 1 files, ", "1000 of the first 1000 lines parse as nginx (100%)", "all 4 checks passed"}, []string{"logs/a.log"}},
		{"a line over the limit", []string{good("HIT") + strings.Repeat("x", 1<<20), good("HIT"), good("HIT")}, 0,
			[]string{"ok    logs/a.log: 2 of its first 3 lines parse as nginx (66.6%); e.g. line 1: longer than 1048576 bytes"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path, env := writeCase(t, func(s string) string {
				return strings.Replace(s, "    log_format: '"+combinedWithCookie+"'\n    accept_missing: [cache]\n", "    log_format: '"+cacheLogFormat+"'\n", 1)
			})
			if err := os.WriteFile(filepath.Join(filepath.Dir(path), "logs", "a.log"), []byte(strings.Join(tc.lines, "\n")+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			r := runCLI(t, env, "validate", "-f", path)
			if r.code != tc.code {
				t.Errorf("exit %d, want %d\n%s%s", r.code, tc.code, r.out, r.err)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.out, w) {
					t.Errorf("output lacks %q:\n%s", w, r.out)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(r.out, w) {
					t.Errorf("output holds %q:\n%s", w, r.out)
				}
			}
		})
	}
}
