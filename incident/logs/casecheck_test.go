package logs

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/breachctl/breachctl/incident"
)

func caseEnv(name string) (string, bool) {
	if name == "USERS_DATABASE_URL" {
		return "postgres://reader@db.internal/users", true
	}
	return "", false
}

// TestCaseProblems: the logs[] entries are checked against their formats
// (the one list of formats) when the case file is loaded, and their
// problems join the file's own in one report, with paths and lines.
func TestCaseProblems(t *testing.T) {
	b, err := os.ReadFile("../testdata/valid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	valid := string(b)
	repl := func(old, new string) func(string) string {
		return func(s string) string { return strings.Replace(s, old, new, 1) }
	}
	tests := []struct {
		name string
		edit func(string) string
		want []string // in order
	}{
		{"unsupported format", repl("format: nginx", "format: iis"),
			[]string{`logs[0].format (line 23): "iis" is not a supported format; use one of ` + strings.Join(FormatNames(), ", ")}},
		{"remote_user outside nginx", func(s string) string {
			return strings.Replace(strings.Replace(s, "format: nginx", "format: cloudfront", 1), "identity: cookie:sid", "identity: remote_user", 1)
		}, []string{`logs[0].identity (line 24): identity remote_user does not exist in CloudFront logs`}},
		{"log_format with cloudfront", repl("    format: nginx\n", "    format: cloudfront\n    log_format: '$remote_addr'\n"),
			[]string{`logs[0].log_format (line 24): format cloudfront takes no log_format; remove it`}},
		{"jsonl without field map", repl("format: nginx", "format: jsonl"),
			[]string{`logs[0].fields.time (line 22): required for jsonl`, `logs[0].fields.path`, `logs[0].fields.status`, `logs[0].fields.cache`}},
		{"nginx field that is not pop", repl("    identity: cookie:sid\n", "    identity: cookie:sid\n    fields: {edge: hostname}\n"),
			[]string{`logs[0].fields.edge (line 25): unknown field "edge"; expected one of: pop`}},
		{"cache_values with a class that does not exist", func(s string) string {
			return strings.Replace(strings.Replace(s, "format: nginx", "format: cloudflare", 1), "    identity: cookie:sid\n", "    identity: cookie:sid\n    cache_values: {PASS: MAYBE}\n", 1)
		},
			[]string{`logs[0].cache_values (line 25): cache_values.PASS: "MAYBE" is not a cache class`}},
		{"prefix that is not a regular expression", func(s string) string {
			return strings.Replace(strings.Replace(s, "format: nginx", "format: cloudflare", 1), "    identity: cookie:sid\n", "    identity: cookie:sid\n    prefix: '(syslog'\n", 1)
		},
			[]string{`logs[0].prefix (line 25): prefix "(syslog" is not a regular expression`}},
		{"log_format without a cache result", repl("    identity: cookie:sid\n", "    identity: cookie:sid\n    log_format: '$remote_addr [$time_local] \"$request\" $status \"$http_cookie\"'\n"),
			[]string{`logs[0].format (line 23): these logs have no cache result`, "add $upstream_cache_status to the log_format", "accept_missing: [cache]"}},
		{"several problems at once, in line order", func(s string) string {
			s = strings.Replace(s, "timezone: Asia/Tokyo", "timezone: Mars/Olympus", 1)
			s = strings.Replace(s, "format: nginx", "format: iis", 1)
			s = strings.Replace(s, "[bank_account]", "[bank]", 1)
			return strings.Replace(s, "  website:", "  web_site:", 1)
		}, []string{
			"4 problems:",
			`timezone (line 3)`,
			`organization.web_site (line 13): unknown key`,
			`logs[0].format (line 23)`,
			`exposure.routes[1].categories[0] (line 38)`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := incident.Parse([]byte(tc.edit(valid)), caseEnv, CaseProblems)
			var ve *incident.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Parse() error = %v, want a *ValidationError", err)
			}
			msg, pos := err.Error(), 0
			for _, w := range tc.want {
				i := strings.Index(msg[pos:], w)
				if i < 0 {
					t.Fatalf("error does not contain %q (in order)\ngot:\n%s", w, msg)
				}
				pos += i + len(w)
			}
		})
	}
	// Logs that name no requester need the case to say it is deliberate.
	noID := strings.Replace(strings.Replace(valid, "format: nginx", "format: alb", 1), "    identity: cookie:sid\n", "", 1)
	if _, err := incident.Parse([]byte(noID), caseEnv, CaseProblems); err == nil || !strings.Contains(err.Error(), "logs[0].identity") {
		t.Errorf("no identity, not declared: err = %v, want a logs[0].identity problem", err)
	}
	noID = strings.Replace(noID, "    format: alb\n", "    format: alb\n    accept_missing: [cache, identity]\n", 1)
	if _, err := incident.Parse([]byte(noID), caseEnv, CaseProblems); err != nil {
		t.Errorf("accept_missing: [cache, identity] on ALB logs: %v", err)
	}
	// A deliberate lack of the cache result is accepted when the case says so.
	s := strings.Replace(valid, "    identity: cookie:sid\n", "    identity: cookie:sid\n    log_format: '$remote_addr [$time_local] \"$request\" $status \"$http_cookie\"'\n    accept_missing: [cache]\n", 1)
	if _, err := incident.Parse([]byte(s), caseEnv, CaseProblems); err != nil {
		t.Errorf("accept_missing: [cache]: %v", err)
	}
}
