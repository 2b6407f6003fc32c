package httpapi

import "sync"

// maxBodiesPerToken is how many callback bodies one partner token may be
// sending at once. A body is read into memory whole (up to the callback
// limit, tens of megabytes), so without this bound one token's slow
// uploads could pin memory for as long as the transfer timeout allows.
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
