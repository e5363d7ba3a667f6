package resp

import "unsafe"

// Prefetcher is implemented by a Backend that can warm the processor's caches for a batch of
// keys it is about to look up one by one (as *node.Node does): a pipelined batch's GETs and
// SETs then pay their lookups' cache misses together instead of one after another.
type Prefetcher interface {
	Prefetch(keys []string)
}

// prefetchKeys is how many keys of one batch are prefetched at most.
const prefetchKeys = 64

// scanKeys appends to dst the keys of the GET and SET commands at the front of buf, a client's
// unparsed input, as strings that alias buf (valid only until buf is reused: for Prefetch, not
// to keep). It reads only complete multibulk commands and stops at the first thing it does
// not follow (an inline command, a partial command, bad framing: the parser reports those),
// or after prefetchKeys keys. It is a cheap look ahead, not a parser: it checks no limits.
func scanKeys(buf []byte, dst []string) []string {
	for len(dst) < prefetchKeys {
		n, rest, ok := scanLen(buf, '*')
		if !ok || n < 1 {
			return dst
		}
		buf = rest
		var name, key []byte
		for i := 0; i < n; i++ {
			var arg []byte
			if arg, buf, ok = scanBulk(buf); !ok {
				return dst
			}
			switch i {
			case 0:
				name = arg
			case 1:
				key = arg
			}
		}
		if key != nil && len(name) == 3 && (name[0]|0x20 == 'g' || name[0]|0x20 == 's') &&
			name[1]|0x20 == 'e' && name[2]|0x20 == 't' {
			dst = append(dst, unsafe.String(unsafe.SliceData(key), len(key)))
		}
	}
	return dst
}

// scanBulk reads one "$<len>\r\n<bytes>\r\n" from the front of buf.
func scanBulk(buf []byte) (arg, rest []byte, ok bool) {
	n, buf, ok := scanLen(buf, '$')
	if !ok || n < 0 || len(buf) < n+2 || buf[n] != '\r' || buf[n+1] != '\n' {
		return nil, nil, false
	}
	return buf[:n:n], buf[n+2:], true
}

// scanLen reads "<prefix><decimal>\r\n" from the front of buf.
func scanLen(buf []byte, prefix byte) (n int, rest []byte, ok bool) {
	if len(buf) < 4 || buf[0] != prefix {
		return 0, nil, false
	}
	i := 1
	for ; i < len(buf) && buf[i] >= '0' && buf[i] <= '9'; i++ {
		if n = n*10 + int(buf[i]-'0'); n > 1<<30 {
			return 0, nil, false
		}
	}
	if i == 1 || i+1 >= len(buf) || buf[i] != '\r' || buf[i+1] != '\n' {
		return 0, nil, false
	}
	return n, buf[i+2:], true
}
