package notify

import (
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	texttemplate "text/template"

	"github.com/breachctl/breachctl/incident"
	"github.com/breachctl/breachctl/incident/correlate"
	"github.com/breachctl/breachctl/templates"
)

// embeddedNotices lists the embedded notice files by locale and kind.
func embeddedNotices(t *testing.T) map[string]map[string]bool {
	t.Helper()
	names, err := fs.Glob(templates.FS, "notice*")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]bool{}
	for _, n := range names {
		m := noticeFileRe.FindStringSubmatch(n)
		if m == nil {
			t.Errorf("%s: not named notice_<locale>.<kind>.tmpl, so never used", n)
			continue
		}
		if out[m[1]] == nil {
			out[m[1]] = map[string]bool{}
		}
		out[m[1]][m[2]] = true
	}
	return out
}

// Every locale has the same template kinds as every other, and every locale
// a case file may name has templates.
func TestTemplateLocaleParity(t *testing.T) {
	byLocale := embeddedNotices(t)
	for _, loc := range incident.Locales {
		if byLocale[loc] == nil {
			t.Errorf("locale %s (incident.Locales) has no notice templates", loc)
		}
	}
	for a, ka := range byLocale {
		for b, kb := range byLocale {
			for k := range ka {
				if !kb[k] {
					t.Errorf("locale %s has %s but locale %s lacks %s", a, templateName(a, k), b, templateName(b, k))
				}
			}
		}
		for _, k := range kinds {
			if !ka[k] {
				t.Errorf("locale %s lacks %s", a, templateName(a, k))
			}
		}
	}
	// Each file defines the blocks en's file of the same kind defines (the
	// labels file: a label and advice for every category), no more, no fewer.
	for loc, ks := range byLocale {
		for _, k := range kinds {
			if !ks[k] || loc == "en" {
				continue
			}
			got, want := definedBlocks(t, loc, k), definedBlocks(t, "en", k)
			if k == kindLabels {
				want = nil
				for _, c := range incident.Categories {
					want = append(want, "advice."+string(c), "category."+string(c))
				}
			}
			if g, w := sortedStrings(got), sortedStrings(want); !reflect.DeepEqual(g, w) {
				t.Errorf("%s defines %q, want %q (as %s)", templateName(loc, k), g, w, templateName("en", k))
			}
		}
	}
}

// definedBlocks returns the {{define}} names of an embedded notice file.
func definedBlocks(t *testing.T, locale, kind string) []string {
	t.Helper()
	name := templateName(locale, kind)
	b, err := fs.ReadFile(templates.FS, name)
	if err != nil {
		t.Fatal(err)
	}
	tt, err := texttemplate.New(name).Funcs(templateFuncs(isoFormat{})).Parse(string(b))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var names []string
	for _, x := range tt.Templates() {
		if x.Name() != name && x.Tree != nil {
			names = append(names, x.Name())
		}
	}
	return names
}

// Every embedded notice file is used by the renderer, and every block the
// files define is used and every block they call is defined (NewRenderer
// checks the blocks; this test makes a broken file fail the build).
func TestTemplatesUsed(t *testing.T) {
	c := loadCase(t)
	r := newRenderer(t, c)
	var want []string
	for loc, ks := range embeddedNotices(t) {
		for k := range ks {
			want = append(want, templateName(loc, k))
		}
	}
	if got := r.files; !reflect.DeepEqual(got, sortedStrings(want)) {
		t.Errorf("renderer uses %q, embedded notice files are %q", got, sortedStrings(want))
	}
	for _, loc := range r.Locales() {
		labels := map[string]incident.Category{}
		for _, cat := range incident.Categories {
			l := r.locales[loc].tmpl.labels[cat]
			if l.Label == "" || l.Advice == "" {
				t.Errorf("%s: category %s has no label or advice", loc, cat)
			}
			if prev, dup := labels[l.Label]; dup {
				t.Errorf("%s: categories %s and %s share the label %q", loc, prev, cat, l.Label)
			}
			labels[l.Label] = cat
		}
	}
}

func sortedStrings(s []string) []string {
	m := map[string]bool{}
	for _, x := range s {
		m[x] = true
	}
	return sortedKeys(m)
}

func TestTemplatesDir(t *testing.T) {
	c := loadCase(t)
	en, err := fs.ReadFile(templates.FS, "notice_en.txt.tmpl")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		files   map[string]string
		wantErr string // empty: NewRenderer succeeds
		subject string // when set, the en subject rendered
	}{
		{"subject replaced", map[string]string{"notice_en.subject.tmpl": "Important: {{.Org.Name}} data incident"}, "", "Important: Example Market K.K. data incident"},
		{"another part's template is not ours to refuse", map[string]string{"triage.html.tmpl": "x", ".DS_Store": "x"}, "", ""},
		{"unknown name", map[string]string{"notice_en.text.tmpl": "x"}, "notice_en.text.tmpl is not a template name", ""},
		{"locale without templates", map[string]string{"notice_sv.txt.tmpl": "x"}, "notice_sv.txt.tmpl is not a template name", ""},
		{"syntax error", map[string]string{"notice_ja.txt.tmpl": "{{if .Name}"}, "notice_ja.txt.tmpl", ""},
		{"unknown field", map[string]string{"notice_ja.subject.tmpl": "{{.Nmae}}"}, "Nmae", ""},
		{"block used but missing", map[string]string{"notice_en.txt.tmpl": `{{template "nope" .}}`}, `{{template "nope"}} is not defined`, ""},
		{"block defined but unused", map[string]string{"notice_en.txt.tmpl": string(en) + `{{define "spare"}}x{{end}}`}, `{{define "spare"}} is never used`, ""},
		{"label missing", map[string]string{"notice_ja.labels.tmpl": `{{define "category.name"}}氏名{{end}}`}, `no {{define "advice.name"}}`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, body := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			r, err := NewRenderer(c, Options{TemplatesDir: dir, Date: fixedDate})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("NewRenderer = %v, want an error with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewRenderer: %v", err)
			}
			if tc.subject != "" {
				m, err := r.Render(notice(c, "1", map[string]string{"name": "confirmed"}, 1, 1, correlate.Contact{Email: "a@example.com", Locale: "en", Country: "DE"}))
				if err != nil {
					t.Fatal(err)
				}
				if got := parseMessage(t, m.Raw).subject; got != tc.subject {
					t.Errorf("subject = %q, want %q", got, tc.subject)
				}
			}
		})
	}
	if _, err := NewRenderer(c, Options{TemplatesDir: filepath.Join(t.TempDir(), "missing")}); err == nil {
		t.Errorf("a missing templates directory: no error")
	}
}
