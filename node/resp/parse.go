package resp

import (
	"bytes"
	"strconv"
)

// Request parsing follows Redis 7.0's processMultibulkBuffer and processInlineBuffer, including
// their quirks, so that malformed input gets the same error Redis would send. Header lines are
// found with findCR, which, like the C strchr Redis uses, gives up at a NUL byte.

const (
	// inlineMax is PROTO_INLINE_MAX_SIZE: the longest inline request or header line.
	inlineMax = 64 * 1024
	// maxMultibulk bounds the argument count of one request. Redis allows INT_MAX; a cache
	// command never needs more than a million arguments, and this keeps argv bounded.
	maxMultibulk = 1024 * 1024
	// unauthMultibulk and unauthBulk are Redis's limits for clients that still must AUTH.
	unauthMultibulk = 10
	unauthBulk      = 16384
)

// protoError is a malformed request: the connection replies with it and closes, as Redis does.
type protoError string

func (e protoError) Error() string { return string(e) }

const (
	errInvalidMultibulk = protoError("Protocol error: invalid multibulk length")
	errInvalidBulk      = protoError("Protocol error: invalid bulk length")
	errUnauthMultibulk  = protoError("Protocol error: unauthenticated multibulk length")
	errUnauthBulk       = protoError("Protocol error: unauthenticated bulk length")
	errBigMbulkCount    = protoError("Protocol error: too big mbulk count string")
	errBigBulkCount     = protoError("Protocol error: too big bulk count string")
	errBigInline        = protoError("Protocol error: too big inline request")
	errUnbalancedQuotes = protoError("Protocol error: unbalanced quotes in request")
)

// parser splits a byte stream into commands. Arguments alias the input buffer (multibulk) or
// the parser's scratch buffer (inline), so they are valid until the next call.
type parser struct {
	argv    [][]byte
	scratch []byte
	// maxBulk is the largest bulk argument accepted (Redis proto-max-bulk-len).
	maxBulk int64
}

// parse reads one command from b. It returns the number of bytes consumed and the arguments.
// n == 0 means b holds no complete command yet; then need is a lower bound on the total bytes
// required (0 if unknown). A command with no arguments (an empty line, "*0\r\n") consumes bytes
// and returns no arguments. authRequired selects Redis's stricter limits for clients that have
// not authenticated.
func (p *parser) parse(b []byte, authRequired bool) (n int, argv [][]byte, need int, err error) {
	if len(b) == 0 {
		return 0, nil, 0, nil
	}
	if b[0] == '*' {
		return p.parseMultibulk(b, authRequired)
	}
	return p.parseInline(b)
}

func (p *parser) parseMultibulk(b []byte, authRequired bool) (int, [][]byte, int, error) {
	count, cr, ok := headerNum(b, 1)
	if !ok {
		cr = findCR(b, 0)
		if cr < 0 {
			if len(b) > inlineMax {
				return 0, nil, 0, errBigMbulkCount
			}
			return 0, nil, 0, nil
		}
	}
	if cr+1 >= len(b) { // the byte after '\r' (taken to be '\n') has not arrived
		return 0, nil, 0, nil
	}
	if !ok {
		count, ok = string2ll(b[1:cr])
	}
	if !ok || count > maxMultibulk {
		return 0, nil, 0, errInvalidMultibulk
	}
	if count > unauthMultibulk && authRequired {
		return 0, nil, 0, errUnauthMultibulk
	}
	pos := cr + 2
	if count <= 0 {
		return pos, nil, 0, nil
	}
	argv := p.argv[:0]
	for i := int64(0); i < count; i++ {
		var size int64
		ok := false
		if pos < len(b) && b[pos] == '$' {
			size, cr, ok = headerNum(b, pos+1)
		}
		if !ok {
			cr = findCR(b, pos)
			if cr < 0 {
				if len(b)-pos > inlineMax {
					return 0, nil, 0, errBigBulkCount
				}
				return 0, nil, 0, nil
			}
		}
		if cr+1 >= len(b) {
			return 0, nil, 0, nil
		}
		if !ok {
			if b[pos] != '$' {
				c := b[pos]
				if c == '\r' || c == '\n' {
					c = ' '
				}
				return 0, nil, 0, protoError("Protocol error: expected '$', got '" + string(rune(c)) + "'")
			}
			size, ok = string2ll(b[pos+1 : cr])
		}
		if !ok || size < 0 || size > p.maxBulk {
			return 0, nil, 0, errInvalidBulk
		}
		if size > unauthBulk && authRequired {
			return 0, nil, 0, errUnauthBulk
		}
		pos = cr + 2
		// Like Redis, the two bytes after the payload are skipped without being checked.
		if int64(len(b)-pos) < size+2 {
			p.argv = argv
			return 0, nil, pos + int(size) + 2, nil
		}
		argv = append(argv, b[pos:pos+int(size):pos+int(size)])
		pos += int(size) + 2
	}
	p.argv = argv
	return pos, argv, 0, nil
}

// headerNum reads the length of a header line whose digits start at b[from] (a request's
// "*3\r\n", an argument's "$100\r\n") in one pass, for the common case: 1 to 18 decimal digits
// without a leading zero (or a lone "0") ending at a '\r'. It returns the number and the
// index of the '\r'; for anything else (a sign, a zero in front, another byte, a longer number,
// no '\r' yet) ok is false and the caller takes the general path, findCR then string2ll,
// which finds the same '\r' and the same number where this succeeds (FuzzHeaderNum). Scanning
// the line and then converting it was ~15 % of the instructions of a pipelined SET.
func headerNum(b []byte, from int) (v int64, cr int, ok bool) {
	i := from
	for ; i < len(b) && i-from < 19; i++ {
		c := b[i]
		if c == '\r' {
			break
		}
		if c < '0' || c > '9' {
			return 0, 0, false
		}
		v = v*10 + int64(c-'0')
	}
	n := i - from
	if i >= len(b) || b[i] != '\r' || n == 0 || n > 18 || (n > 1 && b[from] == '0') {
		return 0, 0, false
	}
	return v, i, true
}

// findCR returns the index of the first '\r' in b at or after from, or -1 if there is none or a
// NUL byte comes first (Redis searches with strchr).
func findCR(b []byte, from int) int {
	for i := from; i < len(b); i++ {
		switch b[i] {
		case '\r':
			return i
		case 0:
			return -1
		}
	}
	return -1
}

func (p *parser) parseInline(b []byte) (int, [][]byte, int, error) {
	nl := -1
	for i, c := range b {
		if c == '\n' {
			nl = i
			break
		}
		if c == 0 {
			break
		}
	}
	if nl < 0 {
		if len(b) > inlineMax {
			return 0, nil, 0, errBigInline
		}
		return 0, nil, 0, nil
	}
	end := nl
	if end > 0 && b[end-1] == '\r' {
		end--
	}
	argv, ok := p.splitArgs(b[:end])
	if !ok {
		return 0, nil, 0, errUnbalancedQuotes
	}
	return nl + 1, argv, 0, nil
}

// splitArgs is Redis's sdssplitargs: blanks separate arguments; "double quotes" understand
// \xHH, \n, \r, \t, \b, \a and \<any>; 'single quotes' understand \'; a closing quote must be
// followed by a blank or the end.
func (p *parser) splitArgs(line []byte) ([][]byte, bool) {
	// Arguments are written into scratch; indexes are recorded first because appending may move
	// the buffer.
	p.scratch = p.scratch[:0]
	var bounds []int
	i := 0
	at := func(j int) byte {
		if j < len(line) {
			return line[j]
		}
		return 0
	}
	for {
		for i < len(line) && isSpace(line[i]) {
			i++
		}
		if i >= len(line) {
			break
		}
		start := len(p.scratch)
		inq, insq, done := false, false, false
		for !done {
			c := at(i)
			switch {
			case inq:
				switch {
				case c == '\\' && at(i+1) == 'x' && isHex(at(i+2)) && isHex(at(i+3)):
					p.scratch = append(p.scratch, unhex(at(i+2))<<4|unhex(at(i+3)))
					i += 3
				case c == '\\' && at(i+1) != 0:
					i++
					e := at(i)
					switch e {
					case 'n':
						e = '\n'
					case 'r':
						e = '\r'
					case 't':
						e = '\t'
					case 'b':
						e = '\b'
					case 'a':
						e = '\a'
					}
					p.scratch = append(p.scratch, e)
				case c == '"':
					if n := at(i + 1); n != 0 && !isSpace(n) {
						return nil, false
					}
					done = true
				case c == 0:
					return nil, false
				default:
					p.scratch = append(p.scratch, c)
				}
			case insq:
				switch {
				case c == '\\' && at(i+1) == '\'':
					i++
					p.scratch = append(p.scratch, '\'')
				case c == '\'':
					if n := at(i + 1); n != 0 && !isSpace(n) {
						return nil, false
					}
					done = true
				case c == 0:
					return nil, false
				default:
					p.scratch = append(p.scratch, c)
				}
			default:
				switch c {
				case ' ', '\n', '\r', '\t', 0:
					done = true
				case '"':
					inq = true
				case '\'':
					insq = true
				default:
					p.scratch = append(p.scratch, c)
				}
			}
			if at(i) != 0 {
				i++
			}
		}
		bounds = append(bounds, start, len(p.scratch))
	}
	argv := p.argv[:0]
	for j := 0; j < len(bounds); j += 2 {
		argv = append(argv, p.scratch[bounds[j]:bounds[j+1]:bounds[j+1]])
	}
	p.argv = argv
	return argv, true
}

// isSpace is C isspace in the "C" locale.
func isSpace(c byte) bool {
	return c == ' ' || (c >= '\t' && c <= '\r')
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// string2ll is Redis's strict integer parser: optional '-', no '+', no leading zeros, no
// spaces, at most 20 bytes, within int64.
func string2ll(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) >= 21 {
		return 0, false
	}
	if len(b) == 1 && b[0] == '0' {
		return 0, true
	}
	neg := false
	if b[0] == '-' {
		neg = true
		b = b[1:]
		if len(b) == 0 {
			return 0, false
		}
	}
	if b[0] < '1' || b[0] > '9' {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		if v > (1<<64-1)/10 {
			return 0, false
		}
		v *= 10
		if v > 1<<64-1-uint64(c-'0') {
			return 0, false
		}
		v += uint64(c - '0')
	}
	if neg {
		if v > 1<<63 {
			return 0, false
		}
		return -int64(v), true
	}
	if v > 1<<63-1 {
		return 0, false
	}
	return int64(v), true
}

// parseCursor is Redis's parseScanCursorOrReply: C strtoul in base 10 over the argument as a
// C string, rejecting a leading blank, trailing garbage and overflow. strtoul accepts a sign
// (a '-' negates modulo 2^64) and an empty string (cursor 0).
func parseCursor(b []byte) (uint64, bool) {
	b = cstr(b)
	if len(b) > 0 && isSpace(b[0]) {
		return 0, false
	}
	i, neg := 0, false
	if i < len(b) && (b[i] == '+' || b[i] == '-') {
		neg = b[i] == '-'
		i++
	}
	digits := b[i:]
	if len(digits) == 0 {
		// No conversion: strtoul leaves the end pointer at the start, so only "" is valid.
		return 0, len(b) == 0
	}
	v, err := strconv.ParseUint(string(digits), 10, 64)
	if err != nil {
		return 0, false
	}
	if neg {
		v = -v
	}
	return v, true
}

// cstr returns b up to its first NUL byte: how C code that treats an argument as a C string sees
// it.
func cstr(b []byte) []byte {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return b[:i]
	}
	return b
}
