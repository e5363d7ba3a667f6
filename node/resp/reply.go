package resp

import (
	"strconv"
)

// Reply encoding. Every helper appends to the connection's output buffer; RESP3-only types
// (null, map, set, verbatim string) fall back to their RESP2 shapes for RESP2 connections, as
// Redis does.

func appendSimple(b []byte, s string) []byte {
	b = append(b, '+')
	b = append(b, s...)
	return append(b, '\r', '\n')
}

// appendError appends an error reply. msg starts with an error code ("ERR ...", "NOAUTH ...");
// CR and LF are replaced by spaces so that user input echoed in a message cannot break framing.
func appendError(b []byte, msg string) []byte {
	b = append(b, '-')
	for i := 0; i < len(msg); i++ {
		c := msg[i]
		if c == '\r' || c == '\n' {
			c = ' '
		}
		b = append(b, c)
	}
	return append(b, '\r', '\n')
}

func appendInt(b []byte, n int64) []byte {
	b = append(b, ':')
	b = strconv.AppendInt(b, n, 10)
	return append(b, '\r', '\n')
}

func appendBulk(b []byte, v []byte) []byte {
	b = append(b, '$')
	b = strconv.AppendInt(b, int64(len(v)), 10)
	b = append(b, '\r', '\n')
	b = append(b, v...)
	return append(b, '\r', '\n')
}

func appendBulkString(b []byte, v string) []byte {
	b = append(b, '$')
	b = strconv.AppendInt(b, int64(len(v)), 10)
	b = append(b, '\r', '\n')
	b = append(b, v...)
	return append(b, '\r', '\n')
}

func appendBulkInt(b []byte, n int64) []byte {
	var tmp [20]byte
	return appendBulk(b, strconv.AppendInt(tmp[:0], n, 10))
}

func appendBulkUint(b []byte, n uint64) []byte {
	var tmp [20]byte
	return appendBulk(b, strconv.AppendUint(tmp[:0], n, 10))
}

func appendArrayLen(b []byte, n int) []byte {
	b = append(b, '*')
	b = strconv.AppendInt(b, int64(n), 10)
	return append(b, '\r', '\n')
}

// appendNull appends the null reply of the connection's protocol: "$-1" in RESP2, "_" in RESP3.
func appendNull(b []byte, proto int) []byte {
	if proto == 3 {
		return append(b, '_', '\r', '\n')
	}
	return append(b, "$-1\r\n"...)
}

// appendNullArray appends the null array of the connection's protocol: "*-1" in RESP2, "_" in
// RESP3 (EXEC of a transaction a WATCHed key aborted).
func appendNullArray(b []byte, proto int) []byte {
	if proto == 3 {
		return append(b, '_', '\r', '\n')
	}
	return append(b, "*-1\r\n"...)
}

// appendMapLen appends a map header of n pairs: "%n" in RESP3, "*2n" in RESP2.
func appendMapLen(b []byte, n int, proto int) []byte {
	if proto == 3 {
		b = append(b, '%')
		b = strconv.AppendInt(b, int64(n), 10)
		return append(b, '\r', '\n')
	}
	return appendArrayLen(b, 2*n)
}

// appendSetLen appends a set header of n members: "~n" in RESP3, "*n" in RESP2.
func appendSetLen(b []byte, n int, proto int) []byte {
	if proto == 3 {
		b = append(b, '~')
		b = strconv.AppendInt(b, int64(n), 10)
		return append(b, '\r', '\n')
	}
	return appendArrayLen(b, n)
}

// appendVerbatim appends a verbatim text reply ("=" with a "txt:" prefix in RESP3, a bulk string
// in RESP2), the form Redis uses for INFO.
func appendVerbatim(b []byte, s string, proto int) []byte {
	if proto != 3 {
		return appendBulkString(b, s)
	}
	b = append(b, '=')
	b = strconv.AppendInt(b, int64(len(s)+4), 10)
	b = append(b, "\r\ntxt:"...)
	b = append(b, s...)
	return append(b, '\r', '\n')
}
