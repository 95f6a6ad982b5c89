package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"

	"github.com/breachctl/breachctl/internal/pgtest"
)

type truthFile struct {
	Lines          int64    `json:"lines"`
	TruncatedLines int64    `json:"truncated_lines"`
	Files          []string `json:"files"`
}

type triageJSON struct {
	Case     string `json:"case"`
	Run      int    `json:"run"`
	Evidence []struct {
		Path          string `json:"path"`
		SHA256        string `json:"sha256"`
		Bytes         int64  `json:"bytes"`
		Format        string `json:"format"`
		Lines         int64  `json:"lines"`
		Parsed        int64  `json:"parsed"`
		Rejected      int64  `json:"rejected"`
		OutsideWindow int64  `json:"outside_window"`
	} `json:"evidence"`
	Totals struct {
		Lines         int64 `json:"lines"`
		Parsed        int64 `json:"parsed"`
		Rejected      int64 `json:"rejected"`
		OutsideWindow int64 `json:"outside_window"`
	} `json:"totals"`
}

// simulateCase writes a small simulated incident and returns its case file.
func simulateCase(t *testing.T, format string, extra ...string) (caseFile string, env map[string]string, truth truthFile) {
	t.Helper()
	caseURL, _ := pgtest.NewDB(t)
	usersURL, _ := pgtest.NewDB(t)
	out := filepath.Join(t.TempDir(), "incident")
	// TEST_USERS_OWNER_URL: the user database as its owner (the case file
	// reads it through a read-only role), for tests that change records.
	env = map[string]string{"BREACHCTL_DATABASE_URL": caseURL, "TEST_USERS_OWNER_URL": usersURL}
	args := append([]string{"simulate", "--out", out, "--users", "400", "--requests", "30000", "--users-db", usersURL, "--format", format}, extra...)
	if r := runCLI(t, env, args...); r.code != 0 {
		t.Fatalf("simulate: exit %d\n%s", r.code, r.err)
	}
	raw, err := os.ReadFile(filepath.Join(out, "truth.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &truth); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(out, "incident.yaml"), env, truth
}

func triageOf(t *testing.T, env map[string]string, caseFile string, extra ...string) triageJSON {
	t.Helper()
	r := runCLI(t, env, append([]string{"triage", "-f", caseFile, "--format", "json"}, extra...)...)
	if r.code != 0 {
		t.Fatalf("triage: exit %d: %s", r.code, r.err)
	}
	var tj triageJSON
	if err := json.Unmarshal([]byte(r.out), &tj); err != nil {
		t.Fatalf("triage json: %v\n%s", err, r.out)
	}
	return tj
}

// TestIngestSimulatedFormats ingests the simulator's logs in every format:
// every line the simulator wrote is accounted for, only the lines it cut are
// rejected, and every file's recorded hash is the file's SHA-256.
func TestIngestSimulatedFormats(t *testing.T) {
	for _, format := range []string{"nginx", "cloudfront", "cloudflare", "jsonl"} {
		t.Run(format, func(t *testing.T) {
			caseFile, env, truth := simulateCase(t, format)
			r := runCLI(t, env, "ingest", "-f", caseFile)
			if r.code != 0 {
				t.Fatalf("ingest: exit %d\n%s\n%s", r.code, r.out, r.err)
			}
			tj := triageOf(t, env, caseFile)
			if tj.Run != 1 || tj.Case != "sim-cache-leak" {
				t.Errorf("case %q run %d, want sim-cache-leak run 1", tj.Case, tj.Run)
			}
			if tj.Totals.Lines != truth.Lines {
				t.Errorf("lines = %d, want the %d the simulator wrote", tj.Totals.Lines, truth.Lines)
			}
			if tj.Totals.Rejected != truth.TruncatedLines {
				t.Errorf("rejected = %d, want the %d lines the simulator cut", tj.Totals.Rejected, truth.TruncatedLines)
			}
			if tj.Totals.Parsed+tj.Totals.Rejected != tj.Totals.Lines {
				t.Errorf("parsed %d + rejected %d != lines %d", tj.Totals.Parsed, tj.Totals.Rejected, tj.Totals.Lines)
			}
			if len(tj.Evidence) != len(truth.Files) {
				t.Fatalf("%d evidence files, want %d", len(tj.Evidence), len(truth.Files))
			}
			dir := filepath.Dir(caseFile)
			var sum int64
			for _, e := range tj.Evidence {
				raw, err := os.ReadFile(filepath.Join(dir, e.Path))
				if err != nil {
					t.Fatal(err)
				}
				h := sha256.Sum256(raw)
				if e.SHA256 != hex.EncodeToString(h[:]) || e.Bytes != int64(len(raw)) || e.Format != format {
					t.Errorf("%s: recorded sha256 %s bytes %d format %s; want %x %d %s", e.Path, e.SHA256, e.Bytes, e.Format, h, len(raw), format)
				}
				if e.Parsed+e.Rejected != e.Lines {
					t.Errorf("%s: parsed %d + rejected %d != lines %d", e.Path, e.Parsed, e.Rejected, e.Lines)
				}
				sum += e.Lines
			}
			if sum != tj.Totals.Lines {
				t.Errorf("files add up to %d lines, totals say %d", sum, tj.Totals.Lines)
			}
		})
	}
}

func TestIngestRunsAndTruncation(t *testing.T) {
	caseFile, env, truth := simulateCase(t, "nginx")
	dir := filepath.Dir(caseFile)
	if r := runCLI(t, env, "ingest", "-f", caseFile); r.code != 0 {
		t.Fatalf("ingest: %s", r.err)
	}
	// The same evidence again: a new run with identical content.
	if r := runCLI(t, env, "ingest", "-f", caseFile); r.code != 0 || !strings.Contains(r.out, "run 2") {
		t.Fatalf("second ingest: exit %d out %q", r.code, r.out)
	}
	t1, t2 := triageOf(t, env, caseFile, "--run", "1"), triageOf(t, env, caseFile)
	if t2.Run != 2 || t1.Totals != t2.Totals || len(t1.Evidence) != len(t2.Evidence) {
		t.Errorf("run 2 %+v differs from run 1 %+v", t2.Totals, t1.Totals)
	}
	for i := range t1.Evidence {
		if t1.Evidence[i] != t2.Evidence[i] {
			t.Errorf("evidence %d differs between runs: %+v vs %+v", i, t1.Evidence[i], t2.Evidence[i])
		}
	}

	// Cut one gzip file in half: ingest says so and exits 1; the run is failed.
	var gz string
	for _, f := range truth.Files {
		if strings.HasSuffix(f, ".gz") {
			gz = filepath.Join(dir, f)
			break
		}
	}
	raw, err := os.ReadFile(gz)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(gz, raw[:len(raw)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, env, "ingest", "-f", caseFile)
	if r.code != 1 || !strings.Contains(r.out, "TRUNCATED "+strings.TrimPrefix(gz, dir+"/")) || !strings.Contains(r.err, "--allow-truncated") {
		t.Fatalf("ingest of a truncated file: exit %d\nout %s\nerr %s", r.code, r.out, r.err)
	}
	if tj := triageOf(t, env, caseFile); tj.Run != 2 {
		t.Errorf("latest completed run = %d, want 2 (run 3 failed)", tj.Run)
	}
	r = runCLI(t, env, "ingest", "-f", caseFile, "--allow-truncated")
	if r.code != 0 {
		t.Fatalf("--allow-truncated: exit %d %s", r.code, r.err)
	}
	t4 := triageOf(t, env, caseFile)
	if t4.Run != 4 || t4.Totals.Lines >= t2.Totals.Lines || t4.Totals.Lines == 0 {
		t.Errorf("run %d lines %d, want run 4 with fewer lines than %d", t4.Run, t4.Totals.Lines, t2.Totals.Lines)
	}
}

func TestIngestStdinAndDuplicates(t *testing.T) {
	path, env := writeCase(t, func(s string) string {
		return strings.Replace(s, `paths: ["logs/*.log"]`, `paths: ["logs/*.log", "logs/a.log", "-"]`, 1)
	})
	var buf strings.Builder
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte(`203.0.113.9 - - [22/Jun/2017:09:42:00 +0900] "GET / HTTP/1.1" 200 5 "-" "x" "-"` + "\nnot a log line\n"))
	zw.Close()
	var out, errb strings.Builder
	getenv := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	code := Main(t.Context(), []string{"ingest", "-f", path}, IO{In: strings.NewReader(buf.String()), Out: &out, Err: &errb}, getenv)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	tj := triageOf(t, env, path)
	if len(tj.Evidence) != 2 {
		t.Fatalf("evidence %+v, want logs/a.log once plus standard input", tj.Evidence)
	}
	if tj.Totals.Lines != 7 || tj.Totals.Rejected != 1 {
		t.Errorf("totals %+v, want 7 lines (5 + 2 from stdin), 1 rejected", tj.Totals)
	}
	if !strings.HasPrefix(tj.Evidence[1].Path, "- (standard input") {
		t.Errorf("stdin evidence path %q", tj.Evidence[1].Path)
	}
}

// TestIngestDryRun parses and accounts without touching any database.
func TestIngestDryRun(t *testing.T) {
	caseFile, _, truth := simulateCase(t, "cloudflare")
	env := map[string]string{} // no case database at all
	r := runCLI(t, env, "ingest", "--dry-run", "-f", caseFile)
	if r.code != 0 {
		t.Fatalf("dry run: exit %d\n%s\n%s", r.code, r.out, r.err)
	}
	want := fmt.Sprintf("%d lines in", truth.Lines)
	if !strings.Contains(r.out, "dry run: ") || !strings.Contains(r.out, want) || !strings.Contains(r.out, "nothing was correlated or stored") {
		t.Errorf("dry-run output %q, want the line count %q", r.out, want)
	}
}
