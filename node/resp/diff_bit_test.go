package resp_test

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/geocache/geocache/node"
	"github.com/geocache/geocache/node/resp"
)

// Differential sessions of the bit commands (SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD,
// BITFIELD_RO): every reply and error byte for byte against redis-server, including the
// argument checks' order, the limits of the integer types and the index rules of ranges.
func init() {
	sessions = append(sessions,
		session{name: "setbit-getbit", steps: []step{
			cmd("SETBIT", "b", "0", "1"),
			cmd("GET", "b"),
			cmd("SETBIT", "b", "7", "1"),
			cmd("SETBIT", "b", "8", "1"), // the first bit of the second byte
			cmd("GET", "b"),
			cmd("SETBIT", "b", "7", "0"),
			cmd("SETBIT", "b", "7", "0"),
			cmd("GET", "b"),
			cmd("SETBIT", "b", "100", "0"), // grows with zeros
			cmd("STRLEN", "b"),
			cmd("GETBIT", "b", "0"),
			cmd("GETBIT", "b", "7"),
			cmd("GETBIT", "b", "8"),
			cmd("GETBIT", "b", "15"),
			cmd("GETBIT", "b", "100"),
			cmd("GETBIT", "b", "101"),
			cmd("GETBIT", "b", "1000000"),
			cmd("GETBIT", "missing", "0"),
			cmd("GETBIT", "b", "4294967296"),
			cmd("GETBIT", "b", "-1"),
			cmd("GETBIT", "b", "x"),
			cmd("GETBIT", "b", "1.0"),
			cmd("GETBIT", "b", "+1"),
			cmd("GETBIT", "b", ""),
			cmd("GETBIT", "b"),
			cmd("GETBIT", "b", "1", "2"),
			cmd("SETBIT", "b", "4294967296", "1"),
			cmd("SETBIT", "b", "9223372036854775807", "1"),
			cmd("SETBIT", "b", "-1", "1"),
			cmd("SETBIT", "b", "x", "1"),
			cmd("SETBIT", "b", "0", "2"),
			cmd("SETBIT", "b", "0", "-1"),
			cmd("SETBIT", "b", "0", "x"),
			cmd("SETBIT", "b", "0", ""),
			cmd("SETBIT", "b", "0", "01"),
			cmd("SETBIT", "b", "-1", "x"), // the offset is checked first
			cmd("SETBIT", "b", "0"),
			cmd("SETBIT", "b", "0", "1", "1"),
			cmd("SETBIT", "e", "0", "0"), // a new key holds one zero byte
			cmd("GET", "e"),
			cmd("EXISTS", "e"),
			cmd("SET", "empty", ""),
			cmd("GETBIT", "empty", "0"),
			cmd("SETBIT", "empty", "0", "0"),
			cmd("STRLEN", "empty"),
			cmd("SET", "s", "foo"),
			cmd("SETBIT", "s", "6", "1"),
			cmd("GET", "s"),
			cmd("SET", "n", "1"), // as Redis's integer encoding: the bits of "1"
			cmd("GETBIT", "n", "2"),
			cmd("GETBIT", "n", "3"),
			cmd("SETBIT", "n", "6", "1"),
			cmd("GET", "n"),
			cmd("INCR", "cnt"), // a geocache counter reads as its decimal string
			cmd("GETBIT", "cnt", "7"),
			cmd("SETBIT", "cnt", "6", "1"),
			cmd("GET", "cnt"),
			cmd("INCR", "cnt"),
			cmd("SET", "t", "x", "EX", "100"),
			cmd("SETBIT", "t", "100", "1"),
			cmd("TTL", "t").within(1),
			cmd("HSET", "h", "f", "v"),
			cmd("SETBIT", "h", "0", "1"),
			cmd("SETBIT", "h", "-1", "1"),
			cmd("SETBIT", "h", "0", "5"),
			cmd("GETBIT", "h", "0"),
			cmd("GETBIT", "h", "-1"),
			cmd("APPEND", "h", "x"),
			cmd("SETRANGE", "h", "0", "x"),
			cmd("INCRBYFLOAT", "h", "1"),
			cmd("INCR", "h"),
			cmd("DECRBY", "h", "2"),
			cmd("TYPE", "h"),
			cmd("SADD", "set", "m"),
			cmd("GETBIT", "set", "0"),
			cmd("ZADD", "z", "1", "m"),
			cmd("SETBIT", "z", "1", "0"),
			cmd("HELLO", "3").helloID(),
			cmd("SETBIT", "b", "3", "1"),
			cmd("GETBIT", "b", "3"),
		}},
		session{name: "bitcount", steps: []step{
			cmd("BITCOUNT", "missing"),
			cmd("BITCOUNT", "missing", "0"), // a missing key answers before the syntax check
			cmd("BITCOUNT", "missing", "x", "y", "z", "w"),
			cmd("SET", "s", "foobar"),
			cmd("BITCOUNT", "s"),
			cmd("BITCOUNT", "s", "0", "0"),
			cmd("BITCOUNT", "s", "1", "1"),
			cmd("BITCOUNT", "s", "1", "-1"),
			cmd("BITCOUNT", "s", "-2", "-1"),
			cmd("BITCOUNT", "s", "-1", "-2"),
			cmd("BITCOUNT", "s", "-1", "-2", "bogus"), // 0 before BIT|BYTE is read
			cmd("BITCOUNT", "s", "2", "1"),
			cmd("BITCOUNT", "s", "0", "100"),
			cmd("BITCOUNT", "s", "-100", "-1"),
			cmd("BITCOUNT", "s", "-100", "-99"),
			cmd("BITCOUNT", "s", "6", "10"),
			cmd("BITCOUNT", "s", "0", "-100"),
			cmd("BITCOUNT", "s", "0", "0", "BYTE"),
			cmd("BITCOUNT", "s", "0", "0", "bit"),
			cmd("BITCOUNT", "s", "5", "30", "BIT"),
			cmd("BITCOUNT", "s", "1", "6", "BIT"),
			cmd("BITCOUNT", "s", "7", "8", "BIT"),
			cmd("BITCOUNT", "s", "8", "15", "BIT"),
			cmd("BITCOUNT", "s", "3", "3", "BIT"),
			cmd("BITCOUNT", "s", "-1", "-1", "BIT"),
			cmd("BITCOUNT", "s", "-9", "-2", "BIT"),
			cmd("BITCOUNT", "s", "0", "47", "BIT"),
			cmd("BITCOUNT", "s", "0", "1000", "BIT"),
			cmd("BITCOUNT", "s", "40", "20", "BIT"),
			cmd("BITCOUNT", "s", "0", "-1", "BITS"),
			cmd("BITCOUNT", "s", "0"),
			cmd("BITCOUNT", "s", "0", "1", "BIT", "x"),
			cmd("BITCOUNT", "s", "x", "1"),
			cmd("BITCOUNT", "s", "1", "x"),
			cmd("BITCOUNT", "s", "1", "9223372036854775808"),
			cmd("BITCOUNT", "s", "-9223372036854775808", "9223372036854775807"),
			cmd("BITCOUNT", "s", "-9223372036854775808", "9223372036854775807", "BIT"),
			cmd("BITCOUNT", "s", "9223372036854775807", "9223372036854775807", "BIT"),
			cmd("BITCOUNT"),
			cmd("SET", "empty", ""),
			cmd("BITCOUNT", "empty"),
			cmd("BITCOUNT", "empty", "0", "-1"),
			cmd("BITCOUNT", "empty", "0", "-1", "BIT"),
			cmd("BITCOUNT", "empty", "0"),
			cmd("SET", "ones", "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"),
			cmd("BITCOUNT", "ones"),
			cmd("BITCOUNT", "ones", "1", "-2"),
			cmd("BITCOUNT", "ones", "3", "290", "BIT"),
			cmd("SET", "n", "-123"),
			cmd("BITCOUNT", "n"),
			cmd("INCRBY", "cnt", "77"),
			cmd("BITCOUNT", "cnt"),
			cmd("HSET", "h", "f", "v"),
			cmd("BITCOUNT", "h"),
			cmd("BITCOUNT", "h", "x"), // WRONGTYPE before the syntax check
		}},
		session{name: "bitpos", steps: []step{
			cmd("BITPOS", "missing", "0"),
			cmd("BITPOS", "missing", "1"),
			cmd("BITPOS", "missing", "1", "x"), // a missing key answers before the range is read
			cmd("BITPOS", "missing", "2"),
			cmd("BITPOS", "missing", "x"),
			cmd("BITPOS", "missing", "-1"),
			cmd("SET", "ones", "\xff\xff\xff"),
			cmd("BITPOS", "ones", "0"),
			cmd("BITPOS", "ones", "0", "0"),
			cmd("BITPOS", "ones", "0", "1"),
			cmd("BITPOS", "ones", "0", "2"),
			cmd("BITPOS", "ones", "0", "3"),
			cmd("BITPOS", "ones", "0", "-1"),
			cmd("BITPOS", "ones", "0", "0", "-1"), // an end: no padding with zeros
			cmd("BITPOS", "ones", "0", "0", "1"),
			cmd("BITPOS", "ones", "0", "0", "-1", "BYTE"),
			cmd("BITPOS", "ones", "0", "0", "-1", "BIT"),
			cmd("BITPOS", "ones", "0", "0", "23", "BIT"),
			cmd("BITPOS", "ones", "0", "3", "23", "BIT"),
			cmd("BITPOS", "ones", "1"),
			cmd("BITPOS", "ones", "1", "1"),
			cmd("BITPOS", "ones", "1", "5", "9", "BIT"),
			cmd("SET", "zeros", "\x00\x00\x00"),
			cmd("BITPOS", "zeros", "1"),
			cmd("BITPOS", "zeros", "0"),
			cmd("BITPOS", "zeros", "1", "0", "-1", "BIT"),
			cmd("BITPOS", "zeros", "0", "7", "-1", "BIT"),
			cmd("BITPOS", "zeros", "0", "-1"),
			cmd("SET", "s", "\xff\xf0\x00"),
			cmd("BITPOS", "s", "0"),
			cmd("BITPOS", "s", "1", "2"),
			cmd("BITPOS", "s", "0", "1", "1"),
			cmd("BITPOS", "s", "1", "1", "1"),
			cmd("BITPOS", "s", "0", "2", "1"),
			cmd("BITPOS", "s", "0", "-1", "0"),
			cmd("BITPOS", "s", "1", "-2", "-1"),
			cmd("BITPOS", "s", "1", "-3", "-3"),
			cmd("BITPOS", "s", "0", "5", "11", "BIT"),
			cmd("BITPOS", "s", "0", "13", "11", "bit"),
			cmd("BITPOS", "s", "0", "5", "7", "BIT"),
			cmd("BITPOS", "s", "1", "7", "15", "BIT"),
			cmd("BITPOS", "s", "1", "12", "23", "BIT"),
			cmd("BITPOS", "s", "0", "3", "5", "BIT"),
			cmd("BITPOS", "s", "1", "-8", "-1", "BIT"),
			cmd("BITPOS", "s", "0", "-100", "-90", "BIT"),
			cmd("BITPOS", "s", "0", "-100", "100", "BIT"),
			cmd("BITPOS", "s", "1", "100", "200", "BIT"),
			cmd("BITPOS", "s", "0", "0", "0", "bits"),
			cmd("BITPOS", "s", "0", "0", "0", "BIT", "x"),
			cmd("BITPOS", "s", "0", "x"),
			cmd("BITPOS", "s", "0", "0", "x"),
			cmd("BITPOS", "s", "0", "x", "0", "bogus"),
			cmd("BITPOS", "s", "0", "0", "x", "bogus"), // BIT|BYTE is read before the end
			cmd("BITPOS", "s", "0", "9223372036854775807", "-9223372036854775808"),
			cmd("BITPOS", "s", "1", "-9223372036854775808", "9223372036854775807", "BIT"),
			cmd("BITPOS", "s", "2", "0"),
			cmd("BITPOS", "s"),
			cmd("SET", "empty", ""),
			cmd("BITPOS", "empty", "0"),
			cmd("BITPOS", "empty", "1"),
			cmd("BITPOS", "empty", "0", "0"),
			cmd("BITPOS", "empty", "0", "0", "-1", "BIT"),
			cmd("SET", "long", "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x0f"),
			cmd("BITPOS", "long", "0"),
			cmd("BITPOS", "long", "0", "3"),
			cmd("BITPOS", "long", "0", "3", "-2"),
			cmd("BITPOS", "long", "0", "3", "-1"),
			cmd("BITPOS", "long", "1", "24"),
			cmd("BITPOS", "long", "0", "17", "195", "BIT"),
			cmd("SET", "n", "12"),
			cmd("BITPOS", "n", "1"),
			cmd("HSET", "h", "f", "v"),
			cmd("BITPOS", "h", "1"),
			cmd("BITPOS", "h", "3"), // the bit is checked before the key
		}},
		session{name: "bitop", steps: []step{
			cmd("SET", "a", "\x0f\xf0\xaa"),
			cmd("SET", "b", "\xff\x0f"),
			cmd("BITOP", "AND", "d", "a", "b"),
			cmd("GET", "d"),
			cmd("BITOP", "or", "d", "a", "b"),
			cmd("GET", "d"),
			cmd("BITOP", "Xor", "d", "a", "b"),
			cmd("GET", "d"),
			cmd("BITOP", "NOT", "d", "a"),
			cmd("GET", "d"),
			cmd("BITOP", "AND", "d", "a"),
			cmd("GET", "d"),
			cmd("BITOP", "AND", "d", "a", "missing"),
			cmd("GET", "d"),
			cmd("BITOP", "OR", "d", "missing", "a"),
			cmd("GET", "d"),
			cmd("BITOP", "XOR", "d", "a", "a", "b", "b", "a"),
			cmd("GET", "d"),
			cmd("BITOP", "AND", "a", "a", "b"), // the destination is a source
			cmd("GET", "a"),
			cmd("SET", "d", "old", "EX", "100"),
			cmd("BITOP", "OR", "d", "b"),
			cmd("TTL", "d"), // the destination has no TTL
			cmd("BITOP", "OR", "d", "missing", "missing2"),
			cmd("EXISTS", "d"), // an empty result deletes the destination
			cmd("SET", "d", "x"),
			cmd("SET", "empty", ""),
			cmd("BITOP", "AND", "d", "empty", "missing"),
			cmd("EXISTS", "d"),
			cmd("BITOP", "NOT", "d", "empty"),
			cmd("BITOP", "NOT", "d", "missing"),
			cmd("BITOP", "AND", "d", "b", "empty"),
			cmd("GET", "d"),
			cmd("BITOP", "NOT", "d", "a", "b"),
			cmd("BITOP", "NOT", "d"),
			cmd("BITOP", "NAND", "d", "a"),
			cmd("BITOP", "NAND", "d", "a", "b"),
			cmd("BITOP", "AND", "d"),
			cmd("BITOP", "AND"),
			cmd("SET", "n1", "123"),
			cmd("INCR", "n2"),
			cmd("BITOP", "XOR", "d", "n1", "n2"),
			cmd("GET", "d"),
			cmd("HSET", "h", "f", "v"),
			cmd("BITOP", "OR", "d", "a", "h"),
			cmd("GET", "d"),
			cmd("BITOP", "NOT", "bad", "h"),
			cmd("BITOP", "OR", "h", "a"), // a collection destination is replaced
			cmd("TYPE", "h"),
			cmd("GET", "h"),
			cmd("SET", "long1", strings.Repeat("\xa5\x5a", 40)),
			cmd("SET", "long2", strings.Repeat("\x0f", 70)),
			cmd("BITOP", "AND", "d", "long1", "long2"),
			cmd("GET", "d"),
			cmd("BITOP", "OR", "d", "long1", "long2"),
			cmd("GET", "d"),
			cmd("BITOP", "XOR", "d", "long1", "long2", "a"),
			cmd("GET", "d"),
			cmd("BITOP", "NOT", "d", "long1"),
			cmd("GET", "d"),
		}},
		session{name: "bitfield", steps: []step{
			cmd("BITFIELD", "missing"),
			cmd("EXISTS", "missing"),
			cmd("BITFIELD", "missing", "GET", "u8", "0"),
			cmd("EXISTS", "missing"),
			cmd("BITFIELD", "f", "SET", "u8", "0", "255", "GET", "u8", "0"),
			cmd("GET", "f"),
			cmd("BITFIELD", "f", "SET", "i8", "0", "-1", "GET", "u8", "0", "GET", "i8", "0"),
			cmd("BITFIELD", "f", "SET", "u4", "4", "5", "GET", "u4", "0", "GET", "u4", "4", "GET", "i4", "4"),
			cmd("BITFIELD", "f", "SET", "u5", "7", "23", "GET", "u5", "7", "GET", "u16", "0"), // across a byte boundary
			cmd("GET", "f"),
			cmd("BITFIELD", "f", "GET", "u8", "#0", "GET", "u8", "#1", "GET", "u8", "#2", "SET", "u8", "#3", "65"),
			cmd("BITFIELD", "f", "GET", "i16", "#1"),
			cmd("GET", "f"),
			cmd("BITFIELD", "f", "INCRBY", "u8", "0", "1"),
			cmd("BITFIELD", "f", "INCRBY", "u8", "0", "1", "INCRBY", "u8", "0", "-3"),
			cmd("BITFIELD", "f", "get", "u8", "0", "incrby", "u8", "0", "300", "overflow", "sat", "incrby", "u8", "0", "300", "overflow", "fail", "incrby", "u8", "0", "1"),
			cmd("BITFIELD", "f", "OVERFLOW", "SAT", "INCRBY", "u8", "0", "-300"),
			cmd("BITFIELD", "f", "OVERFLOW", "FAIL", "INCRBY", "u8", "0", "-1", "GET", "u8", "0"),
			cmd("BITFIELD", "f", "OVERFLOW", "WRAP", "INCRBY", "u8", "0", "-1"),
			cmd("BITFIELD", "f", "SET", "i8", "0", "127", "INCRBY", "i8", "0", "1"),
			cmd("BITFIELD", "f", "OVERFLOW", "SAT", "SET", "i8", "0", "127", "INCRBY", "i8", "0", "1", "INCRBY", "i8", "0", "-300"),
			cmd("BITFIELD", "f", "OVERFLOW", "FAIL", "SET", "i8", "0", "128", "SET", "i8", "0", "-129", "SET", "i8", "0", "-128", "INCRBY", "i8", "0", "-1"),
			cmd("BITFIELD", "f", "SET", "i8", "0", "128", "SET", "i8", "0", "-129", "SET", "u8", "0", "256", "SET", "u8", "0", "-1", "GET", "u8", "0"),
			cmd("BITFIELD", "f", "OVERFLOW", "SAT", "SET", "u8", "0", "-1", "SET", "u8", "0", "256", "SET", "i8", "0", "200", "SET", "i8", "0", "-200"),
			// Redis's overflow check of a SET far below the signed minimum reports an overflow.
			cmd("BITFIELD", "f", "OVERFLOW", "SAT", "SET", "i8", "0", "-9223372036854775808", "SET", "i8", "0", "-9223372036854775681", "SET", "i8", "0", "-9223372036854775680", "GET", "i8", "0"),
			cmd("BITFIELD", "f", "OVERFLOW", "WRAP", "SET", "i8", "0", "-9223372036854775808", "GET", "i8", "0"),
			cmd("BITFIELD", "f", "OVERFLOW", "FAIL", "SET", "i8", "0", "-9223372036854775808", "GET", "i8", "0"),
			cmd("BITFIELD", "f", "SET", "u1", "0", "1", "SET", "u1", "1", "2", "SET", "i1", "2", "-1", "SET", "i1", "3", "1", "GET", "i1", "0", "GET", "u1", "3"),
			cmd("BITFIELD", "f", "OVERFLOW", "SAT", "INCRBY", "i1", "0", "5", "INCRBY", "i1", "0", "-5", "INCRBY", "u1", "0", "5"),
			// 64-bit signed and 63-bit unsigned at their limits.
			cmd("BITFIELD", "w", "SET", "i64", "0", "9223372036854775807", "GET", "i64", "0", "GET", "u63", "0", "GET", "u63", "1"),
			cmd("BITFIELD", "w", "INCRBY", "i64", "0", "1", "GET", "i64", "0"),
			cmd("BITFIELD", "w", "INCRBY", "i64", "0", "-1"),
			cmd("BITFIELD", "w", "OVERFLOW", "SAT", "INCRBY", "i64", "0", "1", "INCRBY", "i64", "0", "-9223372036854775808", "INCRBY", "i64", "0", "-9223372036854775808", "INCRBY", "i64", "0", "-9223372036854775808"),
			cmd("BITFIELD", "w", "OVERFLOW", "FAIL", "INCRBY", "i64", "0", "-1", "INCRBY", "i64", "0", "9223372036854775807", "INCRBY", "i64", "0", "9223372036854775807", "INCRBY", "i64", "0", "1"),
			cmd("BITFIELD", "w", "OVERFLOW", "WRAP", "INCRBY", "i64", "0", "9223372036854775807", "INCRBY", "i64", "0", "9223372036854775807"),
			cmd("BITFIELD", "w", "SET", "i64", "0", "-9223372036854775808", "GET", "i64", "0", "INCRBY", "i64", "0", "-1"),
			cmd("BITFIELD", "w", "OVERFLOW", "SAT", "SET", "i64", "3", "-9223372036854775808", "INCRBY", "i64", "3", "-1", "GET", "i64", "3"),
			cmd("BITFIELD", "w", "SET", "u63", "0", "9223372036854775807", "GET", "u63", "0", "INCRBY", "u63", "0", "1"),
			cmd("BITFIELD", "w", "OVERFLOW", "SAT", "SET", "u63", "0", "-1", "INCRBY", "u63", "0", "5", "INCRBY", "u63", "0", "-9223372036854775808", "INCRBY", "u63", "0", "-1"),
			cmd("BITFIELD", "w", "OVERFLOW", "FAIL", "INCRBY", "u63", "0", "-1", "SET", "u63", "0", "-1", "INCRBY", "u63", "0", "9223372036854775807", "INCRBY", "u63", "0", "1"),
			cmd("BITFIELD", "w", "OVERFLOW", "WRAP", "SET", "u63", "5", "-1", "GET", "u63", "5", "INCRBY", "u63", "5", "-9223372036854775808", "INCRBY", "u63", "5", "9223372036854775807"),
			cmd("BITFIELD", "w", "SET", "i64", "#1", "12345", "GET", "i64", "#1", "GET", "u63", "#1", "GET", "i64", "63"),
			cmd("GET", "w"),
			cmd("BITFIELD", "w", "GET", "i64", "1000", "GET", "u63", "1000", "GET", "i64", "121"),
			// Arguments and errors, in Redis's order.
			cmd("BITFIELD", "f", "GET", "u64", "0"),
			cmd("BITFIELD", "f", "GET", "i65", "0"),
			cmd("BITFIELD", "f", "GET", "i0", "0"),
			cmd("BITFIELD", "f", "GET", "u0", "0"),
			cmd("BITFIELD", "f", "GET", "I8", "0"),
			cmd("BITFIELD", "f", "GET", "x8", "0"),
			cmd("BITFIELD", "f", "GET", "i", "0"),
			cmd("BITFIELD", "f", "GET", "", "0"),
			cmd("BITFIELD", "f", "GET", "i+8", "0"),
			cmd("BITFIELD", "f", "GET", "i-8", "0"),
			cmd("BITFIELD", "f", "GET", "i8", "-1"),
			cmd("BITFIELD", "f", "GET", "i8", "x"),
			cmd("BITFIELD", "f", "GET", "i8", "#-1"),
			cmd("BITFIELD", "f", "GET", "i8", "#"),
			cmd("BITFIELD", "f", "GET", "i8", "##1"),
			cmd("BITFIELD", "f", "GET", "i8", "4294967296"),
			cmd("BITFIELD", "f", "GET", "u8", "#536870912"),
			cmd("BITFIELD", "f", "GET", "i64", "#1152921504606846976"), // the product wraps to 0
			cmd("BITFIELD", "f", "GET", "i64", "#9223372036854775807"),
			cmd("BITFIELD", "f", "SET", "i8", "0", "x"),
			cmd("BITFIELD", "f", "SET", "i8", "0", "1.5"),
			cmd("BITFIELD", "f", "SET", "i8", "0", "9223372036854775808"),
			cmd("BITFIELD", "f", "INCRBY", "i8", "0", ""),
			cmd("BITFIELD", "f", "SET", "i8", "0"),
			cmd("BITFIELD", "f", "INCRBY", "i8", "0"),
			cmd("BITFIELD", "f", "GET", "i8"),
			cmd("BITFIELD", "f", "GET"),
			cmd("BITFIELD", "f", "OVERFLOW"),
			cmd("BITFIELD", "f", "OVERFLOW", "BOGUS", "GET", "i8", "0"),
			cmd("BITFIELD", "f", "OVERFLOW", "sat"),
			cmd("BITFIELD", "f", "BOGUS", "i8", "0"),
			cmd("BITFIELD", "f", "GET", "i8", "0", "BOGUS"),
			cmd("BITFIELD", "f", "SET", "i8", "0", "1", "GET", "u64", "0"), // nothing runs
			cmd("GET", "f"),
			cmd("BITFIELD"),
			// New keys and TTLs.
			cmd("BITFIELD", "new", "SET", "u8", "100", "1"),
			cmd("STRLEN", "new"),
			cmd("BITFIELD", "new2", "OVERFLOW", "FAIL", "INCRBY", "u2", "10", "9"), // created anyway
			cmd("GET", "new2"),
			cmd("BITFIELD", "new2", "OVERFLOW", "FAIL", "INCRBY", "u2", "30", "9", "GET", "u2", "30"),
			cmd("GET", "new2"),
			cmd("SET", "t", "abc", "PX", "100000"),
			cmd("BITFIELD", "t", "INCRBY", "u8", "80", "7"),
			cmd("PTTL", "t").within(100),
			cmd("GET", "t"),
			cmd("SET", "n", "42"),
			cmd("BITFIELD", "n", "GET", "u8", "0", "GET", "u8", "8", "INCRBY", "u8", "8", "1"),
			cmd("GET", "n"),
			cmd("HSET", "h", "f", "v"),
			cmd("BITFIELD", "h", "GET", "u8", "0"),
			cmd("BITFIELD", "h", "SET", "u8", "0", "1"),
			cmd("BITFIELD", "h"),
			cmd("BITFIELD", "h", "GET", "u64", "0"), // arguments before the type of the key
			cmd("BITFIELD_RO", "h", "GET", "u8", "0"),
			// BITFIELD_RO.
			cmd("BITFIELD_RO", "f", "GET", "u8", "0", "GET", "i4", "#3"),
			cmd("BITFIELD_RO", "f", "OVERFLOW", "FAIL", "GET", "u8", "0"),
			cmd("BITFIELD_RO", "f", "SET", "u8", "0", "1"),
			cmd("BITFIELD_RO", "f", "INCRBY", "u8", "0", "1"),
			cmd("BITFIELD_RO", "f", "GET", "u8", "0", "INCRBY", "u8", "0", "1"),
			cmd("BITFIELD_RO", "f", "INCRBY", "u8", "0", "x"), // a parse error comes first
			cmd("BITFIELD_RO", "missing", "GET", "i64", "0"),
			cmd("BITFIELD_RO", "f"),
			cmd("BITFIELD_RO"),
			cmd("GET", "f"),
			// FAIL's null in RESP3.
			cmd("HELLO", "3").helloID(),
			cmd("BITFIELD", "f", "OVERFLOW", "FAIL", "INCRBY", "u8", "0", "1000", "GET", "u8", "0"),
		}},
		session{name: "bit-multi-script", steps: []step{
			cmd("MULTI"),
			cmd("SETBIT", "m", "3", "1"),
			cmd("BITFIELD", "m", "INCRBY", "u4", "4", "3"),
			cmd("BITOP", "NOT", "m2", "m"),
			cmd("GETBIT", "m2", "3"),
			cmd("BITCOUNT", "m2"),
			cmd("BITPOS", "m2", "0"),
			cmd("BITFIELD_RO", "m", "GET", "u8", "0"),
			cmd("SETBIT", "m", "-1", "1"), // an error inside EXEC, the rest runs
			cmd("EXEC"),
			cmd("MULTI"),
			cmd("SETBIT", "m"), // an arity error fails the transaction
			cmd("EXEC"),
			cmd("EVAL", "redis.call('SETBIT', KEYS[1], 9, 1); return redis.call('BITFIELD', KEYS[1], 'GET', 'u16', 0)", "1", "m"),
			cmd("EVAL", "return redis.call('BITOP', 'OR', KEYS[1], KEYS[2], KEYS[3])", "3", "m3", "m", "m2"),
			cmd("EVAL", "return {redis.call('BITCOUNT', KEYS[1]), redis.call('BITPOS', KEYS[1], 0), redis.call('GETBIT', KEYS[1], 0)}", "1", "m3"),
			cmd("EVAL", "return redis.pcall('SETBIT', KEYS[1], 0, 2)", "1", "m"),
			cmd("EVAL_RO", "return redis.call('BITFIELD_RO', KEYS[1], 'GET', 'u8', 0)", "1", "m"),
			cmd("EVAL_RO", "return redis.call('GETBIT', KEYS[1], 4)", "1", "m"),
			cmd("EVAL_RO", "return redis.pcall('SETBIT', KEYS[1], 0, 1)", "1", "m"),
			cmd("EVAL_RO", "return redis.pcall('BITFIELD', KEYS[1], 'GET', 'u8', 0)", "1", "m"),
			cmd("GET", "m"),
		}},
		session{name: "bit-random", steps: randomBitSteps(rand.New(rand.NewPCG(59, 7)), 600)},
	)
	commandsWithRedisMetadata = append(commandsWithRedisMetadata,
		"setbit", "getbit", "bitcount", "bitpos", "bitop", "bitfield", "bitfield_ro")
}

// randomBitSteps draws n bit commands on a few small keys: random widths and offsets near
// byte and type boundaries, values at and around the limits, every overflow mode, and ranges
// with negative and out-of-range indexes, each followed now and then by a GET of the key.
func randomBitSteps(r *rand.Rand, n int) []step {
	keys := []string{"r1", "r2", "r3"}
	num := func() string {
		switch r.IntN(6) {
		case 0:
			return strconv.FormatInt(r.Int64N(20)-10, 10)
		case 1:
			return strconv.FormatInt(r.Int64(), 10)
		case 2:
			return strconv.FormatInt(-r.Int64()-1, 10)
		case 3:
			w := r.IntN(64)
			return strconv.FormatInt(int64(1)<<w+r.Int64N(3)-1, 10)
		case 4:
			w := r.IntN(64)
			return strconv.FormatInt(-(int64(1)<<w)+r.Int64N(3)-1, 10)
		}
		return strconv.FormatInt(r.Int64N(600)-300, 10)
	}
	typ := func() string {
		if r.IntN(2) == 0 {
			return "i" + strconv.Itoa(1+r.IntN(64))
		}
		return "u" + strconv.Itoa(1+r.IntN(63))
	}
	offset := func() string {
		if r.IntN(5) == 0 {
			return "#" + strconv.Itoa(r.IntN(6))
		}
		return strconv.Itoa(r.IntN(140))
	}
	idx := func() string { return strconv.Itoa(r.IntN(50) - 25) }
	var steps []step
	for range n {
		k := keys[r.IntN(len(keys))]
		switch r.IntN(10) {
		case 0, 1, 2, 3:
			args := []string{"BITFIELD", k}
			for range 1 + r.IntN(4) {
				switch r.IntN(5) {
				case 0:
					args = append(args, "OVERFLOW", []string{"WRAP", "SAT", "FAIL"}[r.IntN(3)])
				case 1:
					args = append(args, "GET", typ(), offset())
				case 2:
					args = append(args, "SET", typ(), offset(), num())
				default:
					args = append(args, "INCRBY", typ(), offset(), num())
				}
			}
			steps = append(steps, cmd(args...))
		case 4:
			steps = append(steps, cmd("SETBIT", k, strconv.Itoa(r.IntN(200)), strconv.Itoa(r.IntN(2))))
		case 5:
			steps = append(steps, cmd("GETBIT", k, strconv.Itoa(r.IntN(200))))
		case 6:
			args := []string{"BITCOUNT", k, idx(), idx()}
			if r.IntN(2) == 0 {
				args = append(args, []string{"BIT", "BYTE"}[r.IntN(2)])
			}
			steps = append(steps, cmd(args...))
		case 7:
			args := []string{"BITPOS", k, strconv.Itoa(r.IntN(2))}
			switch r.IntN(4) {
			case 1:
				args = append(args, idx())
			case 2:
				args = append(args, idx(), idx())
			case 3:
				args = append(args, idx(), idx(), []string{"BIT", "BYTE"}[r.IntN(2)])
			}
			steps = append(steps, cmd(args...))
		case 8:
			op := []string{"AND", "OR", "XOR", "NOT"}[r.IntN(4)]
			args := []string{"BITOP", op, keys[r.IntN(len(keys))], k}
			if op != "NOT" {
				args = append(args, keys[r.IntN(len(keys))])
			}
			steps = append(steps, cmd(args...))
		default:
			steps = append(steps, cmd("GET", k))
		}
	}
	return steps
}

// TestBitLimitsAgainstRedis compares the offset limit with redis-server set to geocache's
// proto-max-bulk-len: the last addressable byte, the first refused one, and BITFIELD writes
// whose value grows a few bytes past the limit (allowed, as in Redis).
func TestBitLimitsAgainstRedis(t *testing.T) {
	const limit = 1 << 20 // the least proto-max-bulk-len Redis accepts
	redisAddr := startRedis(t, "--proto-max-bulk-len", strconv.Itoa(limit))
	geoAddr, _, _ := startGeocache(t, resp.Config{MaxBulkLen: limit},
		func(c *node.Config) { c.MaxValueSize = 2 * limit })
	steps := []step{
		cmd("SETBIT", "k", strconv.Itoa(limit*8-1), "1"),
		cmd("STRLEN", "k"),
		cmd("SETBIT", "k", strconv.Itoa(limit*8), "1"),
		cmd("GETBIT", "k", strconv.Itoa(limit*8-1)),
		cmd("GETBIT", "k", strconv.Itoa(limit*8)),
		cmd("BITCOUNT", "k"),
		cmd("BITPOS", "k", "1"),
		cmd("BITFIELD", "k", "SET", "i64", strconv.Itoa(limit*8-1), "-1"),
		cmd("STRLEN", "k"),
		cmd("BITFIELD", "k", "GET", "u8", "#"+strconv.Itoa(limit-1), "GET", "u8", "#"+strconv.Itoa(limit)),
		cmd("BITFIELD", "k2", "INCRBY", "u8", "#"+strconv.Itoa(limit-1), "1"),
		cmd("STRLEN", "k2"),
		cmd("BITOP", "XOR", "k3", "k", "k2"),
		cmd("BITCOUNT", "k3"),
	}
	geo, red := dialRaw(t, geoAddr), dialRaw(t, redisAddr)
	for i, st := range steps {
		want := run(t, red, st)
		got := run(t, geo, st)
		if !equivalent(st, want, got) {
			t.Fatalf("step %d %s:\nredis:    %q\ngeocache: %q", i, st.desc, want, got)
		}
	}
}

// TestBitValueTooLarge checks the writes past geocache's largest value: refused as APPEND and
// SETRANGE refuse them, with nothing written.
func TestBitValueTooLarge(t *testing.T) {
	addr, _, _ := startGeocache(t, resp.Config{MaxBulkLen: 1 << 20},
		func(c *node.Config) { c.MaxValueSize = 1000 })
	c := dialRaw(t, addr)
	const tooBig = "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"SETBIT", "k", "7999", "1"}, ":0\r\n"},
		{[]string{"SETBIT", "k", "8000", "1"}, tooBig},
		{[]string{"BITFIELD", "k", "SET", "u8", "#999", "1"}, "*1\r\n:1\r\n"},
		{[]string{"BITFIELD", "k", "SET", "u8", "#1000", "1"}, tooBig},
		{[]string{"BITFIELD", "k", "GET", "u8", "#999", "INCRBY", "u2", "7999", "1"}, tooBig},
		{[]string{"BITFIELD", "k", "GET", "u8", "#999"}, "*1\r\n:1\r\n"},
		{[]string{"BITFIELD", "k", "GET", "u8", "#100000"}, "*1\r\n:0\r\n"},
		{[]string{"STRLEN", "k"}, ":1000\r\n"},
		{[]string{"SETBIT", "k", "8388608", "1"}, "-ERR bit offset is not an integer or out of range\r\n"},
		{[]string{"SETBIT", "k2", "8000", "1"}, tooBig},
		{[]string{"EXISTS", "k2"}, ":0\r\n"},
	} {
		if got := c.do(t, tc.args...); got != tc.want {
			t.Errorf("%s = %q, want %q", strings.Join(tc.args, " "), got, tc.want)
		}
	}
}
