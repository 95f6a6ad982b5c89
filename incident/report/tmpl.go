package report

import (
	"errors"
	"fmt"
	htemplate "html/template"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	ttemplate "text/template"

	"github.com/breachctl/breachctl/internal/textsafe"
	"github.com/breachctl/breachctl/templates"
)

// The report templates in templates/: one Markdown file per kind (the two
// APPI kinds share the Japanese one), shared Markdown blocks, and one HTML
// page for every kind.
const (
	commonTemplate = "report_common.md.tmpl"
	// revisionTemplate holds the "changes since the previous report"
	// blocks, apart from the common ones so that an overridden common file
	// from before them still works.
	revisionTemplate = "report_revision.md.tmpl"
	htmlTemplate     = "report.html.tmpl"
)

var mdTemplates = map[string]string{
	"appi-preliminary":     "report_appi_ja.md.tmpl",
	"appi-final":           "report_appi_ja.md.tmpl",
	"gdpr-art33":           "report_gdpr_en.md.tmpl",
	"us-ca-ag":             "report_us_ca_en.md.tmpl",
	"hipaa-hhs":            "report_hipaa_en.md.tmpl",
	"uk-ico":               "report_uk_ico_en.md.tmpl",
	"sec-8k":               "report_sec_8k_en.md.tmpl",
	"au-oaic":              "report_au_oaic_en.md.tmpl",
	"kr-pipc":              "report_kr_pipc_ko.md.tmpl",
	"br-anpd":              "report_br_anpd_pt.md.tmpl",
	"substitute-notice":    "report_substitute_en.md.tmpl",
	"substitute-notice-ja": "report_substitute_ja.md.tmpl",
}

// TemplateNames lists every template file the reports read.
func TemplateNames() []string {
	set := map[string]bool{commonTemplate: true, revisionTemplate: true, htmlTemplate: true}
	for _, n := range mdTemplates {
		set[n] = true
	}
	return sortedKeys(set)
}

type templateSet struct {
	md   *ttemplate.Template
	html *htemplate.Template
}

var funcs = map[string]any{
	"num":     num,
	"numpt":   numPT,
	"heading": heading,
	// md escapes a value from outside (a region, a file name) for a
	// Markdown table cell or line; code writes one as a code span in a
	// table cell (textsafe).
	"md":   textsafe.MD,
	"code": textsafe.MDCodeCell,
}

// heading numbers an item as its law does: "1. 概要", "(a) Nature ...";
// items named by a key ("what_happened") show their title alone.
func heading(id, title string) string {
	switch {
	case strings.Contains(id, "_") || len(id) > 2:
		return title
	case id >= "a" && id <= "z":
		return "(" + id + ") " + title
	}
	return id + ". " + title
}

// embeddedSet is parsed once, on first use.
var embeddedSet = sync.OnceValues(func() (*templateSet, error) { return parseTemplates(templates.FS, "") })

// loadTemplates returns the embedded templates, with any file of the same
// name in dir in place of the embedded one. A report-template-like file in
// dir that no report reads is an error (a misspelt override would
// otherwise be silently ignored).
func loadTemplates(dir string) (*templateSet, error) {
	if dir == "" {
		return embeddedSet()
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("templates directory: %w", err)
	}
	known := map[string]bool{}
	for _, n := range TemplateNames() {
		known[n] = true
	}
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, "report") && strings.HasSuffix(n, ".tmpl") && !known[n] {
			return nil, fmt.Errorf("templates directory %s: %s is not a report template; report templates are: %s",
				dir, n, strings.Join(TemplateNames(), ", "))
		}
	}
	return parseTemplates(templates.FS, dir)
}

// parseTemplates parses every report template from base, or from dir when
// dir has a file of that name.
func parseTemplates(base fs.FS, dir string) (*templateSet, error) {
	read := func(name string) (string, error) {
		if dir != "" {
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err == nil {
				return string(b), nil
			}
			if !errors.Is(err, fs.ErrNotExist) {
				return "", fmt.Errorf("template %s: %w", name, err)
			}
		}
		b, err := fs.ReadFile(base, name)
		if err != nil {
			return "", fmt.Errorf("template %s: %w", name, err)
		}
		return string(b), nil
	}
	set := &templateSet{md: ttemplate.New("report").Funcs(funcs)}
	var names []string
	for _, n := range TemplateNames() {
		if n != htmlTemplate {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		src, err := read(n)
		if err != nil {
			return nil, err
		}
		if _, err := set.md.New(n).Parse(src); err != nil {
			return nil, fmt.Errorf("template %s: %w", n, err)
		}
	}
	src, err := read(htmlTemplate)
	if err != nil {
		return nil, err
	}
	if set.html, err = htemplate.New(htmlTemplate).Funcs(funcs).Parse(src); err != nil {
		return nil, fmt.Errorf("template %s: %w", htmlTemplate, err)
	}
	return set, nil
}
