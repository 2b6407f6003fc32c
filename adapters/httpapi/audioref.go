package httpapi

import (
	"strconv"

	"callconnect/domain"
)

// withAudioReferences returns the body, for the monitor, with the string
// value of every "audio_base64" member (key matched case-insensitively, as
// the parsers do) replaced by a reference such as
// "[audio: 123456 base64 chars; recording 01J…; sha256 ab12…]", naming the
// recordings and their content addresses in order. The output is cut after
// limit bytes (the monitor keeps no more). The audio itself was never kept:
// the body read holds references to it (domain.ReadCallbackBody). A body
// that was not read is empty.
func withAudioReferences(body *domain.CallbackBody, recordingIDs, sha256s []string, limit int) []byte {
	if body == nil {
		return nil
	}
	return body.WithAudioReferences(limit, func(a *domain.PartnerAudio) string {
		n := a.Index
		ref := "[audio: " + strconv.FormatInt(a.EncodedLen, 10) + " base64 chars"
		if n < len(recordingIDs) {
			ref += "; recording " + recordingIDs[n]
		}
		if n < len(sha256s) {
			ref += "; sha256 " + sha256s[n]
		}
		return ref + "]"
	})
}
