package logs

import (
	"encoding/json"
	"errors"
	"testing"
)

// presetCase is one line of a preset format's table test: the record it
// gives, field by field, or its exact reject reason.
type presetCase struct {
	name   string
	id     Identity
	line   string
	want   Record
	reject string // exact reason; empty = must parse
}

func runPresetCases(t *testing.T, newParser func(Identity) (Parser, error), cases []presetCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := newParser(tc.id)
			if err != nil {
				t.Fatal(err)
			}
			var rec Record
			err = p.Parse([]byte(tc.line), &rec)
			if tc.reject != "" {
				var pe *ParseError
				if !errors.As(err, &pe) || pe.Reason != tc.reject {
					t.Fatalf("Parse error = %v\nwant reason %q", err, tc.reject)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if d := diffRecord(rec, tc.want); d != "" {
				t.Error(d)
			}
		})
	}
}

// zeroAllocs fails when Parse allocates for line.
func zeroAllocs(t *testing.T, p Parser, src string) {
	t.Helper()
	line := make([]byte, len(src))
	var rec Record
	var perr error
	allocs := testing.AllocsPerRun(100, func() {
		copy(line, src)
		rec = Record{}
		perr = p.Parse(line, &rec)
	})
	if perr != nil {
		t.Fatal(perr)
	}
	if allocs != 0 {
		t.Errorf("Parse allocates %.1f times per line, want 0", allocs)
	}
}

// fuzzPreset runs the JSON fuzz checks over the parsers.
func fuzzPreset(f *testing.F, seeds []string, parsers ...Parser) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, p := range parsers {
			line := append([]byte(nil), in...)
			var rec Record
			err := p.Parse(line, &rec)
			checkParseResult(t, in, &rec, err)
			if err == nil && len(in) > 0 && in[0] == '{' && !json.Valid(in) {
				t.Fatalf("accepted invalid JSON %q", in)
			}
			if err == nil && len(rec.Path) > 0 && rec.Path[0] != '/' {
				t.Fatalf("path %q does not begin with /", rec.Path)
			}
		}
	})
}
