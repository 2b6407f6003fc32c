package cvio_test

import (
	"bytes"
	"encoding/base64"
	"io"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"callconnect/adapters/cvio"
	"callconnect/domain"
)

// junkJSON is a body of n bytes, made as it is read: one object whose
// only key is n-7 bytes of 'a'. It is what a broken or hostile partner
// sends to make the service hold a large body.
type junkJSON struct{ n, at int64 }

func (j *junkJSON) Read(p []byte) (int, error) {
	if j.at >= j.n {
		return 0, io.EOF
	}
	const head, tail = `{"`, `": 1}`
	k := 0
	for k < len(p) && j.at < j.n {
		switch {
		case j.at < int64(len(head)):
			p[k] = head[j.at]
		case j.at >= j.n-int64(len(tail)):
			p[k] = tail[j.at-(j.n-int64(len(tail)))]
		default:
			p[k] = 'a'
		}
		k++
		j.at++
	}
	return k, nil
}

// wantJSONTooLarge checks ReadCallbackBodyWithin's refusal of a body over
// its JSON limit.
func wantJSONTooLarge(t *testing.T, err error, limit string) {
	t.Helper()
	de, ok := domain.AsError(err)
	if !ok || de.Kind != domain.KindTooLarge || de.Code != cvio.CodeBodyTooLarge || de.Field != "body" ||
		!strings.Contains(de.Message, limit) || !strings.Contains(de.Message, "outside its recordings") {
		t.Fatalf("error %v, want body_too_large naming the body, the limit %s and that recordings are not counted", err, limit)
	}
}

// 70 MiB of JSON around no recording (ReadCallbackBody's default limit) is
// refused once the JSON passes its limit, as it is read: little of the body
// is read, less is held.
func TestReadCallbackBodyCapsTheJSON(t *testing.T) {
	src := &junkJSON{n: 70 << 20}
	var err error
	var kept int
	alloc := allocated(func() {
		var b *cvio.CallbackBody
		b, err = cvio.ReadCallbackBody(src, 1<<20, func(int) (io.Writer, error) { return io.Discard, nil })
		kept = len(b.JSON())
	})
	wantJSONTooLarge(t, err, "1048576")
	if kept > int(cvio.DefaultMaxCallbackJSON) {
		t.Fatalf("%d bytes of JSON kept, over the limit", kept)
	}
	if alloc > 8<<20 {
		t.Fatalf("reading it allocated %d MiB", alloc>>20)
	}
	if src.at > 2<<20 {
		t.Fatalf("read %d MiB of a body refused at its first MiB", src.at>>20)
	}
}

// The limit counts the JSON a body keeps, byte for byte, and a recording
// as its reference only.
func TestReadCallbackBodyWithinLimits(t *testing.T) {
	small := `{"status": "realizada", "descricao": "ok"}`
	audio := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x55}, 64<<10))
	withAudio := `{"status": "realizada", "audio_base64": "` + audio + `"}`
	keptWithAudio := len(`{"status": "realizada", "audio_base64": "0"}`)
	for _, tc := range []struct {
		name, body string
		limit      int64
		refused    bool
	}{
		{"exactly at the limit", small, int64(len(small)), false},
		{"one byte over", small, int64(len(small)) - 1, true},
		{"a recording far larger than the limit", withAudio, int64(keptWithAudio), false},
		{"no room for the reference", withAudio, int64(len(`{"status": "realizada", "audio_base64": "`)), true},
		{"no room for the quote after it", withAudio, int64(keptWithAudio) - 2, true},
		{"no limit given: the default", small, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, n := range []int{1, 7, 1 << 20} {
				b, err := cvio.ReadCallbackBodyWithin(&chunked{b: []byte(tc.body), n: n}, 1<<20, tc.limit,
					func(int) (io.Writer, error) { return io.Discard, nil })
				if tc.refused {
					wantJSONTooLarge(t, err, "")
					if int64(len(b.JSON())) > tc.limit {
						t.Fatalf("kept %d bytes over a limit of %d", len(b.JSON()), tc.limit)
					}
					continue
				}
				if err != nil {
					t.Fatalf("chunks of %d: %v", n, err)
				}
				if _, err := b.ParseResult(); err != nil {
					t.Fatalf("chunks of %d: parsing: %v", n, err)
				}
			}
		})
	}
}

// Whatever the body and the limit: a body whose JSON fits reads as with no
// limit at all; one whose JSON does not is refused, holding no more than
// the limit.
func TestReadCallbackBodyWithinProperty(t *testing.T) {
	bodies := streamedBodies()
	rapid.Check(t, func(t *rapid.T) {
		body := []byte(rapid.SampledFrom(bodies).Draw(t, "body"))
		n := rapid.IntRange(1, 1<<12).Draw(t, "chunk")
		read := func(limit int64) (*cvio.CallbackBody, error) {
			return cvio.ReadCallbackBodyWithin(&chunked{b: body, n: n}, 1<<20, limit,
				func(int) (io.Writer, error) { return io.Discard, nil })
		}
		whole, wholeErr := read(1 << 40)
		limit := rapid.Int64Range(1, int64(len(whole.JSON()))+8).Draw(t, "limit")
		got, err := read(limit)
		if int64(len(whole.JSON())) <= limit {
			if (err == nil) != (wholeErr == nil) || !bytes.Equal(got.JSON(), whole.JSON()) {
				t.Fatalf("JSON of %d bytes within a limit of %d: %v %q, want %v %q", len(whole.JSON()), limit, err, got.JSON(), wholeErr, whole.JSON())
			}
			return
		}
		if de, ok := domain.AsError(err); !ok || de.Code != cvio.CodeBodyTooLarge {
			// A body may also stop earlier, for what it is (too many
			// recordings); never read whole past its limit.
			if wholeErr == nil || err == nil {
				t.Fatalf("JSON of %d bytes over a limit of %d: %v", len(whole.JSON()), limit, err)
			}
		}
		if int64(len(got.JSON())) > limit {
			t.Fatalf("kept %d bytes over a limit of %d", len(got.JSON()), limit)
		}
	})
}
