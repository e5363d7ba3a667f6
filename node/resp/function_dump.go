package resp

import (
	"context"
	"encoding/binary"
	"hash/crc64"
	"strconv"
)

// FUNCTION DUMP and FUNCTION RESTORE use Redis's payload format, so a dump moves between
// geocache and Redis 7.0 both ways: per library the RDB opcode FUNCTION2 (245) and the code as
// an RDB string, then the RDB version (2 bytes, little-endian) and the CRC-64 (Jones, as Redis
// computes it) of everything before, little-endian. geocache writes strings uncompressed and
// reads LZF-compressed ones, which Redis writes for code over 20 bytes.

const (
	rdbOpFunction2 = 245
	rdbVersion     = 10 // Redis 7.0's
	errBadPayload  = "ERR DUMP payload version or checksum are wrong"
)

// crcJones is the table of Redis's CRC-64 (Jones polynomial, reflected).
var crcJones = crc64.MakeTable(0x95ac9329ac4bc9b5)

// redisCRC64 is Redis's crc64(0, p): Go's crc64 inverts the register before and after.
func redisCRC64(p []byte) uint64 { return ^crc64.Update(^uint64(0), crcJones, p) }

func cmdFunctionDump(_ context.Context, s *Server, c *client, _ [][]byte) {
	var p []byte
	for _, lib := range s.funcs.list() {
		p = append(p, rdbOpFunction2)
		p = appendRDBLen(p, uint64(len(lib.code)))
		p = append(p, lib.code...)
	}
	p = binary.LittleEndian.AppendUint16(p, rdbVersion)
	p = binary.LittleEndian.AppendUint64(p, redisCRC64(p))
	c.out = appendBulk(c.out, p)
}

// cmdFunctionRestore serves FUNCTION RESTORE payload [FLUSH|APPEND|REPLACE]: all libraries of
// the payload are loaded or none.
func cmdFunctionRestore(ctx context.Context, s *Server, c *client, argv [][]byte) {
	policy := "append"
	switch {
	case len(argv) > 4:
		c.out = appendError(c.out, "ERR unknown subcommand or wrong number of arguments for '"+string(argv[1])+"'. Try FUNCTION HELP.")
		return
	case len(argv) == 4:
		switch {
		case equalFold(argv[3], "flush"), equalFold(argv[3], "append"), equalFold(argv[3], "replace"):
			policy = string(lowerASCII(argv[3]))
		default:
			c.out = appendError(c.out, "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.")
			return
		}
	}
	codes, ok := parseFunctionPayload(argv[2])
	if !ok {
		c.out = appendError(c.out, errBadPayload)
		return
	}
	libs := make([]*library, 0, len(codes))
	for _, code := range codes {
		lib, msg := compileLibrary(ctx, code)
		if msg != "" {
			c.out = appendError(c.out, msg)
			return
		}
		libs = append(libs, lib)
	}
	var msg string
	if policy == "flush" {
		msg = s.funcs.replaceAll(libs)
	} else {
		msg = s.funcs.add(libs, policy == "replace", true)
	}
	if msg != "" {
		c.out = appendError(c.out, msg)
		return
	}
	c.out = append(c.out, "+OK\r\n"...)
}

// parseFunctionPayload checks the trailer of a FUNCTION DUMP payload and returns the
// libraries' code.
func parseFunctionPayload(p []byte) ([]string, bool) {
	if len(p) < 10 {
		return nil, false
	}
	body, trailer := p[:len(p)-8], p[len(p)-8:]
	if binary.LittleEndian.Uint16(body[len(body)-2:]) > rdbVersion {
		return nil, false
	}
	if crc := binary.LittleEndian.Uint64(trailer); crc != 0 && crc != redisCRC64(body) {
		return nil, false
	}
	body = body[:len(body)-2]
	var codes []string
	for len(body) > 0 {
		if body[0] != rdbOpFunction2 {
			return nil, false
		}
		code, rest, ok := readRDBString(body[1:])
		if !ok {
			return nil, false
		}
		codes, body = append(codes, string(code)), rest
	}
	return codes, true
}

// appendRDBLen appends an RDB length: 6 bits, 14 bits, 32 or 64 bits big-endian.
func appendRDBLen(b []byte, n uint64) []byte {
	switch {
	case n < 1<<6:
		return append(b, byte(n))
	case n < 1<<14:
		return append(b, byte(n>>8)|0x40, byte(n))
	case n <= 1<<32-1:
		return binary.BigEndian.AppendUint32(append(b, 0x80), uint32(n))
	default:
		return binary.BigEndian.AppendUint64(append(b, 0x81), n)
	}
}

// readRDBLen reads an RDB length; special reports an encoded string (the low 6 bits in n).
func readRDBLen(b []byte) (n uint64, special bool, rest []byte, ok bool) {
	if len(b) == 0 {
		return 0, false, nil, false
	}
	switch b[0] >> 6 {
	case 0:
		return uint64(b[0] & 0x3f), false, b[1:], true
	case 1:
		if len(b) < 2 {
			return 0, false, nil, false
		}
		return uint64(b[0]&0x3f)<<8 | uint64(b[1]), false, b[2:], true
	case 2:
		switch {
		case b[0] == 0x80 && len(b) >= 5:
			return uint64(binary.BigEndian.Uint32(b[1:])), false, b[5:], true
		case b[0] == 0x81 && len(b) >= 9:
			return binary.BigEndian.Uint64(b[1:]), false, b[9:], true
		}
		return 0, false, nil, false
	default:
		return uint64(b[0] & 0x3f), true, b[1:], true
	}
}

// maxRDBString bounds a string a payload may claim (the library bound).
const maxRDBString = maxLibraryBytes

// readRDBString reads an RDB string: raw, an integer (8, 16 or 32 bits) or LZF-compressed.
func readRDBString(b []byte) ([]byte, []byte, bool) {
	n, special, rest, ok := readRDBLen(b)
	if !ok {
		return nil, nil, false
	}
	if !special {
		if n > uint64(len(rest)) {
			return nil, nil, false
		}
		return rest[:n], rest[n:], true
	}
	switch n {
	case 0, 1, 2: // integers of 1, 2 and 4 bytes, little-endian, signed
		size := 1 << n
		if len(rest) < size {
			return nil, nil, false
		}
		var v int64
		switch size {
		case 1:
			v = int64(int8(rest[0]))
		case 2:
			v = int64(int16(binary.LittleEndian.Uint16(rest)))
		default:
			v = int64(int32(binary.LittleEndian.Uint32(rest)))
		}
		return strconv.AppendInt(nil, v, 10), rest[size:], true
	case 3:
		clen, _, rest, ok := readRDBLen(rest)
		if !ok {
			return nil, nil, false
		}
		ulen, _, rest, ok := readRDBLen(rest)
		if !ok || clen > uint64(len(rest)) || ulen > maxRDBString {
			return nil, nil, false
		}
		out, ok := lzfDecompress(rest[:clen], int(ulen))
		return out, rest[clen:], ok
	}
	return nil, nil, false
}

// lzfDecompress decodes LZF (liblzf, as Redis uses it) into exactly n bytes.
func lzfDecompress(in []byte, n int) ([]byte, bool) {
	out := make([]byte, 0, n)
	for i := 0; i < len(in); {
		ctrl := int(in[i])
		i++
		if ctrl < 32 { // a literal run of ctrl+1 bytes
			ctrl++
			if i+ctrl > len(in) || len(out)+ctrl > n {
				return nil, false
			}
			out = append(out, in[i:i+ctrl]...)
			i += ctrl
			continue
		}
		length := ctrl >> 5 // a back reference
		if length == 7 {
			if i >= len(in) {
				return nil, false
			}
			length += int(in[i])
			i++
		}
		if i >= len(in) {
			return nil, false
		}
		ref := len(out) - ((ctrl&0x1f)<<8 | int(in[i])) - 1
		i++
		length += 2
		if ref < 0 || len(out)+length > n {
			return nil, false
		}
		for k := 0; k < length; k++ { // byte by byte: the reference may overlap the output
			out = append(out, out[ref+k])
		}
	}
	return out, len(out) == n
}
