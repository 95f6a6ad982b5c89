package logs

import (
	"errors"
	"strings"
	"testing"
)

// expectParse parses line with p and checks the outcome: with reject set,
// a *ParseError whose reason is reject or contains it; otherwise no error
// and exactly the record want.
func expectParse(t *testing.T, p Parser, line []byte, reject string, want Record) {
	t.Helper()
	var rec Record
	err := p.Parse(line, &rec)
	if reject != "" {
		var pe *ParseError
		if !errors.As(err, &pe) || pe.Reason != reject && !strings.Contains(pe.Reason, reject) {
			t.Fatalf("Parse error = %v, want the reason %q", err, reject)
		}
		return
	}
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if d := diffRecord(rec, want); d != "" {
		t.Error(d)
	}
}

// expectParseExact is expectParse with the reject reason matched exactly.
func expectParseExact(t *testing.T, p Parser, line []byte, reject string, want Record) {
	t.Helper()
	if reject != "" {
		var rec Record
		if err := p.Parse(line, &rec); err == nil || err.Error() != reject {
			t.Fatalf("Parse error = %v, want the reject %q", err, reject)
		}
		return
	}
	expectParse(t, p, line, "", want)
}
