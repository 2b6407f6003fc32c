package cvio

import (
	"callconnect/domain"
	"encoding/binary"
	"unicode"
	"unicode/utf8"
)

// audioOutLen is how many decoded bytes audioDecoder collects, at most,
// before it hands them to its sink. Its buffers start at audioOutFirst and
// double with each chunk: a body may carry dozens of tiny recordings, and
// each must not cost two buffers of the size a long one writes best in.
const (
	audioOutFirst = 4 << 10
	audioOutLen   = 256 << 10
)

// Phases of audioDecoder, in the order a string goes through them.
const (
	audioLeading = iota // whitespace before anything else (TrimSpace's)
	audioPrefix         // what may be "data:"
	audioHeader         // a data URI's header, up to its ','
	audioBody           // the base64 itself
)

// audioDecoder decodes a recording exactly as DecodeAudioBase64 decodes
// strings.TrimSpace of the same text (which is what the parsers hand it),
// but from its bytes as they arrive: it never holds the text, and passes
// the decoded bytes to sink in chunks of audioOutLen. Everything that
// DecodeAudioBase64 refuses it refuses with the same error, as soon as it
// can tell; the differential tests hold the two together.
//
// TrimSpace's trailing whitespace cannot be told from interior whitespace
// before the end: ASCII whitespace is skipped by the base64 rules anyway,
// and a non-ASCII space (U+00A0…) is remembered and refused as the
// unexpected character it is only when something other than whitespace
// follows it.
type audioDecoder struct {
	max        int64 // DecodeAudioBase64's maxDecoded
	maxSymbols int64
	sink       func([]byte) error // the decoded bytes; its error stops the decoder
	out        []byte
	head       []byte // the first domain.AudioSniffLen decoded bytes
	size       int64  // decoded bytes handed to sink or in out

	phase   int
	content bool   // something other than whitespace was seen
	pre     []byte // audioPrefix: the candidate "data:"; audioHeader: the header
	off     int64  // the next byte's offset in the trimmed text
	symbols int64
	pads    int64
	acc     uint32
	n       int

	pendOff  int64 // offset of a non-ASCII space that ends the text only if nothing but whitespace follows; -1: none
	pendByte byte

	rn    [utf8.UTFMax]byte // a non-ASCII sequence being completed
	rnLen int
	one   [1]byte // an ASCII byte as a unit, without an allocation

	err     *domain.Error // why the text is not a recording; sticky
	sinkErr error         // sink's failure; sticky

	inFlight chan error // the write on its way, if any
	spare    []byte     // the buffer it writes from is out's twin
}

func newAudioDecoder(max int64, sink func([]byte) error) *audioDecoder {
	d := &audioDecoder{max: max, sink: sink, pendOff: -1}
	limit := min(max, 1<<60)
	d.maxSymbols = limit/3*4 + 1 // as DecodeAudioBase64 counts them
	if r := limit % 3; r > 0 {
		d.maxSymbols += r + 1
	}
	return d
}

func (d *audioDecoder) failed() bool { return d.err != nil || d.sinkErr != nil }

func (d *audioDecoder) fail(err *domain.Error) {
	if d.err == nil {
		d.err = err
	}
}

func audioTooLarge(max int64) *domain.Error {
	return &domain.Error{Kind: domain.KindTooLarge, Code: domain.CodeAudioTooLarge, Field: audioField,
		Message: "the recording is larger than the limit of " + formatBytes(max)}
}

func audioBadChar(c byte, off int64) *domain.Error {
	return invalid(audioField, "is not base64: unexpected character %q at offset %d", c, off)
}

// fast decodes the longest run of whole groups of four base64 symbols at
// the start of p, when nothing else is pending, and returns how many bytes
// it took: the common case, a byte at a time being four times slower. A
// byte that is not a symbol ('"', '\\', whitespace, '=', anything else)
// stops it, for writeByte to handle.
func (d *audioDecoder) fast(p []byte) int {
	if d.phase != audioBody || d.n != 0 || d.pads != 0 || d.pendOff >= 0 || d.rnLen != 0 || d.failed() {
		return 0
	}
	n := int64(len(p)) &^ 3
	if room := (d.maxSymbols - d.symbols) &^ 3; n > room {
		n = room
	}
	i := 0
	for {
		if cap(d.out)-len(d.out) < 8 && !d.flush() {
			break
		}
		out := d.out[len(d.out):cap(d.out)]
		o := 0
		// Eight symbols make six bytes, written as one word (two bytes of
		// slack, overwritten next).
		for int64(i+8) <= n && o+8 <= len(out) {
			q := p[i : i+8 : i+8]
			c0, c1, c2, c3 := base64Values[q[0]], base64Values[q[1]], base64Values[q[2]], base64Values[q[3]]
			c4, c5, c6, c7 := base64Values[q[4]], base64Values[q[5]], base64Values[q[6]], base64Values[q[7]]
			if c0|c1|c2|c3|c4|c5|c6|c7 >= 64 {
				break
			}
			binary.BigEndian.PutUint64(out[o:], uint64(c0)<<58|uint64(c1)<<52|uint64(c2)<<46|uint64(c3)<<40|
				uint64(c4)<<34|uint64(c5)<<28|uint64(c6)<<22|uint64(c7)<<16)
			o += 6
			i += 8
		}
		d.out = d.out[:len(d.out)+o]
		if int64(i+4) > n {
			break
		}
		if o+3 > len(out) {
			continue // flushed above
		}
		q := p[i : i+4 : i+4]
		a, b, c, e := base64Values[q[0]], base64Values[q[1]], base64Values[q[2]], base64Values[q[3]]
		if a|b|c|e >= 64 {
			break
		}
		d.out = append(d.out, a<<2|b>>4, b<<4|c>>2, c<<6|e)
		i += 4
	}
	d.symbols += int64(i)
	d.off += int64(i)
	return i
}

// writeByte takes the next byte of the (unescaped) text.
func (d *audioDecoder) writeByte(c byte) {
	if d.failed() {
		return
	}
	if d.rnLen > 0 || c >= utf8.RuneSelf && (d.phase == audioLeading || d.phase == audioBody) {
		d.rn[d.rnLen] = c
		d.rnLen++
		if !utf8.FullRune(d.rn[:d.rnLen]) {
			return
		}
		d.flushRune()
		return
	}
	d.one[0] = c
	d.unit(d.one[:], rune(c))
}

// flushRune hands on the non-ASCII sequence collected, complete or not
// (the text ended): a rune, or, when it is not valid UTF-8, its first byte
// alone and the rest again.
func (d *audioDecoder) flushRune() {
	seq := d.rn
	n := d.rnLen
	d.rnLen = 0
	r, size := utf8.DecodeRune(seq[:n])
	d.unit(seq[:size], r)
	for _, b := range seq[size:n] {
		d.writeByte(b)
	}
}

// unit takes one character of the text: an ASCII byte, a rune of several
// bytes, or a byte that is not valid UTF-8 (r is then utf8.RuneError).
func (d *audioDecoder) unit(b []byte, r rune) {
	space := isSpaceUnit(b, r)
	switch d.phase {
	case audioLeading:
		if space {
			return
		}
		d.content = true
		d.phase = audioPrefix
		d.prefix(b)
	case audioPrefix:
		d.prefix(b)
	case audioHeader:
		for _, c := range b {
			d.header(c)
		}
	case audioBody:
		d.body(b, space)
	}
}

// isSpaceUnit tells whether TrimSpace would trim the character.
func isSpaceUnit(b []byte, r rune) bool {
	if len(b) == 1 {
		return asciiSpace(b[0])
	}
	return r != utf8.RuneError && unicode.IsSpace(r)
}

func asciiSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

const dataScheme = "data:"

// prefix collects what may be "data:" (any case); on a mismatch the bytes
// are the base64 itself.
func (d *audioDecoder) prefix(b []byte) {
	for i, c := range b {
		k := len(d.pre)
		if c|0x20 == dataScheme[k]|0x20 && (c == ':') == (k == 4) {
			d.pre = append(d.pre, c)
			if len(d.pre) == len(dataScheme) {
				d.phase, d.pre, d.off = audioHeader, d.pre[:0], int64(len(dataScheme))
				for _, rest := range b[i+1:] {
					d.header(rest)
				}
				return
			}
			continue
		}
		d.startBody()
		replay := append(d.pre, b[i:]...)
		d.pre = nil
		for _, c := range replay {
			d.writeByte(c)
		}
		return
	}
}

// header collects a data URI's header up to its ','.
func (d *audioDecoder) header(c byte) {
	if d.failed() {
		return
	}
	if c != ',' {
		if d.pre = append(d.pre, c); len(d.pre) > maxDataURIHeader {
			d.fail(invalid(audioField, "is a data URI without data"))
		}
		return
	}
	if err := checkAudioDataURIHeader(string(d.pre)); err != nil {
		d.fail(err)
		return
	}
	d.off += int64(len(d.pre)) + 1
	d.pre = nil
	d.startBody()
}

func (d *audioDecoder) startBody() {
	d.phase = audioBody
	if d.max <= 0 {
		d.fail(audioTooLarge(d.max))
	}
}

// body takes a character of the base64 itself: DecodeAudioBase64's first
// pass, decoding as it goes.
func (d *audioDecoder) body(b []byte, space bool) {
	if d.failed() {
		return
	}
	if space {
		if len(b) > 1 && d.pendOff < 0 {
			d.pendOff, d.pendByte = d.off, b[0]
		}
		d.off += int64(len(b))
		return
	}
	if d.pendOff >= 0 {
		d.fail(audioBadChar(d.pendByte, d.pendOff))
		return
	}
	c := b[0]
	switch v := base64Values[c]; {
	case len(b) > 1 || v == badSymbol:
		d.fail(audioBadChar(c, d.off))
		return
	case v == padSymbol:
		d.pads++
	default:
		if d.pads > 0 {
			d.fail(invalid(audioField, "is not base64: data after the '=' padding"))
			return
		}
		if d.symbols++; d.symbols > d.maxSymbols {
			d.fail(audioTooLarge(d.max))
			return
		}
		d.acc = d.acc<<6 | uint32(v)
		if d.n++; d.n == 4 {
			d.emit(byte(d.acc>>16), byte(d.acc>>8), byte(d.acc))
			d.acc, d.n = 0, 0
		}
	}
	d.off++
}

func (d *audioDecoder) emit(bs ...byte) {
	if len(d.out)+len(bs) > cap(d.out) && !d.flush() {
		return
	}
	d.out = append(d.out, bs...)
}

// flush hands the decoded bytes collected to sink, on another goroutine,
// and goes on decoding into a second buffer meanwhile: decoding, writing and
// hashing (the sink's business) then overlap. There is one write in flight
// at most; false when sink failed.
func (d *audioDecoder) flush() bool { return d.flushTo(true) }

// flushTo is flush; with async false the sink writes before it returns
// (the last chunk: nothing is left to overlap it with).
func (d *audioDecoder) flushTo(async bool) bool {
	d.wait()
	if d.sinkErr != nil {
		return false
	}
	if len(d.head) < domain.AudioSniffLen {
		d.head = append(d.head, d.out[:min(len(d.out), domain.AudioSniffLen-len(d.head))]...)
	}
	if len(d.out) > 0 {
		d.size += int64(len(d.out))
		full := d.out
		if !async {
			if err := d.sink(full); err != nil {
				d.sinkErr = err
				return false
			}
		} else {
			done := make(chan error, 1)
			go func() { done <- d.sink(full) }()
			d.inFlight = done
			d.out, d.spare = d.spare, full
		}
	}
	// The next buffer is twice the last one, up to audioOutLen.
	want := audioOutFirst
	if c := max(cap(d.out), cap(d.spare)); c > 0 {
		want = min(2*c, audioOutLen)
	}
	if cap(d.out) < want {
		d.out = make([]byte, 0, want)
	}
	d.out = d.out[:0]
	return true
}

// wait waits for the write in flight, if any. Whoever stops using the
// decoder waits, so that nothing writes to the sink after.
func (d *audioDecoder) wait() {
	if d.inFlight == nil {
		return
	}
	if err := <-d.inFlight; err != nil && d.sinkErr == nil {
		d.sinkErr = err
	}
	d.inFlight = nil
}

// finish ends the text: DecodeAudioBase64's checks of the whole, and the
// last bytes. blank is true when the text was whitespace only (the parsers
// take it as no recording).
func (d *audioDecoder) finish() (blank bool) {
	if d.rnLen > 0 {
		d.flushRune()
	}
	if d.phase == audioPrefix {
		d.startBody()
		replay := d.pre
		d.pre = nil
		for _, c := range replay {
			d.writeByte(c)
		}
	}
	if d.rnLen > 0 { // a sequence replayed into the body
		d.flushRune()
	}
	defer d.wait()
	switch d.phase {
	case audioLeading:
		return !d.content
	case audioHeader:
		d.fail(invalid(audioField, "is a data URI without data"))
	}
	if d.failed() {
		return false
	}
	rem := d.symbols % 4
	switch {
	case d.symbols == 0:
		d.fail(invalid(audioField, "is empty"))
	case rem == 1:
		d.fail(invalid(audioField, "is not base64: its length is impossible (truncated?)"))
	case d.pads > 0 && (rem == 0 || d.pads != 4-rem):
		d.fail(invalid(audioField, "is not base64: wrong '=' padding"))
	case d.symbols/4*3+max(rem-1, 0) > d.max:
		d.fail(audioTooLarge(d.max))
	case d.n == 2 && d.acc&0xF != 0, d.n == 3 && d.acc&0x3 != 0:
		d.fail(invalid(audioField, "is not base64: the last character carries stray bits (truncated?)"))
	case d.n == 2:
		d.emit(byte(d.acc >> 4))
	case d.n == 3:
		d.emit(byte(d.acc>>10), byte(d.acc>>2))
	}
	if !d.failed() {
		d.flushTo(false)
	}
	return false
}
