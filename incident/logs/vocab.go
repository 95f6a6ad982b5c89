package logs

import (
	"fmt"
	"sort"
	"strings"
)

// A Vocab maps a format's cache-result wordings to FILL / CACHED / ORIGIN,
// case-insensitively. A wording it does not hold is CacheUnknown: counted
// per file and shown, never guessed (and never read as ORIGIN).
//
// Each format has its own (Format.Vocab); a case file's
// logs[].cache_values extends or overrides it (With). A Vocab is immutable
// once built and safe for concurrent use.
type Vocab struct {
	m map[string]Cache
	// byLen holds m's wordings by length (lower case), for Classify: a
	// logged value is compared only with the few wordings of its length,
	// which is cheaper per line than hashing it for a map.
	byLen [maxWording + 1][]wording
}

type wording struct {
	w string
	c Cache
}

// index fills byLen from m.
func (v *Vocab) index() *Vocab {
	for i := range v.byLen {
		v.byLen[i] = nil
	}
	for _, w := range sortedCacheKeys(v.m) {
		v.byLen[len(w)] = append(v.byLen[len(w)], wording{w, v.m[w]})
	}
	return v
}

func sortedCacheKeys(m map[string]Cache) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// maxWording bounds the wordings a Vocab can hold: a longer logged value is
// unknown without a lookup.
const maxWording = 48

// NewVocab builds a vocabulary from class → wordings. The empty wording ""
// stands for an empty field (and "-", the logs' usual placeholder for one,
// when "-" itself is not listed).
func NewVocab(fill, cached, origin []string) *Vocab {
	v := &Vocab{m: map[string]Cache{}}
	for _, g := range []struct {
		c  Cache
		ws []string
	}{{CacheFill, fill}, {CacheCached, cached}, {CacheOrigin, origin}} {
		for _, w := range g.ws {
			v.m[strings.ToLower(w)] = g.c
		}
	}
	return v.index()
}

// ParseCacheClass reads FILL, CACHED or ORIGIN (any case).
func ParseCacheClass(s string) (Cache, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "FILL":
		return CacheFill, nil
	case "CACHED":
		return CacheCached, nil
	case "ORIGIN":
		return CacheOrigin, nil
	}
	return CacheUnknown, fmt.Errorf("%q is not a cache class: use FILL (fetched from origin, may be stored), CACHED (served from a stored object) or ORIGIN (never stored)", s)
}

// With returns v extended by overrides (wording → FILL|CACHED|ORIGIN, the
// case file's cache_values); an override replaces v's class for that
// wording. v itself is unchanged. YAML booleans arrive as "true"/"false".
func (v *Vocab) With(overrides map[string]string) (*Vocab, error) {
	out := &Vocab{m: make(map[string]Cache, len(v.m)+len(overrides))}
	for k, c := range v.m {
		out.m[k] = c
	}
	keys := make([]string, 0, len(overrides))
	for k := range overrides {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		c, err := ParseCacheClass(overrides[k])
		if err != nil {
			return nil, fmt.Errorf("cache_values.%s: %w", k, err)
		}
		if len(k) > maxWording {
			return nil, fmt.Errorf("cache_values.%s: longer than %d bytes", k, maxWording)
		}
		out.m[strings.ToLower(k)] = c
	}
	return out.index(), nil
}

// Classify returns the class of a logged cache value: no allocation.
func (v *Vocab) Classify(raw []byte) Cache {
	if len(raw) > maxWording {
		return CacheUnknown
	}
	for _, e := range v.byLen[len(raw)] {
		if lowerEqual(raw, e.w) {
			return e.c
		}
	}
	if len(raw) == 1 && raw[0] == '-' {
		if c, ok := v.m[""]; ok {
			return c
		}
	}
	return CacheUnknown
}

// lowerEqual reports whether b, lower-cased (ASCII), equals the lower-case
// s of the same length.
func lowerEqual(b []byte, s string) bool {
	for i := 0; i < len(b); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// Describe lists the wordings by class, sorted, for help texts and the
// README: "FILL: expired, miss; CACHED: hit, …; ORIGIN: (empty), bypass".
func (v *Vocab) Describe() string {
	var parts []string
	for _, c := range []Cache{CacheFill, CacheCached, CacheOrigin} {
		var ws []string
		for w, wc := range v.m {
			if wc != c {
				continue
			}
			if w == "" {
				w = "(empty)"
			}
			ws = append(ws, w)
		}
		if len(ws) == 0 {
			continue
		}
		sort.Strings(ws)
		parts = append(parts, c.String()+": "+strings.Join(ws, ", "))
	}
	return strings.Join(parts, "; ")
}
