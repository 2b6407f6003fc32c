package httpapi

import (
	"bytes"
	"strconv"
)

// audioKey is the member whose string value is a recording: the monitor
// keeps a reference to the recording instead.
const audioKey = "audio_base64"

// withAudioReferences returns body, for the monitor, with the string value of
// every "audio_base64" member (key matched case-insensitively, as the
// parsers do) replaced by a reference such as
// "[audio: 123456 base64 chars; recording 01J…; sha256 ab12…]", naming the
// recordings and their content addresses in order. The output is cut after limit bytes (the monitor keeps no more), so
// neither the audio nor a large body is ever copied. It scans bytes, not a
// parsed document: a malformed body is handled as far as it goes.
func withAudioReferences(body []byte, recordingIDs, sha256s []string, limit int) []byte {
	out := make([]byte, 0, min(len(body), limit)+64)
	full := func() bool { return len(out) > limit }
	copied := 0 // body[:copied] is in out (or was cut)
	emit := func(b []byte) {
		if room := limit + 1 - len(out); room > 0 {
			out = append(out, b[:min(len(b), room)]...)
		}
	}
	n := 0
	for i := 0; i < len(body) && !full(); {
		if body[i] != '"' {
			i++
			continue
		}
		end := stringEnd(body, i)
		if end < 0 {
			break
		}
		key := body[i+1 : end-1]
		j := skipSpace(body, end)
		if j >= len(body) || body[j] != ':' || !bytes.EqualFold(key, []byte(audioKey)) {
			i = end
			continue
		}
		v := skipSpace(body, j+1)
		if v >= len(body) || body[v] != '"' {
			i = v
			continue
		}
		vEnd := stringEnd(body, v)
		if vEnd < 0 {
			break
		}
		emit(body[copied:v])
		ref := "[audio: " + strconv.Itoa(vEnd-v-2) + " base64 chars"
		if n < len(recordingIDs) {
			ref += "; recording " + recordingIDs[n]
		}
		if n < len(sha256s) {
			ref += "; sha256 " + sha256s[n]
		}
		ref += "]"
		n++
		emit(strconv.AppendQuote(nil, ref))
		copied, i = vEnd, vEnd
	}
	if !full() {
		emit(body[copied:])
	}
	return out
}

// stringEnd returns the index just past the JSON string starting at
// b[start] (a '"'), or -1 when it does not end.
func stringEnd(b []byte, start int) int {
	for i := start + 1; i < len(b); {
		k := bytes.IndexAny(b[i:], "\"\\")
		if k < 0 {
			return -1
		}
		i += k
		if b[i] == '\\' {
			i += 2
			continue
		}
		return i + 1
	}
	return -1
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}
