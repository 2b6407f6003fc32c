package system

import (
	"math"
	"testing"
	"time"

	"callconnect/ports/portstest"
)

func TestClock(t *testing.T) {
	portstest.RunClock(t, Clock{})
}

func TestRandom(t *testing.T) {
	t.Run("NewRandom", func(t *testing.T) { portstest.RunRandom(t, NewRandom()) })
	t.Run("ZeroValue", func(t *testing.T) { portstest.RunRandom(t, &Random{}) })
}

func TestEncode(t *testing.T) {
	for _, c := range []struct {
		hi, lo uint64
		want   string
	}{
		{0, 0, "00000000000000000000000000"},
		{0, 1, "00000000000000000000000001"},
		{0, 32, "00000000000000000000000010"},
		{1, 0, "0000000000000g000000000000"}, // 2^64 = 16 * 32^12
		{math.MaxUint64, math.MaxUint64, "7zzzzzzzzzzzzzzzzzzzzzzzzz"},
	} {
		if got := encode(c.hi, c.lo); got != c.want {
			t.Errorf("encode(%#x, %#x) = %s, want %s", c.hi, c.lo, got, c.want)
		}
	}
}

// Ids made in one millisecond, or after the clock stepped back, still grow,
// also when the random part is about to run out.
func TestIDsStayMonotonic(t *testing.T) {
	future := uint64(time.Now().Add(time.Hour).UnixMilli())
	r := &Random{lastMS: future, hi: math.MaxUint16, lo: math.MaxUint64 - 1}
	prev := encode(r.lastMS<<16|uint64(r.hi), r.lo)
	for range 1000 {
		id := r.NewID()
		if id <= prev {
			t.Fatalf("%s after %s", id, prev)
		}
		prev = id
	}
}
