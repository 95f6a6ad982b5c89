// Package logs parses access logs (nginx/Apache log_format, CloudFront,
// Cloudflare Logpush, generic JSON lines) into one normalised record, reading
// many files in parallel and accounting for every line.
package logs

import (
	"errors"
	"strings"
)

// Cache is the normalised cache result of a response (DESIGN.md's table).
type Cache uint8

const (
	// CacheUnknown: a value not in the table. Counted and shown, never guessed.
	CacheUnknown Cache = iota
	// CacheFill: fetched from origin, may be stored.
	CacheFill
	// CacheCached: served from a stored object (including collapsed requests).
	CacheCached
	// CacheOrigin: an origin response that is never stored.
	CacheOrigin
)

func (c Cache) String() string {
	switch c {
	case CacheFill:
		return "FILL"
	case CacheCached:
		return "CACHED"
	case CacheOrigin:
		return "ORIGIN"
	}
	return "UNKNOWN"
}

// Record is one request reduced to what correlation needs. Its byte slices
// point into the reader's buffer and are valid only during the callback that
// receives it; copy what you keep.
type Record struct {
	Time     int64 // Unix nanoseconds, UTC
	Coarse   bool  // the time has one-second precision
	Pop      []byte
	ClientIP []byte
	Method   []byte
	Host     []byte
	Path     []byte // without the query; percent-encoding as logged
	Query    []byte // without the '?'
	Status   int
	Cache    Cache
	CacheRaw []byte // the cache field as logged
	Identity []byte // session id / user id / remote user; empty when anonymous
	// Subject: whose data the response carried, as the log names it
	// (logs[].subject); empty when not logged.
	Subject []byte
	// UserAgent as logged (logs[].user_agent); empty when not logged.
	UserAgent []byte
}

// Reset clears r for reuse.
func (r *Record) Reset() { *r = Record{} }

// ParseError says why a line was rejected.
type ParseError struct {
	Reason string
}

func (e *ParseError) Error() string { return e.Reason }

func reject(reason string) error { return &ParseError{Reason: reason} }

// errHeader marks a format's own header line (CloudFront #Version/#Fields):
// not a data line, so not counted.
var errHeader = errors.New("header line")

// normaliseCache maps every known cache-result wording (nginx
// $upstream_cache_status, CloudFront x-edge-result-type, Cloudflare
// CacheCacheStatus) to FILL / CACHED / ORIGIN, case-insensitively.
func normaliseCache(v []byte) Cache {
	switch len(v) {
	case 0:
		return CacheOrigin // nginx: empty = the cache was not involved
	case 1:
		if v[0] == '-' {
			return CacheOrigin
		}
	}
	var buf [24]byte
	if len(v) > len(buf) {
		return CacheUnknown
	}
	for i, c := range v {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	switch string(buf[:len(v)]) {
	case "miss", "expired":
		return CacheFill
	case "hit", "stale", "updating", "revalidated", "refreshhit":
		return CacheCached
	case "bypass", "dynamic", "error", "limitexceeded", "capacityexceeded", "redirect":
		return CacheOrigin
	}
	return CacheUnknown
}

// CacheWordings lists the recognised wordings, for help texts.
func CacheWordings() string {
	return strings.Join([]string{
		"FILL: MISS, EXPIRED, Miss, miss, expired",
		"CACHED: HIT, STALE, UPDATING, REVALIDATED, Hit, RefreshHit, hit, stale, updating, revalidated",
		"ORIGIN: BYPASS, -, (empty), Error, LimitExceeded, CapacityExceeded, Redirect, bypass, dynamic",
	}, "; ")
}
