package resp_test

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/geocache/geocache/node/resp"
	"github.com/geocache/geocache/node/resp/internal/rdb"
)

// strPayload is the DUMP payload of a string, as both servers write a short one.
func strPayload(s string) string {
	return string(rdb.Finish(rdb.AppendString([]byte{rdb.TypeString}, []byte(s))))
}

// reFooter gives body (a payload without its footer) a valid footer.
func reFooter(body []byte) string { return string(rdb.Finish(append([]byte(nil), body...))) }

func init() {
	commandsWithRedisMetadata = append(commandsWithRedisMetadata, "dump", "restore")
	hello := strPayload("hello")
	badCRC := []byte(hello)
	badCRC[len(badCRC)-1] ^= 0xff
	v11 := []byte(hello[:len(hello)-10])
	v11 = binary.LittleEndian.AppendUint16(v11, 11)
	v11 = binary.LittleEndian.AppendUint64(v11, rdb.CRC64(v11))
	truncated := reFooter([]byte("\x02\x40\xc8\x01a")) // 200 members, one present
	hash := rdb.AppendLen([]byte{rdb.TypeHash}, 2)
	for _, s := range []string{"f", "1", "g", "v"} {
		hash = rdb.AppendString(hash, []byte(s))
	}
	dupSet := reFooter([]byte("\x02\x02\x01a\x01a"))
	emptySet := reFooter([]byte{rdb.TypeSet, 0})
	steps := []step{
		cmd("DUMP", "missing"),
		cmd("SET", "s", "hello"),
		cmd("DUMP", "s"),
		cmd("SET", "i", "12345"),
		cmd("DUMP", "i"),
		cmd("SET", "n", "-7"),
		cmd("DUMP", "n"),
		cmd("SET", "e", ""),
		cmd("DUMP", "e"),
		cmd("SET", "big", "123456789012"),
		cmd("DUMP", "big"),
		cmd("INCRBY", "cnt", "40000"), // a counter dumps its value, integer-encoded as Redis's
		cmd("DUMP", "cnt"),
		cmd("HELLO", "3").helloID(),
		cmd("DUMP", "cnt"),
		cmd("DUMP", "missing"),
		cmd("HELLO", "2").helloID(),
		cmd("DUMP"),
		cmd("DUMP", "a", "b"),
		cmd("RESTORE", "r", "0"),
		cmd("RESTORE", "r", "0", hello),
		cmd("GET", "r"),
		cmd("TTL", "r"),
		cmd("RESTORE", "r", "0", hello),
		cmd("RESTORE", "r", "-1", hello), // BUSYKEY comes before the TTL check
		cmd("RESTORE", "r", "-1", hello, "REPLACE"),
		cmd("RESTORE", "r", "abc", hello, "REPLACE"),
		cmd("RESTORE", "r", "0", hello, "replace", "FOO"),
		cmd("RESTORE", "r", "0", hello, "REPLACE", "IDLETIME"),
		cmd("RESTORE", "r", "0", hello, "REPLACE", "IDLETIME", "-1"),
		cmd("RESTORE", "r", "0", hello, "REPLACE", "IDLETIME", "x"),
		cmd("RESTORE", "r", "0", hello, "REPLACE", "FREQ", "256"),
		cmd("RESTORE", "r", "0", hello, "REPLACE", "FREQ", "-1"),
		cmd("RESTORE", "r", "0", hello, "REPLACE", "FREQ", "5", "IDLETIME", "5"),
		cmd("RESTORE", "r", "0", hello, "REPLACE", "IDLETIME", "5", "FREQ", "5"),
		cmd("RESTORE", "r", "0", hello, "REPLACE", "IDLETIME", "10"),
		cmd("RESTORE", "r", "0", hello, "REPLACE", "FREQ", "255"),
		cmd("RESTORE", "r", "100000", hello, "REPLACE"),
		cmd("PTTL", "r").within(100),
		cmd("RESTORE", "r", "99999999999999", hello, "REPLACE", "ABSTTL"),
		cmd("PEXPIRETIME", "r"),
		cmd("RESTORE", "r", "1", hello, "REPLACE", "ABSTTL"), // in the past: deletes
		cmd("EXISTS", "r"),
		cmd("RESTORE", "r", "1", hello, "ABSTTL"), // in the past, no key: writes nothing
		cmd("EXISTS", "r"),
		cmd("RESTORE", "r", "0", hello, "ABSTTL"), // 0: no expiry
		cmd("TTL", "r"),
		cmd("RESTORE", "r", "9223372036854775807", hello, "REPLACE"), // overflows into the past
		cmd("EXISTS", "r"),
		cmd("RESTORE", "r", "9223372036854775808", hello, "REPLACE"),
		// Bad payloads are refused and change nothing.
		cmd("SET", "k", "v"),
		cmd("RESTORE", "k", "0", string(badCRC), "REPLACE"),
		cmd("RESTORE", "k", "0", string(v11), "REPLACE"),
		cmd("RESTORE", "k", "0", "short", "REPLACE"),
		cmd("RESTORE", "k", "0", "", "REPLACE"),
		cmd("RESTORE", "k", "0", truncated, "REPLACE"),
		cmd("RESTORE", "k", "0", dupSet, "REPLACE"),
		cmd("RESTORE", "k", "0", emptySet, "REPLACE"),
		cmd("RESTORE", "k", "0", reFooter([]byte{42}), "REPLACE"),
		cmd("RESTORE", "k", "0", reFooter(nil), "REPLACE"),
		cmd("GET", "k"),
		// REPLACE over another type; each type restored.
		cmd("RESTORE", "k", "0", reFooter(hash), "REPLACE"),
		cmd("TYPE", "k"),
		cmd("HGETALL", "k").sorted(),
		cmd("HSET", "k", "h", "x"),
		cmd("HLEN", "k"),
		cmd("RESTORE", "k", "0", hello, "REPLACE"),
		cmd("TYPE", "k"),
		cmd("SADD", "st", "b", "a", "c"),
		cmd("ZADD", "z", "1", "a", "2.5", "b", "-inf", "c"),
		cmd("HSET", "h", "f1", "v1", "f2", "300"),
		cmd("MULTI"),
		cmd("RESTORE", "m", "0", hello),
		cmd("DUMP", "m"),
		cmd("EXEC"),
		cmd("RESTORE", "m", "0", hello),
		cmd("RESTORE", "st", "0", hello),
	}
	sessions = append(sessions, session{name: "dump-restore", steps: steps})
}

// valueOf reads a key's whole value from a server, normalised to compare servers: its type and
// its elements (sorted where unordered).
func valueOf(t *testing.T, c *rawConn, key string) string { return valueIn(t, c, key, false) }

// valueIn is valueOf; with anyOrder a sorted set's members and scores are compared as a
// multiset (a corrupt listpack Redis accepts may be out of order, and Redis serves it so).
func valueIn(t *testing.T, c *rawConn, key string, anyOrder bool) string {
	t.Helper()
	typ := c.do(t, "TYPE", key)
	var body string
	switch typ {
	case "+string\r\n":
		body = c.do(t, "GET", key)
	case "+hash\r\n":
		body = sortArrays(c.do(t, "HGETALL", key))
	case "+set\r\n":
		body = sortArrays(c.do(t, "SMEMBERS", key))
	case "+zset\r\n":
		body = c.do(t, "ZRANGE", key, "0", "-1", "WITHSCORES")
		if anyOrder {
			body = sortArrays(body)
		}
	case "+none\r\n":
	default:
		t.Fatalf("TYPE %s: %q", key, typ)
	}
	return typ + body
}

// dumpCases fills redis-server with a value of each encoding it dumps (DUMP then writes that
// encoding) and returns their keys, with payloads of the encodings only older Redis wrote
// (ziplists) and of the listpack and intset encodings built here.
func dumpCases(t *testing.T, red *rawConn) (keys []string, built map[string]string) {
	t.Helper()
	must := func(args ...string) {
		t.Helper()
		if r := red.do(t, args...); strings.HasPrefix(r, "-") {
			t.Fatalf("%q: %q", args, r)
		}
	}
	rng := rand.New(rand.NewPCG(7, 7))
	noise := make([]byte, 5000)
	for i := range noise {
		noise[i] = byte(rng.Uint32())
	}
	strs := map[string]string{
		"str:short": "hello", "str:int8": "-7", "str:int16": "300", "str:int32": "2147483647",
		"str:int64": "9223372036854775807", "str:notint": "007", "str:empty": "",
		"str:lzf": strings.Repeat("abcabcabc", 100), "str:raw": string(noise),
		"str:lzf-big": strings.Repeat("geocache ", 20000),
	}
	for k, v := range strs {
		must("SET", k, v)
		keys = append(keys, k)
	}
	must("HSET", "hash:lp", "f1", "v1", "f2", "300", "f3", "-5", "f4", "70000", "f5", "9223372036854775807", "f6", "")
	must("HSET", "hash:ht-value", "f", strings.Repeat("v", 100), "g", "1")
	for i := range 300 {
		must("HSET", "hash:ht-many", "field"+strconv.Itoa(i), strconv.Itoa(i*i))
	}
	must("SADD", "set:intset", "1", "-3", "70000", "-9223372036854775808", "9223372036854775807")
	must("SADD", "set:strs", "a", "b", "c")
	for i := range 600 {
		must("SADD", "set:ints-many", strconv.Itoa(i*3-100))
		must("SADD", "set:strs-many", "m"+strconv.Itoa(i))
	}
	must("ZADD", "zset:lp", "1", "a", "2.5", "b", "-inf", "c", "inf", "d", "1e-300", "e", "-0.5", "f")
	for i := range 200 {
		must("ZADD", "zset:skiplist", strconv.FormatFloat(float64(i)/3, 'g', -1, 64), "member"+strconv.Itoa(i))
	}
	// Redis's own hash test: a listpack of every string length class.
	must("CONFIG", "SET", "hash-max-listpack-entries", "1000000")
	must("CONFIG", "SET", "hash-max-listpack-value", "1000000")
	must("HSET", "hash:lp-long", "ZIP_INT_8B", "127", "ZIP_INT_16B", "32767", "ZIP_INT_32B", "2147483647",
		"ZIP_INT_64B", "9223372036854775808", "ZIP_INT_IMM_MIN", "0", "ZIP_INT_IMM_MAX", "12",
		"ZIP_STR_06B", strings.Repeat("x", 31), "ZIP_STR_14B", strings.Repeat("x", 8191),
		"ZIP_STR_32B", strings.Repeat("x", 65535))
	must("CONFIG", "SET", "hash-max-listpack-entries", "128")
	must("CONFIG", "SET", "hash-max-listpack-value", "64")
	keys = append(keys, "hash:lp", "hash:ht-value", "hash:ht-many", "set:intset", "set:strs",
		"set:ints-many", "set:strs-many", "zset:lp", "zset:skiplist", "hash:lp-long")

	entries := []any{"i0", int64(0), "i12", int64(12), "i13", int64(13), "i-1", int64(-1),
		"i8", int64(-128), "i16", int64(32767), "i24", int64(-1 << 23), "i32", int64(math.MinInt32),
		"i64", int64(math.MaxInt64), "s6", strings.Repeat("a", 63), "s14", strings.Repeat("b", 16383),
		"s32", strings.Repeat("c", 16384), "empty", ""}
	// A sorted set's ziplist is in score order (Redis reads it as is).
	zentries := []any{"c", "-inf", "d", int64(-70000), "a", int64(1), "b", "2.5", "e", "1e308"}
	built = map[string]string{
		"built:hash-ziplist":  string(rdb.Packed(rdb.TypeHashZiplist, rdb.Ziplist(entries...))),
		"built:hash-listpack": string(rdb.Packed(rdb.TypeHashListpack, rdb.Listpack(entries...))),
		"built:zset-ziplist":  string(rdb.Packed(rdb.TypeZSetZiplist, rdb.Ziplist(zentries...))),
		"built:zset-listpack": string(rdb.Packed(rdb.TypeZSetListpack, rdb.Listpack(zentries...))),
		"built:intset16":      string(rdb.Packed(rdb.TypeSetIntset, rdb.Intset(2, -32768, 0, 32767))),
		"built:intset64":      string(rdb.Packed(rdb.TypeSetIntset, rdb.Intset(8, math.MinInt64, 1, math.MaxInt64))),
	}
	return keys, built
}

// TestDumpRestoreWithRedis moves a value of every encoding between redis-server 7.0 and
// geocache both ways: Redis's DUMP RESTOREd into geocache reads the same as in Redis, and
// geocache's DUMP of it RESTOREd into Redis too; payloads of the encodings Redis no longer
// writes (ziplists) are RESTOREd into both and read the same.
func TestDumpRestoreWithRedis(t *testing.T) {
	red := dialRaw(t, startRedis(t, "--sanitize-dump-payload", "yes"))
	geoAddr, _, _ := startGeocache(t, resp.Config{}, nil)
	geo := dialRaw(t, geoAddr)
	keys, built := dumpCases(t, red)
	for _, k := range keys {
		payload := bulkBody(t, red.do(t, "DUMP", k))
		if r := geo.do(t, "RESTORE", k, "0", payload); r != "+OK\r\n" {
			t.Fatalf("geocache RESTORE of Redis's DUMP of %s (%x...): %q", k, payload[:1], r)
		}
	}
	for k, p := range built {
		for name, c := range map[string]*rawConn{"redis": red, "geocache": geo} {
			if r := c.do(t, "RESTORE", k, "0", p); r != "+OK\r\n" {
				t.Fatalf("%s RESTORE of %s: %q", name, k, r)
			}
		}
		keys = append(keys, k)
	}
	for _, k := range keys {
		want := valueOf(t, red, k)
		if got := valueOf(t, geo, k); got != want {
			t.Fatalf("%s after RESTORE:\nredis:    %.300q\ngeocache: %.300q", k, want, got)
		}
		back := bulkBody(t, geo.do(t, "DUMP", k))
		if r := red.do(t, "RESTORE", "back:"+k, "0", back); r != "+OK\r\n" {
			t.Fatalf("redis RESTORE of geocache's DUMP of %s: %q", k, r)
		}
		if got := valueOf(t, red, "back:"+k); got != want {
			t.Fatalf("%s through geocache's DUMP:\nredis:    %.300q\nback:     %.300q", k, want, got)
		}
	}
	// Short strings: geocache's DUMP is Redis's, byte for byte.
	for _, k := range []string{"str:short", "str:int8", "str:int16", "str:int32", "str:int64", "str:notint", "str:empty"} {
		if g, r := geo.do(t, "DUMP", k), red.do(t, "DUMP", k); g != r {
			t.Fatalf("DUMP %s: geocache %q, redis %q", k, g, r)
		}
	}
	// A TTL travels with RESTORE's argument, not the payload.
	p := bulkBody(t, red.do(t, "DUMP", "zset:lp"))
	if r := geo.do(t, "RESTORE", "ttl", "5000", p); r != "+OK\r\n" {
		t.Fatalf("RESTORE with a TTL: %q", r)
	}
	if r := geo.do(t, "PTTL", "ttl"); !strings.HasPrefix(r, ":4") && r != ":5000\r\n" {
		t.Fatalf("PTTL after RESTORE 5000: %q", r)
	}
	// Lists and streams, which geocache has not, are refused with Redis's error and a reason.
	red.do(t, "RPUSH", "list", "a", "b")
	if r := geo.do(t, "RESTORE", "list", "0", bulkBody(t, red.do(t, "DUMP", "list"))); !strings.HasPrefix(r, "-ERR Bad data format: unsupported type (list)") {
		t.Fatalf("RESTORE of a list: %q", r)
	}
}

// TestRestoreCorruptPayloads: payloads of every encoding cut short, or with bytes changed (each
// given a valid footer, so that the object itself is what is wrong), are refused by geocache
// whenever redis-server refuses them (sanitize-dump-payload yes), and leave the key unchanged;
// those both accept read the same in both. geocache may refuse more: Redis reads an object cut
// short on into the footer (its reader is not bounded by it) and ignores bytes after the object,
// where geocache refuses both.
func TestRestoreCorruptPayloads(t *testing.T) {
	red := dialRaw(t, startRedis(t, "--sanitize-dump-payload", "yes"))
	geoAddr, _, _ := startGeocache(t, resp.Config{}, nil)
	geo := dialRaw(t, geoAddr)
	keys, built := dumpCases(t, red)
	var payloads []string
	for _, k := range keys {
		if !strings.HasPrefix(k, "str:lzf-big") && !strings.HasPrefix(k, "hash:lp-long") && !strings.HasSuffix(k, "-many") {
			payloads = append(payloads, bulkBody(t, red.do(t, "DUMP", k)))
		}
	}
	for _, p := range built {
		if len(p) < 1000 {
			payloads = append(payloads, p)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var refused, bothOK, stricter int
	try := func(body []byte) {
		t.Helper()
		p := reFooter(body)
		for _, c := range []*rawConn{red, geo} {
			c.do(t, "SET", "target", "unchanged")
		}
		r := red.do(t, "RESTORE", "target", "0", p, "REPLACE")
		g := geo.do(t, "RESTORE", "target", "0", p, "REPLACE")
		switch {
		case r == "+OK\r\n" && g == "+OK\r\n":
			bothOK++
			if want, got := valueIn(t, red, "target", true), valueIn(t, geo, "target", true); got != want {
				t.Fatalf("payload %q: redis reads %.200q, geocache %.200q", p, want, got)
			}
		case r == "+OK\r\n":
			stricter++
			if testing.Verbose() {
				t.Logf("refused by geocache only (%q): %q", strings.TrimSpace(g), p)
			}
		case g == "+OK\r\n":
			t.Fatalf("payload %q: redis refused it (%q), geocache accepted it", p, r)
		default:
			refused++
			if g != "-ERR Bad data format\r\n" && !strings.HasPrefix(g, "-ERR Bad data format:") {
				t.Fatalf("payload %q: geocache replied %q", p, g)
			}
			if v := valueOf(t, geo, "target"); v != "+string\r\n$9\r\nunchanged\r\n" {
				t.Fatalf("a refused RESTORE changed the key: %q", v)
			}
		}
	}
	for _, p := range payloads {
		body := []byte(p[:len(p)-10])
		for n := range len(body) {
			try(body[:n])
		}
		for range 40 {
			b := []byte(string(body))
			for range 1 + rng.IntN(3) {
				b[rng.IntN(len(b))] = byte(rng.Uint32())
			}
			try(b)
		}
	}
	t.Logf("%d payloads refused by both, %d accepted by both, %d refused by geocache only", refused, bothOK, stricter)
	if refused == 0 || bothOK == 0 {
		t.Fatal("the corruptions did not exercise both outcomes")
	}
}
