package cvio

import (
	"callconnect/domain"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// jsonReader is a pull parser for the partner's JSON bodies. It exists instead
// of encoding/json for three reasons that matter for partner input:
//
//   - a problem is reported with its exact path (interacoes[3].tarefa.data);
//     encoding/json's UnmarshalTypeError drops array indices;
//   - the caller says what it wants and everything else is skipped without
//     being kept: an object with a million unknown keys costs no memory, and
//     the recording (tens of MB of base64) is copied once, into its string;
//   - a value of the wrong type is recorded and skipped, and parsing goes on,
//     so that a malformed document is always reported as such (field "body"),
//     whatever semantic problem came before the syntax error.
//
// The grammar is RFC 8259 exactly (the fuzz test compares it with
// encoding/json.Valid), plus one tolerance: a leading UTF-8 byte order mark.
type jsonReader struct {
	data  []byte
	pos   int
	depth int
	first *domain.Error // the first semantic problem; syntax errors are returned instead
	// body is set when data is a CallbackBody's JSON: its recordings are
	// references, and positions are mapped back to the body as sent.
	body *CallbackBody
	// For a whole body: the recordings met so far, and the largest a
	// decoded one may be.
	audios   int
	maxAudio int64
}

// maxJSONDepth bounds nesting, so hostile input cannot exhaust the stack.
// The partner bodies are four levels deep; unknown fields get generous room.
const maxJSONDepth = 64

// JSON value kinds, as scalar reports them.
const (
	jsonString byte = 's'
	jsonNumber byte = 'n'
	jsonTrue   byte = 't'
	jsonFalse  byte = 'f'
	jsonNull   byte = '0'
	jsonObject byte = '{'
	jsonArray  byte = '['
)

func jsonKindName(k byte) string {
	switch k {
	case jsonString:
		return "a string"
	case jsonNumber:
		return "a number"
	case jsonTrue, jsonFalse:
		return "a boolean"
	case jsonNull:
		return "null"
	case jsonObject:
		return "an object"
	case jsonArray:
		return "an array"
	}
	return "a value"
}

// parseObject parses r's data, which must be one JSON object, calling
// member for each of its keys. member consumes the value (or leaves it, and
// it is skipped). The error is the syntax error if the document is
// malformed, otherwise the first semantic problem recorded with fail.
func (r *jsonReader) parseObject(member func(r *jsonReader, key string) error) error {
	body := r.data
	// Tolerance: some Windows tools prefix UTF-8 text with a byte order mark.
	if len(body) >= 3 && body[0] == 0xEF && body[1] == 0xBB && body[2] == 0xBF {
		r.pos = 3
	}
	r.ws()
	if r.pos == len(r.data) {
		return &domain.Error{Kind: domain.KindMalformed, Code: CodeMalformedJSON, Field: "body",
			Message: "is empty; a JSON object is expected"}
	}
	if r.data[r.pos] != '{' {
		if err := r.skip(); err != nil {
			return err
		}
		if err := r.end(); err != nil {
			return err
		}
		return invalid("body", "must be a JSON object")
	}
	if err := r.object(func(key string) error { return member(r, key) }); err != nil {
		return err
	}
	if err := r.end(); err != nil {
		return err
	}
	if r.first != nil {
		return r.first
	}
	return nil
}

func (r *jsonReader) end() error {
	r.ws()
	if r.pos != len(r.data) {
		return r.syntax("unexpected data after the JSON value")
	}
	return nil
}

func (r *jsonReader) syntax(msg string) error {
	if r.body == nil {
		return jsonSyntaxError(int64(r.pos), msg)
	}
	if r.body.cut != nil && r.pos >= r.body.cutAt {
		return r.body.cut
	}
	return jsonSyntaxError(int64(r.body.bodyPos(r.pos)), msg)
}

// fail records a semantic problem with field; the first one is reported.
func (r *jsonReader) fail(field, format string, args ...any) {
	if r.first == nil {
		r.first = invalid(field, format, args...)
	}
}

// failWith records err (a *domain.Error from a validator) as the first problem.
func (r *jsonReader) failWith(err error) {
	if err == nil || r.first != nil {
		return
	}
	if de, ok := domain.AsError(err); ok {
		r.first = de
		return
	}
	r.first = invalid("body", "%v", err)
}

func (r *jsonReader) ws() {
	for r.pos < len(r.data) {
		switch r.data[r.pos] {
		case ' ', '\t', '\n', '\r':
			r.pos++
		default:
			return
		}
	}
}

// peek returns the next significant byte, or 0 at the end of the input.
func (r *jsonReader) peek() byte {
	r.ws()
	if r.pos >= len(r.data) {
		return 0
	}
	return r.data[r.pos]
}

// object reads an object whose '{' is next. fn is called with each key and
// the reader positioned at the value; a value fn does not consume is skipped.
func (r *jsonReader) object(fn func(key string) error) error {
	if r.depth++; r.depth > maxJSONDepth {
		return r.syntax("nested too deeply")
	}
	r.pos++ // '{'
	if r.peek() == '}' {
		r.pos++
		r.depth--
		return nil
	}
	for {
		if r.peek() != '"' {
			return r.syntax("expected a string key")
		}
		key, err := r.str(true)
		if err != nil {
			return err
		}
		if r.peek() != ':' {
			return r.syntax("expected ':' after a key")
		}
		r.pos++
		r.ws()
		at := r.pos
		if err := fn(key); err != nil {
			return err
		}
		if r.pos == at {
			if err := r.skip(); err != nil {
				return err
			}
		}
		switch r.peek() {
		case ',':
			r.pos++
		case '}':
			r.pos++
			r.depth--
			return nil
		default:
			return r.syntax("expected ',' or '}' after a value")
		}
	}
}

// array reads an array whose '[' is next, calling fn for each element the
// same way object does.
func (r *jsonReader) array(fn func(i int) error) error {
	if r.depth++; r.depth > maxJSONDepth {
		return r.syntax("nested too deeply")
	}
	r.pos++ // '['
	if r.peek() == ']' {
		r.pos++
		r.depth--
		return nil
	}
	for i := 0; ; i++ {
		r.ws()
		at := r.pos
		if err := fn(i); err != nil {
			return err
		}
		if r.pos == at {
			if err := r.skip(); err != nil {
				return err
			}
		}
		switch r.peek() {
		case ',':
			r.pos++
		case ']':
			r.pos++
			r.depth--
			return nil
		default:
			return r.syntax("expected ',' or ']' after a value")
		}
	}
}

func ignoreKey(string) error { return nil }
func ignoreIndex(int) error  { return nil }

// skip reads and validates one value without keeping it.
func (r *jsonReader) skip() error {
	_, _, err := r.value(false)
	return err
}

// scalar reads one value: the text of a string (unescaped) or of a number
// (as written), or just the kind of anything else; containers are skipped.
func (r *jsonReader) scalar() (kind byte, text string, err error) {
	return r.value(true)
}

func (r *jsonReader) value(keep bool) (byte, string, error) {
	switch c := r.peek(); {
	case c == '{':
		return jsonObject, "", r.object(ignoreKey)
	case c == '[':
		return jsonArray, "", r.array(ignoreIndex)
	case c == '"':
		s, err := r.str(keep)
		return jsonString, s, err
	case c == '-' || c >= '0' && c <= '9':
		n, err := r.number()
		return jsonNumber, n, err
	case c == 't':
		return jsonTrue, "", r.literal("true")
	case c == 'f':
		return jsonFalse, "", r.literal("false")
	case c == 'n':
		return jsonNull, "", r.literal("null")
	case r.pos >= len(r.data):
		return 0, "", r.syntax("unexpected end of input")
	default:
		return 0, "", r.syntax(fmt.Sprintf("unexpected character %q", c))
	}
}

func (r *jsonReader) literal(word string) error {
	end := r.pos + len(word)
	if end > len(r.data) || string(r.data[r.pos:end]) != word {
		return r.syntax("invalid literal")
	}
	r.pos += len(word)
	return nil
}

// number reads a number and returns it as written.
func (r *jsonReader) number() (string, error) {
	d := r.data
	start := r.pos
	if r.pos < len(d) && d[r.pos] == '-' {
		r.pos++
	}
	switch {
	case r.pos < len(d) && d[r.pos] == '0':
		r.pos++
	case r.pos < len(d) && d[r.pos] >= '1' && d[r.pos] <= '9':
		r.digits()
	default:
		return "", r.syntax("invalid number")
	}
	if r.pos < len(d) && d[r.pos] == '.' {
		r.pos++
		if r.digits() == 0 {
			return "", r.syntax("invalid number: digits expected after '.'")
		}
	}
	if r.pos < len(d) && (d[r.pos] == 'e' || d[r.pos] == 'E') {
		r.pos++
		if r.pos < len(d) && (d[r.pos] == '+' || d[r.pos] == '-') {
			r.pos++
		}
		if r.digits() == 0 {
			return "", r.syntax("invalid number: digits expected in the exponent")
		}
	}
	return string(d[start:r.pos]), nil
}

func (r *jsonReader) digits() int {
	n := 0
	for r.pos < len(r.data) && r.data[r.pos] >= '0' && r.data[r.pos] <= '9' {
		r.pos++
		n++
	}
	return n
}

// str reads a string whose '"' is next. With keep it returns the unescaped
// text, allocated once; bytes that are not valid UTF-8 are kept as they are
// (the validators refuse them, naming the field) rather than replaced.
func (r *jsonReader) str(keep bool) (string, error) {
	d := r.data
	r.pos++ // opening quote
	start := r.pos
	escaped := false
	for r.pos < len(d) {
		c := d[r.pos]
		switch {
		case c == '"':
			raw := d[start:r.pos]
			r.pos++
			switch {
			case !keep:
				return "", nil
			case !escaped:
				return string(raw), nil
			default:
				return unescapeJSON(raw), nil
			}
		case c == '\\':
			escaped = true
			if r.pos+1 >= len(d) {
				r.pos = len(d)
				return "", r.syntax("unterminated string")
			}
			switch d[r.pos+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				r.pos += 2
			case 'u':
				if r.pos+6 > len(d) || !isHex4(d[r.pos+2:r.pos+6]) {
					return "", r.syntax(`invalid \u escape`)
				}
				r.pos += 6
			default:
				return "", r.syntax("invalid escape")
			}
		case c < 0x20:
			return "", r.syntax("control character in a string")
		default:
			r.pos++
		}
	}
	return "", r.syntax("unterminated string")
}

func isHex4(b []byte) bool {
	for _, c := range b {
		if hexVal(c) < 0 {
			return false
		}
	}
	return true
}

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

func hex4(b []byte) rune {
	return rune(hexVal(b[0])<<12 | hexVal(b[1])<<8 | hexVal(b[2])<<4 | hexVal(b[3]))
}

// unescapeJSON decodes the escapes of a string body str has validated. A
// lone UTF-16 surrogate becomes U+FFFD, as encoding/json does.
func unescapeJSON(raw []byte) string {
	var b strings.Builder
	b.Grow(len(raw)) // escapes only ever shrink
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			j := i + 1
			for j < len(raw) && raw[j] != '\\' {
				j++
			}
			b.Write(raw[i:j])
			i = j
			continue
		}
		switch e := raw[i+1]; e {
		case 'u':
			rr := hex4(raw[i+2 : i+6])
			i += 6
			if utf16.IsSurrogate(rr) {
				if i+6 <= len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
					if dec := utf16.DecodeRune(rr, hex4(raw[i+2:i+6])); dec != utf8.RuneError {
						b.WriteRune(dec)
						i += 6
						continue
					}
				}
				rr = utf8.RuneError
			}
			b.WriteRune(rr)
			continue
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		default: // '"', '\\', '/'
			b.WriteByte(e)
		}
		i += 2
	}
	return b.String()
}
