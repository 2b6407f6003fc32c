package audiostore_test

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/minio/minio-go/v7"

	"callconnect/adapters/audiostore"
	"callconnect/ports/portstest"
)

// BenchmarkPut20MiB stores a 20 MiB recording through each adapter, next to
// a baseline that writes the same bytes to the same place directly: a file
// written and fsynced (and, for scale, one that is not fsynced); one plain
// minio-go PutObject to the same S3 fake (multipart, as minio-go does it
// past 16 MiB; and one single PUT). The project's goal (the goals table of
// bench/REPORT.md) is Put ≤ 2× the direct write. Each reports MB/s and
// heap-MiB, the heap's peak growth during one operation, measured apart
// from the timed loop (portstest.PeakHeapGrowth);
// the S3 fake runs in this process, so its share counts too.
func BenchmarkPut20MiB(b *testing.B) {
	const size = 20 << 20
	data := content(size, 7)
	key := keyOf(data)

	b.Run("fs/store", func(b *testing.B) {
		s, err := audiostore.NewFS(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		benchPut(b, size, func() error {
			return s.Put(b.Context(), key, "audio/wav", bytes.NewReader(data), size)
		})
	})
	b.Run("fs/baseline-fsync", func(b *testing.B) {
		name := filepath.Join(b.TempDir(), key)
		benchPut(b, size, func() error {
			f, err := os.Create(name)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, bytes.NewReader(data))
			if err == nil {
				err = f.Sync()
			}
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			return err
		})
	})
	b.Run("fs/baseline-nofsync", func(b *testing.B) {
		name := filepath.Join(b.TempDir(), key)
		benchPut(b, size, func() error { return os.WriteFile(name, data, 0o600) })
	})

	b.Run("s3/store", func(b *testing.B) {
		s := newS3(b, nil, "recordings")
		benchPut(b, size, func() error {
			return s.Put(b.Context(), key, "audio/wav", bytes.NewReader(data), size)
		})
	})
	for _, baseline := range []struct {
		name string
		opts minio.PutObjectOptions
	}{
		{"s3/baseline-putobject", minio.PutObjectOptions{ContentType: "audio/wav"}},
		{"s3/baseline-single-put", minio.PutObjectOptions{ContentType: "audio/wav", DisableMultipart: true}},
	} {
		b.Run(baseline.name, func(b *testing.B) {
			client := newS3(b, nil, "").Client()
			benchPut(b, size, func() error {
				_, err := client.PutObject(b.Context(), testBucket, "recordings/"+key, bytes.NewReader(data), size, baseline.opts)
				return err
			})
		})
	}
}

func benchPut(b *testing.B, size int64, put func() error) {
	var err error
	growth := portstest.PeakHeapGrowth(func() { err = put() })
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(size)
	for b.Loop() {
		if err := put(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(growth)/(1<<20), "heap-MiB")
}
