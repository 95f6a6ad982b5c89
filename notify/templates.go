package notify

import (
	"bytes"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	texttemplate "text/template"
	"text/template/parse"

	"github.com/breachctl/breachctl/incident"
	"github.com/breachctl/breachctl/incident/store"
	"github.com/breachctl/breachctl/templates"
)

// Template kinds: every notice locale has one file of each, named
// notice_<locale>.<kind>.tmpl. A first notice is written with subject, txt
// and html; an update notice with update.subject, update.txt and
// update.html; a correction with correction.subject, .txt and .html. The
// labels are every kind's.
const (
	kindSubject = "subject" // text/template: the Subject line
	kindText    = "txt"     // text/template: the text/plain part
	kindHTML    = "html"    // html/template: the text/html part
	kindLabels  = "labels"  // text/template: {{define "category.X"}} and {{define "advice.X"}} per data category
)

// partKinds returns the subject, text and HTML template kinds of a notice
// kind (store.NoticeFirst, NoticeUpdate, NoticeCorrection).
func partKinds(notice string) (subject, text, html string) {
	if notice == store.NoticeFirst {
		return kindSubject, kindText, kindHTML
	}
	return notice + "." + kindSubject, notice + "." + kindText, notice + "." + kindHTML
}

// noticeKinds are the notice kinds every locale has templates for.
var noticeKinds = []string{store.NoticeFirst, store.NoticeUpdate, store.NoticeCorrection}

var kinds = func() []string {
	var ks []string
	for _, n := range noticeKinds {
		s, t, h := partKinds(n)
		ks = append(ks, s, t, h)
	}
	return append(ks, kindLabels)
}()

// noticeFileRe matches a notice template file name. A locale is a
// language, with its script where the language has two (zh-Hans, zh-Hant).
var noticeFileRe = regexp.MustCompile(`^notice_([a-z]{2,3}(?:-[A-Z][a-z]{3})?)\.((?:(?:update|correction)\.)?(?:subject|txt|html)|labels)\.tmpl$`)

func templateName(locale, kind string) string {
	return "notice_" + locale + "." + kind + ".tmpl"
}

// noticeSources returns the notice template sources by file name: the
// embedded ones, each replaced by a file of the same name in dir when dir is
// not empty, and the locales they cover. Every locale must have every kind.
func noticeSources(dir string) (map[string]string, []string, error) {
	src := map[string]string{}
	byLocale := map[string]map[string]bool{}
	entries, err := fs.ReadDir(templates.FS, ".")
	if err != nil {
		return nil, nil, fmt.Errorf("notice templates: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, "notice") {
			continue // another part's template (triage, reports)
		}
		m := noticeFileRe.FindStringSubmatch(name)
		if m == nil {
			return nil, nil, fmt.Errorf("notice templates: %s is not named notice_<locale>.<%s>.tmpl", name, strings.Join(kinds, "|"))
		}
		b, err := fs.ReadFile(templates.FS, name)
		if err != nil {
			return nil, nil, fmt.Errorf("notice templates: %w", err)
		}
		src[name] = string(b)
		if byLocale[m[1]] == nil {
			byLocale[m[1]] = map[string]bool{}
		}
		byLocale[m[1]][m[2]] = true
	}
	var locales []string
	for loc, have := range byLocale {
		locales = append(locales, loc)
		for _, k := range kinds {
			if !have[k] {
				return nil, nil, fmt.Errorf("notice templates: locale %s has no %s", loc, templateName(loc, k))
			}
		}
	}
	sort.Strings(locales)
	if len(locales) == 0 {
		return nil, nil, errors.New("notice templates: none embedded")
	}
	if dir == "" {
		return src, locales, nil
	}
	entries, err = os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("templates directory: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue // editor and OS files (.DS_Store, .swp)
		}
		if _, known := src[name]; !known {
			if _, err := fs.Stat(templates.FS, name); err == nil && !strings.HasPrefix(name, "notice") {
				continue // overrides another part's template (triage, reports)
			}
			return nil, nil, fmt.Errorf("templates directory %s: %s is not a template name; the notice templates are %s",
				dir, name, strings.Join(sortedKeys(src), ", "))
		}
		if !e.Type().IsRegular() {
			return nil, nil, fmt.Errorf("templates directory %s: %s is not a regular file", dir, name)
		}
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, nil, fmt.Errorf("templates directory: %w", err)
		}
		src[name] = string(b)
	}
	return src, locales, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// parsedLocale is one locale's parsed templates.
type parsedLocale struct {
	notices map[string]*noticeSet // by notice kind (store.NoticeFirst, ...)
	labels  map[incident.Category]categoryText
}

// noticeSet is one notice kind's templates in one locale.
type noticeSet struct {
	subjectFile string
	subject     *texttemplate.Template
	text        *texttemplate.Template
	html        *htmltemplate.Template
}

type categoryText struct{ Label, Advice string }

// parseLocale parses one locale's files and checks that every {{template}}
// call names a defined block and every defined block is used.
func parseLocale(locale string, src map[string]string, funcs map[string]any) (*parsedLocale, error) {
	p := &parsedLocale{notices: map[string]*noticeSet{}, labels: map[incident.Category]categoryText{}}
	var err error

	name := templateName(locale, kindLabels)
	lt, err := texttemplate.New(name).Option("missingkey=error").Parse(src[name])
	if err != nil {
		return nil, err
	}
	used := map[string]bool{name: true}
	for _, c := range incident.Categories {
		for _, kind := range []string{"category", "advice"} {
			block := kind + "." + string(c)
			t := lt.Lookup(block)
			if t == nil {
				return nil, fmt.Errorf("%s: no {{define %q}}: every data category needs a label and advice", name, block)
			}
			used[block] = true
			var b bytes.Buffer
			if err := t.Execute(&b, nil); err != nil {
				return nil, err
			}
			s := strings.Join(strings.Fields(b.String()), " ")
			if s == "" {
				return nil, fmt.Errorf("%s: {{define %q}} is empty", name, block)
			}
			ct := p.labels[c]
			if kind == "category" {
				ct.Label = s
			} else {
				ct.Advice = s
			}
			p.labels[c] = ct
		}
	}
	if err := checkBlocks(name, lt.Templates(), used); err != nil {
		return nil, err
	}
	for _, k := range noticeKinds {
		if p.notices[k], err = parseNotice(locale, k, src, funcs); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// parseNotice parses one notice kind's subject, text and HTML files. The
// text and HTML files of an update or a correction can call the blocks the
// first notice's files of the locale define (greeting, contact, hipaa, ...),
// so the parts they share read the same; they may not define a block of the
// same name.
func parseNotice(locale, notice string, src map[string]string, funcs map[string]any) (*noticeSet, error) {
	sk, tk, hk := partKinds(notice)
	var baseText, baseHTML string
	if notice != store.NoticeFirst {
		baseText, baseHTML = templateName(locale, kindText), templateName(locale, kindHTML)
	}
	set := &noticeSet{subjectFile: templateName(locale, sk)}
	var err error
	name := set.subjectFile
	if set.subject, err = texttemplate.New(name).Funcs(funcs).Option("missingkey=error").Parse(src[name]); err != nil {
		return nil, err
	}
	if err := checkBlocks(name, set.subject.Templates(), map[string]bool{name: true}); err != nil {
		return nil, err
	}

	name = templateName(locale, tk)
	if set.text, err = texttemplate.New(name).Funcs(funcs).Option("missingkey=error").Parse(src[name]); err != nil {
		return nil, err
	}
	used := map[string]bool{name: true}
	if baseText != "" {
		base, err := texttemplate.New(baseText).Funcs(funcs).Parse(src[baseText])
		if err != nil {
			return nil, err
		}
		if err := noRedefinition(name, textNames(set.text.Templates()), baseText, textNames(base.Templates())); err != nil {
			return nil, err
		}
		if _, err := set.text.New(baseText).Parse(src[baseText]); err != nil {
			return nil, err
		}
		used[baseText] = true
	}
	if err := checkBlocks(name, set.text.Templates(), used); err != nil {
		return nil, baseHint(err, baseText)
	}

	name = templateName(locale, hk)
	if set.html, err = htmltemplate.New(name).Funcs(funcs).Option("missingkey=error").Parse(src[name]); err != nil {
		return nil, err
	}
	used = map[string]bool{name: true}
	if baseHTML != "" {
		base, err := htmltemplate.New(baseHTML).Funcs(funcs).Parse(src[baseHTML])
		if err != nil {
			return nil, err
		}
		if err := noRedefinition(name, htmlNames(set.html.Templates()), baseHTML, htmlNames(base.Templates())); err != nil {
			return nil, err
		}
		if _, err := set.html.New(baseHTML).Parse(src[baseHTML]); err != nil {
			return nil, err
		}
		used[baseHTML] = true
	}
	var trees []*texttemplate.Template
	for _, t := range set.html.Templates() {
		if t.Tree != nil {
			tt := texttemplate.New(t.Name())
			tt.Tree = t.Tree
			trees = append(trees, tt)
		}
	}
	if err := checkBlocks(name, trees, used); err != nil {
		return nil, baseHint(err, baseHTML)
	}
	return set, nil
}

// baseHint adds to a block error of an update or correction template which
// blocks it can call.
func baseHint(err error, base string) error {
	if base == "" {
		return err
	}
	return fmt.Errorf("%w (it can call its own blocks and those %s defines)", err, base)
}

func textNames(ts []*texttemplate.Template) []string {
	var names []string
	for _, t := range ts {
		if t.Tree != nil {
			names = append(names, t.Name())
		}
	}
	return names
}

func htmlNames(ts []*htmltemplate.Template) []string {
	var names []string
	for _, t := range ts {
		if t.Tree != nil {
			names = append(names, t.Name())
		}
	}
	return names
}

// noRedefinition fails when file defines a block that base defines too: it
// would silently replace the one base's own text uses.
func noRedefinition(file string, defined []string, base string, baseDefined []string) error {
	have := map[string]bool{}
	for _, n := range baseDefined {
		have[n] = true
	}
	sort.Strings(defined)
	for _, n := range defined {
		if n != file && have[n] {
			return fmt.Errorf("%s: {{define %q}} is a block of %s too; give it another name", file, n, base)
		}
	}
	return nil
}

// checkBlocks fails when a {{template "x"}} names no defined block, or a
// defined block is never used (used holds the entry points).
func checkBlocks(file string, ts []*texttemplate.Template, used map[string]bool) error {
	defined := map[string]bool{}
	refs := map[string]bool{}
	for _, t := range ts {
		if t.Tree == nil || t.Tree.Root == nil {
			continue
		}
		defined[t.Name()] = true
		walkRefs(t.Tree.Root, refs)
	}
	for _, r := range sortedKeys(refs) {
		if !defined[r] {
			return fmt.Errorf("%s: {{template %q}} is not defined", file, r)
		}
	}
	for _, d := range sortedKeys(defined) {
		if !refs[d] && !used[d] {
			return fmt.Errorf("%s: {{define %q}} is never used; remove it", file, d)
		}
	}
	return nil
}

func walkRefs(n parse.Node, refs map[string]bool) {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			walkRefs(c, refs)
		}
	case *parse.TemplateNode:
		refs[n.Name] = true
	case *parse.IfNode:
		walkRefs(n.List, refs)
		walkRefs(n.ElseList, refs)
	case *parse.RangeNode:
		walkRefs(n.List, refs)
		walkRefs(n.ElseList, refs)
	case *parse.WithNode:
		walkRefs(n.List, refs)
		walkRefs(n.ElseList, refs)
	}
}
