package httpapi

import (
	"strconv"

	"callconnect/adapters/cvio"
)

// withAudioReferences returns the body, for the monitor, with the string
// value of every "audio_base64" member (key matched case-insensitively, as
// the parsers do) replaced by a reference such as
// "[audio: 123456 base64 chars; recording 01J…; sha256 ab12…]". The output
// is cut after limit bytes (the monitor keeps no more). The audio itself was
// never kept: the body read holds references to it
// (cvio.ReadCallbackBody). A body that was not read is empty.
//
// A reference names the recording of the answer (recordingIDs, with their
// content addresses sha256s in the same order) that holds its content:
// sha256Of gives the content address a recording of the body (by its
// PartnerAudio.Index) was stored under, "" when it was not stored. Matching
// by content rather than by place matters: the answer leaves out the
// recordings of duplicate interactions, and a body's blank or refused
// audio_base64 strings have no recording. The same content more than once
// names the answer's recordings of it in order, and once they run out the
// last of them (which holds the same bytes).
func withAudioReferences(body *cvio.CallbackBody, sha256Of func(index int) string, recordingIDs, sha256s []string, limit int) []byte {
	if body == nil {
		return nil
	}
	byContent := map[string][]string{}
	for i, sha := range sha256s {
		if i < len(recordingIDs) {
			byContent[sha] = append(byContent[sha], recordingIDs[i])
		}
	}
	named := map[string]int{} // how many references named each content so far
	return body.WithAudioReferences(limit, func(a *cvio.PartnerAudio) string {
		ref := "[audio: " + strconv.FormatInt(a.EncodedLen, 10) + " base64 chars"
		if sha256Of != nil {
			sha := sha256Of(a.Index)
			if ids := byContent[sha]; sha != "" && len(ids) > 0 {
				ref += "; recording " + ids[min(named[sha], len(ids)-1)] + "; sha256 " + sha
				named[sha]++
			}
		}
		return ref + "]"
	})
}
