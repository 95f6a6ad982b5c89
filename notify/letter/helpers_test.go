package letter

import (
	"os"
	"sync"
	"testing"
)

var (
	fontsOnce   sync.Once
	loadedFonts *Fonts
	fontsErr    error
)

// testFonts loads the fonts once. Without them the test is skipped, except
// under CI (CI set), where they must be installed.
func testFonts(tb testing.TB) *Fonts {
	tb.Helper()
	fontsOnce.Do(func() { loadedFonts, fontsErr = LoadFonts("") })
	if fontsErr != nil {
		if os.Getenv("CI") == "" {
			tb.Skip(fontsErr)
		}
		tb.Fatal(fontsErr)
	}
	return loadedFonts
}
