package audiostore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"callconnect/ports"
)

// S3Config says where S3 keeps recordings.
type S3Config struct {
	Endpoint  string // host[:port], no scheme (CALLCONNECT_S3_ENDPOINT)
	Bucket    string // CALLCONNECT_S3_BUCKET
	AccessKey string // CALLCONNECT_S3_ACCESS_KEY
	SecretKey string // CALLCONNECT_S3_SECRET_KEY
	// Region of the bucket (CALLCONNECT_S3_REGION); empty: the client asks
	// the server once.
	Region string
	UseSSL bool // https (CALLCONNECT_S3_USE_SSL)
	// Prefix is prepended to every object name (CALLCONNECT_S3_PREFIX); a
	// slash is added when it lacks one: "recordings" keeps objects under
	// "recordings/".
	Prefix string
	// CreateBucket lets EnsureBucket create a missing bucket; without it a
	// missing bucket is an error.
	CreateBucket bool
	// MaxRetries is how many times a request without a body (stat, copy,
	// delete, list) is tried on a transient failure; 0 means 3. Uploads are
	// tried once: the audio reader cannot be rewound.
	MaxRetries int
	// Transport carries the requests; nil: minio-go's default.
	Transport http.RoundTripper
	// Logger hears of temporary objects that could not be removed; nil: silence.
	Logger *slog.Logger
	// SpoolDir is where Spool keeps a recording while it arrives, before
	// it is uploaded (CALLCONNECT_S3_SPOOL_DIR); empty: DefaultS3SpoolDir.
	// NewS3 creates it (mode 0700). RemoveTemp sweeps the spool files a
	// process that died left there, so it should be the service's alone.
	SpoolDir string
}

// DefaultS3SpoolDir is the spool directory of S3 when none is configured:
// a directory of its own in the system's temporary directory ($TMPDIR, else
// /tmp), local scratch space even on a replica without a data volume, where
// the sweep touches nothing but the service's files.
func DefaultS3SpoolDir() string { return filepath.Join(os.TempDir(), "callconnect-spool") }

// maxPut is the most one S3 PUT takes (Amazon's limit). Recordings are far
// smaller; see S3.Put for why there is no multipart upload.
const maxPut = 5 << 30

// S3 keeps recordings in an S3-compatible bucket, as <prefix><key>, with
// their content type as the object's Content-Type.
//
// Put streams the content in one PUT of known length to a temporary object,
// <prefix>tmp/<key>.<random>, hashing it on the way (nothing of it is held
// in memory); the request also carries the SHA-256 as its signed payload
// hash (x-amz-content-sha256), so a server that checks it (Amazon S3,
// MinIO) refuses wrong content itself. Only when the content is verified is
// the temporary object copied, on the server, to <prefix><key>, and then
// removed. A copy is atomic: the object under a key is always complete and
// right, including while a refused Put of the same key is in progress.
//
// Failure windows, none of which touches <prefix><key>:
//   - an upload that fails, or that the server accepts but the hash does not
//     match, is followed by a removal of the temporary object;
//   - the process dying, or the store being unreachable, between the upload
//     and that removal leaves the temporary object behind; so does an upload
//     the server completes after the client gave up on it. List never
//     reports those; RemoveTemp sweeps them, or a lifecycle rule expiring
//     <prefix>tmp/ after a day does;
//   - a copy that fails fails the Put (the temporary object is removed).
//
// A Put of content already stored goes through all of this again: that is
// what moves the object's Last-Modified, which List reports (a copy onto
// itself would do it without the upload, but gofakes3 truncates an object
// copied onto itself, so it could not be tested). Repeats should be rare:
// a partner sending the same recording again.
//
// A multipart upload would buffer each part in memory (minio-go keeps
// PartSize bytes per part) and could not be verified by the server against
// one SHA-256, so Put refuses objects over 5 GiB instead; recordings are
// limited to tens of MiB.
type S3 struct {
	client       *minio.Client
	bucket       string
	prefix       string
	region       string
	createBucket bool
	log          *slog.Logger
	spoolDir     string
}

// NewS3 returns the store; it makes no request (see EnsureBucket).
func NewS3(cfg S3Config) (*S3, error) {
	if cfg.Endpoint == "" || cfg.Bucket == "" {
		return nil, errors.New("audio store: S3 needs both an endpoint and a bucket")
	}
	if strings.Contains(cfg.Endpoint, "://") {
		return nil, fmt.Errorf("audio store: S3 endpoint %q: give host[:port], and UseSSL for https", cfg.Endpoint)
	}
	retries := cfg.MaxRetries
	if retries <= 0 {
		retries = 3
	}
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:      credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:     cfg.UseSSL,
		Region:     cfg.Region,
		Transport:  cfg.Transport,
		MaxRetries: retries,
	})
	if err != nil {
		return nil, fmt.Errorf("audio store: S3: %w", err)
	}
	prefix := strings.TrimLeft(cfg.Prefix, "/")
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	spoolDir := cfg.SpoolDir
	if spoolDir == "" {
		spoolDir = DefaultS3SpoolDir()
	}
	if err := os.MkdirAll(spoolDir, dirMode); err != nil {
		return nil, fmt.Errorf("audio store: S3 spool directory: %w", err)
	}
	return &S3{client: client, bucket: cfg.Bucket, prefix: prefix, region: cfg.Region, createBucket: cfg.CreateBucket, log: logger,
		spoolDir: spoolDir}, nil
}

// Client is the minio-go client, for what the port does not cover.
func (s *S3) Client() *minio.Client { return s.client }

func (s *S3) name(key string) string { return s.prefix + key }
func (s *S3) tempPrefix() string     { return s.prefix + "tmp/" }

// EnsureBucket checks that the bucket exists, and creates it when it does
// not and the configuration allows it.
func (s *S3) EnsureBucket(ctx context.Context) error {
	exists, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("audio store: bucket %s: %w", s.bucket, err)
	}
	if exists {
		return nil
	}
	if !s.createBucket {
		return fmt.Errorf("audio store: bucket %s does not exist", s.bucket)
	}
	err = s.client.MakeBucket(ctx, s.bucket, minio.MakeBucketOptions{Region: s.region})
	if code := minio.ToErrorResponse(err).Code; code == "BucketAlreadyOwnedByYou" || code == "BucketAlreadyExists" {
		err = nil // created meanwhile, by another replica
	}
	if err != nil {
		return fmt.Errorf("audio store: creating bucket %s: %w", s.bucket, err)
	}
	return nil
}

// Check tells whether the bucket can be reached, for a readiness probe.
func (s *S3) Check(ctx context.Context) error {
	exists, err := s.client.BucketExists(ctx, s.bucket)
	if err == nil && !exists {
		err = errors.New("no such bucket")
	}
	if err != nil {
		return fmt.Errorf("audio store: bucket %s: %w", s.bucket, err)
	}
	return nil
}

// Put implements ports.AudioStore.
func (s *S3) Put(ctx context.Context, key, contentType string, r io.Reader, size int64) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := checkSize(size); err != nil {
		return err
	}
	if size > maxPut {
		return fmt.Errorf("audio store: put %s: %d bytes, over the %d of one S3 PUT", key, size, int64(maxPut))
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	tmp := s.tempPrefix() + key + "." + strings.ToLower(rand.Text())
	v := newVerifyingReader(ctx, r, size)
	gate := &gate{r: v}
	core := minio.Core{Client: s.client}
	_, err := core.PutObject(ctx, s.bucket, tmp, gate, size, "", key, minio.PutObjectOptions{
		ContentType: contentTypeOrDefault(contentType),
		// Sign the payload with its SHA-256 (the key) rather than chunk by
		// chunk (minio-go's way over http), so the server can check it.
		DisableContentSha256: true,
		DisableMultipart:     true,
	})
	gate.close()
	switch {
	case err == nil:
		err = v.check(key)
	case v.err != nil:
		err = v.err // the cause: the reader, the size or ctx
	case v.remaining == 0 && hex.EncodeToString(v.hash.Sum(nil)) != key:
		err = fmt.Errorf("%w (%w)", ErrHashMismatch, err)
	}
	if err != nil {
		s.removeTemp(ctx, tmp)
		return fmt.Errorf("audio store: put %s: %w", key, err)
	}
	_, err = s.client.CopyObject(ctx,
		minio.CopyDestOptions{Bucket: s.bucket, Object: s.name(key)},
		minio.CopySrcOptions{Bucket: s.bucket, Object: tmp})
	s.removeTemp(ctx, tmp)
	if err != nil {
		return fmt.Errorf("audio store: put %s: copying into place: %w", key, err)
	}
	return nil
}

// gate passes reads on until it is closed. net/http may go on reading a
// request's body after the answer came (a server that answers 500 before
// reading it all); closing the gate when PutObject returns waits for a read
// in progress and fails the later ones, so that Put never touches its
// reader after it returned, and the verifying reader's state can be read.
type gate struct {
	mu     sync.Mutex
	r      io.Reader
	closed bool
}

var errGateClosed = errors.New("audio store: the upload is over")

func (g *gate) Read(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return 0, errGateClosed
	}
	return g.r.Read(p)
}

func (g *gate) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}

// removeTemp removes a temporary object, even when ctx has ended: the
// caller's deadline is no reason to leave it behind.
func (s *S3) removeTemp(ctx context.Context, tmp string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := s.client.RemoveObject(ctx, s.bucket, tmp, minio.RemoveObjectOptions{}); err != nil {
		s.log.WarnContext(ctx, "audio store: a temporary object is left behind",
			slog.String("bucket", s.bucket), slog.String("object", tmp), slog.Any("error", err))
	}
}

// Open implements ports.AudioStore. The object is a *minio.Object: it reads
// on from one GET, and a Seek makes the next Read start a ranged GET. Those
// requests run under ctx, which must last as long as the reading does.
func (s *S3) Open(ctx context.Context, key string) (ports.AudioObject, error) {
	if err := checkKey(key); err != nil {
		return ports.AudioObject{}, err
	}
	obj, err := s.client.GetObject(ctx, s.bucket, s.name(key), minio.GetObjectOptions{})
	if err == nil {
		var info minio.ObjectInfo
		if info, err = obj.Stat(); err == nil {
			return ports.AudioObject{ReadSeekCloser: obj, Size: info.Size, ContentType: contentTypeOrDefault(info.ContentType)}, nil
		}
		obj.Close()
	}
	if minio.ToErrorResponse(err).Code == minio.NoSuchKey {
		return ports.AudioObject{}, fmt.Errorf("audio store: %s: %w", key, ports.ErrNotFound)
	}
	return ports.AudioObject{}, fmt.Errorf("audio store: open %s: %w", key, err)
}

// Delete implements ports.AudioStore.
func (s *S3) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	err := s.client.RemoveObject(ctx, s.bucket, s.name(key), minio.RemoveObjectOptions{})
	if err != nil && minio.ToErrorResponse(err).Code != minio.NoSuchKey {
		return fmt.Errorf("audio store: delete %s: %w", key, err)
	}
	return nil
}

// List implements ports.AudioStore: the time is the object's Last-Modified,
// which is when the copy of its latest Put landed.
func (s *S3) List(ctx context.Context, fn func(key string, written time.Time) error) error {
	// Recursive, so that a prefix is a prefix, not a folder that must exist
	// (gofakes3 wants it to); temporary objects come too, and are skipped.
	opts := minio.ListObjectsOptions{Prefix: s.prefix, Recursive: true}
	for obj := range s.client.ListObjectsIter(ctx, s.bucket, opts) {
		if obj.Err != nil {
			return fmt.Errorf("audio store: list: %w", obj.Err)
		}
		key := strings.TrimPrefix(obj.Key, s.prefix)
		if checkKey(key) != nil {
			continue // tmp/, or not ours
		}
		if err := fn(key, obj.LastModified); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// RemoveTemp removes the temporary objects that Puts cut short left behind,
// and the spool files in SpoolDir that a process that died left behind, if
// they were written before the given time (give one well in the past, an
// hour say, so that no Put or request in progress loses its object or
// file). It returns how many it removed.
func (s *S3) RemoveTemp(ctx context.Context, before time.Time) (int, error) {
	removed, err := removeSpoolFiles(s.spoolDir, before)
	if err != nil {
		return removed, err
	}
	opts := minio.ListObjectsOptions{Prefix: s.tempPrefix(), Recursive: true}
	for obj := range s.client.ListObjectsIter(ctx, s.bucket, opts) {
		if obj.Err != nil {
			return removed, fmt.Errorf("audio store: list: %w", obj.Err)
		}
		if !obj.LastModified.Before(before) {
			continue
		}
		if err := s.client.RemoveObject(ctx, s.bucket, obj.Key, minio.RemoveObjectOptions{}); err != nil {
			return removed, fmt.Errorf("audio store: remove %s: %w", obj.Key, err)
		}
		removed++
	}
	return removed, ctx.Err()
}
