package audiostore_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3afero"
	"github.com/minio/minio-go/v7"

	"callconnect/adapters/audiostore"
	"callconnect/ports"
)

const testBucket = "callconnect-test"

// newFakeS3 starts an S3 fake on loopback and returns its host:port. Its
// objects are files in a temporary directory, as a real object store's are
// elsewhere: in memory (s3mem) they would count in this process's heap,
// which the contract suite measures. wrap, if not nil, stands in front of
// the fake, to make it fail.
func newFakeS3(t testing.TB, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	fs, err := s3afero.FsPath(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	backend, err := s3afero.MultiBucket(fs)
	if err != nil {
		t.Fatal(err)
	}
	var h http.Handler = gofakes3.New(backend).Server()
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewUnstartedServer(h)
	// The fake complains of uploads that clients give up on, which tests do.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Start()
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func s3Config(endpoint, prefix string) audiostore.S3Config {
	return audiostore.S3Config{
		Endpoint:     endpoint,
		Bucket:       testBucket,
		AccessKey:    "test-access-key",
		SecretKey:    "test-secret-key",
		Region:       "us-east-1",
		Prefix:       prefix,
		CreateBucket: true,
		MaxRetries:   1,
	}
}

// newS3 returns a store on a fresh fake, its bucket created.
func newS3(t testing.TB, wrap func(http.Handler) http.Handler, prefix string) *audiostore.S3 {
	t.Helper()
	s, err := audiostore.NewS3(s3Config(newFakeS3(t, wrap), prefix))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.EnsureBucket(t.Context()); err != nil {
		t.Fatal(err)
	}
	return s
}

// bucketObjects lists every object of the bucket, temporary ones included.
func bucketObjects(t *testing.T, s *audiostore.S3) []string {
	t.Helper()
	var names []string
	for obj := range s.Client().ListObjectsIter(t.Context(), testBucket, minio.ListObjectsOptions{Recursive: true}) {
		if obj.Err != nil {
			t.Fatalf("listing the bucket: %v", obj.Err)
		}
		names = append(names, obj.Key)
	}
	return names
}

func content(n int, seed uint64) []byte {
	var s [32]byte
	s[0] = byte(seed)
	b := make([]byte, n)
	rand.NewChaCha8(s).Read(b)
	return b
}

func keyOf(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func put(t testing.TB, s ports.AudioStore, b []byte) string {
	t.Helper()
	key := keyOf(b)
	if err := s.Put(t.Context(), key, "audio/mpeg", bytes.NewReader(b), int64(len(b))); err != nil {
		t.Fatalf("Put: %v", err)
	}
	return key
}

func wantStored(t *testing.T, s ports.AudioStore, b []byte) {
	t.Helper()
	obj, err := s.Open(t.Context(), keyOf(b))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer obj.Close()
	got, err := io.ReadAll(obj)
	if err != nil || !bytes.Equal(got, b) {
		t.Fatalf("read back %d bytes (%v); want the %d stored", len(got), err, len(b))
	}
}

func wantMissing(t *testing.T, s ports.AudioStore, key string) {
	t.Helper()
	obj, err := s.Open(t.Context(), key)
	if err == nil {
		obj.Close()
		t.Fatalf("Open found %d bytes; want nothing", obj.Size)
	}
	if !errors.Is(err, ports.ErrNotFound) {
		t.Fatalf("Open = %v; want ports.ErrNotFound", err)
	}
}
