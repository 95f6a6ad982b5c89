package logs

import (
	"github.com/breachctl/breachctl/incident"
)

// Traefik's JSON access log (accessLog.format json): StartUTC (RFC 3339
// with nanoseconds), ClientHost (ClientAddr with its port), RequestMethod,
// RequestHost, RequestPath (the path and query), DownstreamStatus, and
// headers when accessLog.fields.headers keeps them: request_NAME for
// request headers, downstream_NAME for the response sent. Traefik has no
// cache: the cache result is the response's Cache-Status (RFC 9211, a
// cache plugin such as Souin) or X-Cache header, kept as
// downstream_Cache-Status / downstream_X-Cache; a line with neither has the
// wording "" (unknown until cache_values says what it means).
//
// Followed: Traefik docs, "Access Logs" (JSON format, the field list,
// fields.headers with defaultMode and names; the request_, origin_ and
// downstream_ prefixes).

var traefikKeys = [jlParts][]string{
	jlTime:   {"StartUTC", "StartLocal"},
	jlIP:     {"ClientHost", "ClientAddr"},
	jlMethod: {"RequestMethod"},
	jlHost:   {"RequestHost"},
	jlPath:   {"RequestPath"},
	jlStatus: {"DownstreamStatus", "OriginStatus"},
	jlCache:  {"downstream_Cache-Status", "downstream_X-Cache"},
}

// NewTraefik returns the parser for Traefik's JSON access log. Identity
// cookie:NAME reads request_Cookie; field:NAME any key (request_X-User).
func NewTraefik(id Identity) (Parser, error) {
	return newJSONL(jsonlConfig{keys: traefikKeys, vocab: cacheStatusVocab, cookies: []string{"request_Cookie"}, optCache: true, word: cacheStatusWord}, id)
}

var traefikFormat = &Format{
	Name:  "traefik",
	Title: "Traefik JSON access log (accessLog.format json)",
	Vocab: cacheStatusVocab,
	Config: "accessLog: {format: json, fields: {headers: {names: {Cookie: keep, Cache-Status: keep, X-Cache: keep}}}} — " +
		"the cache result is the downstream Cache-Status (or X-Cache) header of the cache in front of or inside Traefik: without it every line's cache is unknown (\"\"); " +
		"identity cookie:NAME (request_Cookie) or field:NAME",
	Example:   `{"ClientAddr":"203.0.113.9:51234","ClientHost":"203.0.113.9","DownstreamStatus":200,"RequestHost":"www.example.jp","RequestMethod":"GET","RequestPath":"/mypage/profile?tab=1","RouterName":"web@docker","StartUTC":"2017-06-22T00:41:00.123456789Z","downstream_Cache-Status":"Souin; hit; ttl=118","request_Cookie":"sid=abc"}`,
	CacheHint: "keep the Cache-Status (or X-Cache) response header in the access log: accessLog.fields.headers.names",
	New: func(src incident.LogSource, id Identity) (Parser, error) {
		return NewTraefik(id)
	},
}
