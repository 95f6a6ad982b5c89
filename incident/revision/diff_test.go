package revision

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/breachctl/breachctl/incident/store"
	"github.com/breachctl/breachctl/internal/golden"
)

// row is an affected account: levels as JSON ("" for none), then categories.
func row(id, level, levels, region string, cats ...string) store.AffectedAccount {
	return store.AffectedAccount{UserID: id, Level: level, CategoryLevels: []byte(levels), Region: region, Country: strings.SplitN(region, "-", 2)[0], Categories: cats}
}

func TestCompare(t *testing.T) {
	none := []string{}
	tests := []struct {
		name      string
		a, b      []store.AffectedAccount
		want      []Person
		unchanged int
	}{
		{"nothing changed",
			[]store.AffectedAccount{row("1", "confirmed", `{"name":"confirmed"}`, "JP-13", "name")},
			[]store.AffectedAccount{row("1", "confirmed", `{"name":"confirmed"}`, "JP-13", "name")},
			[]Person{}, 1},
		{"added and removed",
			[]store.AffectedAccount{row("1", "possible", ``, "JP-13", "phone", "name")},
			[]store.AffectedAccount{row("2", "confirmed", ``, "JP-27", "email")},
			[]Person{
				{UserID: "2", Change: ChangeAdded, LevelTo: "confirmed", CategoriesAdded: []string{"email"}, CategoriesWithdrawn: none, CategoriesConfirmed: none, CategoriesUnconfirmed: none},
				{UserID: "1", Change: ChangeRemoved, LevelFrom: "possible", CategoriesAdded: none, CategoriesWithdrawn: []string{"name", "phone"}, CategoriesConfirmed: none, CategoriesUnconfirmed: none},
			}, 0},
		{"upgraded with a new category",
			[]store.AffectedAccount{row("1", "possible", `{"name":"possible"}`, "JP-13", "name")},
			[]store.AffectedAccount{row("1", "confirmed", `{"name":"confirmed","bank_account":"possible"}`, "JP-13", "bank_account", "name")},
			[]Person{{UserID: "1", Change: ChangeUpgraded, LevelFrom: "possible", LevelTo: "confirmed", CategoriesAdded: []string{"bank_account"},
				CategoriesWithdrawn: none, CategoriesConfirmed: []string{"name"}, CategoriesUnconfirmed: none, Grew: true}}, 0},
		{"downgraded with a category withdrawn",
			[]store.AffectedAccount{row("1", "confirmed", `{"name":"confirmed","phone":"confirmed"}`, "JP-13", "name", "phone")},
			[]store.AffectedAccount{row("1", "possible", `{"name":"possible"}`, "JP-13", "name")},
			[]Person{{UserID: "1", Change: ChangeDowngraded, LevelFrom: "confirmed", LevelTo: "possible", CategoriesAdded: none,
				CategoriesWithdrawn: []string{"phone"}, CategoriesConfirmed: none, CategoriesUnconfirmed: []string{"name"}}}, 0},
		{"same level, one category more and one less",
			[]store.AffectedAccount{row("1", "possible", ``, "US-CA", "email", "name")},
			[]store.AffectedAccount{row("1", "possible", ``, "US-CA", "name", "phone")},
			[]Person{{UserID: "1", Change: ChangeCategories, LevelFrom: "possible", LevelTo: "possible", CategoriesAdded: []string{"phone"},
				CategoriesWithdrawn: []string{"email"}, CategoriesConfirmed: none, CategoriesUnconfirmed: none, Grew: true}}, 0},
		{"same level and categories, a category now confirmed",
			[]store.AffectedAccount{row("1", "confirmed", `{"name":"confirmed","phone":"possible"}`, "JP-13", "name", "phone")},
			[]store.AffectedAccount{row("1", "confirmed", `{"name":"confirmed","phone":"confirmed"}`, "JP-13", "name", "phone")},
			[]Person{{UserID: "1", Change: ChangeCategories, LevelFrom: "confirmed", LevelTo: "confirmed", CategoriesAdded: none,
				CategoriesWithdrawn: none, CategoriesConfirmed: []string{"phone"}, CategoriesUnconfirmed: none, Grew: true}}, 0},
		{"category levels that do not decode take the row's level",
			[]store.AffectedAccount{row("1", "possible", `not json`, "JP-13", "name")},
			[]store.AffectedAccount{row("1", "possible", `{`, "JP-13", "name")},
			[]Person{}, 1},
		{"ordered by change, then ids shortest first",
			[]store.AffectedAccount{row("10", "possible", ``, "", "name"), row("9", "possible", ``, "", "name")},
			[]store.AffectedAccount{row("100", "possible", ``, "", "name"), row("11", "possible", ``, "", "name"), row("9", "confirmed", ``, "", "name")},
			[]Person{
				{UserID: "11", Change: ChangeAdded, LevelTo: "possible", CategoriesAdded: []string{"name"}, CategoriesWithdrawn: none, CategoriesConfirmed: none, CategoriesUnconfirmed: none},
				{UserID: "100", Change: ChangeAdded, LevelTo: "possible", CategoriesAdded: []string{"name"}, CategoriesWithdrawn: none, CategoriesConfirmed: none, CategoriesUnconfirmed: none},
				{UserID: "10", Change: ChangeRemoved, LevelFrom: "possible", CategoriesAdded: none, CategoriesWithdrawn: []string{"name"}, CategoriesConfirmed: none, CategoriesUnconfirmed: none},
				{UserID: "9", Change: ChangeUpgraded, LevelFrom: "possible", LevelTo: "confirmed", CategoriesAdded: none, CategoriesWithdrawn: none,
					CategoriesConfirmed: []string{"name"}, CategoriesUnconfirmed: none, Grew: true},
			}, 0},
		{"both empty", nil, nil, []Person{}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := Compare("c", 1, 2, tc.a, tc.b)
			if !reflect.DeepEqual(d.People, tc.want) {
				t.Errorf("people:\n got %+v\nwant %+v", d.People, tc.want)
			}
			tt := d.Totals
			if tt.Unchanged != tc.unchanged {
				t.Errorf("unchanged = %d, want %d", tt.Unchanged, tc.unchanged)
			}
			// The totals agree with the lists and the inputs.
			if tt.From.People != len(tc.a) || tt.To.People != len(tc.b) || tt.Delta.People != len(tc.b)-len(tc.a) {
				t.Errorf("totals %+v for %d -> %d people", tt, len(tc.a), len(tc.b))
			}
			if n := tt.Added + tt.Removed + tt.Upgraded + tt.Downgraded + tt.Categories; n != len(d.People) {
				t.Errorf("change totals add up to %d, %d people listed", n, len(d.People))
			}
			if tt.Added-tt.Removed != tt.Delta.People {
				t.Errorf("added %d - removed %d != delta %d", tt.Added, tt.Removed, tt.Delta.People)
			}
		})
	}
}

func TestCompareCounts(t *testing.T) {
	a := []store.AffectedAccount{
		row("1", "confirmed", ``, "JP-13", "name", "phone"),
		row("2", "possible", ``, "JP-27", "name"),
		{UserID: "3", Level: "possible", Categories: []string{"email"}}, // no region or country
	}
	b := []store.AffectedAccount{
		row("1", "confirmed", ``, "JP-13", "name"),
		row("2", "confirmed", ``, "JP-27", "name", "bank_account"),
		row("4", "possible", ``, "US-CA", "email"),
		{UserID: "5", Level: "possible", Country: "DE", Categories: []string{"email"}},
	}
	d := Compare("c", 3, 5, a, b)
	wantCat := map[string]Count{"name": {2, 2, 0}, "phone": {1, 0, -1}, "email": {1, 2, 1}, "bank_account": {0, 1, 1}}
	wantRegion := map[string]Count{"JP-13": {1, 1, 0}, "JP-27": {1, 1, 0}, "unknown": {1, 0, -1}, "US-CA": {0, 1, 1}, "DE": {0, 1, 1}}
	if !reflect.DeepEqual(d.ByCategory, wantCat) {
		t.Errorf("by category = %v, want %v", d.ByCategory, wantCat)
	}
	if !reflect.DeepEqual(d.ByRegion, wantRegion) {
		t.Errorf("by region = %v, want %v", d.ByRegion, wantRegion)
	}
	want := Totals{From: Levels{1, 2, 3}, To: Levels{2, 2, 4}, Delta: Levels{1, 0, 1}, Added: 2, Removed: 1, Upgraded: 1, Categories: 1, Grew: 1}
	if d.Totals != want {
		t.Errorf("totals = %+v, want %+v", d.Totals, want)
	}
}

// goldenPair is a small hand-built revision: run 1 on part of the
// evidence, run 2 on all of it.
func goldenPair() *Diff {
	a := []store.AffectedAccount{
		row("1001", "confirmed", `{"name":"confirmed","email":"confirmed"}`, "JP-13", "email", "name"),
		row("1002", "possible", `{"name":"possible"}`, "JP-13", "name"),
		row("1003", "confirmed", `{"bank_account":"confirmed"}`, "JP-27", "bank_account"),
		row("1004", "possible", `{"phone":"possible","name":"possible"}`, "US-CA", "name", "phone"),
		row("1005", "confirmed", `{"payment_card":"confirmed"}`, "JP-13", "payment_card"),
		row("1006", "confirmed", `{"name":"confirmed","phone":"possible"}`, "JP-14", "name", "phone"),
	}
	b := []store.AffectedAccount{
		row("1001", "confirmed", `{"name":"confirmed","email":"confirmed"}`, "JP-13", "email", "name"),
		row("1002", "confirmed", `{"name":"confirmed","postal_address":"possible"}`, "JP-13", "name", "postal_address"),
		row("1003", "possible", `{"bank_account":"possible"}`, "JP-27", "bank_account"),
		row("1004", "possible", `{"name":"possible","email":"possible"}`, "US-CA", "email", "name"),
		row("1006", "confirmed", `{"name":"confirmed","phone":"confirmed"}`, "JP-14", "name", "phone"),
		row("1007", "confirmed", `{"purchase_history":"confirmed"}`, "JP-13", "purchase_history"),
		row("1008", "possible", `{"email":"possible"}`, "DE-BE", "email"),
	}
	return Compare("web-cache-2017-06", 1, 2, a, b)
}

func TestDiffGolden(t *testing.T) {
	d := goldenPair()
	jst := time.FixedZone("JST", 9*3600)
	opts := TextOptions{Location: jst,
		FromFinished: time.Date(2017, 6, 22, 8, 10, 0, 0, time.UTC), ToFinished: time.Date(2017, 6, 23, 1, 30, 0, 0, time.UTC)}
	var text, capped, js, cs bytes.Buffer
	if err := d.WriteText(&text, opts); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/diff.txt.golden", text.Bytes())
	opts.ListLimit = 1
	if err := d.WriteText(&capped, opts); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/diff_capped.txt.golden", capped.Bytes())
	opts.All = true
	var all bytes.Buffer
	if err := d.WriteText(&all, opts); err != nil {
		t.Fatal(err)
	}
	if all.String() != text.String() {
		t.Errorf("--all with a limit of 1 differs from the uncapped list:\n%s", golden.FirstDiff(text.Bytes(), all.Bytes()))
	}
	if err := d.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/diff.json.golden", js.Bytes())
	if err := d.WriteCSV(&cs); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/diff.csv.golden", cs.Bytes())

	// The JSON has the contract's keys, and CSV one row per changed person.
	var m map[string]json.RawMessage
	if err := json.Unmarshal(js.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"case", "from", "to", "totals", "people", "by_category", "by_region"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON lacks %q", k)
		}
	}
	recs, err := csv.NewReader(&cs).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1+len(d.People) || !reflect.DeepEqual(recs[0][:6], []string{"user_id", "change", "level_from", "level_to", "categories_added", "categories_withdrawn"}) {
		t.Errorf("CSV header %v, %d rows; want the contract's columns first and %d rows", recs[0], len(recs)-1, len(d.People))
	}
}

// TestDiffTextEscapes: ids, categories and regions come from outside; the
// text shows their control characters escaped.
func TestDiffTextEscapes(t *testing.T) {
	d := Compare("c", 1, 2, nil, []store.AffectedAccount{row("7\x1b[2J", "possible", ``, "JP-13\u202e", "name\nforged")})
	var b bytes.Buffer
	if err := d.WriteText(&b, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"\x1b", "\u202e", "name\nforged"} {
		if strings.Contains(b.String(), bad) {
			t.Errorf("text contains %q unescaped:\n%s", bad, b.String())
		}
	}
}
