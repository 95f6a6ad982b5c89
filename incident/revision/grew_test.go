package revision

import (
	"slices"
	"testing"

	"github.com/breachctl/breachctl/incident/store"
)

func acct(level string, levels string, cats ...string) *store.AffectedAccount {
	return &store.AffectedAccount{UserID: "1", Level: level, Categories: cats, CategoryLevels: []byte(levels)}
}

func TestGrew(t *testing.T) {
	tests := []struct {
		name       string
		prev, cur  *store.AffectedAccount
		grew       bool
		newCats    []string
		upgraded   bool
		nowConfirm []string
	}{
		{"same", acct("possible", `{"name":"possible"}`, "name"), acct("possible", `{"name":"possible"}`, "name"), false, nil, false, nil},
		{"a new category", acct("possible", `{"name":"possible"}`, "name"), acct("possible", `{"name":"possible","email":"possible"}`, "email", "name"),
			true, []string{"email"}, false, nil},
		{"possible to confirmed", acct("possible", `{"name":"possible"}`, "name"), acct("confirmed", `{"name":"confirmed"}`, "name"),
			true, nil, true, []string{"name"}},
		{"one more category confirmed, level already confirmed", acct("confirmed", `{"name":"confirmed","phone":"possible"}`, "name", "phone"),
			acct("confirmed", `{"name":"confirmed","phone":"confirmed"}`, "name", "phone"), true, nil, false, []string{"phone"}},
		{"shrank", acct("confirmed", `{"name":"confirmed","phone":"possible"}`, "name", "phone"), acct("possible", `{"name":"possible"}`, "name"),
			false, nil, false, nil},
		{"no category levels recorded", acct("possible", ``, "name"), acct("possible", ``, "name", "bank_account"), true, []string{"bank_account"}, false, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, grew := Grew(tc.prev, tc.cur)
			if grew != tc.grew || !slices.Equal(g.NewCategories, tc.newCats) || g.Upgraded != tc.upgraded || !slices.Equal(g.NewlyConfirmed, tc.nowConfirm) {
				t.Errorf("Grew = %+v, %v; want new %v upgraded %v newly confirmed %v, grew %v", g, grew, tc.newCats, tc.upgraded, tc.nowConfirm, tc.grew)
			}
		})
	}
}
