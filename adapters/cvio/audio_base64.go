package cvio

import (
	"strconv"
	"strings"

	"callconnect/domain"
)

const audioField = "audio_base64"

// base64Values maps a byte to its 6-bit value in either base64 alphabet
// (standard + and /, URL-safe - and _; they do not overlap, so one table
// serves both), to padSymbol for '=', to spaceSymbol for the whitespace that
// line-wrapped encoders insert, and to badSymbol otherwise.
var base64Values = func() [256]byte {
	var t [256]byte
	for i := range t {
		t[i] = badSymbol
	}
	const std = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := 0; i < len(std); i++ {
		t[std[i]] = byte(i)
	}
	t['-'], t['_'] = 62, 63
	t['='] = padSymbol
	for _, c := range []byte(" \t\r\n\f\v") {
		t[c] = spaceSymbol
	}
	return t
}()

const (
	padSymbol   = 0xFD
	spaceSymbol = 0xFE
	badSymbol   = 0xFF
)

// DecodeAudioBase64 decodes a recording as partners send it: the standard or
// the URL-safe alphabet (even mixed), padded or not, with whitespace and line
// breaks anywhere, optionally as a data URI ("data:audio/mpeg;base64,…", any
// audio/* type or application/octet-stream; other data: types are refused).
//
// The decoded size is computed from the input before anything is allocated:
// over maxDecoded the answer is domain.CodeAudioTooLarge (domain.KindTooLarge), so an
// oversize recording costs no memory; maxDecoded <= 0 refuses every
// recording. The output is the one allocation, of exactly the decoded size.
// Malformed input (a character outside the alphabets, padding in the middle,
// an impossible length, non-zero bits in the last character) is
// domain.CodeInvalidField with Field "audio_base64"; a caller with a longer path
// rewrites Field. An empty recording is refused too.
func DecodeAudioBase64(s string, maxDecoded int64) ([]byte, error) {
	payload, err := stripAudioDataURI(s)
	if err != nil {
		return nil, err
	}
	// First pass: validate and count, so the size is known before allocating.
	size, err := base64DecodedSize(payload, len(s)-len(payload), maxDecoded)
	if err != nil {
		return nil, err
	}
	// Second pass: decode; the input is known to be valid.
	out := make([]byte, size)
	if err := decodeValidBase64(out, payload); err != nil {
		return nil, err
	}
	return out, nil
}

// base64DecodedSize validates payload (which starts at offset in the
// string the partner sent) and returns its decoded size, stopping as soon
// as the count is past maxDecoded.
func base64DecodedSize(payload string, offset int, maxDecoded int64) (int64, error) {
	tooLarge := audioTooLarge(maxDecoded)
	if maxDecoded <= 0 {
		return 0, tooLarge
	}
	limit := min(maxDecoded, 1<<60)
	maxSymbols := limit/3*4 + 1 // one more than the symbols of limit bytes, so that
	if r := limit % 3; r > 0 {  // an impossible length is still reported as such
		maxSymbols += r + 1
	}
	symbols, pads := 0, 0
	for i := 0; i < len(payload); i++ {
		switch v := base64Values[payload[i]]; v {
		case spaceSymbol:
		case padSymbol:
			pads++
		case badSymbol:
			return 0, audioBadChar(payload[i], int64(i+offset))
		default:
			if pads > 0 {
				return 0, invalid(audioField, "is not base64: data after the '=' padding")
			}
			if symbols++; int64(symbols) > maxSymbols {
				return 0, tooLarge
			}
		}
	}
	if symbols == 0 {
		return 0, invalid(audioField, "is empty")
	}
	rem := symbols % 4
	switch {
	case rem == 1:
		return 0, invalid(audioField, "is not base64: its length is impossible (truncated?)")
	case pads > 0 && (rem == 0 || pads != 4-rem):
		return 0, invalid(audioField, "is not base64: wrong '=' padding")
	}
	size := int64(symbols/4)*3 + int64(max(rem-1, 0))
	if size > maxDecoded {
		return 0, tooLarge
	}
	return size, nil
}

// decodeValidBase64 decodes payload, which base64DecodedSize accepted, into
// out, of exactly the size it returned. Only the stray bits of the last
// character are left to refuse.
func decodeValidBase64(out []byte, payload string) error {
	var acc uint32
	n, o := 0, 0
	for i := 0; i < len(payload); i++ {
		v := base64Values[payload[i]]
		if v >= padSymbol {
			continue
		}
		acc = acc<<6 | uint32(v)
		if n++; n == 4 {
			out[o], out[o+1], out[o+2] = byte(acc>>16), byte(acc>>8), byte(acc)
			o += 3
			acc, n = 0, 0
		}
	}
	switch n {
	case 2: // 12 bits: one byte and 4 bits that must be zero
		if acc&0xF != 0 {
			return invalid(audioField, "is not base64: the last character carries stray bits (truncated?)")
		}
		out[o] = byte(acc >> 4)
	case 3: // 18 bits: two bytes and 2 bits that must be zero
		if acc&0x3 != 0 {
			return invalid(audioField, "is not base64: the last character carries stray bits (truncated?)")
		}
		out[o], out[o+1] = byte(acc>>10), byte(acc>>2)
	}
	return nil
}

// stripAudioDataURI removes a "data:<type>;base64," prefix, checking the type.
func stripAudioDataURI(s string) (string, error) {
	s = strings.TrimLeft(s, " \t\r\n")
	if len(s) < 5 || !strings.EqualFold(s[:5], "data:") {
		return s, nil
	}
	header, payload, ok := strings.Cut(s[5:], ",")
	if !ok || len(header) > maxDataURIHeader {
		return "", invalid(audioField, "is a data URI without data")
	}
	if err := checkAudioDataURIHeader(header); err != nil {
		return "", err
	}
	return payload, nil
}

// maxDataURIHeader bounds what may come between "data:" and ",".
const maxDataURIHeader = 200

// checkAudioDataURIHeader accepts the header of a base64 data URI of audio
// (any audio/* type, or application/octet-stream).
func checkAudioDataURIHeader(header string) *domain.Error {
	params := strings.Split(header, ";")
	if !strings.EqualFold(strings.TrimSpace(params[len(params)-1]), "base64") {
		return invalid(audioField, "must be a base64 data URI (data:audio/…;base64,…)")
	}
	media := strings.ToLower(strings.TrimSpace(params[0]))
	kind, sub, _ := strings.Cut(media, "/")
	if !(kind == "audio" && sub != "" || media == "application/octet-stream") {
		return invalid(audioField, "must be audio: the data URI says %q", truncateForMessage(params[0]))
	}
	return nil
}

func formatBytes(n int64) string {
	const mib = 1 << 20
	if n > 0 && n%mib == 0 {
		return strconv.FormatInt(n/mib, 10) + " MiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}
