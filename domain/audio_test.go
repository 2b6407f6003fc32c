package domain_test

import (
	"testing"

	"callconnect/domain"
)

// mixAlphabets takes each character from std or url in turn.
// allocated returns the bytes fn allocates.
// An oversize recording is refused before anything of its size is
// allocated, and an accepted one costs one allocation of its decoded size.
// Property: for any bytes, every encoding a partner may send decodes to them.
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
// BenchmarkLeadCallbackWithRecording parses the callback and decodes its
// recording, as the service does; BenchmarkLeadCallbackBaseline does the
// same with encoding/json and encoding/base64 alone, without the checks.
