package portstest

import (
	"bytes"
	"sync"
	"testing"

	"callconnect/domain"
	"callconnect/ports"
)

// RunRandom runs the contract suite of ports.Random: ids are unique, usable
// wherever an id is (domain.ValidID) and sort in the order they were made,
// also when many goroutines ask; Bytes(n) gives n bytes, different each time.
func RunRandom(t *testing.T, r ports.Random) {
	t.Helper()
	t.Run("IDs", func(t *testing.T) {
		const n = 10_000
		seen := make(map[string]bool, n)
		prev := ""
		for i := range n {
			id := r.NewID()
			if !domain.ValidID(id) {
				t.Fatalf("NewID returned %q, not a valid id (domain.ValidID)", id)
			}
			if seen[id] {
				t.Fatalf("NewID returned %q twice (call %d)", id, i)
			}
			seen[id] = true
			if i > 0 && id <= prev {
				t.Fatalf("NewID returned %q after %q: ids must sort in creation order", id, prev)
			}
			prev = id
		}
	})
	t.Run("IDsConcurrent", func(t *testing.T) {
		const workers, each = 8, 1000
		var wg sync.WaitGroup
		ids := make([][]string, workers)
		for w := range workers {
			wg.Go(func() {
				for range each {
					ids[w] = append(ids[w], r.NewID())
				}
			})
		}
		wg.Wait()
		seen := make(map[string]bool, workers*each)
		for w, list := range ids {
			for i, id := range list {
				if seen[id] {
					t.Fatalf("NewID returned %q twice across goroutines", id)
				}
				seen[id] = true
				if i > 0 && id <= list[i-1] {
					t.Fatalf("goroutine %d got %q after %q: ids must sort in creation order", w, id, list[i-1])
				}
			}
		}
	})
	t.Run("Bytes", func(t *testing.T) {
		for _, n := range []int{0, 1, 16, 32, 100} {
			if got := r.Bytes(n); len(got) != n {
				t.Errorf("Bytes(%d) returned %d bytes", n, len(got))
			}
		}
		a, b := r.Bytes(32), r.Bytes(32)
		if bytes.Equal(a, b) {
			t.Errorf("two calls of Bytes(32) returned the same bytes %x", a)
		}
		if bytes.Equal(a, make([]byte, 32)) || bytes.Equal(b, make([]byte, 32)) {
			t.Errorf("Bytes(32) returned zeros")
		}
	})
	t.Run("BytesConcurrent", func(t *testing.T) {
		const workers = 8
		var wg sync.WaitGroup
		out := make([][]byte, workers)
		for w := range workers {
			wg.Go(func() { out[w] = r.Bytes(32) })
		}
		wg.Wait()
		seen := map[string]bool{}
		for _, b := range out {
			if seen[string(b)] {
				t.Fatalf("Bytes(32) returned %x to two goroutines", b)
			}
			seen[string(b)] = true
		}
	})
}
