package httpguard

import (
	"math"
	"sync"
	"time"
)

// RateLimiter is a token bucket per key (a partner token id, a client address):
// each bucket holds up to burst tokens and refills at burst per period. It
// lives in the process: with several replicas each applies the limit on its
// own, which bounds a partner to a multiple of it, enough against a runaway
// loop or a guesser.
type RateLimiter struct {
	mu      sync.Mutex
	burst   float64
	perSec  float64 // refill rate
	buckets map[string]*bucket
	now     func() time.Time
}

type bucket struct {
	tokens float64
	at     time.Time
}

// maxBuckets bounds the limiter's memory: past it, buckets that have
// refilled completely (they carry no information) are dropped.
const maxBuckets = 10_000

func NewRateLimiter(burst int, period time.Duration, now func() time.Time) *RateLimiter {
	return &RateLimiter{burst: float64(burst), perSec: float64(burst) / period.Seconds(),
		buckets: map[string]*bucket{}, now: now}
}

// take spends one token of key's bucket. When there is none it spends
// nothing and says how long until there is one.
func (l *RateLimiter) Take(key string) (ok bool, retryAfter time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= maxBuckets {
			l.prune(now)
		}
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[key] = b
	}
	b.tokens = l.refilled(b, now)
	b.at = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) / l.perSec * float64(time.Second))
	return false, wait
}

func (l *RateLimiter) refilled(b *bucket, now time.Time) float64 {
	elapsed := now.Sub(b.at).Seconds()
	if elapsed < 0 {
		elapsed = 0
	}
	return math.Min(l.burst, b.tokens+elapsed*l.perSec)
}

// prune drops the buckets that are full again.
func (l *RateLimiter) prune(now time.Time) {
	for k, b := range l.buckets {
		if l.refilled(b, now) >= l.burst {
			delete(l.buckets, k)
		}
	}
}

// Burst is how many tokens a bucket holds, and refills each period.
func (l *RateLimiter) Burst() float64 { return l.burst }
