package httpapi

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"callconnect/domain"
)

// readBody reads body as a callback's is read, the recordings discarded.
func readBody(t *testing.T, body []byte) *domain.CallbackBody {
	t.Helper()
	b, err := domain.ReadCallbackBody(bytes.NewReader(body), 64<<20, func(int) (io.Writer, error) { return io.Discard, nil })
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestWithAudioReferences(t *testing.T) {
	cases := []struct {
		name, in, want string
		ids            []string
	}{
		{"none", `{"a": "b"}`, `{"a": "b"}`, nil},
		{"one", `{"audio_base64": "SUQz"}`, `{"audio_base64": "[audio: 4 base64 chars; recording r1]"}`, []string{"r1"}},
		{"in order, any key case, spaces",
			`{"interacoes": [{"descricao": "say \"audio_base64\": \"x\"", "Audio_Base64" :  "AAAA\nBBBB"}, {"AUDIO_BASE64":"QUJD"}]}`,
			`{"interacoes": [{"descricao": "say \"audio_base64\": \"x\"", "Audio_Base64" :  "[audio: 10 base64 chars; recording r1]"}, {"AUDIO_BASE64":"[audio: 4 base64 chars; recording r2]"}]}`,
			[]string{"r1", "r2"}},
		{"not stored", `{"audio_base64": "SUQz"}`, `{"audio_base64": "[audio: 4 base64 chars]"}`, nil},
		{"null and numbers stay", `{"audio_base64": null, "x": {"audio_base64": 12}}`, `{"audio_base64": null, "x": {"audio_base64": 12}}`, nil},
		{"a value that only looks like the key", `{"k": "audio_base64", "v": 1}`, `{"k": "audio_base64", "v": 1}`, nil},
		{"unterminated", `{"audio_base64": "SUQz`, `{"audio_base64": "[audio: 4 base64 chars]"`, nil},
		{"malformed", `{"telefone": `, `{"telefone": `, nil},
	}
	for _, tc := range cases {
		got := string(withAudioReferences(readBody(t, []byte(tc.in)), tc.ids, nil, 1<<10))
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
	got := withAudioReferences(readBody(t, body), []string{"rec-1"}, nil, limit)
	if cap(got) > limit+128 {
		t.Fatalf("the output grew to %d bytes", cap(got))
	}
	var v map[string]any
	if err := json.Unmarshal(got, &v); err != nil {
		t.Fatalf("%v: %s", err, got)
	}
	if !bytes.Contains(got, []byte(`"[audio: 31457280 base64 chars; recording rec-1]"`)) || v["fim"] != true {
		t.Fatalf("%s", got)
	}

	// A large body without audio is cut after the limit.
	big := []byte(`{"descricao": "` + strings.Repeat("a", 1<<20) + `"}`)
	if got := withAudioReferences(readBody(t, big), nil, nil, limit); len(got) != limit+1 || cap(got) > limit+128 {
		t.Fatalf("len %d cap %d", len(got), cap(got))
	}
}
