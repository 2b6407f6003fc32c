package cvio

import (
	"callconnect/domain"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// CallbackBody is a partner callback's body as ReadCallbackBody read it:
// the JSON with the string value of every "audio_base64" member replaced by
// a short reference, and those recordings, decoded into writers of the
// caller's while the body was read. A recording of tens of megabytes is so
// never held in memory, neither as base64 nor decoded: the body is read
// once, in small chunks, and each of its bytes is looked at once.
//
// The callback parsers read it (ParseTask, ParseLead, ParseResult) as they
// read a whole body, with the same tolerance, the same errors (a syntax
// error names its byte in the body as sent) and the same results, except
// that an interaction's recording is its PartnerAudio rather than its text.
type CallbackBody struct {
	json   []byte
	audios []*PartnerAudio
	// cut is a syntax error inside a recording's string, at byte cutAt of
	// json (which ends there); what the parsers find from there on is it.
	cut   error
	cutAt int
}

// PartnerAudio is one "audio_base64" string of a body read by
// ReadCallbackBody, decoded as DecodeAudioBase64 decodes the string the
// parsers would have returned.
type PartnerAudio struct {
	Index int   // its place among the body's audio_base64 strings
	Size  int64 // decoded bytes written
	// Head is the start of the decoded bytes (AudioSniffLen at most).
	Head []byte
	// Err tells why the string is not a recording (DecodeAudioBase64's
	// errors, Field "audio_base64"); the bytes written are then to be
	// discarded.
	Err error
	// EncodedLen is the length of the string in the body, escapes as sent.
	EncodedLen int64
	// Writer is what the decoded bytes went to; nil when there were none.
	Writer io.Writer

	blank bool // whitespace only: no recording
	start int  // the reference's place in the JSON, quotes included
	end   int
	delta int // EncodedLen minus the reference's length
}

// JSON is the body with each recording replaced by a reference.
func (b *CallbackBody) JSON() []byte { return b.json }

// Audios are the recordings, in the order of the body.
func (b *CallbackBody) Audios() []*PartnerAudio { return b.audios }

// WithAudioReferences returns the body for a log, with each recording's
// string replaced by ref(audio) (quoted as a JSON string), cut after limit
// bytes: at most limit+1 bytes, so that a longer body can be told.
func (b *CallbackBody) WithAudioReferences(limit int, ref func(*PartnerAudio) string) []byte {
	out := make([]byte, 0, min(len(b.json), limit)+64)
	emit := func(p []byte) {
		if room := limit + 1 - len(out); room > 0 {
			out = append(out, p[:min(len(p), room)]...)
		}
	}
	at := 0
	for _, a := range b.audios {
		emit(b.json[at:a.start])
		emit(strconv.AppendQuote(nil, ref(a)))
		at = min(a.end, len(b.json))
	}
	emit(b.json[at:])
	return out
}

// MaxCallbackRecordings bounds the "audio_base64" strings ReadCallbackBody
// takes from one body: one per interaction, and the result's own. Each may
// open a spool, so a body of many tiny recordings must be cut short as it is
// read, not refused later by the parsers once every spool is open.
const MaxCallbackRecordings = domain.MaxInteractions + 1

// tooManyRecordings is ReadCallbackBody's error for a body with more than
// MaxCallbackRecordings recordings, named as the parsers name too many
// interactions.
func tooManyRecordings() *domain.Error {
	return invalid("interacoes", "must have at most %d interactions (a callback carries at most %d recordings)",
		domain.MaxInteractions, MaxCallbackRecordings)
}

// readChunk is how much of the body ReadCallbackBody asks for at a time.
const readChunk = 128 << 10

// maxAudioKeyEscaped is the longest a key spelling "audio_base64" can be
// in the body: every character a \u escape.
const maxAudioKeyEscaped = len(audioField) * 6

// DefaultMaxCallbackJSON bounds the JSON of a callback outside its
// recordings when ReadCallbackBody reads it. The JSON is the one part of a
// body held in memory, so this bound, not the body's, is what a callback
// costs in memory however large it is; legitimate callbacks (fifty
// interactions of ten thousand characters) fit well within it.
const DefaultMaxCallbackJSON int64 = 1 << 20

// CodeBodyTooLarge is the error code of a body over a limit (413).
const CodeBodyTooLarge = "body_too_large"

// jsonTooLarge is ReadCallbackBodyWithin's error for a body whose JSON,
// recordings left out, passes max bytes.
func jsonTooLarge(max int64) *domain.Error {
	return &domain.Error{Kind: domain.KindTooLarge, Code: CodeBodyTooLarge, Field: "body",
		Message: fmt.Sprintf("the JSON of a callback outside its recordings (the audio_base64 strings) may have at most %d bytes", max)}
}

// ReadCallbackBody is ReadCallbackBodyWithin with DefaultMaxCallbackJSON.
func ReadCallbackBody(r io.Reader, maxAudio int64, open func(index int) (io.Writer, error)) (*CallbackBody, error) {
	return ReadCallbackBodyWithin(r, maxAudio, DefaultMaxCallbackJSON, open)
}

// ReadCallbackBodyWithin reads a callback's body from r to its end. Each
// string value of an "audio_base64" member (key in any case, anywhere in
// the document) is decoded as it arrives, with maxAudio as
// DecodeAudioBase64's limit, its bytes written to the writer open returns
// for it (called once per recording, when its first decoded bytes are
// ready); a failure of r, open or a writer stops the reading and is
// returned, and so does a body with more than MaxCallbackRecordings
// recordings (a *domain.Error naming "interacoes", at the first string too
// many). The rest of the body, the JSON kept in memory, may have at most
// maxJSON bytes (a reference to a recording counts as its few bytes, not
// as the recording): at the byte past it the reading stops with a
// *domain.Error (domain.KindTooLarge, CodeBodyTooLarge, naming "body"), so
// that no body costs more memory than maxJSON whatever its size. A
// malformed body is not an error here: the parsers report it. The body
// returned is never nil: on an error it holds what was read. A maxJSON of
// 0 or less is DefaultMaxCallbackJSON.
func ReadCallbackBodyWithin(r io.Reader, maxAudio, maxJSON int64, open func(index int) (io.Writer, error)) (*CallbackBody, error) {
	if maxJSON <= 0 {
		maxJSON = DefaultMaxCallbackJSON
	}
	s := &splitter{body: &CallbackBody{}, maxAudio: maxAudio, maxJSON: int(min(maxJSON, int64(math.MaxInt))), open: open}
	buf := make([]byte, readChunk)
	for {
		n, err := r.Read(buf)
		if n > 0 && s.body.cut == nil {
			if werr := s.write(buf[:n]); werr != nil {
				s.stopAudio()
				return s.body, werr
			}
		}
		s.pos += int64(n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			s.stopAudio()
			return s.body, err
		}
	}
	s.end()
	return s.body, nil
}

// Where splitter is, outside the recordings' strings.
const (
	splitOutside = iota // between tokens
	splitString         // in a string that is kept
	splitAudio          // in a recording's string
)

// splitter finds the recordings' strings in a JSON text as it arrives. It
// tracks no more of the grammar than strings and the ':' after a key: a
// string followed by ':' is a key, and the string after the ':' of a key
// spelling audio_base64 is a recording. In a malformed document it may take
// other strings for recordings; the parsers report the syntax error all the
// same, at the same byte.
type splitter struct {
	body     *CallbackBody
	maxAudio int64
	maxJSON  int // json may hold this many bytes
	open     func(int) (io.Writer, error)
	pos      int64 // offset in the body of the chunk being written

	state   int
	escaped bool   // splitString: the byte before was a backslash
	key     []byte // splitString: the string so far, while it may spell audio_base64
	keyLong bool
	// after a string spelling audio_base64: 1 until its ':', 2 after it
	afterKey int

	// splitAudio
	audio   *PartnerAudio
	dec     *audioDecoder
	audioAt int64 // offset in the body of the string's first byte
	esc     [6]byte
	escLen  int
	escAt   int64 // offset of the escape's backslash
	surr    rune  // a UTF-16 surrogate waiting for its pair; 0: none
	utf8Buf [utf8.UTFMax]byte
}

// write takes the next chunk of the body, in runs: a recording's bytes go
// to audioBytes, the others to jsonBytes.
func (s *splitter) write(p []byte) error {
	for i := 0; i < len(p); {
		var n int
		var err error
		if s.state == splitAudio {
			n, err = s.audioBytes(p[i:], s.pos+int64(i))
		} else {
			n, err = s.jsonBytes(p[i:], s.pos+int64(i))
		}
		if err != nil {
			return err
		}
		i += n
		if s.body.cut != nil {
			return nil
		}
	}
	return nil
}

// jsonBytes keeps bytes outside the recordings, the first at offset at of
// the body, in json, up to and including a recording's opening quote; it
// returns how many. It follows the strings and keys byte by byte, in one
// loop: the body streams through it.
func (s *splitter) jsonBytes(p []byte, at int64) (int, error) {
	for i := 0; i < len(p); {
		if len(s.body.json) >= s.maxJSON {
			return i, jsonTooLarge(int64(s.maxJSON))
		}
		if len(s.body.json) == cap(s.body.json) {
			s.grow()
		}
		c := p[i]
		s.body.json = append(s.body.json, c)
		i++
		if s.state == splitString {
			switch {
			case s.escaped:
				s.escaped = false
			case c == '\\':
				s.escaped = true
			case c == '"':
				s.state = splitOutside
				s.afterKey = 0
				if !s.keyLong && spellsAudioKey(s.key) {
					s.afterKey = 1
				}
				continue
			}
			if !s.keyLong {
				if s.key = append(s.key, c); len(s.key) > maxAudioKeyEscaped {
					s.keyLong = true
				}
			}
			continue
		}
		switch c {
		case ' ', '\t', '\n', '\r':
		case ':':
			if s.afterKey == 1 {
				s.afterKey = 2
			} else {
				s.afterKey = 0
			}
		case '"':
			if s.afterKey == 2 {
				s.afterKey = 0
				return i, s.startAudio(at + int64(i))
			}
			s.afterKey = 0
			s.state, s.escaped, s.key, s.keyLong = splitString, false, s.key[:0], false
		default:
			s.afterKey = 0
		}
	}
	return len(p), nil
}

// grow makes room in json for more bytes, within maxJSON: the capacity
// doubles, so that a body whose JSON grows to the limit costs about twice
// the limit in allocations, not the five times append's gentler growth of
// large slices would.
func (s *splitter) grow() {
	j := s.body.json
	grown := make([]byte, len(j), min(max(2*cap(j), 512), max(s.maxJSON, len(j)+1)))
	copy(grown, j)
	s.body.json = grown
}

// startAudio begins a recording's string; its opening quote is in json.
func (s *splitter) startAudio(at int64) error {
	if len(s.body.audios) >= MaxCallbackRecordings {
		return tooManyRecordings()
	}
	// The reference is kept too (and the closing quote, checked when it
	// comes: a body cut inside the string has none).
	if len(s.body.json)+len(strconv.Itoa(len(s.body.audios))) > s.maxJSON {
		return jsonTooLarge(int64(s.maxJSON))
	}
	a := &PartnerAudio{Index: len(s.body.audios), start: len(s.body.json) - 1}
	s.body.audios = append(s.body.audios, a)
	s.body.json = strconv.AppendInt(s.body.json, int64(a.Index), 10)
	s.audio, s.audioAt, s.escLen, s.surr = a, at, 0, 0
	s.dec = newAudioDecoder(s.maxAudio, func(p []byte) error {
		if a.Writer == nil {
			w, err := s.open(a.Index)
			if err != nil {
				return err
			}
			a.Writer = w
		}
		_, err := a.Writer.Write(p)
		return err
	})
	s.state = splitAudio
	return nil
}

// audioBytes takes bytes of a recording's string, the first at offset at
// of the body, up to and including its closing quote; it returns how many.
func (s *splitter) audioBytes(p []byte, at int64) (int, error) {
	d := s.dec
	i := 0
	for i < len(p) {
		if s.escLen > 0 {
			if err := s.escapeByte(p[i], at+int64(i)); err != nil {
				return i, s.cutAt(err, at+int64(i))
			}
			i++
			continue
		}
		if s.surr == 0 {
			i += d.fast(p[i:])
			if d.failed() {
				i += skipStringBytes(p[i:])
			}
			if i == len(p) {
				break
			}
		}
		c := p[i]
		switch {
		case c == '"':
			if s.surr != 0 {
				s.decodeRune(utf8.RuneError)
			}
			return i + 1, s.endAudio(at + int64(i))
		case c == '\\':
			s.esc[0], s.escLen, s.escAt = c, 1, at+int64(i)
		case c < 0x20:
			return i, s.cutAt(jsonSyntaxError(at+int64(i), "control character in a string"), at+int64(i))
		default:
			if s.surr != 0 {
				s.decodeRune(utf8.RuneError)
			}
			d.writeByte(c)
		}
		i++
	}
	if d.sinkErr != nil {
		return i, d.sinkErr
	}
	return i, nil
}

// spellsAudioKey tells whether the text of a string (escapes as sent) is
// a key the parsers take for audio_base64.
func spellsAudioKey(raw []byte) bool {
	q := make([]byte, 0, len(raw)+2)
	q = append(append(append(q, '"'), raw...), '"')
	r := &jsonReader{data: q}
	key, err := r.str(true)
	return err == nil && r.pos == len(q) && keyIs(key, audioField)
}

// skipStringBytes is how many bytes of p are neither a quote, a backslash
// nor a control character: the rest of a string that is already refused.
func skipStringBytes(p []byte) int {
	for i, c := range p {
		if c == '"' || c == '\\' || c < 0x20 {
			return i
		}
	}
	return len(p)
}

// escapeByte takes the next byte of an escape sequence, and decodes the
// sequence once it is whole, as unescapeJSON does.
func (s *splitter) escapeByte(c byte, at int64) error {
	s.esc[s.escLen] = c
	s.escLen++
	if s.escLen == 2 {
		switch c {
		case 'u':
			return nil
		case '"', '\\', '/':
		case 'b':
			c = '\b'
		case 'f':
			c = '\f'
		case 'n':
			c = '\n'
		case 'r':
			c = '\r'
		case 't':
			c = '\t'
		default:
			return jsonSyntaxError(s.escAt, "invalid escape")
		}
		s.escLen = 0
		if s.surr != 0 {
			s.decodeRune(utf8.RuneError)
		}
		s.dec.writeByte(c)
		return nil
	}
	if hexVal(c) < 0 {
		return jsonSyntaxError(s.escAt, `invalid \u escape`)
	}
	if s.escLen < 6 {
		return nil
	}
	s.escLen = 0
	r := hex4(s.esc[2:6])
	if s.surr != 0 {
		held := s.surr
		s.surr = 0
		if dec := utf16.DecodeRune(held, r); dec != utf8.RuneError {
			s.decodeRune(dec)
			return nil
		}
		s.decodeRune(utf8.RuneError)
	}
	if utf16.IsSurrogate(r) {
		s.surr = r
		return nil
	}
	s.decodeRune(r)
	return nil
}

// decodeRune hands the decoder a character an escape spelt (a surrogate
// left waiting becomes U+FFFD, as in unescapeJSON).
func (s *splitter) decodeRune(r rune) {
	if s.surr != 0 {
		s.surr = 0
	}
	n := utf8.EncodeRune(s.utf8Buf[:], r)
	for _, b := range s.utf8Buf[:n] {
		s.dec.writeByte(b)
	}
}

// endAudio ends a recording's string at its closing quote.
func (s *splitter) endAudio(quoteAt int64) error {
	if len(s.body.json) >= s.maxJSON { // no room for the closing quote
		return jsonTooLarge(int64(s.maxJSON))
	}
	a, d := s.audio, s.dec
	a.blank = d.finish()
	if d.sinkErr != nil {
		return d.sinkErr
	}
	if d.err != nil {
		a.Err = d.err
	}
	a.Size, a.Head = d.size, d.head
	a.EncodedLen = quoteAt - s.audioAt
	a.delta = int(a.EncodedLen) - len(strconv.Itoa(a.Index))
	s.body.json = append(s.body.json, '"')
	a.end = len(s.body.json)
	s.audio, s.dec, s.state = nil, nil, splitOutside
	return nil
}

// stopAudio gives up the recording being read, if any, once its decoder
// wrote all it will.
func (s *splitter) stopAudio() {
	if s.dec != nil {
		s.dec.wait()
	}
}

// cutAt stops the document at a syntax error inside a recording's string,
// found at offset at of the body: nothing more is kept, and the parsers
// report err there.
func (s *splitter) cutAt(err error, at int64) error {
	s.body.cut, s.body.cutAt = err, len(s.body.json)
	a := s.audio
	a.Err = err
	a.EncodedLen = at - s.audioAt
	a.end = len(s.body.json)
	s.dec.wait()
	s.audio, s.dec = nil, nil
	return nil
}

// end is the end of the body.
func (s *splitter) end() {
	if s.state != splitAudio || s.body.cut != nil {
		return
	}
	var err error
	if s.escLen >= 2 && s.esc[1] == 'u' {
		err = jsonSyntaxError(s.escAt, `invalid \u escape`)
	} else {
		err = jsonSyntaxError(s.pos, "unterminated string")
	}
	_ = s.cutAt(err, s.pos)
}

// CodeMalformedJSON is the error code of a body that is not JSON (400);
// a well-formed body with a wrong field is domain.CodeInvalidField (422).
const CodeMalformedJSON = "malformed_json"

func jsonSyntaxError(pos int64, msg string) error {
	return &domain.Error{Kind: domain.KindMalformed, Code: CodeMalformedJSON, Field: "body",
		Message: fmt.Sprintf("malformed JSON at byte %d: %s", pos, msg)}
}

// reader is a jsonReader of the body: positions map back to the body as
// sent, references to the recordings.
func (b *CallbackBody) reader() *jsonReader {
	return &jsonReader{data: b.json, body: b}
}

// bodyPos maps a position in json to the body as sent.
func (b *CallbackBody) bodyPos(pos int) int {
	shift := 0
	for _, a := range b.audios {
		if pos >= a.end && a.end > a.start {
			shift += a.delta
		}
	}
	return pos + shift
}

// audio returns the recording a reference names.
func (b *CallbackBody) audio(ref string) (*PartnerAudio, bool) {
	i, err := strconv.Atoi(ref)
	if err != nil || i < 0 || i >= len(b.audios) || strconv.Itoa(i) != ref {
		return nil, false
	}
	return b.audios[i], true
}

// ParseTask reads the body as ParseTaskCallback does.
func (b *CallbackBody) ParseTask() (domain.TaskCallback, error) { return parseTaskCallback(b.reader()) }

// ParseLead reads the body as ParseLeadCallback does.
func (b *CallbackBody) ParseLead() (domain.LeadCallback, error) { return parseLeadCallback(b.reader()) }

// ParseResult reads the body as ParseResultCallback does.
func (b *CallbackBody) ParseResult() (domain.ResultCallback, error) {
	return parseResultCallback(b.reader())
}
