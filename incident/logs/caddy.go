package logs

import (
	"bytes"

	"github.com/breachctl/breachctl/incident"
)

// Caddy's JSON access log (the log directive; logger http.log.access):
// ts (Unix seconds with a fraction), request {client_ip, remote_ip,
// method, host, uri, headers {Cookie: [...]}}, status, resp_headers. Caddy
// has no cache of its own: the cache-handler module (Souin) writes an RFC
// 9211 Cache-Status response header ("Souin; hit; ttl=...", "Souin;
// fwd=uri-miss; stored; key=..."), other caches an X-Cache; a line with
// neither has the wording "" (shown as unknown: cache_values {"": ORIGIN}
// says the responses are deliberately uncached).
//
// Followed: Caddy docs, "log" directive and "Structured logging" (the
// access log's fields, headers as arrays of strings), RFC 9211 and the
// cache-handler README (its Cache-Status values).

var caddyKeys = [jlParts][]string{
	jlTime:   {"ts"},
	jlIP:     {"request.client_ip", "request.remote_ip"},
	jlMethod: {"request.method"},
	jlHost:   {"request.host"},
	jlPath:   {"request.uri"},
	jlStatus: {"status"},
	jlCache:  {"resp_headers.Cache-Status", "resp_headers.X-Cache"},
}

// NewCaddy returns the parser for Caddy's JSON access log. Identity
// cookie:NAME reads request.headers.Cookie; field:NAME any key.
func NewCaddy(id Identity) (Parser, error) {
	return newJSONL(jsonlConfig{keys: caddyKeys, vocab: cacheStatusVocab, cookies: []string{"request.headers.Cookie"}, optCache: true, word: cacheStatusWord}, id)
}

// cacheStatusWord reduces an RFC 9211 Cache-Status value to the wording
// classified: of its last member (the cache nearest the client), "hit",
// "fwd=REASON; stored" or "fwd=REASON". Anything else (an X-Cache "HIT")
// is kept as logged.
func cacheStatusWord(v []byte) []byte {
	if bytes.IndexByte(v, ';') < 0 {
		return v
	}
	m := v
	if i := bytes.LastIndex(v, []byte(", ")); i >= 0 {
		m = v[i+2:]
	}
	var hit, stored bool
	var fwd []byte
	first := true
	for len(m) > 0 {
		var p []byte
		if i := bytes.IndexByte(m, ';'); i >= 0 {
			p, m = m[:i], m[i+1:]
		} else {
			p, m = m, nil
		}
		if first { // the cache's name
			first = false
			continue
		}
		p = bytes.TrimSpace(p)
		switch {
		case string(p) == "hit":
			hit = true
		case string(p) == "stored":
			stored = true
		case bytes.HasPrefix(p, []byte("fwd=")):
			fwd = p[4:]
		}
	}
	if hit {
		return csHit
	}
	for i := range cacheStatusFwd {
		if w := &cacheStatusFwd[i]; string(fwd) == w.reason {
			if stored {
				return w.stored
			}
			return w.plain
		}
	}
	return v
}

var csHit = []byte("hit")

// cacheStatusFwd are RFC 9211's fwd reasons, with their wordings.
var cacheStatusFwd = func() []struct {
	reason        string
	plain, stored []byte
} {
	var out []struct {
		reason        string
		plain, stored []byte
	}
	for _, r := range []string{"bypass", "method", "uri-miss", "vary-miss", "miss", "request", "stale", "partial"} {
		out = append(out, struct {
			reason        string
			plain, stored []byte
		}{r, []byte("fwd=" + r), []byte("fwd=" + r + "; stored")})
	}
	return out
}()

// cacheStatusVocab: RFC 9211 says "stored" when the forwarded response
// was stored (FILL); forwarded without it, it was not (ORIGIN), except a
// stale or partial one, which may have been served from the cache
// (unknown). X-Cache's HIT and MISS are read as usual.
var cacheStatusVocab = NewVocab(
	[]string{"miss", "fwd=bypass; stored", "fwd=method; stored", "fwd=uri-miss; stored", "fwd=vary-miss; stored", "fwd=miss; stored", "fwd=request; stored", "fwd=stale; stored", "fwd=partial; stored"},
	[]string{"hit"},
	[]string{"fwd=bypass", "fwd=method", "fwd=uri-miss", "fwd=vary-miss", "fwd=miss", "fwd=request"},
)

var caddyFormat = &Format{
	Name:  "caddy",
	Title: "Caddy JSON access log (log directive, format json)",
	Vocab: cacheStatusVocab,
	Config: "Caddyfile: log { output file /var/log/caddy/access.log; format json } — headers are logged as they are; " +
		"the cache result is the Cache-Status header of the cache-handler module (or an X-Cache): without either every line's cache is unknown (\"\"), " +
		"cache_values {\"\": ORIGIN} if nothing is cached; identity cookie:NAME (request.headers.Cookie) or field:NAME",
	Example:   `{"level":"info","ts":1498092060.123456,"logger":"http.log.access.log0","msg":"handled request","request":{"remote_ip":"203.0.113.9","client_ip":"203.0.113.9","proto":"HTTP/2.0","method":"GET","host":"www.example.jp","uri":"/mypage/profile?tab=1","headers":{"Cookie":["sid=abc"]}},"status":200,"resp_headers":{"Cache-Status":["Souin; hit; ttl=118; key=GET-https-www.example.jp-/mypage/profile?tab=1"]}}`,
	CacheHint: "install the cache-handler module (it adds a Cache-Status response header, logged in resp_headers)",
	New: func(src incident.LogSource, id Identity) (Parser, error) {
		return NewCaddy(id)
	},
}
