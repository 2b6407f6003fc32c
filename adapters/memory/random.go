package memory

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"sync"

	"callconnect/ports"
)

// Random is a deterministic ports.Random: ids count up ("id-0000000000000001",
// "id-0000000000000002", … so they sort in creation order and tests can
// predict them) and bytes come from a ChaCha8 stream seeded by the caller.
// The same seed gives the same sequence in every run. Not for production:
// its bytes are only as secret as the seed.
type Random struct {
	mu     sync.Mutex
	n      uint64
	stream *rand.ChaCha8
}

var _ ports.Random = (*Random)(nil)

// NewRandom returns a source whose bytes are determined by seed.
func NewRandom(seed uint64) *Random {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	return &Random{stream: rand.NewChaCha8(key)}
}

// NewID returns the next id of the sequence.
func (r *Random) NewID() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n++
	return fmt.Sprintf("id-%016d", r.n)
}

// Bytes returns the next n bytes of the stream.
func (r *Random) Bytes(n int) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	b := make([]byte, n)
	_, _ = r.stream.Read(b) // ChaCha8.Read always fills b
	return b
}
