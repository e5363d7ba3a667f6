package resp_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/geocache/geocache/node/resp"
)

// The differential test runs the same scripted sessions against redis-server and geocache and
// compares the raw reply bytes. Normalisations are explicit per step: integers that depend on
// timing (TTLs) may differ by a tolerance, client ids are masked, and arrays whose order is
// unspecified (SCAN, KEYS) are sorted.

type step struct {
	req     []byte
	desc    string
	replies int                 // replies to read
	norm    func(string) string // applied to both sides' replies
	approx  int64               // integer replies may differ by this much
	closes  bool                // the server must close the connection after the replies
}

func cmd(args ...string) step {
	return step{req: encode(args...), desc: strings.Join(args, " "), replies: 1}
}

func raw(s string, replies int) step {
	return step{req: []byte(s), desc: strconv.Quote(truncate(s, 60)), replies: replies}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

func (s step) sorted() step          { s.norm = sortArrays; return s }
func (s step) within(d int64) step   { s.approx = d; return s }
func (s step) closing() step         { s.closes = true; return s }
func (s step) masked(re string) step { s.norm = maskWith(regexp.MustCompile(re)); return s }
func (s step) anyInt() step          { return s.masked(`^:\d+\r\n$`) }
func (s step) helloID() step         { return s.masked(`\$2\r\nid\r\n:\d+\r\n`) }
func maskWith(re *regexp.Regexp) func(string) string {
	return func(s string) string { return re.ReplaceAllString(s, "<masked>") }
}

type session struct {
	name  string
	auth  bool // run against the servers that require a password
	steps []step
}

var sessions = []session{
	{name: "strings", steps: []step{
		cmd("GET", "s"),
		cmd("SET", "s", "v1"),
		cmd("GET", "s"),
		cmd("SET", "s", "v2", "GET"),
		cmd("SET", "s", "v3", "NX"),
		cmd("SET", "s", "v3", "XX"),
		cmd("SET", "nx", "v", "XX"),
		cmd("SET", "nx", "v", "NX"),
		cmd("SET", "nx", "w", "NX", "GET"),
		cmd("SET", "nx2", "w", "XX", "GET"),
		cmd("SET", "nx2", "w", "nx", "nx", "get", "get"),
		cmd("SET", "s", "v", "EX", "10", "EX", "20"),
		cmd("SET", "s", "v", "EX", "10", "PX", "10"),
		cmd("SET", "s", "v", "NX", "XX"),
		cmd("SET", "s", "v", "KEEPTTL", "EX", "10"),
		cmd("SET", "s", "v", "EX", "10", "KEEPTTL"),
		cmd("SET", "s", "v", "PERSIST"),
		cmd("SET", "s", "v", "EX"),
		cmd("SET", "s", "v", "FOO"),
		cmd("SET", "s", "v", "EX", "0"),
		cmd("SET", "s", "v", "EX", "-1"),
		cmd("SET", "s", "v", "EX", "abc"),
		cmd("SET", "s", "v", "EX", "01"),
		cmd("SET", "s", "v", "EX", "+1"),
		cmd("SET", "s", "v", "PX", "9223372036854775807"),
		cmd("SET", "s", "v", "EX", "9223372036854775807"),
		cmd("SET", "s", "v", "EX", "9223372036854775808"),
		cmd("SET", "s", "v", "EXAT", "0"),
		cmd("SET", "s", "v", "PXAT", "-5"),
		cmd("SET", "s", "v", "EXAT", "1"),
		cmd("GET", "s"),
		cmd("EXISTS", "s"),
		cmd("SET", "s", "v", "ex", "100"),
		cmd("TTL", "s").within(1),
		cmd("SET", "s", "w", "KEEPTTL"),
		cmd("TTL", "s").within(1),
		cmd("SET", "s", "w"),
		cmd("TTL", "s"),
		cmd("SET", "s", "w", "PX", "100000"),
		cmd("PTTL", "s").within(100),
		cmd("SET", "s", "w", "PXAT", "99999999999999"),
		cmd("PEXPIRETIME", "s"),
		cmd("EXPIRETIME", "s"),
		cmd("SET", "s"),
		cmd("GET"),
		cmd("GET", "a", "b"),
		cmd("SET", "", "empty key"),
		cmd("GET", ""),
		cmd("SET", "bin\x00key", "bin\x00\r\nvalue"),
		cmd("GET", "bin\x00key"),
		cmd("GETDEL", "bin\x00key"),
		cmd("GETDEL", "bin\x00key"),
		cmd("GETDEL"),
		cmd("GETEX", "missing", "EX", "0"),
		cmd("GETEX", "missing"),
		cmd("SET", "g", "v"),
		cmd("GETEX", "g"),
		cmd("GETEX", "g", "EX", "0"),
		cmd("GETEX", "g", "EX", "abc"),
		cmd("GETEX", "g", "PERSIST", "EX", "10"),
		cmd("GETEX", "g", "EX", "10", "PERSIST"),
		cmd("GETEX", "g", "EX", "10", "PX", "100"),
		cmd("GETEX", "g", "NX"),
		cmd("GETEX", "g", "KEEPTTL"),
		cmd("GETEX", "g", "FOO"),
		cmd("GETEX", "g", "EX", "100"),
		cmd("TTL", "g").within(1),
		cmd("GETEX", "g", "PERSIST"),
		cmd("TTL", "g"),
		cmd("GETEX", "g", "PXAT", "1"),
		cmd("EXISTS", "g"),
		cmd("MSET", "a"),
		cmd("MSET", "a", "1", "b"),
		cmd("MSET", "a", "1", "b", "2", "a", "3"),
		cmd("MGET", "a", "b", "c", "a"),
		cmd("MGET"),
		cmd("STRLEN", "a"),
		cmd("STRLEN", "missing"),
		cmd("SET", "bin", "a\x00b\r\n"),
		cmd("STRLEN", "bin"),
		cmd("SET", "empty", ""),
		cmd("STRLEN", "empty"),
		cmd("STRLEN"),
		cmd("STRLEN", "a", "b"),
		cmd("get", "a"),
		cmd("gEt", "b"),
	}},
	{name: "keys", steps: []step{
		cmd("MSET", "k1", "1", "k2", "2", "k3", "3", "other", "4"),
		cmd("DBSIZE"),
		cmd("DBSIZE", "x"),
		cmd("EXISTS", "k1", "k1", "nope", "k2"),
		cmd("EXISTS"),
		cmd("TOUCH", "k1", "k1", "nope"),
		cmd("TYPE", "k1"),
		cmd("TYPE", "nope"),
		cmd("KEYS", "*").sorted(),
		cmd("KEYS", "k?").sorted(),
		cmd("KEYS", "k[12]").sorted(),
		cmd("KEYS", "k[^1]").sorted(),
		cmd("KEYS", "nomatch*"),
		cmd("KEYS"),
		cmd("SCAN", "0", "COUNT", "1000").sorted(),
		cmd("SCAN", "0", "MATCH", "k*", "COUNT", "1000").sorted(),
		cmd("SCAN", "0", "COUNT", "1000", "TYPE", "string").sorted(),
		cmd("SCAN", "0", "COUNT", "1000", "TYPE", "STRING").sorted(),
		cmd("SCAN", "0", "COUNT", "1000", "TYPE", "list"),
		cmd("SCAN", "0", "COUNT", "1000", "TYPE", "nosuchtype"),
		cmd("SCAN", "abc"),
		cmd("SCAN", "18446744073709551616"),
		cmd("SCAN", " 0"),
		cmd("SCAN", "0", "COUNT", "0"),
		cmd("SCAN", "0", "COUNT", "-1"),
		cmd("SCAN", "0", "COUNT", "x"),
		cmd("SCAN", "0", "COUNT", "1.5"),
		// "SCAN -1" is accepted by both (strtoul wraps it) but where a cursor points is the
		// server's own business, so its page is not compared.
		cmd("SCAN", "0", "MATCH", "k*", "MATCH", "o*", "COUNT", "1000").sorted(),
		cmd("SCAN", "0", "count", "1000", "match", "[k]1").sorted(),
		cmd("SCAN", "0", "MATCH"),
		cmd("SCAN", "0", "FOO", "bar"),
		cmd("SCAN", "0", "TYPE"),
		cmd("SCAN"),
		cmd("DEL", "k1", "k1", "nope"),
		cmd("UNLINK", "k2", "nope"),
		cmd("DEL"),
		cmd("DBSIZE"),
		cmd("KEYS", "*").sorted(),
	}},
	{name: "flush", steps: []step{
		cmd("MSET", "f1", "1", "f2", "2", "f3", "3"),
		cmd("DEL", "f3"),
		cmd("SET", "ttl", "x", "EX", "100"),
		cmd("DBSIZE"),
		cmd("FLUSHALL"),
		cmd("DBSIZE"),
		cmd("GET", "f1"),
		cmd("EXISTS", "f1", "f2", "f3", "ttl"),
		cmd("KEYS", "*"),
		cmd("SET", "after", "1"),
		cmd("GET", "after"),
		cmd("FLUSHDB", "ASYNC"),
		cmd("GET", "after"),
		cmd("SET", "after", "2"),
		cmd("flushall", "sync"),
		cmd("FLUSHDB", "SYNC"),
		cmd("FLUSHALL", "async"),
		cmd("FLUSHALL", "foo"),
		cmd("FLUSHALL", "ASYNC", "SYNC"),
		cmd("FLUSHDB", "async", "x"),
		cmd("SET", "again", "v"),
		cmd("GET", "again"),
		cmd("DBSIZE"),
		cmd("FUNCTION", "FLUSH"),
		cmd("FUNCTION", "flush", "async"),
		cmd("FUNCTION", "FLUSH", "SYNC"),
		cmd("FUNCTION", "FLUSH", "foo"),
		cmd("FUNCTION", "FLUSH", "a", "b"),
		cmd("FUNCTION"),
		cmd("FUNCTION", "foo"),
		cmd("GET", "again"),
	}},
	{name: "rename-copy", steps: []step{
		cmd("SET", "a", "1"),
		cmd("RENAME", "a", "a"),
		cmd("RENAMENX", "a", "a"),
		cmd("RENAME", "nokey", "x"),
		cmd("RENAMENX", "nokey", "x"),
		cmd("RENAME", "a", "b"),
		cmd("EXISTS", "a", "b"),
		cmd("GET", "b"),
		cmd("SET", "c", "3", "EX", "100"),
		cmd("RENAME", "c", "b"),
		cmd("GET", "b"),
		cmd("TTL", "b").within(1),
		cmd("SET", "d", "4"),
		cmd("RENAMENX", "d", "b"),
		cmd("RENAMENX", "d", "e"),
		cmd("GET", "e"),
		cmd("RENAME", "a"),
		cmd("RENAME", "a", "b", "c"),
		cmd("COPY", "e", "e"),
		cmd("COPY", "e", "f"),
		cmd("GET", "f"),
		cmd("COPY", "e", "f"),
		cmd("SET", "e", "5"),
		cmd("COPY", "e", "f", "REPLACE"),
		cmd("GET", "f"),
		cmd("COPY", "b", "g", "db", "0"),
		cmd("TTL", "g").within(1),
		cmd("COPY", "e", "h", "DB", "x"),
		cmd("COPY", "e", "h", "DB", "99999999999"),
		cmd("COPY", "e", "h", "foo"),
		cmd("COPY", "e", "h", "DB"),
		cmd("COPY", "nokey", "z"),
		cmd("COPY", "e"),
		cmd("DBSIZE"),
	}},
	{name: "multi-new-commands", steps: []step{
		cmd("MULTI"),
		cmd("INCR", "c"),
		cmd("INCRBY", "c", "5"),
		cmd("SETEX", "e", "100", "v"),
		cmd("APPEND", "e", "w"),
		cmd("RENAME", "c", "d"),
		cmd("COPY", "d", "d2"),
		cmd("GET", "d"),
		cmd("GETRANGE", "e", "0", "0"),
		cmd("RENAMENX", "e", "d2"),
		cmd("EXEC"),
		cmd("GET", "d2"),
		cmd("TTL", "e").within(1),
		cmd("WATCH", "d"),
		cmd("INCR", "d"),
		cmd("MULTI"),
		cmd("INCR", "d"),
		cmd("EXEC"),
		cmd("GET", "d"),
	}},
	{name: "multi-collections", steps: []step{
		cmd("SADD", "myset", "a"),
		cmd("MULTI"),
		cmd("SPOP", "myset"),
		cmd("HSET", "h", "f", "v", "g", "w"),
		cmd("HGET", "h", "g"),
		cmd("ZADD", "z", "1", "m", "2", "n"),
		cmd("ZRANGE", "z", "0", "-1", "WITHSCORES"),
		cmd("SADD", "s2", "x", "y"),
		cmd("SINTERSTORE", "s3", "s2", "myset"),
		cmd("SCARD", "s2"),
		cmd("ZUNIONSTORE", "z2", "1", "z"),
		cmd("TYPE", "h"),
		cmd("EXEC"),
		cmd("EXISTS", "myset"),
		cmd("ZCARD", "z2"),
	}},
	{name: "object-time-randomkey", steps: []step{
		cmd("RANDOMKEY"),
		cmd("SET", "only", "v"),
		cmd("RANDOMKEY"),
		cmd("RANDOMKEY", "x"),
		cmd("SET", "i", "123"),
		cmd("SET", "big", "12345678901234567890"),
		cmd("SET", "neg", "-5"),
		cmd("SET", "lead", "0123"),
		cmd("SET", "long", strings.Repeat("x", 45)),
		cmd("SET", "e44", strings.Repeat("x", 44)),
		cmd("OBJECT", "ENCODING", "i"),
		cmd("OBJECT", "ENCODING", "big"),
		cmd("OBJECT", "encoding", "neg"),
		cmd("OBJECT", "ENCODING", "lead"),
		cmd("OBJECT", "ENCODING", "long"),
		cmd("OBJECT", "ENCODING", "e44"),
		cmd("OBJECT", "ENCODING", "only"),
		cmd("OBJECT", "ENCODING", "nokey"),
		cmd("OBJECT", "REFCOUNT", "i"),
		cmd("OBJECT", "REFCOUNT", "big"),
		cmd("OBJECT", "REFCOUNT", "only"),
		cmd("OBJECT", "REFCOUNT", "nokey"),
		cmd("OBJECT", "FREQ", "i"),
		cmd("OBJECT", "FREQ", "nokey"),
		cmd("OBJECT", "HELP"),
		cmd("OBJECT", "foo", "a"),
		cmd("OBJECT"),
		cmd("OBJECT", "ENCODING"),
		cmd("TIME").masked(`:\d+|\$\d+\r\n\d+`),
		cmd("TIME", "x"),
	}},
	{name: "expire", steps: []step{
		cmd("EXPIRE", "e", "100"),
		cmd("TTL", "e"),
		cmd("PTTL", "e"),
		cmd("EXPIRETIME", "e"),
		cmd("PERSIST", "e"),
		cmd("SET", "e", "v"),
		cmd("TTL", "e"),
		cmd("PTTL", "e"),
		cmd("EXPIRETIME", "e"),
		cmd("PERSIST", "e"),
		cmd("EXPIRE", "e", "abc"),
		cmd("EXPIRE", "e", "10", "FOO"),
		cmd("EXPIRE", "e", "10", "NX", "XX"),
		cmd("EXPIRE", "e", "10", "NX", "GT"),
		cmd("EXPIRE", "e", "10", "GT", "LT"),
		cmd("EXPIRE", "e", "10", "XX"),
		cmd("EXPIRE", "e", "10", "GT"),
		cmd("EXPIRE", "e", "10", "LT"),
		cmd("TTL", "e").within(1),
		cmd("EXPIRE", "e", "20", "NX"),
		cmd("EXPIRE", "e", "20", "XX"),
		cmd("EXPIRE", "e", "5", "GT"),
		cmd("EXPIRE", "e", "50", "GT"),
		cmd("EXPIRE", "e", "500", "LT"),
		cmd("EXPIRE", "e", "5", "lt"),
		cmd("TTL", "e").within(1),
		cmd("PEXPIRE", "e", "100000"),
		cmd("PTTL", "e").within(100),
		cmd("EXPIREAT", "e", "99999999999"),
		cmd("EXPIRETIME", "e"),
		cmd("PEXPIRETIME", "e"),
		cmd("PEXPIREAT", "e", "99999999999999"),
		cmd("PEXPIRETIME", "e"),
		cmd("PERSIST", "e"),
		cmd("PERSIST", "e"),
		cmd("TTL", "e"),
		cmd("EXPIRE", "e", "9223372036854775807"),
		cmd("EXPIRE", "e", "-9223372036854775808"),
		cmd("PEXPIRE", "e", "9223372036854775807"),
		cmd("EXPIREAT", "e", "9223372036854775807"),
		cmd("PEXPIREAT", "e", "9223372036854775807"),
		cmd("PERSIST", "e"), // geocache caps expiries at 2^48 ms (year 10889), so no TTL here
		cmd("TTL", "e"),
		cmd("EXPIRE", "e", "-1"),
		cmd("EXISTS", "e"),
		cmd("SET", "e", "v"),
		cmd("EXPIREAT", "e", "1"),
		cmd("GET", "e"),
		cmd("SET", "e", "v"),
		cmd("PEXPIRE", "e", "0"),
		cmd("GET", "e"),
		cmd("EXPIRE", "e"),
		// Integer parsing, as Redis's string2ll: no spaces, signs other than a leading minus,
		// leading zeros, fractions or hex.
		cmd("SET", "e", "v"),
		cmd("EXPIRE", "e", "1.5"),
		cmd("EXPIRE", "e", ""),
		cmd("EXPIRE", "e", " 5"),
		cmd("EXPIRE", "e", "5 "),
		cmd("EXPIRE", "e", "0x10"),
		cmd("EXPIRE", "e", "-0"),
		cmd("EXPIRE", "e", "007"),
		cmd("PEXPIRE", "e", "+100000"),
		cmd("PEXPIRE", "e", "100000"),
		cmd("PTTL", "e").within(100),
		cmd("PEXPIREAT", "e", "abc"),
		cmd("EXPIREAT", "e", "-9223372036854775809"),
		cmd("SET", "e", "v", "PX", "1.5"),
		cmd("SET", "e", "v", "PXAT", "0x10"),
		cmd("GETEX", "e", "PX", "-1"),
		cmd("GETEX", "e", "EXAT", "9223372036854775807"),
		cmd("GETEX", "e", "PXAT", ""),
		cmd("TTL"),
		cmd("PERSIST", "a", "b"),
	}},
	{name: "connection", steps: []step{
		cmd("PING"),
		cmd("PING", "hello"),
		cmd("PING", "a", "b"),
		cmd("ping"),
		cmd("ECHO", "hi\r\nthere"),
		cmd("ECHO"),
		cmd("SELECT", "0"),
		cmd("SELECT", "abc"),
		cmd("SELECT", "4294967296"),
		cmd("SELECT"),
		cmd("CLIENT", "ID").anyInt(),
		cmd("CLIENT", "GETNAME"),
		cmd("CLIENT", "SETNAME", "my-name"),
		cmd("CLIENT", "GETNAME"),
		cmd("CLIENT", "SETNAME", "bad name"),
		cmd("CLIENT", "SETNAME", "bad\nname"),
		cmd("CLIENT", "SETNAME", "caf\xc3\xa9"),
		cmd("CLIENT", "GETNAME"),
		cmd("CLIENT", "SETNAME", ""),
		cmd("CLIENT", "GETNAME"),
		cmd("CLIENT", "SETNAME"),
		cmd("CLIENT", "SETNAME", "a", "b"),
		cmd("CLIENT", "ID", "x"),
		cmd("CLIENT", "NOSUCH"),
		cmd("client", "nosuch\r\nsub"),
		cmd("CLIENT"),
		cmd("FOO"),
		cmd("FOO", "bar", "baz"),
		cmd("foo", strings.Repeat("x", 200)),
		cmd("foo", strings.Repeat("a", 100), strings.Repeat("b", 100), "c"),
		cmd("foo\r\nbar", "x\ny"),
		cmd("nul\x00cmd", "a\x00b"),
		cmd(strings.Repeat("Z", 200)),
		cmd("AUTH", "pw"),
		cmd("AUTH", "default", "anything"),
		cmd("AUTH", "nobody", "pw"),
		cmd("AUTH"),
		cmd("AUTH", "a", "b", "c"),
		cmd("HELLO").helloID(),
		cmd("HELLO", "2").helloID(),
		cmd("HELLO", "4"),
		cmd("HELLO", "1"),
		cmd("HELLO", "abc"),
		cmd("HELLO", "2", "FOO"),
		cmd("HELLO", "2", "AUTH", "a"),
		cmd("HELLO", "2", "SETNAME"),
		cmd("HELLO", "2", "SETNAME", "bad name"),
		cmd("HELLO", "2", "SETNAME", "hello-name").helloID(),
		cmd("CLIENT", "GETNAME"),
		cmd("HELLO", "2", "AUTH", "default", "x", "SETNAME", "n2").helloID(),
		cmd("HELLO", "2", "AUTH", "nobody", "x"),
		cmd("WAIT", "0", "0"),
		cmd("WAIT", "1", "1"),
		cmd("WAIT", "-1", "0"),
		cmd("WAIT", "a", "0"),
		cmd("WAIT", "1", "a"),
		cmd("WAIT", "1", "-1"),
		cmd("WAIT", "1"),
		cmd("WAIT", "0", "1.5"),
		cmd("WAIT", "99999999999999999999", "0"),
		cmd("SELECT", "-1"),
		cmd("SELECT", "00"),
		cmd("ECHO", "a", "b"),
		cmd("PING", ""),
		cmd("INFO", "nosuchsection"),
		cmd("RESET", "x"),
		cmd("RESET"),
		cmd("CLIENT", "GETNAME"),
		cmd("QUIT", "extra", "args").closing(),
	}},
	{name: "resp3", steps: []step{
		cmd("HELLO", "3").helloID(),
		cmd("GET", "missing"),
		cmd("SET", "a", "1"),
		cmd("MGET", "a", "missing"),
		cmd("SET", "a", "2", "GET"),
		cmd("SET", "a", "2", "NX"),
		cmd("GETDEL", "missing"),
		cmd("CLIENT", "GETNAME"),
		cmd("HELLO").helloID(),
		cmd("SCAN", "0", "COUNT", "100"),
		cmd("COMMAND", "INFO", "get", "set", "nosuch"),
		cmd("COMMAND", "DOCS", "get", "nosuch", "ttl"),
		cmd("INFO", "nosuchsection"),
		cmd("HELLO", "2").helloID(),
		cmd("GET", "missing"),
		cmd("HELLO", "3").helloID(),
		cmd("RESET"),
		cmd("GET", "missing"),
	}},
	{name: "pipeline", steps: []step{
		raw(string(encode("SET", "p", "1"))+string(encode("GET", "p"))+string(encode("DEL", "p"))+
			string(encode("GET", "p"))+string(encode("NOSUCH"))+string(encode("GET"))+
			string(encode("PING")), 7),
		raw(strings.Repeat(string(encode("PING")), 100), 100),
		raw("*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n", 1),
		raw("*1\r\n$4\r\nPINGxx", 1),
		raw("*1\r\n$4\r\nPI", 0),
		raw("NG\r\n", 1),
		raw("*2\r\n$4\r\nECHO\r\n$3\r\n", 0),
		raw("abc\r\n", 1),
		raw("*1\rX$4\r\nPING\r\n", 1),
	}},
	{name: "inline", steps: []step{
		raw("PING\r\n", 1),
		raw("PING\n", 1),
		raw("ping  hello\r\n", 1),
		raw("\r\n\n   \r\nPING\r\n", 1),
		raw("ECHO \"a\\x41\\x4a\\n\\t\\r\\b\\a\\\\\\\"b\"\r\n", 1),
		raw("ECHO 'it\\'s'\r\n", 1),
		raw("ECHO a\"b c\"\r\n", 1),
		raw("ECHO \"\"\r\n", 1),
		raw("SET inl \"two words\"\r\nGET inl\r\n", 2),
		raw("ECHO\tx\r\n", 1),
		raw("ECHO a\rb\n", 1),
		raw("NOSUCH x\r\n", 1),
	}},
	{name: "multi", steps: multiSteps()},
	{name: "multi-resp3", steps: append([]step{cmd("HELLO", "3").helloID()}, multiSteps()...)},
	{name: "multi-pipelined", steps: []step{
		raw(string(encode("MULTI"))+string(encode("SET", "p", "1"))+string(encode("SET", "p", "2", "GET"))+
			string(encode("GET", "p"))+string(encode("EXEC")), 5),
		raw(string(encode("WATCH", "p"))+string(encode("SET", "p", "2"))+string(encode("MULTI"))+
			string(encode("GET", "p"))+string(encode("EXEC"))+string(encode("GET", "p")), 6),
	}},
	{name: "multi-inline", steps: []step{
		raw("MULTI\r\nSET mx 1\r\nDISCARD\r\nGET mx\r\n", 4),
		raw("MULTI\r\nSET mx 1\r\nGET mx\r\nEXEC\r\n", 4),
		raw("MULTI\r\nSET mx\r\nEXEC\r\nGET mx\r\n", 4),
		raw("MULTI\r\nQUIT\r\n", 2).closing(),
	}},
	{name: "multi-discard-quit", steps: []step{
		cmd("MULTI"),
		cmd("SET", "q", "1"),
		cmd("QUIT").closing(),
	}},
	{name: "scripting", steps: scriptSteps()},
	{name: "scripting-resp3", steps: append([]step{cmd("HELLO", "3").helloID()}, scriptSteps()...)},
	{name: "unbalanced-quotes", steps: []step{raw("ECHO \"abc\r\n", 1).closing()}},
	{name: "quote-followed", steps: []step{raw("ECHO \"a\"b\r\n", 1).closing()}},
	{name: "single-quote", steps: []step{raw("ECHO 'a\r\n", 1).closing()}},
	{name: "invalid-multibulk", steps: []step{cmd("PING"), raw("*x\r\n", 1).closing()}},
	{name: "invalid-multibulk-zero", steps: []step{raw("*01\r\n", 1).closing()}},
	{name: "invalid-multibulk-plus", steps: []step{raw("*+1\r\n", 1).closing()}},
	{name: "invalid-multibulk-space", steps: []step{raw("*1 \r\n", 1).closing()}},
	{name: "invalid-multibulk-lf", steps: []step{raw("*1\n$4\r\nPING\r\n", 1).closing()}},
	{name: "expected-dollar", steps: []step{raw("*2\r\n$3\r\nGET\r\n:1\r\n", 1).closing()}},
	{name: "expected-dollar-cr", steps: []step{raw("*1\r\n\r\n", 1).closing()}},
	{name: "invalid-bulk", steps: []step{raw("*1\r\n$x\r\n", 1).closing()}},
	{name: "invalid-bulk-negative", steps: []step{raw("*1\r\n$-1\r\n", 1).closing()}},
	{name: "invalid-bulk-huge", steps: []step{raw("*1\r\n$99999999999999999999\r\n", 1).closing()}},
	{name: "too-big-inline", steps: []step{raw(strings.Repeat("x", 70000), 1).closing()}},
	{name: "too-big-mbulk-count", steps: []step{raw("*"+strings.Repeat("1", 70000), 1).closing()}},
	{name: "too-big-bulk-count", steps: []step{raw("*1\r\n$"+strings.Repeat("1", 70000), 1).closing()}},
	{name: "after-error-nothing-runs", steps: []step{
		raw("*1\r\n$4\r\nPING\r\n*x\r\n*1\r\n$4\r\nPING\r\n", 2).closing(),
	}},
	{name: "auth", auth: true, steps: []step{
		cmd("GET", "a"),
		cmd("PING"),
		cmd("FOO"),
		cmd("GET"),
		cmd("CLIENT", "NOSUCH"),
		cmd("CLIENT", "ID"),
		cmd("HELLO"),
		cmd("HELLO", "3"),
		cmd("HELLO", "2", "SETNAME", "x"),
		cmd("AUTH", "wrong"),
		cmd("AUTH", "default", "wrong"),
		cmd("AUTH", "alice", "wrong"),
		cmd("AUTH", "nobody", "pw"),
		cmd("AUTH", "a", "b", "c"),
		cmd("AUTH", "secret"),
		cmd("SET", "a", "1"),
		cmd("GET", "a"),
		cmd("RESET"),
		cmd("GET", "a"),
		cmd("AUTH", "alice", "pw"),
		cmd("GET", "a"),
		cmd("RESET"),
		cmd("HELLO", "3", "AUTH", "alice", "bad"),
		cmd("HELLO", "3", "AUTH", "alice", "pw", "SETNAME", "al").helloID(),
		cmd("GET", "missing"),
		cmd("CLIENT", "GETNAME"),
		cmd("RESET"),
		cmd("HELLO", "2", "AUTH", "default", "secret").helloID(),
		cmd("QUIT").closing(),
	}},
	{name: "multi-auth", auth: true, steps: []step{
		cmd("MULTI"),
		cmd("AUTH", "secret"),
		cmd("MULTI"),
		cmd("GET", "a"),
		cmd("FOO"),
		cmd("EXEC"),
		cmd("EXEC"),
		cmd("MULTI"),
		cmd("AUTH", "secret"),
		cmd("SET", "a", "1"),
		cmd("EXEC"),
		cmd("MULTI"),
		cmd("RESET"),
		cmd("GET", "a"),
		cmd("EXEC"),
	}},
	{name: "auth-quit", auth: true, steps: []step{cmd("QUIT").closing()}},
	{name: "auth-unauth-multibulk", auth: true, steps: []step{
		raw("*10\r\n", 0),
		raw(strings.Repeat("$1\r\nx\r\n", 10), 1),
		raw("*11\r\n", 1).closing(),
	}},
	{name: "auth-unauth-bulk", auth: true, steps: []step{
		raw("*2\r\n$4\r\nECHO\r\n$16384\r\n"+strings.Repeat("y", 16384)+"\r\n", 1),
		raw("*2\r\n$4\r\nECHO\r\n$16385\r\n", 1).closing(),
	}},
	{name: "auth-then-big", auth: true, steps: []step{
		cmd("AUTH", "secret"),
		raw("*2\r\n$4\r\nECHO\r\n$20000\r\n"+strings.Repeat("z", 20000)+"\r\n", 1),
		raw(string(encode("MGET", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12"))+"", 1),
	}},
}

// multiSteps is a session of MULTI/EXEC/DISCARD/WATCH/UNWATCH replies, run in RESP2 and RESP3.
func multiSteps() []step {
	return []step{
		cmd("EXEC"),
		cmd("DISCARD"),
		cmd("UNWATCH"),
		cmd("MULTI", "x"),
		cmd("EXEC", "x"),
		cmd("WATCH"),
		// Basics: queued replies, the array of results, runtime errors per command.
		cmd("MULTI"),
		cmd("SET", "t", "1"),
		cmd("GET", "t"),
		cmd("SET", "t", "2", "NX", "XX"),
		cmd("SET", "t", "3", "EX", "0"),
		cmd("DEL", "t", "u"),
		cmd("MSET", "a", "1", "b"),
		cmd("MSET", "a", "1", "b", "2"),
		cmd("MGET", "a", "b", "t"),
		cmd("EXISTS", "a", "b"),
		cmd("EXPIRE", "a", "100"),
		cmd("TTL", "a"),
		cmd("PERSIST", "a"),
		cmd("GETDEL", "b"),
		cmd("TYPE", "a"),
		cmd("STRLEN", "a"),
		cmd("PING"),
		cmd("ECHO", "e"),
		cmd("DBSIZE"),
		cmd("KEYS", "*").sorted(),
		cmd("SCAN", "0").sorted(),
		cmd("WAIT", "0", "0"),
		cmd("UNWATCH"),
		cmd("SELECT", "0"),
		cmd("EXEC"),
		cmd("EXEC"),
		cmd("MULTI"),
		cmd("EXEC"),
		// Nested MULTI and WATCH inside MULTI are errors that do not abort the transaction.
		cmd("MULTI"),
		cmd("MULTI"),
		cmd("WATCH", "a"),
		cmd("GET", "a"),
		cmd("EXEC"),
		// Queueing errors abort at EXEC.
		cmd("MULTI"),
		cmd("SET", "a", "2"),
		cmd("NOSUCH", "x"),
		cmd("GET"),
		cmd("EXEC"),
		cmd("GET", "a"),
		cmd("MULTI"),
		cmd("CLIENT", "NOSUCH"),
		cmd("EXEC"),
		cmd("MULTI"),
		cmd("CLIENT"),
		cmd("DISCARD"),
		cmd("EXEC"),
		// DISCARD drops the queue.
		cmd("MULTI"),
		cmd("SET", "d", "1"),
		cmd("DISCARD"),
		cmd("GET", "d"),
		cmd("DISCARD", "x"),
		// WATCH: unchanged, changed by SET / EXPIRE / DEL, unwatched, watched absent keys.
		cmd("SET", "w", "1"),
		cmd("WATCH", "w", "w2"),
		cmd("MULTI"),
		cmd("GET", "w"),
		cmd("EXEC"),
		cmd("WATCH", "w"),
		cmd("SET", "w", "1"),
		cmd("MULTI"),
		cmd("SET", "w", "ignored"),
		cmd("EXEC"),
		cmd("GET", "w"),
		cmd("MULTI"),
		cmd("GET", "w"),
		cmd("EXEC"),
		cmd("WATCH", "w"),
		cmd("EXPIRE", "w", "100"),
		cmd("MULTI"),
		cmd("PING"),
		cmd("EXEC"),
		cmd("WATCH", "w"),
		cmd("DEL", "w"),
		cmd("MULTI"),
		cmd("PING"),
		cmd("EXEC"),
		cmd("WATCH", "w"),
		cmd("SET", "w", "again"),
		cmd("MULTI"),
		cmd("PING"),
		cmd("EXEC"),
		cmd("WATCH", "w"),
		cmd("SET", "w", "x"),
		cmd("UNWATCH"),
		cmd("MULTI"),
		cmd("PING"),
		cmd("EXEC"),
		cmd("WATCH", "nokey"),
		cmd("DEL", "nokey"),
		cmd("MULTI"),
		cmd("PING"),
		cmd("EXEC"),
		cmd("WATCH", "w"),
		cmd("SET", "w", "y"),
		cmd("MULTI"),
		cmd("DISCARD"),
		cmd("MULTI"),
		cmd("GET", "w"),
		cmd("EXEC"),
		cmd("WATCH", "w"),
		cmd("SET", "w", "z"),
		cmd("MULTI"),
		cmd("NOSUCH"),
		cmd("EXEC"),
		cmd("MULTI"),
		cmd("GET", "w"),
		cmd("EXEC"),
		// HELLO inside EXEC switches the protocol of the replies after it.
		cmd("MULTI"),
		cmd("GET", "nokey"),
		cmd("HELLO", "2").helloID(),
		cmd("GET", "nokey"),
		cmd("EXEC").helloID(),
		cmd("WATCH", "w"),
		cmd("SET", "w", "1"),
		cmd("MULTI"),
		cmd("EXEC"),
	}
}

// scriptSteps is a session of EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT replies. Lua's own
// runtime and compile error messages are left out: gopher-lua words some of them differently.
func scriptSteps() []step {
	return []step{
		cmd("SCRIPT", "FLUSH"),
		cmd("EVAL", "return 1", "0"),
		cmd("EVAL", "return 3.99", "0"),
		cmd("EVAL", "return -2.5", "0"),
		cmd("EVAL", "return 'x'", "0"),
		cmd("EVAL", "return true", "0"),
		cmd("EVAL", "return false", "0"),
		cmd("EVAL", "return nil", "0"),
		cmd("EVAL", "return", "0"),
		cmd("EVAL", "return {1, 2.5, 'x', true, false, nil, 3}", "0"),
		cmd("EVAL", "return {1, {2, {'deep'}}, {err='E nested'}, {ok='fine'}}", "0"),
		cmd("EVAL", "return {err='MYERR bad'}", "0"),
		cmd("EVAL", "return {ok='STATUS'}", "0"),
		cmd("EVAL", "return redis.error_reply('My err')", "0"),
		cmd("EVAL", "return redis.status_reply('FINE')", "0"),
		cmd("EVAL", "return redis.sha1hex('abc')", "0"),
		cmd("EVAL", "return redis.sha1hex('')", "0"),
		cmd("EVAL", "return {KEYS[1], KEYS[2], ARGV[1], #KEYS, #ARGV}", "2", "k1", "k2", "a1", "a2"),
		cmd("EVAL", "return redis.call('SET', KEYS[1], ARGV[1])", "1", "sk", "v1"),
		cmd("EVAL", "return redis.call('GET', KEYS[1])", "1", "sk"),
		cmd("EVAL", "return redis.call('GET', 'nokey')", "0"),
		cmd("EVAL", "return type(redis.call('GET', 'nokey'))", "0"),
		cmd("EVAL", "return redis.call('SET', 'n', 12.5)", "0"),
		cmd("EVAL", "return redis.call('GET', 'n')", "0"),
		cmd("EVAL", "return redis.call('DEL', 'n', 'sk', 'none')", "0"),
		cmd("EVAL", "redis.call('MSET', 'a', '1', 'b', '2'); return redis.call('MGET', 'a', 'b', 'c')", "0"),
		cmd("EVAL", "return redis.call('EXISTS', 'a', 'b')", "0"),
		cmd("EVAL", "return redis.call('PING')", "0"),
		cmd("EVAL", "return redis.call('ECHO', 'e')", "0"),
		cmd("EVAL", "return redis.call('TTL', 'a')", "0"),
		cmd("EVAL", "return redis.pcall('SET', 'a', '1', 'x')", "0"),
		cmd("EVAL", "return redis.call('SET', 'a', '1', 'x')", "0"),
		cmd("EVAL", "local t = redis.pcall('NOSUCH'); return t['err']", "0"),
		cmd("EVAL", "return redis.call('NOSUCH', 'a')", "0"),
		cmd("EVAL", "return redis.call('GET')", "0"),
		cmd("EVAL", "return redis.call('MULTI')", "0"),
		cmd("EVAL", "return redis.call('EVAL', 'return 1', '0')", "0"),
		cmd("EVAL", "return redis.call()", "0"),
		cmd("EVAL", "return redis.call({})", "0"),
		cmd("EVAL", "return redis.call('GET', {})", "0"),
		cmd("EVAL", "error('boo')", "0"),
		cmd("EVAL", "\n\nerror('line three')", "0"),
		cmd("EVAL", "\nreturn redis.call('SET', 'a', '1', 'x')", "0"),
		cmd("EVAL", "return os", "0"),
		cmd("EVAL", "return io", "0"),
		cmd("EVAL", "return loadstring", "0"),
		cmd("EVAL", "return dofile", "0"),
		cmd("EVAL", "x = 1", "0"),
		cmd("EVAL", "function f() end", "0"),
		cmd("EVAL", "local function f(n) return f(n + 1) + 1 end return f(1)", "0"),
		cmd("EVAL", "return redis.REDIS_VERSION", "0"),
		cmd("EVAL", "return redis.LOG_WARNING", "0"),
		cmd("EVAL", "return redis.log(redis.LOG_DEBUG, 'hello from a test')", "0"),
		cmd("EVAL", "return string.rep('ab', 3) .. tostring(1.5) .. table.concat({1, 2}, ',') .. math.floor(2.7)", "0"),
		cmd("EVAL", "return 1", "x"),
		cmd("EVAL", "return 1", "2", "a"),
		cmd("EVAL", "return 1", "-1"),
		cmd("EVAL", "return 1"),
		cmd("EVAL_RO", "return redis.call('GET', 'a')", "0"),
		cmd("EVAL_RO", "return redis.call('SET', 'a', '2')", "0"),
		cmd("EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "0"),
		cmd("EVALSHA", "E0E1F9FABFC9D4800C877A703B823AC0578FF8DB", "0"),
		cmd("EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", "0"),
		cmd("EVALSHA", "short", "0"),
		cmd("EVALSHA_RO", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "0"),
		cmd("SCRIPT", "LOAD", "return 'loaded'"),
		cmd("EVALSHA", "b534286061d4b9e4026607613b95c06c06015ae8", "0"),
		cmd("SCRIPT", "EXISTS", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "nope"),
		cmd("SCRIPT", "FLUSH", "ASYNC"),
		cmd("SCRIPT", "FLUSH", "BAD"),
		cmd("SCRIPT", "EXISTS", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db"),
		cmd("SCRIPT", "KILL"),
		cmd("SCRIPT"),
		cmd("SCRIPT", "NOSUCH"),
		cmd("SCRIPT", "LOAD"),
		cmd("MULTI"),
		cmd("EVAL", "redis.call('SET', 'm', 'x'); return redis.call('GET', 'm')", "0"),
		cmd("EVAL", "return redis.call('NOSUCH')", "0"),
		cmd("GET", "m"),
		cmd("EXEC"),
	}
}

// commandsWithRedisMetadata are compared one by one with COMMAND INFO and COMMAND DOCS. Container
// commands are left out: geocache lists only the subcommands it implements.
var commandsWithRedisMetadata = []string{
	"get", "set", "getdel", "getex", "mget", "mset", "strlen", "del", "unlink", "exists", "touch",
	"expire", "pexpire", "expireat", "pexpireat", "expiretime", "pexpiretime", "ttl", "pttl",
	"persist", "type", "dbsize", "scan", "keys", "flushall", "flushdb", "rename", "renamenx", "copy", "randomkey",
	"object|encoding", "object|refcount", "object|freq", "object|help", "time", "ping", "echo", "hello", "auth", "select",
	"quit", "reset", "info", "wait", "client|id", "client|getname", "client|setname",
	"client|info", "client|list", "command|count", "command|info", "command|docs",
	"command|list", "config|get", "function|flush", "multi", "exec", "discard", "watch", "unwatch",
	"eval", "evalsha", "eval_ro", "evalsha_ro", "script|load", "script|exists", "script|flush",
	"script|kill",
	"config|set",
	"hset", "hmset", "hsetnx", "hget", "hmget", "hgetall", "hkeys", "hvals", "hdel", "hexists",
	"hlen", "hstrlen", "hincrby", "hincrbyfloat", "hrandfield", "hscan", "sadd", "srem", "smembers",
	"sismember", "smismember", "scard", "spop", "srandmember", "smove", "sinter", "sunion", "sdiff",
	"sinterstore", "sunionstore", "sdiffstore", "sintercard", "sscan", "zadd", "zincrby", "zrem",
	"zscore", "zmscore", "zcard", "zrank", "zrevrank", "zrange", "zrevrange", "zrangebyscore",
	"zrevrangebyscore", "zrangebylex", "zrevrangebylex", "zrangestore", "zcount", "zlexcount",
	"zremrangebyrank", "zremrangebyscore", "zremrangebylex", "zpopmin", "zpopmax", "zrandmember",
	"zscan", "zunion", "zinter", "zdiff", "zunionstore", "zinterstore", "zdiffstore", "zintercard",
}

func init() {
	var steps, steps3 []step
	steps3 = append(steps3, cmd("HELLO", "3").helloID())
	for _, c := range commandsWithRedisMetadata {
		steps = append(steps, cmd("COMMAND", "INFO", c), cmd("COMMAND", "DOCS", c))
		steps3 = append(steps3, cmd("COMMAND", "INFO", strings.ToUpper(c)), cmd("COMMAND", "DOCS", c))
	}
	sessions = append(sessions,
		session{name: "command-metadata", steps: steps},
		session{name: "command-metadata-resp3", steps: steps3})
}

func TestDifferentialAgainstRedis(t *testing.T) {
	redisPlain := startRedis(t)
	redisAuth := startRedis(t, "--requirepass", "secret")
	admin := dialRaw(t, redisAuth)
	admin.do(t, "AUTH", "secret")
	if r := admin.do(t, "ACL", "SETUSER", "alice", "on", ">pw", "~*", "+@all"); r != "+OK\r\n" {
		t.Fatalf("ACL SETUSER: %q", r)
	}
	plainAdmin := dialRaw(t, redisPlain)
	authAdmin := admin

	for _, mode := range transports {
		for _, ss := range sessions {
			t.Run(mode.name+"/"+ss.name, func(t *testing.T) {
				var geoAddr, redisAddr string
				if ss.auth {
					geoAddr, _, _ = startGeocache(t, resp.Config{Password: "secret",
						Users: map[string]string{"alice": "pw"}, EventLoops: mode.loops}, nil)
					redisAddr = redisAuth
					authAdmin.do(t, "FLUSHALL")
				} else {
					geoAddr, _, _ = startGeocache(t, resp.Config{EventLoops: mode.loops}, nil)
					redisAddr = redisPlain
					plainAdmin.do(t, "FLUSHALL")
				}
				geo, red := dialRaw(t, geoAddr), dialRaw(t, redisAddr)
				for i, st := range ss.steps {
					want := run(t, red, st)
					got := run(t, geo, st)
					if !equivalent(st, want, got) {
						t.Fatalf("step %d %s:\nredis:    %q\ngeocache: %q", i, st.desc, want, got)
					}
				}
			})
		}
	}
}

// transports are the two ways the server runs connections: event loops (the default on Linux)
// and a goroutine per connection (TLS, other platforms). Tests cover both.
var transports = []struct {
	name  string
	loops int
}{{"loops", 0}, {"goroutines", -1}}

// run sends a step and returns its replies, followed by "<closed>" if the server closed the
// connection afterwards (checked only for steps that expect it).
func run(t *testing.T, c *rawConn, st step) []string {
	t.Helper()
	if _, err := c.Write(st.req); err != nil {
		t.Fatalf("%s: write: %v", st.desc, err)
	}
	var out []string
	for range st.replies {
		r, err := c.readReply(5 * time.Second)
		if err != nil {
			t.Fatalf("%s: reading reply %d: %v (have %q)", st.desc, len(out)+1, err, out)
		}
		out = append(out, r)
	}
	if st.closes {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.r.ReadByte(); err == io.EOF {
			out = append(out, "<closed>")
		} else {
			out = append(out, fmt.Sprintf("<not closed: %v>", err))
		}
	}
	return out
}

func equivalent(st step, a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if st.norm != nil {
			x, y = st.norm(x), st.norm(y)
		}
		if x == y {
			continue
		}
		if st.approx > 0 && strings.HasPrefix(x, ":") && strings.HasPrefix(y, ":") {
			m, err1 := strconv.ParseInt(strings.TrimSpace(x[1:]), 10, 64)
			n, err2 := strconv.ParseInt(strings.TrimSpace(y[1:]), 10, 64)
			if err1 == nil && err2 == nil && m-n <= st.approx && n-m <= st.approx {
				continue
			}
		}
		return false
	}
	return true
}

// sortArrays sorts the elements of every array in a reply whose elements are all bulk strings.
func sortArrays(s string) string {
	v, err := parseTree(bufio.NewReader(strings.NewReader(s)))
	if err != nil {
		return s
	}
	v.sortLeaves()
	return v.String()
}

type tree struct {
	head  string // the type line, CRLF included
	body  string // bulk payload with its CRLF
	elems []*tree
}

func parseTree(r *bufio.Reader) (*tree, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	t := &tree{head: line}
	n, _ := strconv.Atoi(strings.TrimSpace(line[1:]))
	switch line[0] {
	case '$':
		if n >= 0 {
			b := make([]byte, n+2)
			if _, err := io.ReadFull(r, b); err != nil {
				return nil, err
			}
			t.body = string(b)
		}
	case '*':
		for range n {
			e, err := parseTree(r)
			if err != nil {
				return nil, err
			}
			t.elems = append(t.elems, e)
		}
	}
	return t, nil
}

func (t *tree) sortLeaves() {
	leaves := true
	for _, e := range t.elems {
		e.sortLeaves()
		if e.head[0] != '$' {
			leaves = false
		}
	}
	if leaves && t.head[0] == '*' {
		sort.Slice(t.elems, func(i, j int) bool { return t.elems[i].body < t.elems[j].body })
	}
}

func (t *tree) String() string {
	var b bytes.Buffer
	b.WriteString(t.head)
	b.WriteString(t.body)
	for _, e := range t.elems {
		b.WriteString(e.String())
	}
	return b.String()
}
