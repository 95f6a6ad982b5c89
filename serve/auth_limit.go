package serve

import (
	"sync"
	"time"
)

// Sign-in attempts: 10 per 10 minutes per remote address (an IPv6 /64 is
// one address), all 10 at once if need be; and 50 failed attempts per 10
// minutes per account name, from anywhere (a successful sign-in costs
// nothing there, and an attempt refused for its address is not counted, so
// nobody locks an account out from one address).
const (
	loginBurst     = 10
	loginNameBurst = 50
	loginWindow    = 10 * time.Minute
	// loginMaxKeys bounds each limiter's memory: above it, full buckets
	// are forgotten, then arbitrary ones (they start full again).
	loginMaxKeys = 50_000
	// bcryptSlots bounds the password checks running at once (each is
	// about a quarter of a second of one core at cost 12).
	bcryptSlots = 2
)

// loginLimiter is a token bucket per key (a remote address or an account
// name): burst attempts at once, refilled at burst per window.
type loginLimiter struct {
	burst float64
	every time.Duration // one attempt back per every
	mu    sync.Mutex
	m     map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newLoginLimiter(burst int, window time.Duration) *loginLimiter {
	return &loginLimiter{burst: float64(burst), every: window / time.Duration(burst), m: map[string]*bucket{}}
}

// allow takes one attempt for key: 0 when it may go ahead, else how long
// until the next attempt is allowed (nothing taken).
func (l *loginLimiter) allow(key string, now time.Time) time.Duration {
	return l.check(key, now, true)
}

// wait is how long until key may make an attempt, taking nothing.
func (l *loginLimiter) wait(key string, now time.Time) time.Duration {
	return l.check(key, now, false)
}

func (l *loginLimiter) check(key string, now time.Time, take bool) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.m[key]
	if b == nil {
		if !take {
			return 0
		}
		if len(l.m) >= loginMaxKeys {
			l.prune(now)
		}
		b = &bucket{tokens: l.burst, at: now}
		l.m[key] = b
	}
	l.refill(b, now)
	if b.tokens >= 1 {
		if take {
			b.tokens--
		}
		return 0
	}
	return time.Duration((1 - b.tokens) * float64(l.every))
}

func (l *loginLimiter) refill(b *bucket, now time.Time) {
	if d := now.Sub(b.at); d > 0 {
		b.tokens += float64(d) / float64(l.every)
		if b.tokens > l.burst {
			b.tokens = l.burst
		}
		b.at = now
	}
}

// prune forgets the keys whose bucket is full again, then, while the map
// is still above three quarters of its bound, arbitrary ones (map order):
// a flood of new keys cannot grow it without bound, nor make every attempt
// scan it.
func (l *loginLimiter) prune(now time.Time) {
	for k, b := range l.m {
		l.refill(b, now)
		if b.tokens >= l.burst {
			delete(l.m, k)
		}
	}
	for k := range l.m {
		if len(l.m) <= loginMaxKeys*3/4 {
			break
		}
		delete(l.m, k)
	}
}
