package httpapi

import "sync"

// maxBodiesPerToken is how many callback bodies one partner token may be
// sending at once. A body streams (its recordings to spool files, its JSON
// capped in memory), but each holds a connection, a spool and its share of
// the process's bytes in flight for as long as the transfer timeout
// allows: one token's slow uploads must not take them all.
const maxBodiesPerToken = 8

// concurrencyLimit counts what each key has in flight.
type concurrencyLimit struct {
	mu     sync.Mutex
	max    int
	active map[string]int
}

func newConcurrencyLimit(max int) *concurrencyLimit {
	return &concurrencyLimit{max: max, active: map[string]int{}}
}

// acquire takes a slot for key; false when key has max in flight already.
func (c *concurrencyLimit) acquire(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.active[key] >= c.max {
		return false
	}
	c.active[key]++
	return true
}

// release gives back a slot taken by acquire.
func (c *concurrencyLimit) release(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.active[key]--; c.active[key] <= 0 {
		delete(c.active, key)
	}
}

// byteBudget bounds the bytes of callback bodies the process reads at once.
// Each body takes its size (as declared) before it is read and gives it
// back when it is done, so that however many partners post at once, what
// their bodies hold (JSON in memory, recordings in spool files) stays
// within the budget, and a burst is told to come back rather than
// overloading the process.
type byteBudget struct {
	mu   sync.Mutex
	max  int64
	used int64
}

func newByteBudget(max int64) *byteBudget { return &byteBudget{max: max} }

// acquire takes n bytes of the budget; false when fewer are left.
func (b *byteBudget) acquire(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n > b.max-b.used {
		return false
	}
	b.used += n
	return true
}

// release gives back n bytes taken by acquire.
func (b *byteBudget) release(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used -= n
}
