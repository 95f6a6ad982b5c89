package serve

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// rlClock is a settable clock for limiters.
type rlClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *rlClock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *rlClock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newTestLimiter(r rate.Limit, burst, maxKeys int) (*limiter, *rlClock) {
	c := &rlClock{t: time.Unix(1_900_000_000, 0)}
	l := newLimiter(r, burst, maxKeys)
	l.now = c.now
	return l, c
}

func TestLimiterKeysAreIndependent(t *testing.T) {
	l, _ := newTestLimiter(1, 3, 100)
	for i := range 3 {
		if ok, _ := l.allow("a"); !ok {
			t.Fatalf("a: event %d refused within the burst", i+1)
		}
	}
	ok, retry := l.allow("a")
	if ok {
		t.Fatal("a: event 4 allowed beyond the burst")
	}
	if retry <= 0 || retry > time.Second {
		t.Errorf("a: retry after %v, want (0, 1s]", retry)
	}
	for i := range 3 {
		if ok, _ := l.allow("b"); !ok {
			t.Fatalf("b: event %d refused: a's use counted against b", i+1)
		}
	}
}

func TestLimiterRefills(t *testing.T) {
	tests := []struct {
		name  string
		r     rate.Limit
		burst int
		wait  time.Duration
		more  int // events allowed after wait
	}{
		{"one a second", 1, 2, time.Second, 1},
		{"five a minute", rate.Every(12 * time.Second), 5, 24 * time.Second, 2},
		{"full again", 20, 40, time.Hour, 40},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, c := newTestLimiter(tc.r, tc.burst, 10)
			for range tc.burst {
				l.allow("k")
			}
			if ok, _ := l.allow("k"); ok {
				t.Fatal("allowed beyond the burst")
			}
			c.add(tc.wait)
			n := 0
			for range tc.burst + 1 {
				if ok, _ := l.allow("k"); ok {
					n++
				}
			}
			if n != tc.more {
				t.Errorf("after %v: %d allowed, want %d", tc.wait, n, tc.more)
			}
		})
	}
}

func TestLimiterInfAllowsAll(t *testing.T) {
	l, _ := newTestLimiter(rate.Inf, 1, 10)
	for i := range 1000 {
		if ok, _ := l.allow(fmt.Sprint(i % 3)); !ok {
			t.Fatalf("event %d refused by an unlimited limiter", i)
		}
	}
	if n := l.size(); n != 0 {
		t.Errorf("an unlimited limiter holds %d keys, want 0", n)
	}
}

func TestLimiterPrunesIdleKeys(t *testing.T) {
	l, c := newTestLimiter(1, 2, 1000) // a bucket is full again after 2s
	for i := range 100 {
		l.allow(fmt.Sprint("old", i))
	}
	l.allow("busy")
	l.allow("busy")
	c.add(3 * time.Second)
	l.allow("busy") // used again: not idle
	l.allow("new")  // a new key prunes the idle ones
	if n := l.size(); n != 2 {
		t.Errorf("%d keys after the others were idle, want 2 (busy, new)", n)
	}
}

// A busy key that is pruned loses nothing it should keep: only keys whose
// buckets are full again are idle.
func TestLimiterPruneKeepsBusyBuckets(t *testing.T) {
	l, c := newTestLimiter(rate.Every(12*time.Second), 5, 1000) // idle after 60s
	for range 5 {
		l.allow("tok")
	}
	c.add(30 * time.Second)
	l.allow("other") // a prune may run: "tok" was used 30s ago, not idle
	if ok, _ := l.allow("tok"); !ok {
		t.Fatal("tok: refused after 30s, want the 2 refilled events")
	}
	l.allow("tok")
	if ok, _ := l.allow("tok"); ok {
		t.Fatal("tok: its bucket was forgotten by a prune (a third event allowed)")
	}
}

func TestLimiterBoundedWithManyKeys(t *testing.T) {
	tests := []struct {
		name    string
		maxKeys int
		keys    int
	}{
		{"tiny", 1, 50},
		{"small", 8, 10_000},
		{"flood", 1000, 200_000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, _ := newTestLimiter(rate.Every(time.Minute), 5, tc.maxKeys) // nothing goes idle
			peak := 0
			for i := range tc.keys {
				if ok, _ := l.allow(fmt.Sprint("k", i)); !ok {
					t.Fatalf("key %d refused on its first event", i)
				}
				peak = max(peak, l.size())
			}
			if peak > tc.maxKeys {
				t.Errorf("held %d keys, want at most %d", peak, tc.maxKeys)
			}
		})
	}
}

func TestLimiterConcurrent(t *testing.T) {
	l := newLimiter(rate.Every(time.Hour), 10, 50)
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				key := "shared"
				if i%2 == 1 {
					key = fmt.Sprint(g, "-", i)
				}
				if ok, _ := l.allow(key); ok && key == "shared" {
					mu.Lock()
					allowed++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	// "shared" may be evicted under the flood of other keys and start
	// full again; it is never allowed more than its burst per life.
	if allowed < 10 {
		t.Errorf("shared: %d allowed, want at least its burst of 10", allowed)
	}
	if n := l.size(); n > 50 {
		t.Errorf("%d keys, want at most 50", n)
	}
}

func TestAddressKey(t *testing.T) {
	tests := []struct{ remote, want string }{
		{"192.0.2.7:5555", "192.0.2.7"},
		{"192.0.2.7", "192.0.2.7"},
		{"[::ffff:192.0.2.7]:80", "192.0.2.7"},
		{"[2001:db8:1:2:3:4:5:6]:443", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:ffff::1]:443", "2001:db8:1:2::/64"},
		{"[fe80::1%eth0]:80", "fe80::/64"},
		{"not an address", "not an address"},
	}
	for _, tc := range tests {
		if got := addressKey(tc.remote); got != tc.want {
			t.Errorf("addressKey(%q) = %q, want %q", tc.remote, got, tc.want)
		}
	}
}
