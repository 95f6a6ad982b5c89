package serve

import (
	"sync"
	"time"
)

// Sign-in attempts: 10 per 10 minutes per remote address and per account
// name, all 10 at once if need be.
const (
	loginBurst  = 10
	loginWindow = 10 * time.Minute
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
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.m) > 50000 {
		l.prune(now)
	}
	b := l.m[key]
	if b == nil {
		b = &bucket{tokens: l.burst, at: now}
		l.m[key] = b
	}
	l.refill(b, now)
	if b.tokens >= 1 {
		b.tokens--
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

// prune forgets the keys whose bucket is full again.
func (l *loginLimiter) prune(now time.Time) {
	for k, b := range l.m {
		l.refill(b, now)
		if b.tokens >= l.burst {
			delete(l.m, k)
		}
	}
}
