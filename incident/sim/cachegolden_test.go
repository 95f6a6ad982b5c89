package sim

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/breachctl/breachctl/internal/pgtest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestCacheScenarioUnchanged pins the cache scenario's output: small runs
// in every format and precision must write exactly the files (by sha256)
// they wrote before the other scenarios existed. Regenerate with -update
// only for an intended change of the cache simulation.
func TestCacheScenarioUnchanged(t *testing.T) {
	_, db := pgtest.NewDB(t)
	ctx := context.Background()
	var got strings.Builder
	for _, o := range []Options{
		{Format: FormatNginx, Precision: PrecisionMillisecond},
		{Format: FormatNginx, Precision: PrecisionSecond},
		{Format: FormatCloudFront},
		{Format: FormatCloudflare, Precision: PrecisionMillisecond},
		{Format: FormatCloudflare, Precision: PrecisionSecond},
		{Format: FormatJSONL, Precision: PrecisionMillisecond},
	} {
		o.Out = filepath.Join(t.TempDir(), "out")
		o.Users, o.Requests, o.Seed = 400, 15000, 11
		o.UsersDBURL = "postgres://reader@127.0.0.1/users"
		if _, err := Run(ctx, db, o); err != nil {
			t.Fatalf("Run(%s %s): %v", o.Format, o.Precision, err)
		}
		files := readTree(t, o.Out)
		names := make([]string, 0, len(files))
		for n := range files {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			sum := sha256.Sum256(files[n])
			got.WriteString(o.Format + "/" + o.Precision + " " + filepath.ToSlash(n) + " " + hex.EncodeToString(sum[:]) + "\n")
		}
	}
	golden := filepath.Join("testdata", "cache_sha256.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update once to create it)", err)
	}
	if got.String() != string(want) {
		gl, wl := strings.Split(got.String(), "\n"), strings.Split(string(want), "\n")
		for i := range max(len(gl), len(wl)) {
			g, w := "", ""
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Errorf("cache output changed:\n got  %s\n want %s", g, w)
			}
		}
	}
}
