package domain

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
)

// Error codes of recordings. Both are KindInvalid; the HTTP layer answers
// audio_too_large with 413 and unsupported_audio with 415.
const (
	CodeAudioTooLarge    = "audio_too_large"
	CodeUnsupportedAudio = "unsupported_audio"
)

// Content types of the recordings Call Connect accepts (SniffAudio).
const (
	AudioMPEG = "audio/mpeg"
	AudioWAV  = "audio/wav"
	AudioOGG  = "audio/ogg"
	AudioMP4  = "audio/mp4"
	AudioWebM = "audio/webm"
)

// AudioContentTypes lists them.
var AudioContentTypes = []string{AudioMPEG, AudioWAV, AudioOGG, AudioMP4, AudioWebM}

// AudioSniffLen is how much of the start of a recording the callback reader
// keeps to tell its format (SniffAudio needs far less; MP4 boxes may push
// the brand a little further in).
const AudioSniffLen = 64 << 10

// ReceivedAudio is a recording a partner callback carried, decoded (and
// written to a spool) as the body was read: what is known of it once the
// body is over.
type ReceivedAudio struct {
	Index int   // its place among the body's recordings
	Size  int64 // decoded bytes
	Head  []byte
	// Err tells why it is not a recording (bad base64, too large…); the
	// bytes written are then to be discarded.
	Err error
}

// ContentType checks the recording: Err, or the content type SniffAudio
// finds in Head (CodeUnsupportedAudio when none).
func (a *ReceivedAudio) ContentType() (string, error) {
	if a.Err != nil {
		return "", a.Err
	}
	return CheckAudio(a.Head)
}

// SniffAudio recognises the recording formats Call Connect accepts from
// their first bytes: MP3 (an ID3v2 tag, or an MPEG audio frame header),
// WAV (RIFF/RF64 … WAVE), Ogg, MP4/M4A (an ftyp box with an MP4 or 3GP
// brand) and WebM/Matroska. Anything else, text included, is not audio.
func SniffAudio(b []byte) (contentType string, ok bool) {
	switch {
	case len(b) >= 10 && string(b[:3]) == "ID3" && b[3] >= 2 && b[3] <= 4 && b[4] != 0xFF &&
		b[6] < 0x80 && b[7] < 0x80 && b[8] < 0x80 && b[9] < 0x80:
		return AudioMPEG, true
	case isMPEGAudioFrame(b):
		return AudioMPEG, true
	case len(b) >= 12 && (string(b[:4]) == "RIFF" || string(b[:4]) == "RF64") && string(b[8:12]) == "WAVE":
		return AudioWAV, true
	case len(b) >= 5 && string(b[:4]) == "OggS" && b[4] == 0:
		return AudioOGG, true
	case isMP4Audio(b):
		return AudioMP4, true
	case len(b) >= 4 && bytes.Equal(b[:4], []byte{0x1A, 0x45, 0xDF, 0xA3}):
		return AudioWebM, true
	}
	return "", false
}

// isMPEGAudioFrame checks an MPEG-1/2/2.5 audio frame header (layer I, II
// or III): 11 sync bits, then no reserved version, layer, bitrate or
// sampling-rate value. AAC in ADTS (layer bits 00) does not pass.
func isMPEGAudioFrame(b []byte) bool {
	if len(b) < 4 || b[0] != 0xFF || b[1]&0xE0 != 0xE0 {
		return false
	}
	version := b[1] >> 3 & 0x3
	layer := b[1] >> 1 & 0x3
	bitrate := b[2] >> 4
	rate := b[2] >> 2 & 0x3
	return version != 1 && layer != 0 && bitrate != 0xF && rate != 0x3
}

// mp4Brands are the ftyp brands of MP4 and 3GP files, audio-only or not.
var mp4Brands = map[string]bool{
	"M4A ": true, "M4B ": true, "M4P ": true, "F4A ": true, "F4B ": true,
	"mp41": true, "mp42": true, "mp71": true, "isom": true, "iso2": true, "iso4": true, "iso5": true, "iso6": true,
	"dash": true, "MSNV": true, "NDAS": true, "caqv": true,
	"3gp4": true, "3gp5": true, "3gp6": true, "3gp7": true, "3gs7": true, "3g2a": true, "3g2b": true, "3g2c": true,
}

// isMP4Audio checks for an ftyp box at the start whose major brand, or one
// of whose compatible brands, is an MP4 or 3GP brand.
func isMP4Audio(b []byte) bool {
	if len(b) < 12 || string(b[4:8]) != "ftyp" {
		return false
	}
	boxSize := binary.BigEndian.Uint32(b[:4])
	if boxSize < 16 || boxSize%4 != 0 {
		return false
	}
	if mp4Brands[string(b[8:12])] {
		return true
	}
	end := min(int64(boxSize), int64(len(b)))
	for i := int64(16); i+4 <= end; i += 4 {
		if mp4Brands[string(b[i:i+4])] {
			return true
		}
	}
	return false
}

// CheckAudio sniffs a decoded recording: its content type, or
// CodeUnsupportedAudio when it is not one of AudioContentTypes.
func CheckAudio(b []byte) (contentType string, err error) {
	ct, ok := SniffAudio(b)
	if !ok {
		return "", &Error{Kind: KindUnsupported, Code: CodeUnsupportedAudio, Field: "audio_base64",
			Message: "is not a recording in a supported format (MP3, WAV, Ogg, M4A/MP4, WebM)"}
	}
	return ct, nil
}

// AudioKey is the content address of a recording: the lowercase hex SHA-256
// of its bytes, as ports.AudioStore keys it.
func AudioKey(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
