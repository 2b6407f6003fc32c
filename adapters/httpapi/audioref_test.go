package httpapi

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"callconnect/adapters/cvio"
)

// readBody reads body as a callback's is read, the recordings discarded,
// with room for JSON larger than a callback may have (the monitor's copy
// is cut whatever the body).
func readBody(t *testing.T, body []byte) *cvio.CallbackBody {
	t.Helper()
	b, err := cvio.ReadCallbackBodyWithin(bytes.NewReader(body), 64<<20, 64<<20, func(int) (io.Writer, error) { return io.Discard, nil })
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// stored stands for the content addresses a request stored its body's
// recordings under, by PartnerAudio.Index.
func stored(shas ...string) func(int) string {
	return func(i int) string {
		if i < len(shas) {
			return shas[i]
		}
		return ""
	}
}

func TestWithAudioReferences(t *testing.T) {
	cases := []struct {
		name, in, want string
		stored         []string // by the body's order
		ids, shas      []string // the answer's
	}{
		{"none", `{"a": "b"}`, `{"a": "b"}`, nil, nil, nil},
		{"one", `{"audio_base64": "SUQz"}`, `{"audio_base64": "[audio: 4 base64 chars; recording r1; sha256 s1]"}`,
			[]string{"s1"}, []string{"r1"}, []string{"s1"}},
		{"in order, any key case, spaces",
			`{"interacoes": [{"descricao": "say \"audio_base64\": \"x\"", "Audio_Base64" :  "AAAA\nBBBB"}, {"AUDIO_BASE64":"QUJD"}]}`,
			`{"interacoes": [{"descricao": "say \"audio_base64\": \"x\"", "Audio_Base64" :  "[audio: 10 base64 chars; recording r1; sha256 s1]"}, {"AUDIO_BASE64":"[audio: 4 base64 chars; recording r2; sha256 s2]"}]}`,
			[]string{"s1", "s2"}, []string{"r1", "r2"}, []string{"s1", "s2"}},
		{"by content, not by place: a duplicate left out of the answer",
			`[{"audio_base64": "SUQz"}, {"audio_base64": "SUQz"}, {"audio_base64": "QUJD"}]`,
			`[{"audio_base64": "[audio: 4 base64 chars; recording rA; sha256 sA]"}, {"audio_base64": "[audio: 4 base64 chars; recording rA; sha256 sA]"}, {"audio_base64": "[audio: 4 base64 chars; recording rB; sha256 sB]"}]`,
			[]string{"sA", "sA", "sB"}, []string{"rA", "rB"}, []string{"sA", "sB"}},
		{"the same content in two recordings names each once",
			`[{"audio_base64": "SUQz"}, {"audio_base64": "SUQz"}]`,
			`[{"audio_base64": "[audio: 4 base64 chars; recording r1; sha256 sA]"}, {"audio_base64": "[audio: 4 base64 chars; recording r2; sha256 sA]"}]`,
			[]string{"sA", "sA"}, []string{"r1", "r2"}, []string{"sA", "sA"}},
		{"a recording not stored names nothing, the next its own",
			`[{"audio_base64": " "}, {"audio_base64": "QUJD"}]`,
			`[{"audio_base64": "[audio: 1 base64 chars]"}, {"audio_base64": "[audio: 4 base64 chars; recording rB; sha256 sB]"}]`,
			[]string{"", "sB"}, []string{"rB"}, []string{"sB"}},
		{"stored, but no recording in the answer (refused)", `{"audio_base64": "SUQz"}`, `{"audio_base64": "[audio: 4 base64 chars]"}`,
			[]string{"s1"}, nil, nil},
		{"not stored", `{"audio_base64": "SUQz"}`, `{"audio_base64": "[audio: 4 base64 chars]"}`, nil, []string{"r1"}, []string{"s1"}},
		{"null and numbers stay", `{"audio_base64": null, "x": {"audio_base64": 12}}`, `{"audio_base64": null, "x": {"audio_base64": 12}}`, nil, nil, nil},
		{"a value that only looks like the key", `{"k": "audio_base64", "v": 1}`, `{"k": "audio_base64", "v": 1}`, nil, nil, nil},
		{"unterminated", `{"audio_base64": "SUQz`, `{"audio_base64": "[audio: 4 base64 chars]"`, nil, nil, nil},
		{"malformed", `{"telefone": `, `{"telefone": `, nil, nil, nil},
	}
	for _, tc := range cases {
		got := string(withAudioReferences(readBody(t, []byte(tc.in)), stored(tc.stored...), tc.ids, tc.shas, 1<<10))
		if got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
}

// A 30 MB recording costs neither a copy nor more than the limit.
func TestWithAudioReferencesDoesNotCopyTheAudio(t *testing.T) {
	audio := strings.Repeat("QUJD", 30<<20/4)
	body := []byte(`{"nome": "x", "interacoes": [{"descricao": "d", "audio_base64": "` + audio + `"}], "fim": true}`)
	const limit = 64 << 10
	got := withAudioReferences(readBody(t, body), stored("s1"), []string{"rec-1"}, []string{"s1"}, limit)
	if cap(got) > limit+128 {
		t.Fatalf("the output grew to %d bytes", cap(got))
	}
	var v map[string]any
	if err := json.Unmarshal(got, &v); err != nil {
		t.Fatalf("%v: %s", err, got)
	}
	if !bytes.Contains(got, []byte(`"[audio: 31457280 base64 chars; recording rec-1; sha256 s1]"`)) || v["fim"] != true {
		t.Fatalf("%s", got)
	}

	// A large body without audio is cut after the limit.
	big := []byte(`{"descricao": "` + strings.Repeat("a", 1<<20) + `"}`)
	if got := withAudioReferences(readBody(t, big), nil, nil, nil, limit); len(got) != limit+1 || cap(got) > limit+128 {
		t.Fatalf("len %d cap %d", len(got), cap(got))
	}
}
