package logs

import (
	"fmt"
	"sort"
	"strings"

	"github.com/breachctl/breachctl/incident"
)

// A Format is one log format a case file can name (logs[].format): its
// parser, its cache vocabulary and what the README, --help and validate say
// about it. Every format is one file holding its parser, its Format value
// and its table test, and one line in the formats list below: --help,
// validate and the README's table are made from that list.
type Format struct {
	Name    string // logs[].format
	Title   string // what it reads, e.g. "nginx access log (your log_format)"
	Vocab   *Vocab // its cache wordings; logs[].cache_values extend them
	Options []string
	// Config says how to get the format's configuration into the case file
	// (what to paste, which fields to log); Example is one line of the log.
	Config  string
	Example string
	// CacheHint says what to add to the server's configuration when the
	// logs have no cache result (for the error that says so).
	CacheHint string
	// New builds the parser for one logs[] entry; the identity is already
	// parsed (Kind "" when the entry names none).
	New func(src incident.LogSource, id Identity) (Parser, error)
}

// Option keys a format may accept besides paths, format, identity,
// cache_values, prefix and accept_missing (which every format takes).
const (
	OptLogFormat = "log_format"
	OptFields    = "fields"
)

// formats is the one list of every format, in the order --help and the
// README show them.
var formats = []*Format{
	nginxFormat,
	apacheFormat,
	varnishFormat,
	haproxyFormat,
	cloudFrontFormat,
	cloudflareFormat,
	jsonlFormat,
	akamaiFormat,
	azureFrontDoorFormat,
	albFormat,
	w3cFormat,
	fastlyFormat,
	gcpFormat,
	caddyFormat,
	traefikFormat,
}

// Formats returns every format, in display order.
func Formats() []*Format { return formats }

// FormatNames returns the names of every format.
func FormatNames() []string {
	names := make([]string, len(formats))
	for i, f := range formats {
		names[i] = f.Name
	}
	return names
}

// LookupFormat returns the named format.
func LookupFormat(name string) (*Format, bool) {
	for _, f := range formats {
		if f.Name == name {
			return f, true
		}
	}
	return nil, false
}

func (f *Format) accepts(opt string) bool {
	for _, o := range f.Options {
		if o == opt {
			return true
		}
	}
	return false
}

// Capabilities say what a compiled parser can read from its lines: a
// parser whose configuration logs no cache result, or no identity, reads
// every line as ORIGIN, or anonymous — a silent under-count unless the case
// file says it is deliberate (logs[].accept_missing).
type Capabilities struct {
	Cache    bool
	Identity bool
}

// A capable parser reports its Capabilities; parsers that do not are
// taken to have both.
type capable interface {
	Capabilities() Capabilities
}

// CapabilitiesOf returns what p can read.
func CapabilitiesOf(p Parser) Capabilities {
	if c, ok := p.(capable); ok {
		return c.Capabilities()
	}
	return Capabilities{Cache: true, Identity: true}
}

// vocabSetter is a parser whose cache vocabulary can be replaced (by
// logs[].cache_values).
type vocabSetter interface {
	setVocab(*Vocab)
}

// AcceptMissing are the values of logs[].accept_missing.
var AcceptMissing = []string{"cache", "identity"}

// FormatHelp is the list of formats for --help: one line each.
func FormatHelp() string {
	var b strings.Builder
	w := 0
	for _, f := range formats {
		w = max(w, len(f.Name))
	}
	for _, f := range formats {
		fmt.Fprintf(&b, "  %-*s  %s\n", w, f.Name, f.Title)
	}
	return b.String()
}

// FormatTable is the README's table of formats (Markdown).
func FormatTable() string {
	var b strings.Builder
	b.WriteString("| `format:` | reads | cache result: FILL / CACHED / ORIGIN | configuration | example line |\n")
	b.WriteString("|---|---|---|---|---|\n")
	cell := func(s string) string {
		s = strings.ReplaceAll(s, "|", `\|`)
		return strings.ReplaceAll(s, "\n", " ")
	}
	for _, f := range formats {
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | `%s` |\n", f.Name, cell(f.Title), cell(f.Vocab.Describe()), cell(f.Config), cell(strings.ReplaceAll(f.Example, "`", "'")))
	}
	return b.String()
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
