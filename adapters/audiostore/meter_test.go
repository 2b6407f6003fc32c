package audiostore_test

import (
	"bytes"
	"context"
	"io"
	"testing"

	"callconnect/adapters/audiostore"
	"callconnect/ports"
	"callconnect/ports/portstest"
)

// bufferingStore reads the whole content before storing it: what the
// contract's streaming check must catch.
type bufferingStore struct{ ports.AudioStore }

func (s bufferingStore) Put(ctx context.Context, key, contentType string, r io.Reader, size int64) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	return s.AudioStore.Put(ctx, key, contentType, bytes.NewReader(b), size)
}

// The heap meter of the contract suite sees an object held in memory.
func TestPeakHeapGrowthSeesBuffering(t *testing.T) {
	fs, err := audiostore.NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	const size = 20 << 20
	b := content(size, 1)
	key := keyOf(b)
	for _, tc := range []struct {
		name  string
		store ports.AudioStore
		min   uint64
		max   uint64
	}{
		{"streaming", fs, 0, 4 << 20},
		{"buffering", bufferingStore{fs}, size, 1 << 40},
	} {
		growth := portstest.PeakHeapGrowth(func() {
			// A plain reader, so that ReadAll cannot ask for the size.
			r := struct{ io.Reader }{bytes.NewReader(b)}
			if err := tc.store.Put(t.Context(), key, "audio/wav", r, size); err != nil {
				t.Fatal(err)
			}
		})
		t.Logf("%s: %.1f MiB", tc.name, float64(growth)/(1<<20))
		if growth < tc.min || growth > tc.max {
			t.Errorf("%s: heap growth %d bytes; want between %d and %d", tc.name, growth, tc.min, tc.max)
		}
	}
}
