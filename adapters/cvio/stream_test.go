package cvio_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"

	"callconnect/adapters/cvio"
	"callconnect/domain"
)

// ReadCallbackBody and the CallbackBody parsers must answer exactly what
// the whole-body parsers and DecodeAudioBase64 answer, for any body, cut
// into chunks of any size: these tests and FuzzReadCallbackBody compare the
// two.

// chunked reads b n bytes at a time.
type chunked struct {
	b []byte
	n int
}

func (c *chunked) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	k := copy(p[:min(len(p), c.n)], c.b)
	c.b = c.b[k:]
	return k, nil
}

// streamed reads body through ReadCallbackBody, n bytes at a time, the
// recordings into buffers.
func streamed(t *testing.T, body []byte, n int, max int64) (*cvio.CallbackBody, map[int]*bytes.Buffer) {
	t.Helper()
	bufs := map[int]*bytes.Buffer{}
	b, err := cvio.ReadCallbackBody(&chunked{b: body, n: max1(n)}, max, func(i int) (io.Writer, error) {
		if bufs[i] != nil {
			t.Fatalf("recording %d opened twice", i)
		}
		bufs[i] = &bytes.Buffer{}
		return bufs[i], nil
	})
	if de, ok := domain.AsError(err); ok && de.Field == "interacoes" && len(b.Audios()) == cvio.MaxCallbackRecordings {
		// More recordings than a callback may carry: refused as read,
		// before the parsers see the body.
		return nil, nil
	}
	if err != nil {
		t.Fatalf("ReadCallbackBody: %v", err)
	}
	return b, bufs
}

func max1(n int) int { return max(n, 1) }

// audioOutcome is what becomes of one recording: its bytes or its error.
type audioOutcome struct {
	present bool
	size    int64
	head    []byte
	err     string
}

// wholeAudio is what the whole-body parsers made of a recording: they
// decode the string with DecodeAudioBase64.
func wholeAudio(a *domain.ReceivedAudio) audioOutcome {
	if a == nil {
		return audioOutcome{}
	}
	if a.Err != nil {
		return audioOutcome{present: true, err: errString(a.Err)}
	}
	return audioOutcome{present: true, size: a.Size, head: a.Head}
}

func streamedAudio(t *testing.T, a *domain.ReceivedAudio, bufs map[int]*bytes.Buffer) audioOutcome {
	t.Helper()
	if a == nil {
		return audioOutcome{}
	}
	if a.Err != nil {
		return audioOutcome{present: true, err: errString(a.Err)}
	}
	var got []byte
	if buf := bufs[a.Index]; buf != nil {
		got = buf.Bytes()
	}
	if a.Size != int64(len(got)) {
		t.Fatalf("recording %d: Size %d, %d bytes written", a.Index, a.Size, len(got))
	}
	if !bytes.Equal(a.Head, got[:min(len(got), domain.AudioSniffLen)]) {
		t.Fatalf("recording %d: Head is not the start of the bytes", a.Index)
	}
	return audioOutcome{present: true, size: a.Size, head: a.Head}
}

func errString(err error) string {
	if de, ok := domain.AsError(err); ok {
		return fmt.Sprintf("%v/%s/%s: %s", de.Kind, de.Code, de.Field, de.Message)
	}
	return "not a domain error: " + err.Error()
}

// compareStreamed checks that every parser agrees on body, whole or read
// n bytes at a time.
func compareStreamed(t *testing.T, body []byte, n int, max int64) {
	t.Helper()
	b, bufs := streamed(t, body, n, max)
	if b == nil {
		return
	}

	want, werr := cvio.ParseLeadCallbackMax(body, max)
	got, gerr := b.ParseLead()
	compareInteractions(t, "lead", werr, gerr, want.Interactions, got.Interactions, max, bufs)
	if werr == nil && gerr == nil {
		want.Interactions, got.Interactions = nil, nil
		if !reflect.DeepEqual(want, got) {
			t.Fatalf("lead: %+v, streamed %+v", want, got)
		}
	}

	wt, werr := cvio.ParseTaskCallbackMax(body, max)
	gt, gerr := b.ParseTask()
	compareInteractions(t, "task", werr, gerr, wt.Interactions, gt.Interactions, max, bufs)

	wr, werr := cvio.ParseResultCallbackMax(body, max)
	gr, gerr := b.ParseResult()
	compareErrors(t, "result", werr, gerr)
	if werr == nil {
		if w, g := wholeAudio(wr.Audio), streamedAudio(t, gr.Audio, bufs); !reflect.DeepEqual(w, g) {
			t.Fatalf("result audio: %+v, streamed %+v", short(w), short(g))
		}
		wr.Audio, gr.Audio = nil, nil
		if !reflect.DeepEqual(wr, gr) {
			t.Fatalf("result: %+v, streamed %+v", wr, gr)
		}
	}
}

func compareErrors(t *testing.T, what string, want, got error) {
	t.Helper()
	if (want == nil) != (got == nil) || want != nil && errString(want) != errString(got) {
		t.Fatalf("%s: error %v, streamed %v", what, want, got)
	}
}

func compareInteractions(t *testing.T, what string, werr, gerr error, want, got []domain.PartnerInteraction,
	max int64, bufs map[int]*bytes.Buffer) {
	t.Helper()
	compareErrors(t, what, werr, gerr)
	if werr != nil {
		return
	}
	if len(want) != len(got) {
		t.Fatalf("%s: %d interactions, streamed %d", what, len(want), len(got))
	}
	for i := range want {
		w, g := want[i], got[i]
		if wa, ga := wholeAudio(w.Audio), streamedAudio(t, g.Audio, bufs); !reflect.DeepEqual(wa, ga) {
			t.Fatalf("%s: interaction %d: audio %+v, streamed %+v", what, i, short(wa), short(ga))
		}
		w.Audio, g.Audio = nil, nil
		if !reflect.DeepEqual(w, g) {
			t.Fatalf("%s: interaction %d: %+v, streamed %+v", what, i, w, g)
		}
	}
}

func short(o audioOutcome) string {
	return fmt.Sprintf("present=%v %d bytes err=%q", o.present, o.size, o.err)
}

// audioVariants are texts of audio_base64 as JSON spells them, good and bad.
func audioVariants() []string {
	mp3 := []byte("ID3\x03\x00\x00\x00\x00\x00\x39TPE1 a recording, of sorts.")
	std := base64.StdEncoding.EncodeToString(mp3)
	url := base64.RawURLEncoding.EncodeToString(mp3)
	return []string{
		std, url, strings.TrimRight(std, "="), std[:20] + `\n` + std[20:], std[:20] + `\r\n` + std[20:] + `\n`,
		`data:audio/mpeg;base64,` + std, `DATA:Audio/MPEG; charset=x ;BASE64 ,` + std, `data:application/octet-stream;base64,` + url,
		`data:text/plain;base64,` + std, `data:audio/mpeg,` + std, `data:` + strings.Repeat("a", 300) + `,` + std, `data:audio/mpeg;base64`,
		`data:audio/mpeg;base64,`, `data:`, `dat`, `data`, `d`, ` \t `, `\u00a0\u2003`, `\u00a0` + std + `\u00a0 \n\u3000`,
		std[:8] + `\u00a0` + std[8:], std[:8] + `\u00a0 =`, `\u0053\u0055\u0051\u007a`, std[:4] + `\/` + std[4:],
		`SUQz\/\/\/\/`, `\ud83d\ude00`, `\ud83dSUQz`, `\udc00\ud800\udc00`, `\ud800\u0041`, `SUQ\u00e9`, `SU\"Qz`, `SU\\Qz`, `SU\bQz`,
		`SUQzA`, `SR==`, `SUQ=`, `SUQ==`, `SUQ=A`, `SQ`, `S===`, `-_-_+/+/`, `====`, `\f\v` + std, "SUQz\xff", "SUQz\xc2", "\xc2\xa0" + std + "\xe3\x80\x80",
		`ÿ`, `é` + std, std + `é`,
		// JSON errors inside the string.
		"SUQz\x01", `SUQz\x`, `SUQz\u12`, `SUQz\u12g4`, `SUQz\`,
	}
}

func streamedBodies() []string {
	var bodies []string
	for _, a := range audioVariants() {
		bodies = append(bodies,
			`{"email": "lead@example.com", "interacoes": [{"tipo": "L", "descricao": "x", "audio_base64": "`+a+`"}]}`,
			`{"status": "realizada", "AUDIO_BASE64": "`+a+`", "descricao": "depois"}`,
			`{"interacoes": {"audio\u005fbase64" : "`+a+`"}, "extra": {"audio_base64": "`+a+`"}, "x": [}`,
			`{"interacoes": [{"audio_base64": "`+a+`"}, {"audio_base64": "SUQz", "audio_base64": "`+a+`"}], "telefone": "x"}`,
			`{"interacoes": [{"audio_base64": "`+a, // the body ends in the string
		)
	}
	return append(bodies, contractLeadBody, contractTaskBody, `{"audio_base64": 12, "status": "realizada"}`,
		`{"status": "realizada", "audio_base64": null}`, `{"a": "audio_base64": "SUQz"}`, `["audio_base64", "SUQz"]`,
		`{"audio_base64": "SUQz" "x"}`, "\ufeff"+`{"status":"realizada","audio_base64":"SUQz"} x`, `{"x": "\"audio_base64\"", "y": "SUQz"}`)
}

func TestReadCallbackBodyAgreesWithTheWholeBodyParsers(t *testing.T) {
	for _, body := range streamedBodies() {
		for _, n := range []int{1, 3, 7, 1 << 20} {
			for _, max := range []int64{1, 3, 32, 1 << 20} {
				t.Run("", func(t *testing.T) {
					defer func() {
						if t.Failed() {
							t.Logf("body %q, chunks of %d, limit %d", body, n, max)
						}
					}()
					compareStreamed(t, []byte(body), n, max)
				})
			}
		}
	}
}

// A large recording goes through whole, in the writer's chunks, and what
// the reference stands for is in EncodedLen.
func TestReadCallbackBodyLargeRecording(t *testing.T) {
	raw := make([]byte, 3<<20+1)
	for i := range raw {
		raw[i] = byte(i * 7 / 3)
	}
	copy(raw, "RIFF\x00\x00\x00\x00WAVE")
	enc := base64.StdEncoding.EncodeToString(raw)
	var sb strings.Builder
	for i := 0; i < len(enc); i += 76 {
		sb.WriteString(enc[i:min(i+76, len(enc))] + `\r\n`)
	}
	wrapped := sb.String()
	body := `{"status": "realizada", "audio_base64": "data:audio/wav;base64,` + wrapped + `", "descricao": "ok"}`
	b, bufs := streamed(t, []byte(body), 100_000, 4<<20)
	c, err := b.ParseResult()
	if err != nil || c.Audio == nil || c.Description != "ok" {
		t.Fatalf("%+v %v", c, err)
	}
	if !bytes.Equal(bufs[0].Bytes(), raw) {
		t.Fatal("the recording differs")
	}
	if ct, err := c.Audio.ContentType(); ct != domain.AudioWAV || err != nil {
		t.Fatalf("content type %q %v", ct, err)
	}
	want := int64(len(`data:audio/wav;base64,` + wrapped))
	if got := b.Audios()[0].EncodedLen; got != want {
		t.Fatalf("EncodedLen %d, want %d", got, want)
	}
	if len(b.JSON()) > 100 {
		t.Fatalf("the JSON kept is %d bytes", len(b.JSON()))
	}
	got := string(b.WithAudioReferences(1<<10, func(a *cvio.PartnerAudio) string { return fmt.Sprintf("[%d]", a.EncodedLen) }))
	if want := fmt.Sprintf(`{"status": "realizada", "audio_base64": "[%d]", "descricao": "ok"}`, want); got != want {
		t.Fatalf("with references: %s", got)
	}
}

// A failing reader or writer stops the reading with its error.
func TestReadCallbackBodyFailures(t *testing.T) {
	body := `{"status": "realizada", "audio_base64": "` + strings.Repeat("QUJD", 100_000) + `"}`
	boom := fmt.Errorf("disk full")
	_, err := cvio.ReadCallbackBody(strings.NewReader(body), 1<<20, func(int) (io.Writer, error) { return nil, boom })
	if err != boom {
		t.Fatalf("open failing: %v", err)
	}
	_, err = cvio.ReadCallbackBody(strings.NewReader(body), 1<<20, func(int) (io.Writer, error) { return failingWriter{boom}, nil })
	if err != boom {
		t.Fatalf("writer failing: %v", err)
	}
	b, err := cvio.ReadCallbackBody(io.MultiReader(strings.NewReader(body[:50]), failingReader{io.ErrUnexpectedEOF}), 1<<20,
		func(int) (io.Writer, error) { return io.Discard, nil })
	if err != io.ErrUnexpectedEOF || b == nil || !strings.HasPrefix(string(b.JSON()), `{"status": "realizada", "audio_base64": "0`) {
		t.Fatalf("reader failing: %v", err)
	}
}

type failingWriter struct{ err error }

func (f failingWriter) Write([]byte) (int, error) { return 0, f.err }

type failingReader struct{ err error }

func (f failingReader) Read([]byte) (int, error) { return 0, f.err }

func FuzzReadCallbackBody(f *testing.F) {
	for _, body := range streamedBodies()[:60] {
		f.Add([]byte(body), 3, int64(32))
	}
	f.Fuzz(func(t *testing.T, body []byte, n int, max int64) {
		if n <= 0 || n > 1<<16 {
			n = 1 + n&0xff
		}
		compareStreamed(t, body, n, max%(1<<20))
	})
}

// countingReader counts the bytes read from it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// capWriter keeps the largest capacity of the chunks written to it: the
// decoder's buffer.
type capWriter struct{ maxCap int }

func (w *capWriter) Write(p []byte) (int, error) {
	w.maxCap = max(w.maxCap, cap(p))
	return len(p), nil
}

// A body of many tiny recordings is refused as it is read, at the first
// recording too many: no more writers are opened, nor the rest read.
func TestReadCallbackBodyStopsAtTooManyRecordings(t *testing.T) {
	recordings := func(n int) string {
		return `"interacoes": [` + strings.TrimSuffix(strings.Repeat(`{"audio_base64": "AAAA"},`, n), ",") + `]}`
	}
	src := &countingReader{r: strings.NewReader(`{"telefone": "48999476359", ` + recordings(20_000))}
	opened := 0
	b, err := cvio.ReadCallbackBody(src, 1<<20, func(int) (io.Writer, error) {
		opened++
		return io.Discard, nil
	})
	if de, ok := domain.AsError(err); !ok || de.Kind != domain.KindInvalid || de.Field != "interacoes" {
		t.Fatalf("error %v, want an invalid interacoes", err)
	}
	if opened != cvio.MaxCallbackRecordings || len(b.Audios()) != cvio.MaxCallbackRecordings {
		t.Fatalf("%d writers opened, %d recordings kept; want %d", opened, len(b.Audios()), cvio.MaxCallbackRecordings)
	}
	if src.n > 256<<10 {
		t.Fatalf("read %d bytes of a body refused in its first kilobytes", src.n)
	}

	// As many as a callback may carry are read: MaxInteractions, and the
	// result's own.
	b, _ = streamed(t, []byte(`{"status": "realizada", "audio_base64": "AAAA", `+recordings(domain.MaxInteractions)), 1<<10, 1<<20)
	if b == nil || len(b.Audios()) != cvio.MaxCallbackRecordings {
		t.Fatal("a body with as many recordings as allowed was refused")
	}
}

// A tiny recording costs a small buffer; a long one is written in large
// chunks all the same.
func TestReadCallbackBodyBufferGrows(t *testing.T) {
	large := base64.StdEncoding.EncodeToString(make([]byte, 2<<20))
	body := `{"interacoes": [{"audio_base64": "AAAA"}, {"audio_base64": "` + large + `"}]}`
	ws := []*capWriter{}
	_, err := cvio.ReadCallbackBody(strings.NewReader(body), 4<<20, func(int) (io.Writer, error) {
		ws = append(ws, &capWriter{})
		return ws[len(ws)-1], nil
	})
	if err != nil || len(ws) != 2 {
		t.Fatalf("%v, %d writers", err, len(ws))
	}
	if ws[0].maxCap > 4<<10 {
		t.Fatalf("a 3-byte recording was decoded into a buffer of %d bytes", ws[0].maxCap)
	}
	if ws[1].maxCap < 256<<10 {
		t.Fatalf("a 2 MiB recording was written in chunks of %d bytes at most", ws[1].maxCap)
	}
}
