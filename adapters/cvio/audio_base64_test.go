package cvio_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"runtime"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"callconnect/adapters/cvio"
	"callconnect/domain"
)

// The start of the contract's example recording: an MP3 with an ID3 tag.
// contractAudio is the start of the article's recording (an MP3 with an ID3 tag).
const contractAudio = "SUQzAwAAAAAAOVRQRTEAAAALAAAAU291bmRIZWxpeFREUkMAAAAFAAAAMjAwOVRDT04AAAALAAAARWxlY3Ryb25pY"

func TestDecodeAudioBase64Variants(t *testing.T) {
	raw := []byte("ID3\x03\x00\x00\x00\x00\x00\x39 \xfb\xff\xfe?>~ end")
	std := base64.StdEncoding.EncodeToString(raw)
	url := base64.URLEncoding.EncodeToString(raw)
	if !strings.ContainsAny(std, "+/") || !strings.ContainsAny(url, "-_") {
		t.Fatalf("the sample must exercise both alphabets: %s %s", std, url)
	}
	variants := map[string]string{
		"standard":               std,
		"standard unpadded":      strings.TrimRight(std, "="),
		"url-safe":               url,
		"url-safe unpadded":      strings.TrimRight(url, "="),
		"line breaks":            wrap(std, 4, "\r\n"),
		"spaces anywhere":        " " + strings.Join(strings.Split(std, ""), " ") + " \n",
		"data URI":               "data:audio/mpeg;base64," + std,
		"data URI, other audio":  "data:audio/ogg; codecs=opus;base64," + url,
		"data URI, octet-stream": "DATA:Application/Octet-Stream;BASE64," + wrap(std, 8, "\n"),
		"data URI after spaces":  "\n data:audio/x-wav;base64," + std,
		"mixed alphabets":        mixAlphabets(std, url),
	}
	for name, s := range variants {
		got, err := cvio.DecodeAudioBase64(s, 1<<20)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !bytes.Equal(got, raw) {
			t.Errorf("%s: decoded %q, want %q", name, got, raw)
		}
	}

	// The article cuts its example short of a whole base64 group.
	got, err := cvio.DecodeAudioBase64(contractAudio[:len(contractAudio)/4*4], 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if ct, ok := domain.SniffAudio(got); !ok || ct != domain.AudioMPEG {
		t.Errorf("the contract's example sniffs as %q, %v", ct, ok)
	}
}

// mixAlphabets takes each character from std or url in turn.
func mixAlphabets(std, url string) string {
	b := []byte(std)
	for i := 0; i < len(b); i += 2 {
		b[i] = url[i]
	}
	return string(b)
}

func wrap(s string, every int, nl string) string {
	var b strings.Builder
	for i := 0; i < len(s); i += every {
		b.WriteString(s[i:min(i+every, len(s))])
		b.WriteString(nl)
	}
	return b.String()
}

func TestDecodeAudioBase64Refusals(t *testing.T) {
	tests := []struct{ name, in, code string }{
		{"empty", "", domain.CodeInvalidField},
		{"only whitespace", " \n\t ", domain.CodeInvalidField},
		{"only padding", "====", domain.CodeInvalidField},
		{"a data URI without data", "data:audio/mpeg;base64,", domain.CodeInvalidField},
		{"a character outside the alphabets", "SUQz*AAA", domain.CodeInvalidField},
		{"a non-ASCII character", "SUQzé", domain.CodeInvalidField},
		{"a JSON escape left in", `SUQz\/AAA`, domain.CodeInvalidField},
		{"padding in the middle", "SQ==SUQz", domain.CodeInvalidField},
		{"too much padding", "SUQ===", domain.CodeInvalidField},
		{"padding on a full group", "SUQz=", domain.CodeInvalidField},
		{"one padding where two are due", "SQ=", domain.CodeInvalidField},
		{"an impossible length", "SUQzA", domain.CodeInvalidField},
		{"stray bits in the last character", "SR==", domain.CodeInvalidField},
		{"stray bits, two bytes", "SUR=", domain.CodeInvalidField},
		{"text data URI", "data:text/plain;base64,SUQz", domain.CodeInvalidField},
		{"image data URI", "data:image/png;base64,SUQz", domain.CodeInvalidField},
		{"data URI without a type", "data:;base64,SUQz", domain.CodeInvalidField},
		{"data URI audio without a subtype", "data:audio/;base64,SUQz", domain.CodeInvalidField},
		{"data URI not base64", "data:audio/mpeg,ID3", domain.CodeInvalidField},
		{"data URI without a comma", "data:audio/mpeg;base64", domain.CodeInvalidField},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := cvio.DecodeAudioBase64(tt.in, 1<<20)
			if b != nil {
				t.Errorf("returned %d bytes with the error", len(b))
			}
			wantErr(t, err, domain.KindInvalid, tt.code, "audio_base64")
		})
	}
}

func TestDecodeAudioBase64Limit(t *testing.T) {
	raw := bytes.Repeat([]byte{0xAB}, 3000)
	enc := base64.StdEncoding.EncodeToString(raw)
	if b, err := cvio.DecodeAudioBase64(enc, 3000); err != nil || len(b) != 3000 {
		t.Fatalf("at the limit: %d bytes, %v", len(b), err)
	}
	for _, max := range []int64{2999, 1, 0, -1} {
		_, err := cvio.DecodeAudioBase64(enc, max)
		wantErr(t, err, domain.KindTooLarge, domain.CodeAudioTooLarge, "audio_base64")
	}
	// Sizes that are not multiples of 3, padded or not.
	for n := 1; n <= 7; n++ {
		enc := base64.RawStdEncoding.EncodeToString(raw[:n])
		if _, err := cvio.DecodeAudioBase64(enc, int64(n)); err != nil {
			t.Errorf("%d bytes at a limit of %d: %v", n, n, err)
		}
		_, err := cvio.DecodeAudioBase64(enc, int64(n-1))
		wantErr(t, err, domain.KindTooLarge, domain.CodeAudioTooLarge, "audio_base64")
	}
	// No overflow with the largest limit.
	if _, err := cvio.DecodeAudioBase64(enc, 1<<63-1); err != nil {
		t.Errorf("limit MaxInt64: %v", err)
	}
}

// allocated returns the bytes fn allocates.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// An oversize recording is refused before anything of its size is
// allocated, and an accepted one costs one allocation of its decoded size.
func TestDecodeAudioBase64Allocations(t *testing.T) {
	enc := wrap(strings.Repeat("QUJD", 1<<20), 76, "\n") // 4 MiB of base64, 3 MiB decoded
	if n := allocated(func() {
		if _, err := cvio.DecodeAudioBase64(enc, 1<<20); err == nil {
			t.Fatal("accepted")
		}
	}); n > 64<<10 {
		t.Errorf("refusing an oversize recording allocated %d bytes", n)
	}
	if n := allocated(func() {
		if b, err := cvio.DecodeAudioBase64(enc, 3<<20); err != nil || len(b) != 3<<20 {
			t.Fatal(len(b), err)
		}
	}); n > 3<<20+64<<10 {
		t.Errorf("decoding 3 MiB allocated %d bytes", n)
	}
}

// Property: for any bytes, every encoding a partner may send decodes to them.
func TestDecodeAudioBase64AcceptsEveryVariant(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		raw := rapid.SliceOfN(rapid.Byte(), 1, 600).Draw(t, "audio")
		enc := rapid.SampledFrom([]*base64.Encoding{base64.StdEncoding, base64.URLEncoding,
			base64.RawStdEncoding, base64.RawURLEncoding}).Draw(t, "alphabet").EncodeToString(raw)
		if rapid.Bool().Draw(t, "line breaks") {
			enc = wrap(enc, 76, rapid.SampledFrom([]string{"\n", "\r\n"}).Draw(t, "newline"))
		}
		if rapid.Bool().Draw(t, "data URI") {
			enc = rapid.SampledFrom([]string{"data:audio/mpeg;base64,", "data:audio/wav;base64,",
				"data:application/octet-stream;base64,"}).Draw(t, "prefix") + enc
		}
		got, err := cvio.DecodeAudioBase64(enc, int64(len(raw)))
		if err != nil {
			t.Fatalf("%q: %v", enc, err)
		}
		if !bytes.Equal(got, raw) {
			t.Fatalf("%q decoded to %x, want %x", enc, got, raw)
		}
		if _, err := cvio.DecodeAudioBase64(enc, int64(len(raw)-1)); err == nil {
			t.Fatal("accepted one byte over the limit")
		}
	})
}

func FuzzDecodeAudioBase64(f *testing.F) {
	for _, s := range []string{contractAudio, "data:audio/mpeg;base64,SUQz\nAwAA", "SUQ=", "SQ", "-_-_", "+/+/",
		"SUQzA", "SR==", "data:text/plain;base64,SUQz", "", "  ", "QUJD\r\nQUJD\r\n"} {
		f.Add(s, int64(64))
	}
	f.Fuzz(func(t *testing.T, s string, max int64) {
		got, err := cvio.DecodeAudioBase64(s, max)
		if err != nil {
			de, ok := domain.AsError(err)
			if !ok || de.Field != "audio_base64" ||
				!(de.Kind == domain.KindInvalid && de.Code == domain.CodeInvalidField ||
					de.Kind == domain.KindTooLarge && de.Code == domain.CodeAudioTooLarge) {
				t.Fatalf("error %v", err)
			}
			if got != nil {
				t.Fatal("bytes returned with an error")
			}
			return
		}
		if len(got) == 0 || int64(len(got)) > max {
			t.Fatalf("decoded %d bytes with a limit of %d", len(got), max)
		}
		// Re-encoding gives the input back, up to the tolerated differences:
		// alphabet, padding, whitespace and the data URI.
		canonical := s
		if i := strings.Index(s, ","); strings.HasPrefix(strings.ToLower(strings.TrimSpace(s)), "data:") && i >= 0 {
			canonical = s[i+1:]
		}
		canonical = strings.Map(func(r rune) rune {
			switch r {
			case ' ', '\t', '\r', '\n', '\f', '\v', '=':
				return -1
			case '-':
				return '+'
			case '_':
				return '/'
			}
			return r
		}, canonical)
		if again := base64.RawStdEncoding.EncodeToString(got); again != canonical {
			t.Fatalf("%q decoded to %x, which encodes as %q", s, got, again)
		}
	})
}

// leadCallbackWithRecording is a 20 MiB recording as a partner posts it:
// the lead callback's JSON with the base64 wrapped at 76 columns
// (JSON-escaped line breaks).
func leadCallbackWithRecording() (body, raw []byte) {
	raw = bytes.Repeat([]byte("ID3\x03\x00\x00\x00\x00\x00\x39 some mp3 bytes \xff\xfb"), 20<<20/32)
	enc := strings.ReplaceAll(wrap(base64.StdEncoding.EncodeToString(raw), 76, "\n"), "\n", `\n`)
	body = []byte(`{"permitir_alteracao": true, "email": "a@example.com", "interacoes": [{"tipo": "L", "descricao": "x", "audio_base64": "` + enc + `"}]}`)
	return body, raw
}

// BenchmarkLeadCallbackWithRecording parses the callback and decodes its
// recording, as the service does; BenchmarkLeadCallbackBaseline does the
// same with encoding/json and encoding/base64 alone, without the checks.
// BenchmarkLeadCallbackWithRecording times what the service does with a
// lead callback: the body streamed through ReadCallbackBody, the recording
// decoded into a writer as it arrives (here one that only counts), then
// the lead callback parsed.
func BenchmarkLeadCallbackWithRecording(b *testing.B) {
	body, raw := leadCallbackWithRecording()
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	b.ReportAllocs()
	for range b.N {
		var written countingWriter
		cb, err := cvio.ReadCallbackBody(bytes.NewReader(body), 50<<20, func(int) (io.Writer, error) { return &written, nil })
		if err != nil {
			b.Fatal(err)
		}
		c, err := cb.ParseLead()
		if err != nil || c.Interactions[0].Audio == nil || c.Interactions[0].Audio.Size != int64(len(raw)) || int(written) != len(raw) {
			b.Fatal(written, err)
		}
	}
}

type countingWriter int

func (w *countingWriter) Write(p []byte) (int, error) {
	*w += countingWriter(len(p))
	return len(p), nil
}

func BenchmarkLeadCallbackBaseline(b *testing.B) {
	body, raw := leadCallbackWithRecording()
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	b.ReportAllocs()
	for range b.N {
		var c struct {
			Interacoes []struct {
				AudioBase64 string `json:"audio_base64"`
			} `json:"interacoes"`
		}
		if err := json.Unmarshal(body, &c); err != nil {
			b.Fatal(err)
		}
		// encoding/base64 skips the line breaks itself.
		audio, err := base64.StdEncoding.DecodeString(c.Interacoes[0].AudioBase64)
		if err != nil || len(audio) != len(raw) {
			b.Fatal(len(audio), err)
		}
	}
}
