package cvio

import (
	"callconnect/domain"
	"encoding/json"
	"runtime"
	"strings"
	"testing"
	"unicode/utf8"
)

// The reader must agree with encoding/json on what JSON is, and on what a
// string says; these tests and FuzzJSONReader compare the two.

// readAll parses one JSON value of any kind with the reader, collecting the
// strings it reads.
func readAll(data []byte) (strs []string, err error) {
	r := &jsonReader{data: data}
	var walk func() error
	walk = func() error {
		switch r.peek() {
		case '{':
			return r.object(func(key string) error {
				strs = append(strs, key)
				return walk()
			})
		case '[':
			return r.array(func(int) error { return walk() })
		}
		kind, s, err := r.scalar()
		if kind == jsonString {
			strs = append(strs, s)
		}
		return err
	}
	if err := walk(); err != nil {
		return nil, err
	}
	return strs, r.end()
}

// stdStrings collects the strings encoding/json reads, in document order.
func stdStrings(data []byte) []string {
	dec := json.NewDecoder(strings.NewReader(string(data)))
	var out []string
	for {
		tok, err := dec.Token()
		if err != nil {
			return out
		}
		if s, ok := tok.(string); ok {
			out = append(out, s)
		}
	}
}

func compareWithStd(t *testing.T, data []byte) {
	strs, err := readAll(data)
	valid := json.Valid(data)
	if err != nil {
		de, _ := domain.AsError(err)
		if de == nil || de.Field != "body" {
			t.Fatalf("error %v does not name the body", err)
		}
		if valid && !strings.Contains(de.Message, "nested too deeply") {
			t.Fatalf("refused valid JSON %q: %v", data, err)
		}
		return
	}
	if !valid {
		t.Fatalf("accepted invalid JSON %q", data)
	}
	std := stdStrings(data)
	if len(std) != len(strs) {
		t.Fatalf("%q: %d strings, encoding/json read %d", data, len(strs), len(std))
	}
	for i := range std {
		// encoding/json replaces invalid UTF-8 with U+FFFD; the reader keeps
		// the bytes for the validators to refuse.
		if utf8.ValidString(strs[i]) && strs[i] != std[i] {
			t.Fatalf("%q: string %d = %q, encoding/json read %q", data, i, strs[i], std[i])
		}
	}
}

var jsonSamples = []string{
	`{}`, `[]`, `{"a":1}`, ` { "a" : [ 1 , 2.5e-3 , -0 , true , false , null , "x" ] } `,
	`"\u00e9\ud83d\ude00\ud800\udc00\ud800x\udc00\u0041"`, `"\"\\\/\b\f\n\r\t"`, `"\ud800\ud800"`, `"\ud83d\u0041"`,
	`1`, `-1.0E+2`, `0`, `"` + "\xff\xfe" + `"`,
	`{"a":}`, `{"a" 1}`, `{a:1}`, `[1,]`, `[,1]`, `01`, `1.`, `.5`, `1e`, `-`, `+1`, `tru`, `nul`, `"\x"`, `"\u12"`,
	"\"a\tb\"", `"abc`, `[1 2]`, `{"a":1,}`, `{"a":1 "b":2}`, `[`, `]`, ``, ` `, `{"a":1}}`, `[1]]`,
	strings.Repeat("[", maxJSONDepth) + strings.Repeat("]", maxJSONDepth),
	strings.Repeat("[", maxJSONDepth+1) + strings.Repeat("]", maxJSONDepth+1),
}

func TestJSONReaderAgreesWithEncodingJSON(t *testing.T) {
	for _, s := range jsonSamples {
		compareWithStd(t, []byte(s))
	}
}

func FuzzJSONReader(f *testing.F) {
	for _, s := range jsonSamples {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		compareWithStd(t, data)
	})
}

// The recording is the one big string of a body: the whole-body parser must
// copy it once, into the string it decodes, escaped or not (PHP escapes '/'
// as \/), and decode it once.
func TestParseCopiesTheRecordingOnce(t *testing.T) {
	for _, chunk := range []string{"QUJD", `QU\/D`} {
		audio := strings.Repeat(chunk, 1<<18)
		body := []byte(`{"status": "realizada", "audio_base64": "` + audio + `"}`)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		c, err := ParseResultCallback(body)
		runtime.ReadMemStats(&after)
		if err != nil || c.Audio == nil || c.Audio.Size != 3<<18 {
			t.Fatalf("audio %+v, %v", c.Audio, err)
		}
		if grown := after.TotalAlloc - before.TotalAlloc; grown > uint64(len(audio))+3<<18+64<<10 {
			t.Errorf("%q: parsing allocated %d bytes for %d bytes of audio", chunk, grown, len(audio))
		}
	}
}
