package audiostore_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"callconnect/adapters/audiostore"
	"callconnect/ports"
	"callconnect/ports/portstest"
)

func TestS3Contract(t *testing.T) {
	portstest.RunAudioStore(t, func(t *testing.T) ports.AudioStore {
		return newS3(t, nil, "callconnect/recordings")
	})
}

// Without a prefix the objects are at the bucket's top, beside whatever
// else is there, which List leaves out.
func TestS3WithoutPrefix(t *testing.T) {
	s := newS3(t, nil, "")
	b := content(1000, 1)
	key := put(t, s, b)
	wantStored(t, s, b)
	if _, err := s.Client().PutObject(t.Context(), testBucket, "README.txt", strings.NewReader("hi"), 2, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	var listed []string
	if err := s.List(t.Context(), func(key string, _ time.Time) error {
		listed = append(listed, key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(listed) != 1 || listed[0] != key {
		t.Errorf("List = %v; want only %s", listed, key)
	}
	if got := bucketObjects(t, s); len(got) != 2 {
		t.Errorf("bucket holds %v; want the object and README.txt", got)
	}
}

// failing answers 500 to the requests that match, in S3's words, and
// counts them.
func failing(matches func(r *http.Request) bool, count *atomic.Int32) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !matches(r) {
				next.ServeHTTP(w, r)
				return
			}
			count.Add(1)
			// Take some of the body, as a server that fails midway does.
			io.CopyN(io.Discard, r.Body, 256<<10)
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?>`+
				`<Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message></Error>`)
		})
	}
}

type readerFunc func(p []byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// isUpload tells a PUT of an object's content from one of a bucket or a copy.
func isUpload(r *http.Request) bool {
	_, object, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	return r.Method == http.MethodPut && r.Header.Get("X-Amz-Copy-Source") == "" && object != ""
}

func isCopy(r *http.Request) bool {
	return r.Method == http.MethodPut && r.Header.Get("X-Amz-Copy-Source") != ""
}

// The object store answering 500 — to the upload, or to the copy into
// place — fails Put, and leaves nothing in the bucket: not under the key,
// not a temporary object.
func TestS3Answers500(t *testing.T) {
	for _, tc := range []struct {
		name    string
		matches func(*http.Request) bool
	}{
		{"to the upload", isUpload},
		{"to the copy", isCopy},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var failed atomic.Int32
			s := newS3(t, failing(tc.matches, &failed), "recordings")
			b := content(3<<20, 2)
			key := keyOf(b)
			start := time.Now()
			var returned atomic.Bool
			var readsAfter atomic.Int32
			source := bytes.NewReader(b)
			// The HTTP client's writes of requests: begun (their headers
			// sent) and ended (their bodies sent, or given up).
			var begun, ended atomic.Int32
			ctx := httptrace.WithClientTrace(t.Context(), &httptrace.ClientTrace{
				WroteHeaders: func() { begun.Add(1) },
				WroteRequest: func(httptrace.WroteRequestInfo) { ended.Add(1) },
			})
			err := s.Put(ctx, key, "audio/mpeg", readerFunc(func(p []byte) (int, error) {
				if returned.Load() {
					readsAfter.Add(1)
				}
				return source.Read(p)
			}), int64(len(b)))
			returned.Store(true)
			if err == nil {
				t.Fatal("Put succeeded while the store answered 500")
			}
			var resp minio.ErrorResponse
			if !errors.As(err, &resp) || resp.Code != "InternalError" {
				t.Errorf("Put = %v; want the store's InternalError", err)
			}
			if failed.Load() == 0 {
				t.Fatal("the store was never asked")
			}
			t.Logf("Put = %v after %v and %d failed requests", err, time.Since(start), failed.Load())
			wantMissing(t, s, key)
			if got := bucketObjects(t, s); len(got) != 0 {
				t.Errorf("left in the bucket: %v", got)
			}
			// The server answered before it read the body; the HTTP client
			// may still want to send it, but not from Put's reader. Once
			// every request it began writing is written or given up, it
			// has had its chance.
			deadline := time.After(10 * time.Second)
			tick := time.NewTicker(time.Millisecond)
			defer tick.Stop()
			for ended.Load() < begun.Load() {
				select {
				case <-deadline:
					t.Fatalf("the HTTP client began %d requests and ended %d writes 10s after Put returned", begun.Load(), ended.Load())
				case <-tick.C:
				}
			}
			if n := readsAfter.Load(); n > 0 {
				t.Errorf("the reader was read %d times after Put returned", n)
			}
		})
	}
}

// A store that cannot be reached fails every method, and Open does not
// take the failure for a missing object.
func TestS3Unreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := l.Addr().String()
	l.Close()
	s, err := audiostore.NewS3(s3Config(endpoint, "recordings"))
	if err != nil {
		t.Fatal(err)
	}
	b := content(1000, 3)
	key := keyOf(b)
	if err := s.Put(t.Context(), key, "audio/mpeg", bytes.NewReader(b), int64(len(b))); err == nil {
		t.Error("Put succeeded")
	}
	if _, err := s.Open(t.Context(), key); err == nil || errors.Is(err, ports.ErrNotFound) {
		t.Errorf("Open = %v; want an error that is not ErrNotFound", err)
	}
	if err := s.Delete(t.Context(), key); err == nil {
		t.Error("Delete succeeded")
	}
	if err := s.List(t.Context(), func(string, time.Time) error { return nil }); err == nil {
		t.Error("List succeeded")
	}
	if err := s.EnsureBucket(t.Context()); err == nil {
		t.Error("EnsureBucket succeeded")
	}
	if err := s.Check(t.Context()); err == nil {
		t.Error("Check succeeded")
	}
}

// The upload is signed with the content's SHA-256 as its payload hash, so
// that a server that checks it (Amazon S3, MinIO) refuses wrong content
// before storing anything; the fake does not check, hence the client's own
// check in Put.
func TestS3SignsTheContentHash(t *testing.T) {
	var sent atomic.Value
	s := newS3(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if isUpload(r) {
				sent.Store(r.Header.Get("X-Amz-Content-Sha256"))
			}
			next.ServeHTTP(w, r)
		})
	}, "recordings")
	key := put(t, s, content(100<<10, 4))
	if got, _ := sent.Load().(string); got != key {
		t.Errorf("X-Amz-Content-Sha256 of the upload = %q; want the key %s", got, key)
	}
}

// An upload cut short by a crash leaves a temporary object: no one sees
// it, and RemoveTemp takes it away once it is old enough.
func TestS3LeftoverTemporaryObjects(t *testing.T) {
	s := newS3(t, nil, "recordings")
	b := content(1000, 5)
	key := keyOf(b)
	stray := "recordings/tmp/" + key + ".crashed"
	if _, err := s.Client().PutObject(t.Context(), testBucket, stray, bytes.NewReader(b[:10]), 10, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	wantMissing(t, s, key)
	if err := s.List(t.Context(), func(key string, _ time.Time) error {
		t.Errorf("List reported %s", key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.RemoveTemp(t.Context(), time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("RemoveTemp of objects older than an hour = %d, %v; want 0", n, err)
	}
	if n, err := s.RemoveTemp(t.Context(), time.Now().Add(time.Minute)); err != nil || n != 1 {
		t.Fatalf("RemoveTemp = %d, %v; want 1", n, err)
	}
	if got := bucketObjects(t, s); len(got) != 0 {
		t.Errorf("left in the bucket: %v", got)
	}
	put(t, s, b)
	wantStored(t, s, b)
}

func TestS3EnsureBucket(t *testing.T) {
	endpoint := newFakeS3(t, nil)
	cfg := s3Config(endpoint, "")
	cfg.CreateBucket = false
	s, err := audiostore.NewS3(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.EnsureBucket(t.Context()); err == nil {
		t.Fatal("EnsureBucket of a missing bucket without CreateBucket succeeded")
	}
	if err := s.Check(t.Context()); err == nil {
		t.Fatal("Check of a missing bucket succeeded")
	}
	cfg.CreateBucket = true
	if s, err = audiostore.NewS3(cfg); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := s.EnsureBucket(t.Context()); err != nil {
			t.Fatalf("EnsureBucket: %v", err)
		}
	}
	if err := s.Check(t.Context()); err != nil {
		t.Fatalf("Check: %v", err)
	}
}

func TestNewS3RefusesHalfAConfig(t *testing.T) {
	for _, cfg := range []audiostore.S3Config{
		{Endpoint: "s3.example.com"},
		{Bucket: "b"},
		{Endpoint: "https://s3.example.com", Bucket: "b"},
	} {
		if _, err := audiostore.NewS3(cfg); err == nil {
			t.Errorf("NewS3(%+v) succeeded", cfg)
		}
	}
}

// Spool files a process that died left in the spool directory are swept
// with the temporary objects, once old enough; nothing else there is.
func TestS3RemoveTempSweepsLeftoverSpools(t *testing.T) {
	dir := t.TempDir()
	cfg := s3Config(newFakeS3(t, nil), "recordings")
	cfg.SpoolDir = dir
	s, err := audiostore.NewS3(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.EnsureBucket(t.Context()); err != nil {
		t.Fatal(err)
	}
	// A spool in progress keeps its file in the spool directory.
	sp, err := s.Spool(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	if _, err := sp.Write(content(100, 1)); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * time.Hour)
	for _, name := range []string{".spool.tmp-crashed", "notes.txt"} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("left"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.RemoveTemp(t.Context(), time.Now().Add(-time.Hour)); err != nil || n != 1 {
		t.Fatalf("RemoveTemp = %d, %v; want 1", n, err)
	}
	var left []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		left = append(left, e.Name())
	}
	if len(left) != 2 || !slices.Contains(left, "notes.txt") || slices.Contains(left, ".spool.tmp-crashed") {
		t.Fatalf("left in the spool directory: %v; want notes.txt and the spool in progress", left)
	}
	if _, _, err := sp.Store(t.Context(), "audio/mpeg"); err != nil {
		t.Fatalf("the spool in progress: %v", err)
	}
}

// Without a spool directory, spools go to a directory of their own in the
// system's temporary directory.
func TestS3DefaultSpoolDir(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	s, err := audiostore.NewS3(s3Config(newFakeS3(t, nil), ""))
	if err != nil {
		t.Fatal(err)
	}
	sp, err := s.Spool(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	entries, err := os.ReadDir(filepath.Join(tmp, "callconnect-spool"))
	if err != nil || len(entries) != 1 || !strings.HasPrefix(entries[0].Name(), ".spool.tmp-") {
		t.Fatalf("spool directory %v (%v), want one spool file", entries, err)
	}
}
