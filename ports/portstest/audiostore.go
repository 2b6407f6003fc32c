package portstest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"callconnect/ports"
)

// RunAudioStore runs the contract suite of ports.AudioStore. Each subtest
// calls newStore once and expects a fresh, empty store.
//
// Beyond what the port's comments say, the suite pins down:
//   - a key is 64 lowercase hexadecimal digits; Put, Open and Delete refuse
//     any other (upper case, too short or long, "../x", with a slash) with an
//     error, and write or remove nothing;
//   - Put reads exactly size bytes: a reader that ends early or has more is
//     refused, and so is a negative size; the error of a failing reader is
//     returned (errors.Is finds it);
//   - a failed Put (wrong hash, wrong size, failing reader, cancelled
//     context) leaves nothing under the key, and leaves an object already
//     stored under it as it was;
//   - the content type comes back as given, parameters included; an empty
//     one comes back as application/octet-stream; an empty object is an
//     object;
//   - Put of content already stored succeeds, whoever else is storing it at
//     the same moment, and moves the time List reports to the later Put, so a
//     collector that spares young objects never removes one that a Put has
//     just confirmed;
//   - List reports each object once, with a time within seconds of its Put,
//     and nothing deleted; an error of fn stops List and is returned;
//   - Put streams: 20 MiB go through while the heap grows by less than 8 MiB;
//   - a spool stores what was written, in any pieces, under its SHA-256,
//     with its size and content type; storing it again after a Delete brings
//     the object back; writing after Store fails; Close keeps what Store
//     stored, and a spool closed without Store leaves nothing in the store;
//     20 MiB go through a spool while the heap grows by less than 8 MiB.
func RunAudioStore(t *testing.T, newStore func(t *testing.T) ports.AudioStore) {
	t.Helper()
	for _, tc := range []struct {
		name string
		run  func(*testing.T, ports.AudioStore)
	}{
		{"RoundTrip", testAudioRoundTrip},
		{"ContentType", testAudioContentType},
		{"Empty", testAudioEmpty},
		{"Ranges", testAudioRanges},
		{"PutTwice", testAudioPutTwice},
		{"PutTwiceMovesWritten", testAudioPutTwiceMovesWritten},
		{"WrongHash", testAudioWrongHash},
		{"WrongHashKeepsExisting", testAudioWrongHashKeepsExisting},
		{"ReaderFails", testAudioReaderFails},
		{"SizeMismatch", testAudioSizeMismatch},
		{"CancelledContext", testAudioCancelledContext},
		{"OpenMissing", testAudioOpenMissing},
		{"DeleteIdempotent", testAudioDeleteIdempotent},
		{"List", testAudioList},
		{"ListStops", testAudioListStops},
		{"InvalidKeys", testAudioInvalidKeys},
		{"ConcurrentPuts", testAudioConcurrentPuts},
		{"Streams20MiB", testAudioStreams},
		{"SpoolRoundTrip", testAudioSpoolRoundTrip},
		{"SpoolStoreAgain", testAudioSpoolStoreAgain},
		{"SpoolClosedUnstored", testAudioSpoolClosedUnstored},
		{"SpoolStreams20MiB", testAudioSpoolStreams},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, newStore(t))
		})
	}
}

// audio returns n bytes that depend on seed only.
func audio(n int, seed uint64) []byte {
	b := make([]byte, n)
	generated(n, seed).Read(b)
	return b
}

// generated is a reader of n bytes that depend on seed only, made as they
// are read: a large object needs no memory of that size.
func generated(n int, seed uint64) io.Reader {
	var s [32]byte
	s[0], s[1] = byte(seed), byte(seed>>8)
	return io.LimitReader(rand.NewChaCha8(s), int64(n))
}

func audioKey(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func putAudio(t *testing.T, s ports.AudioStore, key, contentType string, b []byte) {
	t.Helper()
	if err := s.Put(t.Context(), key, contentType, bytes.NewReader(b), int64(len(b))); err != nil {
		t.Fatalf("Put(%s…, %d bytes): %v", key[:8], len(b), err)
	}
}

// openAudio opens key and reads it whole.
func openAudio(t *testing.T, s ports.AudioStore, key string) (ports.AudioObject, []byte) {
	t.Helper()
	obj, err := s.Open(t.Context(), key)
	if err != nil {
		t.Fatalf("Open(%s…): %v", key[:8], err)
	}
	defer obj.Close()
	got, err := io.ReadAll(obj)
	if err != nil {
		t.Fatalf("reading %s…: %v", key[:8], err)
	}
	return obj, got
}

func wantAudio(t *testing.T, s ports.AudioStore, key, contentType string, want []byte) {
	t.Helper()
	obj, got := openAudio(t, s, key)
	if obj.Size != int64(len(want)) {
		t.Errorf("Open(%s…).Size = %d, want %d", key[:8], obj.Size, len(want))
	}
	if obj.ContentType != contentType {
		t.Errorf("Open(%s…).ContentType = %q, want %q", key[:8], obj.ContentType, contentType)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("Open(%s…) read %d bytes that differ from the %d stored", key[:8], len(got), len(want))
	}
}

// wantNoAudio checks that nothing is stored under key.
func wantNoAudio(t *testing.T, s ports.AudioStore, key, what string) {
	t.Helper()
	obj, err := s.Open(t.Context(), key)
	if err == nil {
		obj.Close()
		t.Errorf("%s: Open found an object of %d bytes", what, obj.Size)
		return
	}
	wantNotFound(t, what+": Open", err)
}

type listed struct {
	key     string
	written time.Time
}

func listAudio(t *testing.T, s ports.AudioStore) []listed {
	t.Helper()
	var all []listed
	err := s.List(t.Context(), func(key string, written time.Time) error {
		all = append(all, listed{key, written})
		return nil
	})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	slices.SortFunc(all, func(a, b listed) int { return strings.Compare(a.key, b.key) })
	return all
}

func listedKeys(all []listed) []string {
	keys := make([]string, len(all))
	for i, l := range all {
		keys[i] = l.key
	}
	return keys
}

func wantListed(t *testing.T, s ports.AudioStore, what string, keys ...string) []listed {
	t.Helper()
	all := listAudio(t, s)
	slices.Sort(keys)
	if got := listedKeys(all); !slices.Equal(got, keys) {
		t.Errorf("%s: List = %v, want %v", what, got, keys)
	}
	return all
}

func testAudioRoundTrip(t *testing.T, s ports.AudioStore) {
	b := audio(300<<10+7, 1)
	key := audioKey(b)
	putAudio(t, s, key, "audio/mpeg", b)
	wantAudio(t, s, key, "audio/mpeg", b)
	// A second Open is independent of the first.
	wantAudio(t, s, key, "audio/mpeg", b)
}

func testAudioContentType(t *testing.T, s ports.AudioStore) {
	for i, tc := range []struct{ given, want string }{
		{"audio/ogg; codecs=opus", "audio/ogg; codecs=opus"},
		{"audio/wav", "audio/wav"},
		{"", "application/octet-stream"},
	} {
		b := audio(1000+i, uint64(10+i))
		key := audioKey(b)
		putAudio(t, s, key, tc.given, b)
		wantAudio(t, s, key, tc.want, b)
	}
}

func testAudioEmpty(t *testing.T, s ports.AudioStore) {
	key := audioKey(nil)
	putAudio(t, s, key, "audio/mpeg", nil)
	wantAudio(t, s, key, "audio/mpeg", []byte{})
	wantListed(t, s, "after Put of nothing", key)
}

func testAudioRanges(t *testing.T, s ports.AudioStore) {
	const size = 1<<20 + 123
	b := audio(size, 2)
	key := audioKey(b)
	putAudio(t, s, key, "audio/mpeg", b)

	obj, err := s.Open(t.Context(), key)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer obj.Close()
	if obj.Size != size {
		t.Fatalf("Size = %d, want %d", obj.Size, size)
	}
	// Each step seeks, then reads n bytes, as an HTTP Range answer does; the
	// steps go back and forth so that no store gets away with reading on.
	for _, step := range []struct {
		what   string
		offset int64
		whence int
		at     int64 // where the seek must land
		n      int
	}{
		{"start", 0, io.SeekStart, 0, 1000},
		{"middle", 500_000, io.SeekStart, 500_000, 70_000},
		{"on from the middle", 10, io.SeekCurrent, 570_010, 5},
		{"back to the start", 0, io.SeekStart, 0, 1},
		{"last bytes", -4096, io.SeekEnd, size - 4096, 4096},
		{"last byte", size - 1, io.SeekStart, size - 1, 1},
		{"middle again", 123_456, io.SeekStart, 123_456, 65_536},
	} {
		at, err := obj.Seek(step.offset, step.whence)
		if err != nil || at != step.at {
			t.Fatalf("%s: Seek(%d, %d) = %d, %v; want %d", step.what, step.offset, step.whence, at, err, step.at)
		}
		got := make([]byte, step.n)
		if _, err := io.ReadFull(obj, got); err != nil {
			t.Fatalf("%s: reading %d bytes at %d: %v", step.what, step.n, at, err)
		}
		if want := b[at : at+int64(step.n)]; !bytes.Equal(got, want) {
			t.Fatalf("%s: the %d bytes at %d differ from those stored", step.what, step.n, at)
		}
	}
	// After the last byte, the object is at its end.
	if _, err := obj.Seek(-10, io.SeekEnd); err != nil {
		t.Fatalf("Seek(-10, end): %v", err)
	}
	rest, err := io.ReadAll(obj)
	if err != nil || !bytes.Equal(rest, b[size-10:]) {
		t.Fatalf("reading the last 10 bytes to the end: %d bytes, %v", len(rest), err)
	}
	if n, err := obj.Read(make([]byte, 10)); n != 0 || err != io.EOF {
		t.Fatalf("Read at the end = %d, %v; want 0, io.EOF", n, err)
	}
}

func testAudioPutTwice(t *testing.T, s ports.AudioStore) {
	b := audio(64<<10, 3)
	key := audioKey(b)
	putAudio(t, s, key, "audio/mpeg", b)
	putAudio(t, s, key, "audio/mpeg", b)
	wantAudio(t, s, key, "audio/mpeg", b)
	wantListed(t, s, "after two Puts of the same content", key)
}

func testAudioPutTwiceMovesWritten(t *testing.T, s ports.AudioStore) {
	b := audio(4<<10, 4)
	key := audioKey(b)
	putAudio(t, s, key, "audio/mpeg", b)
	first := wantListed(t, s, "after the first Put", key)
	// Object stores keep times to the second: the second Put comes once the
	// clock is in a second after the first Put's time.
	if len(first) == 1 {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		deadline := time.After(time.Minute)
		for !time.Now().Truncate(time.Second).After(first[0].written) {
			select {
			case <-tick.C:
			case <-deadline:
				t.Fatalf("the clock did not pass the first Put's time, %v, within a minute", first[0].written)
			}
		}
	}
	putAudio(t, s, key, "audio/mpeg", b)
	second := wantListed(t, s, "after the second Put", key)
	if len(first) == 1 && len(second) == 1 && !second[0].written.After(first[0].written) {
		t.Errorf("List's time after a second Put, in a later second: %v; after the first: %v; want it later",
			second[0].written, first[0].written)
	}
}

func testAudioWrongHash(t *testing.T, s ports.AudioStore) {
	b := audio(100<<10, 5)
	other := audio(100<<10, 6)
	key := audioKey(other)
	err := s.Put(t.Context(), key, "audio/mpeg", bytes.NewReader(b), int64(len(b)))
	if err == nil {
		t.Fatal("Put of content under the key of other content succeeded")
	}
	wantNoAudio(t, s, key, "after Put with the wrong key")
	wantNoAudio(t, s, audioKey(b), "after Put with the wrong key, under the right one")
	wantListed(t, s, "after Put with the wrong key")
}

func testAudioWrongHashKeepsExisting(t *testing.T, s ports.AudioStore) {
	b := audio(100<<10, 7)
	key := audioKey(b)
	putAudio(t, s, key, "audio/mpeg", b)
	forged := audio(len(b), 8)
	if err := s.Put(t.Context(), key, "audio/wav", bytes.NewReader(forged), int64(len(forged))); err == nil {
		t.Fatal("Put of other content under a stored key succeeded")
	}
	wantAudio(t, s, key, "audio/mpeg", b)
	wantListed(t, s, "after a refused Put over a stored object", key)
}

// failingReader gives n bytes of r, then fails with err.
type failingReader struct {
	r   io.Reader
	n   int
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, f.err
	}
	if len(p) > f.n {
		p = p[:f.n]
	}
	n, err := f.r.Read(p)
	f.n -= n
	return n, err
}

var errAudioSource = errors.New("the audio source broke")

func testAudioReaderFails(t *testing.T, s ports.AudioStore) {
	b := audio(2<<20, 9)
	key := audioKey(b)
	for _, after := range []int{0, 1, 1 << 20, len(b) - 1} {
		r := &failingReader{r: bytes.NewReader(b), n: after, err: errAudioSource}
		err := s.Put(t.Context(), key, "audio/mpeg", r, int64(len(b)))
		if !errors.Is(err, errAudioSource) {
			t.Errorf("Put from a reader failing after %d bytes = %v; want an error wrapping the reader's", after, err)
		}
		wantNoAudio(t, s, key, fmt.Sprintf("after a reader failed after %d bytes", after))
	}
	wantListed(t, s, "after failing readers")

	// Over a stored object, a failing reader changes nothing.
	putAudio(t, s, key, "audio/mpeg", b)
	r := &failingReader{r: bytes.NewReader(b), n: 1 << 20, err: errAudioSource}
	if err := s.Put(t.Context(), key, "audio/mpeg", r, int64(len(b))); !errors.Is(err, errAudioSource) {
		t.Errorf("Put over a stored object from a failing reader = %v; want the reader's error", err)
	}
	wantAudio(t, s, key, "audio/mpeg", b)
}

func testAudioSizeMismatch(t *testing.T, s ports.AudioStore) {
	b := audio(50_000, 11)
	key := audioKey(b)
	for _, tc := range []struct {
		what string
		r    io.Reader
		size int64
	}{
		{"more content than size", bytes.NewReader(b), int64(len(b)) - 1},
		{"less content than size", bytes.NewReader(b), int64(len(b)) + 1},
		{"a size of 0", bytes.NewReader(b), 0},
		{"a negative size", bytes.NewReader(b), -1},
		// The bytes up to size hash to the key, and more follow.
		{"content beyond size", io.MultiReader(bytes.NewReader(b), strings.NewReader("tail")), int64(len(b))},
	} {
		if err := s.Put(t.Context(), key, "audio/mpeg", tc.r, tc.size); err == nil {
			t.Errorf("Put with %s succeeded", tc.what)
		}
		wantNoAudio(t, s, key, "after Put with "+tc.what)
	}
	wantListed(t, s, "after Puts of the wrong size")
}

func testAudioCancelledContext(t *testing.T, s ports.AudioStore) {
	b := audio(10_000, 12)
	key := audioKey(b)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.Put(ctx, key, "audio/mpeg", bytes.NewReader(b), int64(len(b))); err == nil {
		t.Error("Put with a cancelled context succeeded")
	}
	wantNoAudio(t, s, key, "after Put with a cancelled context")

	// Cancelled while the content is read.
	ctx, cancel = context.WithCancel(t.Context())
	content, read := bytes.NewReader(b), 0
	cancelling := readerFunc(func(p []byte) (int, error) {
		n, err := content.Read(p)
		if read += n; read >= len(b)/2 {
			cancel()
		}
		return n, err
	})
	if err := s.Put(ctx, key, "audio/mpeg", cancelling, int64(len(b))); err == nil {
		t.Error("Put whose context was cancelled halfway succeeded")
	}
	cancel()
	wantNoAudio(t, s, key, "after Put whose context was cancelled halfway")
	wantListed(t, s, "after cancelled Puts")
}

type readerFunc func(p []byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

func testAudioOpenMissing(t *testing.T, s ports.AudioStore) {
	wantNoAudio(t, s, audioKey([]byte("never stored")), "in an empty store")
	b := audio(100, 13)
	putAudio(t, s, audioKey(b), "audio/mpeg", b)
	wantNoAudio(t, s, audioKey([]byte("never stored")), "next to another object")
}

func testAudioDeleteIdempotent(t *testing.T, s ports.AudioStore) {
	b, kept := audio(10_000, 14), audio(10_000, 15)
	key := audioKey(b)
	putAudio(t, s, key, "audio/mpeg", b)
	putAudio(t, s, audioKey(kept), "audio/mpeg", kept)
	for i := range 2 {
		if err := s.Delete(t.Context(), key); err != nil {
			t.Fatalf("Delete #%d: %v", i+1, err)
		}
		wantNoAudio(t, s, key, fmt.Sprintf("after Delete #%d", i+1))
	}
	if err := s.Delete(t.Context(), audioKey([]byte("never stored"))); err != nil {
		t.Errorf("Delete of what was never stored: %v", err)
	}
	wantAudio(t, s, audioKey(kept), "audio/mpeg", kept)
	wantListed(t, s, "after Delete", audioKey(kept))

	// Stored again after Delete, it is there again.
	putAudio(t, s, key, "audio/wav", b)
	wantAudio(t, s, key, "audio/wav", b)
}

func testAudioList(t *testing.T, s ports.AudioStore) {
	wantListed(t, s, "an empty store")
	before := time.Now()
	var keys []string
	for i := range 5 {
		b := audio(1000*(i+1), uint64(20+i))
		keys = append(keys, audioKey(b))
		putAudio(t, s, keys[i], "audio/mpeg", b)
	}
	after := time.Now()
	for _, k := range []string{keys[1], keys[3]} {
		if err := s.Delete(t.Context(), k); err != nil {
			t.Fatalf("Delete: %v", err)
		}
	}
	// Object stores keep times to the second, and their clock is their own.
	const slack = 2 * time.Second
	for _, l := range wantListed(t, s, "after 5 Puts and 2 Deletes", keys[0], keys[2], keys[4]) {
		if l.written.Before(before.Add(-slack)) || l.written.After(after.Add(slack)) {
			t.Errorf("List: %s… written %v; Put between %v and %v", l.key[:8], l.written, before, after)
		}
	}
}

func testAudioListStops(t *testing.T, s ports.AudioStore) {
	for i := range 3 {
		b := audio(100, uint64(30+i))
		putAudio(t, s, audioKey(b), "audio/mpeg", b)
	}
	errStop := errors.New("enough")
	calls := 0
	err := s.List(t.Context(), func(string, time.Time) error {
		calls++
		return errStop
	})
	if !errors.Is(err, errStop) || calls != 1 {
		t.Errorf("List with fn failing at once = %v after %d calls; want fn's error after 1", err, calls)
	}
}

func testAudioInvalidKeys(t *testing.T, s ports.AudioStore) {
	valid := audioKey([]byte("x"))
	for _, key := range []string{
		"",
		"../x",
		"..",
		"../" + valid[3:],
		valid[:2] + "/" + valid[3:],
		strings.ToUpper(valid),
		valid[:63],
		valid + "0",
		valid[:63] + "g",
		valid[:63] + "\x00",
		"/" + valid[1:],
		valid[:62] + "/.",
	} {
		if err := s.Put(t.Context(), key, "audio/mpeg", strings.NewReader("x"), 1); err == nil {
			t.Errorf("Put(%q) succeeded", key)
		}
		if obj, err := s.Open(t.Context(), key); err == nil {
			obj.Close()
			t.Errorf("Open(%q) succeeded", key)
		}
		if err := s.Delete(t.Context(), key); err == nil {
			t.Errorf("Delete(%q) succeeded", key)
		}
	}
	wantListed(t, s, "after Puts with invalid keys")
}

func testAudioConcurrentPuts(t *testing.T, s ports.AudioStore) {
	const writers = 8
	b := audio(512<<10, 40)
	key := audioKey(b)
	start := make(chan struct{})
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			<-start
			errs[i] = s.Put(t.Context(), key, "audio/mpeg", bytes.NewReader(b), int64(len(b)))
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Put #%d of %d at once: %v", i+1, writers, err)
		}
	}
	wantAudio(t, s, key, "audio/mpeg", b)
	wantListed(t, s, "after concurrent Puts of the same content", key)
}

// StreamLimit is the most the heap may grow while Put takes a 20 MiB object.
const streamLimit = 8 << 20

func testAudioStreams(t *testing.T, s ports.AudioStore) {
	const size = 20 << 20
	h := sha256.New()
	if _, err := io.Copy(h, generated(size, 50)); err != nil {
		t.Fatal(err)
	}
	key := hex.EncodeToString(h.Sum(nil))

	var err error
	growth := PeakHeapGrowth(func() {
		err = s.Put(t.Context(), key, "audio/wav", generated(size, 50), size)
	})
	if err != nil {
		t.Fatalf("Put of 20 MiB: %v", err)
	}
	t.Logf("heap growth during Put of 20 MiB: %.1f MiB", float64(growth)/(1<<20))
	if growth >= streamLimit {
		t.Errorf("the heap grew by %.1f MiB during Put of 20 MiB; want less than %d MiB: Put must stream",
			float64(growth)/(1<<20), streamLimit>>20)
	}

	wantLarge(t, s, key, size)
}

// wantLarge reads key back, hashing it as it goes, and checks its size and hash.
func wantLarge(t *testing.T, s ports.AudioStore, key string, size int64) {
	t.Helper()
	obj, err := s.Open(t.Context(), key)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer obj.Close()
	h := sha256.New()
	n, err := io.Copy(h, obj)
	if err != nil || n != size || obj.Size != size || hex.EncodeToString(h.Sum(nil)) != key {
		t.Fatalf("read back %d bytes (Size %d), err %v; hash matches: %v", n, obj.Size, err,
			hex.EncodeToString(h.Sum(nil)) == key)
	}
}

// spoolAudio writes b to a new spool of s in pieces of n bytes.
func spoolAudio(t *testing.T, s ports.AudioStore, b []byte, n int) ports.AudioSpool {
	t.Helper()
	sp, err := s.Spool(t.Context())
	if err != nil {
		t.Fatalf("Spool: %v", err)
	}
	t.Cleanup(func() { sp.Close() })
	for len(b) > 0 {
		k := min(n, len(b))
		if w, err := sp.Write(b[:k]); err != nil || w != k {
			t.Fatalf("Write of %d bytes: %d, %v", k, w, err)
		}
		b = b[k:]
	}
	return sp
}

func storeSpool(t *testing.T, sp ports.AudioSpool, contentType string, want []byte) string {
	t.Helper()
	key, size, err := sp.Store(t.Context(), contentType)
	if err != nil {
		t.Fatalf("Store: %v", err)
	}
	if key != audioKey(want) || size != int64(len(want)) {
		t.Fatalf("Store: key %s…, %d bytes; want %s…, %d bytes", key[:8], size, audioKey(want)[:8], len(want))
	}
	return key
}

func testAudioSpoolRoundTrip(t *testing.T, s ports.AudioStore) {
	b := audio(300_001, 60)
	sp := spoolAudio(t, s, b, 4093)
	key := storeSpool(t, sp, "audio/ogg; codecs=opus", b)
	wantAudio(t, s, key, "audio/ogg; codecs=opus", b)
	if _, err := sp.Write([]byte("more")); err == nil {
		t.Error("Write after Store succeeded")
	}
	if err := sp.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	wantAudio(t, s, key, "audio/ogg; codecs=opus", b)
	wantListed(t, s, "after a spool stored and closed", key)

	// Content already stored, by Put, spools the same.
	c := audio(1000, 61)
	putAudio(t, s, audioKey(c), "audio/wav", c)
	key2 := storeSpool(t, spoolAudio(t, s, c, 1000), "audio/wav", c)
	wantAudio(t, s, key2, "audio/wav", c)
	wantListed(t, s, "after a spool of stored content", key, key2)

	// Nothing written is an empty object.
	empty := storeSpool(t, spoolAudio(t, s, nil, 1), "", nil)
	wantAudio(t, s, empty, "application/octet-stream", []byte{})
}

func testAudioSpoolStoreAgain(t *testing.T, s ports.AudioStore) {
	b := audio(70_000, 62)
	sp := spoolAudio(t, s, b, 1<<16)
	key := storeSpool(t, sp, "audio/mpeg", b)
	if err := s.Delete(t.Context(), key); err != nil {
		t.Fatal(err)
	}
	wantNoAudio(t, s, key, "after Delete")
	if again := storeSpool(t, sp, "audio/mpeg", b); again != key {
		t.Fatalf("stored again under %s…", again[:8])
	}
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}
	wantAudio(t, s, key, "audio/mpeg", b)
}

func testAudioSpoolClosedUnstored(t *testing.T, s ports.AudioStore) {
	b := audio(50_000, 63)
	sp := spoolAudio(t, s, b, 10_000)
	if err := sp.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, _, err := sp.Store(t.Context(), "audio/mpeg"); err == nil {
		t.Error("Store after Close succeeded")
	}
	wantNoAudio(t, s, audioKey(b), "a spool closed without Store")
	wantListed(t, s, "a spool closed without Store")
}

func testAudioSpoolStreams(t *testing.T, s ports.AudioStore) {
	const size = 20 << 20
	h := sha256.New()
	if _, err := io.Copy(h, generated(size, 64)); err != nil {
		t.Fatal(err)
	}
	want := hex.EncodeToString(h.Sum(nil))
	var key string
	var err error
	growth := PeakHeapGrowth(func() {
		var sp ports.AudioSpool
		if sp, err = s.Spool(t.Context()); err != nil {
			return
		}
		defer sp.Close()
		if _, err = io.CopyBuffer(sp, generated(size, 64), make([]byte, 256<<10)); err != nil {
			return
		}
		key, _, err = sp.Store(t.Context(), "audio/wav")
	})
	if err != nil || key != want {
		t.Fatalf("spool of 20 MiB: key %q, %v", key, err)
	}
	t.Logf("heap growth during a spool of 20 MiB: %.1f MiB", float64(growth)/(1<<20))
	if growth >= streamLimit {
		t.Errorf("the heap grew by %.1f MiB during a spool of 20 MiB; want less than %d MiB: spools must stream",
			float64(growth)/(1<<20), streamLimit>>20)
	}
	wantLarge(t, s, key, size)
}

// PeakHeapGrowth runs fn and returns by how much the heap in use grew at
// most while it ran, over what was in use before. The garbage collector runs
// often meanwhile (GOGC=10), so that garbage is not taken for growth; a
// sampler reads the heap every millisecond. Adapters' benchmarks report it
// too.
func PeakHeapGrowth(fn func()) uint64 {
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base, peak := ms.HeapAlloc, ms.HeapAlloc
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	})
	fn()
	close(done)
	wg.Wait()
	return peak - base
}
