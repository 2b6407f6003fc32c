package domain_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"runtime"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"callconnect/domain"
)

// The start of the contract's example recording: an MP3 with an ID3 tag.
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
		got, err := domain.DecodeAudioBase64(s, 1<<20)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !bytes.Equal(got, raw) {
			t.Errorf("%s: decoded %q, want %q", name, got, raw)
		}
	}

	// The article cuts its example short of a whole base64 group.
	got, err := domain.DecodeAudioBase64(contractAudio[:len(contractAudio)/4*4], 1<<20)
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
			b, err := domain.DecodeAudioBase64(tt.in, 1<<20)
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
	if b, err := domain.DecodeAudioBase64(enc, 3000); err != nil || len(b) != 3000 {
		t.Fatalf("at the limit: %d bytes, %v", len(b), err)
	}
	for _, max := range []int64{2999, 1, 0, -1} {
		_, err := domain.DecodeAudioBase64(enc, max)
		wantErr(t, err, domain.KindTooLarge, domain.CodeAudioTooLarge, "audio_base64")
	}
	// Sizes that are not multiples of 3, padded or not.
	for n := 1; n <= 7; n++ {
		enc := base64.RawStdEncoding.EncodeToString(raw[:n])
		if _, err := domain.DecodeAudioBase64(enc, int64(n)); err != nil {
			t.Errorf("%d bytes at a limit of %d: %v", n, n, err)
		}
		_, err := domain.DecodeAudioBase64(enc, int64(n-1))
		wantErr(t, err, domain.KindTooLarge, domain.CodeAudioTooLarge, "audio_base64")
	}
	// No overflow with the largest limit.
	if _, err := domain.DecodeAudioBase64(enc, 1<<63-1); err != nil {
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
		if _, err := domain.DecodeAudioBase64(enc, 1<<20); err == nil {
			t.Fatal("accepted")
		}
	}); n > 64<<10 {
		t.Errorf("refusing an oversize recording allocated %d bytes", n)
	}
	if n := allocated(func() {
		if b, err := domain.DecodeAudioBase64(enc, 3<<20); err != nil || len(b) != 3<<20 {
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
		got, err := domain.DecodeAudioBase64(enc, int64(len(raw)))
		if err != nil {
			t.Fatalf("%q: %v", enc, err)
		}
		if !bytes.Equal(got, raw) {
			t.Fatalf("%q decoded to %x, want %x", enc, got, raw)
		}
		if _, err := domain.DecodeAudioBase64(enc, int64(len(raw)-1)); err == nil {
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
		got, err := domain.DecodeAudioBase64(s, max)
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

func TestSniffAudio(t *testing.T) {
	id3 := []byte("ID3\x03\x00\x00\x00\x00\x00\x39TPE1")
	frame := []byte{0xFF, 0xFB, 0x90, 0x64, 0x00} // MPEG-1 layer III, 128 kbit/s, 44.1 kHz
	mpeg2 := []byte{0xFF, 0xF3, 0x48, 0xC4}       // MPEG-2 layer III
	wav := []byte("RIFF\x24\x08\x00\x00WAVEfmt ")
	rf64 := []byte("RF64\xff\xff\xff\xffWAVEds64")
	ogg := []byte("OggS\x00\x02\x00\x00")
	m4a := []byte("\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00M4A mp42isom\x00\x00\x00\x00")
	mp4Compat := []byte("\x00\x00\x00\x18ftypXXXX\x00\x00\x00\x00isom")
	gp := []byte("\x00\x00\x00\x14ftyp3gp4\x00\x00\x00\x00")
	webm := []byte{0x1A, 0x45, 0xDF, 0xA3, 0x9F, 0x42, 0x86}
	ok := []struct {
		name string
		b    []byte
		want string
	}{
		{"ID3 tag", id3, domain.AudioMPEG},
		{"MPEG frame", frame, domain.AudioMPEG},
		{"MPEG-2 frame", mpeg2, domain.AudioMPEG},
		{"WAV", wav, domain.AudioWAV},
		{"RF64 WAV", rf64, domain.AudioWAV},
		{"Ogg", ogg, domain.AudioOGG},
		{"M4A", m4a, domain.AudioMP4},
		{"MP4 by compatible brand", mp4Compat, domain.AudioMP4},
		{"3GP", gp, domain.AudioMP4},
		{"WebM", webm, domain.AudioWebM},
	}
	for _, tt := range ok {
		if ct, ok := domain.SniffAudio(tt.b); !ok || ct != tt.want {
			t.Errorf("%s: %q, %v; want %q", tt.name, ct, ok, tt.want)
		}
		if ct, err := domain.CheckAudio(tt.b); err != nil || ct != tt.want {
			t.Errorf("CheckAudio %s: %q, %v", tt.name, ct, err)
		}
	}
	bad := map[string][]byte{
		"nothing":                 nil,
		"text":                    []byte("Ligação realizada com sucesso para o lead"),
		"JSON":                    []byte(`{"audio": true}`),
		"HTML":                    []byte("<!DOCTYPE html><html>"),
		"PNG":                     []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"),
		"PDF":                     []byte("%PDF-1.7\n"),
		"ZIP":                     []byte("PK\x03\x04\x14\x00"),
		"RIFF but AVI":            []byte("RIFF\x24\x08\x00\x00AVI LIST"),
		"ID3 cut short":           []byte("ID3\x03\x00"),
		"ID3 bad size":            []byte("ID3\x03\x00\x00\x80\x00\x00\x00"),
		"ID3 bad version":         []byte("ID3\x09\x00\x00\x00\x00\x00\x00"),
		"frame, reserved layer":   {0xFF, 0xF9, 0x50, 0x80}, // AAC ADTS
		"frame, reserved ver":     {0xFF, 0xEB, 0x90, 0x64},
		"frame, bad bitrate":      {0xFF, 0xFB, 0xF0, 0x64},
		"frame, reserved rate":    {0xFF, 0xFB, 0x9C, 0x64},
		"frame cut short":         {0xFF, 0xFB},
		"ftyp of a QuickTime":     []byte("\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00"),
		"ftyp with a tiny box":    []byte("\x00\x00\x00\x08ftypM4A "),
		"ftyp, brand past box":    []byte("\x00\x00\x00\x10ftypXXXX\x00\x00\x00\x00isom"),
		"Ogg with a bad version":  []byte("OggS\x01"),
		"FLAC (not accepted yet)": []byte("fLaC\x00\x00\x00\x22"),
	}
	for name, b := range bad {
		if ct, ok := domain.SniffAudio(b); ok || ct != "" {
			t.Errorf("%s sniffed as %q", name, ct)
		}
		_, err := domain.CheckAudio(b)
		wantErr(t, err, domain.KindUnsupported, domain.CodeUnsupportedAudio, "audio_base64")
	}
}

func FuzzSniffAudio(f *testing.F) {
	for _, s := range []string{"ID3\x03\x00\x00\x00\x00\x00\x39", "\xff\xfb\x90\x64", "RIFF\x00\x00\x00\x00WAVE", "OggS\x00",
		"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00M4A mp42isom\x00\x00\x00\x00", "\x1a\x45\xdf\xa3", "hello", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ct, ok := domain.SniffAudio(b)
		if ok != contains(domain.AudioContentTypes, ct) {
			t.Fatalf("SniffAudio = %q, %v", ct, ok)
		}
		if ok && len(b) < 4 {
			t.Fatalf("%x (%d bytes) sniffed as %s", b, len(b), ct)
		}
	})
}

func TestAudioKey(t *testing.T) {
	// SHA-256 of "abc" (FIPS 180-2, appendix B.1).
	if got := domain.AudioKey([]byte("abc")); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Errorf("AudioKey(abc) = %s", got)
	}
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
func BenchmarkLeadCallbackWithRecording(b *testing.B) {
	body, raw := leadCallbackWithRecording()
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	b.ReportAllocs()
	for range b.N {
		c, err := domain.ParseLeadCallback(body)
		if err != nil {
			b.Fatal(err)
		}
		audio, err := domain.DecodeAudioBase64(c.Interactions[0].AudioBase64, 50<<20)
		if err != nil || len(audio) != len(raw) {
			b.Fatal(len(audio), err)
		}
	}
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
