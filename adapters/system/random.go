package system

import (
	"crypto/rand"
	"encoding/binary"
	"math"
	"math/bits"
	"sync"
	"time"

	"callconnect/ports"
)

// Random makes ids and key material from crypto/rand. Its zero value is ready
// to use; use it by pointer (it keeps the last id to stay monotonic).
//
// An id is 26 characters of lowercase Crockford base32 encoding 128 bits, as a
// ULID does: 48 bits of Unix milliseconds, then 80 random bits. Ids of one
// Random sort in the order they were made: within one millisecond (or if the
// wall clock steps back) the random part of the previous id grows by a random
// amount instead of being drawn afresh, so ids stay unguessable from each
// other. Ids of different processes sort by their millisecond.
type Random struct {
	mu     sync.Mutex
	lastMS uint64
	hi     uint16 // top 16 of the 80 random bits of the last id
	lo     uint64 // low 64 of them
}

var _ ports.Random = (*Random)(nil)

// NewRandom returns a ready Random.
func NewRandom() *Random { return &Random{} }

const maxMS = 1<<48 - 1 // 48 bits of milliseconds last until the year 10889

// NewID returns a new id, greater than every id this Random returned before.
func (r *Random) NewID() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	ms := uint64(max(time.Now().UnixMilli(), 0)) & maxMS
	if ms > r.lastMS {
		r.lastMS = ms
		r.draw()
	} else if !r.grow() {
		// 80 bits ran out within one millisecond: borrow the next one.
		r.lastMS++
		r.draw()
	}
	return encode(r.lastMS<<16|uint64(r.hi), r.lo)
}

func (r *Random) draw() {
	var b [10]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (it crashes the program instead)
	// Leave the top bit clear so that many increments fit before the
	// millisecond has to be borrowed.
	r.hi = binary.BigEndian.Uint16(b[:2]) &^ 0x8000
	r.lo = binary.BigEndian.Uint64(b[2:])
}

// grow adds a random amount in [1, 2^32] to the 80-bit random part and
// reports false if it would overflow.
func (r *Random) grow() bool {
	var b [4]byte
	_, _ = rand.Read(b[:])
	lo, carry := bits.Add64(r.lo, uint64(binary.BigEndian.Uint32(b[:]))+1, 0)
	if carry == 1 && r.hi == math.MaxUint16 {
		return false
	}
	r.lo, r.hi = lo, r.hi+uint16(carry)
	return true
}

// crockford is Crockford's base32 alphabet in lowercase; its characters are in
// ascending byte order, so ids compare as strings as their numbers do.
const crockford = "0123456789abcdefghjkmnpqrstvwxyz"

// encode writes the 128-bit number hi:lo as 26 base32 digits (130 bits, the
// first digit holding the top 3 bits).
func encode(hi, lo uint64) string {
	var out [26]byte
	for i := range out {
		shift := uint((25 - i) * 5)
		var v uint64
		switch {
		case shift >= 64:
			v = hi >> (shift - 64)
		case shift == 0:
			v = lo
		default:
			v = lo>>shift | hi<<(64-shift)
		}
		out[i] = crockford[v&31]
	}
	return string(out[:])
}

// Bytes returns n bytes from crypto/rand.
func (*Random) Bytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}
