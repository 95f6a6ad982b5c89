package serve

import (
	"math"
	"net"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiter is a token bucket per key (a token's hash, a client address),
// with bounded memory: a key idle long enough for its bucket to refill is
// forgotten (losing nothing: a new bucket is full too), and when maxKeys
// keys are busy at once an eighth of them, picked at random, are forgotten
// (their buckets start full again: under such a flood the per-address
// limit is what still holds).
type limiter struct {
	r       rate.Limit
	burst   int
	maxKeys int
	idle    time.Duration // a bucket untouched this long is full again
	now     func() time.Time

	mu        sync.Mutex
	keys      map[string]*limiterEntry
	lastPrune time.Time
}

type limiterEntry struct {
	lim  *rate.Limiter
	last time.Time
}

// newLimiter allows r events a second per key, bursts of burst, and keeps
// at most maxKeys keys (1024 when less than 1).
func newLimiter(r rate.Limit, burst int, maxKeys int) *limiter {
	if maxKeys < 1 {
		maxKeys = 1024
	}
	if burst < 1 {
		burst = 1
	}
	l := &limiter{r: r, burst: burst, maxKeys: maxKeys, now: time.Now, keys: map[string]*limiterEntry{}}
	switch {
	case r == rate.Inf:
		l.idle = 0
	case r <= 0:
		l.idle = time.Duration(math.MaxInt64) // a bucket that never refills is never forgotten idle
	default:
		l.idle = time.Duration(float64(burst) / float64(r) * float64(time.Second))
		if l.idle < time.Second {
			l.idle = time.Second
		}
	}
	return l
}

// allow takes one event for key; when it is refused, retryAfter is when
// the next would be allowed (0 when never).
func (l *limiter) allow(key string) (ok bool, retryAfter time.Duration) {
	if l.r == rate.Inf {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.keys[key]
	if e == nil {
		if full := len(l.keys) >= l.maxKeys; full || now.Sub(l.lastPrune) > l.idle {
			l.prune(now, full)
		}
		e = &limiterEntry{lim: rate.NewLimiter(l.r, l.burst)}
		l.keys[key] = e
	}
	e.last = now
	res := e.lim.ReserveN(now, 1)
	if !res.OK() {
		return false, 0
	}
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return false, d
	}
	return true, 0
}

// prune forgets idle keys and, when the map is full, random ones until
// 7/8 of maxKeys are left (so a flood of new keys prunes once per maxKeys/8
// of them, not at each). Called with mu held.
func (l *limiter) prune(now time.Time, full bool) {
	l.lastPrune = now
	for k, e := range l.keys {
		if now.Sub(e.last) >= l.idle {
			delete(l.keys, k)
		}
	}
	if !full {
		return
	}
	keep := l.maxKeys - l.maxKeys/8 - 1
	for k := range l.keys { // map order is random enough
		if len(l.keys) <= keep {
			break
		}
		delete(l.keys, k)
	}
}

// size is the number of keys held.
func (l *limiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.keys)
}

// addressKey is the rate-limit key of a client: its IP address, or the /64
// an IPv6 address is in (one host gets a whole /64, so counting its
// addresses one by one would limit nothing).
func addressKey(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	a = a.Unmap().WithZone("")
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// hostOf is the client's address without its port (for the audit log).
func hostOf(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		return remoteAddr
	}
	return host
}
