package resp_test

import (
	"strings"
	"testing"

	"github.com/geocache/geocache/node/resp"
)

const (
	libF = "#!lua name=flib\nredis.register_function('fget', function(keys, args) return redis.call('GET', keys[1]) end)\n" +
		"redis.register_function{function_name='fset', callback=function(keys, args) return redis.call('SET', keys[1], args[1]) end, description='sets'}\n" +
		"redis.register_function{function_name='fro', callback=function(keys, args) return redis.call('SET', 'x', '1') end, flags={'no-writes'}}\n" +
		"redis.register_function('ferr', function() return nosuch.x end)\n" +
		"redis.register_function('fcallerr', function() return redis.call('NOSUCH') end)"
	libG = "#!lua name=glib\nredis.register_function('g1', function() return {1, 'two', {ok='fine'}} end)"
)

func init() {
	commandsWithRedisMetadata = append(commandsWithRedisMetadata, "fcall", "fcall_ro", "function|load",
		"function|delete", "function|kill", "function|list", "function|stats", "function|dump",
		"function|restore")
	steps := []step{
		cmd("FUNCTION", "FLUSH"),
		cmd("FUNCTION", "LOAD", libF),
		cmd("FUNCTION", "LOAD", libF),
		cmd("FUNCTION", "LOAD", "REPLACE", libF),
		cmd("FUNCTION", "LOAD", libG),
		cmd("FCALL", "fset", "1", "fk", "fv"),
		cmd("FCALL", "FGET", "1", "fk"),
		cmd("FCALL_RO", "fget", "1", "fk"),
		cmd("FCALL", "fro", "0"),
		cmd("FCALL_RO", "fset", "1", "fk", "x"),
		cmd("FCALL", "ferr", "0"),
		cmd("FCALL", "fcallerr", "0"),
		cmd("FCALL", "g1", "0"),
		cmd("FCALL", "nosuch", "0"),
		cmd("FCALL", "fget", "x"),
		cmd("FCALL", "fget", "2", "a"),
		cmd("FCALL", "fget", "-1"),
		// Redis lists libraries and functions in its hash tables' order: one at a time.
		cmd("FUNCTION", "LIST", "LIBRARYNAME", "glib"),
		cmd("FUNCTION", "LIST", "WITHCODE", "LIBRARYNAME", "G*"),
		cmd("FUNCTION", "LIST", "LIBRARYNAME"),
		cmd("FUNCTION", "LIST", "foo"),
		cmd("FUNCTION", "STATS"),
		cmd("FUNCTION", "KILL"),
		cmd("FUNCTION", "LOAD", "#!lua name=h\nredis.register_function('g1', function() return 1 end)"),
		cmd("FUNCTION", "LOAD", "#!lua name=h\nredis.call('SET', 'x', '1')"),
		cmd("FUNCTION", "LOAD", "#!lua name=h\nreturn 1"),
		cmd("FUNCTION", "LOAD", "#!lua\nreturn 1"),
		cmd("FUNCTION", "LOAD", "#!lua name=a-b\nreturn 1"),
		cmd("FUNCTION", "LOAD", "#!js name=a\nreturn 1"),
		cmd("FUNCTION", "LOAD", "lua name=a"),
		cmd("FUNCTION", "LOAD", "#!lua name=h foo=bar\nreturn 1"),
		cmd("FUNCTION", "LOAD", "#!lua name=h\nx = 1"),
		cmd("FUNCTION", "LOAD", "#!lua name=h\nlocal k = KEYS"),
		cmd("FUNCTION", "LOAD", "#!lua name=h\nredis.register_function('f-x', function() end)"),
		cmd("FUNCTION", "LOAD", "#!lua name=h\nredis.register_function('fz', 1)"),
		cmd("FUNCTION", "LOAD", "#!lua name=h\nredis.register_function('fz')"),
		cmd("FUNCTION", "LOAD", "#!lua name=h\nredis.register_function{function_name='fz', callback=function() end, flags={'bad'}}"),
		cmd("FUNCTION", "LOAD", "#!lua name=h\nredis.register_function{function_name='fz', callback=function() end, foo=1}"),
		cmd("FUNCTION", "LOAD", "#!lua name=h\nredis.register_function{function_name='fz'}"),
		cmd("FUNCTION", "LOAD", "#!lua name=h\nredis.register_function('fz', function() end) redis.register_function('fz', function() end)"),
		cmd("FUNCTION", "LOAD", "#!lua name=h\nlocal a = 1 while 1 do a = a + 1 end"),
		cmd("FUNCTION", "LOAD", "foo", "bar"),
		cmd("FUNCTION", "LOAD", "#! name=x\nreturn 1"),
		cmd("FUNCTION", "LOAD", "#!lua name=x name=y\nreturn 1"),
		cmd("FUNCTION", "RESTORE", "a", "b", "c"),
		cmd("FUNCTION", "RESTORE", "bad"),
		cmd("FUNCTION", "RESTORE", "bad", "nosuch"),
		cmd("FUNCTION", "DELETE", "glib"),
		cmd("FUNCTION", "DELETE", "glib"),
		cmd("FCALL", "g1", "0"),
		cmd("MULTI"),
		cmd("FCALL", "fset", "1", "fk", "inmulti"),
		cmd("FUNCTION", "LOAD", libG),
		cmd("EXEC"),
		cmd("EVAL", "return redis.call('FCALL', 'g1', '0')", "0"),
		cmd("EVAL", "#!lua flags=no-writes\nreturn redis.call('SET', 'a', '1')", "0"),
		cmd("EVAL", "#!js\nreturn 1", "0"),
		cmd("EVAL", "#!lua foo=bar\nreturn 1", "0"),
		cmd("EVAL", "#!lua flags=bad\nreturn 1", "0"),
		cmd("EVAL", "#!lua flags=no-writes,allow-oom\nreturn 2", "0"),
		cmd("EVAL", "return redis.sha1hex()", "0"),
		cmd("EVAL", "setmetatable(_G, {})", "0"),
		cmd("EVAL", "redis = 1", "0"),
		cmd("EVAL", "_G.x = 1", "0"),
		cmd("EVAL", "redis.call = 1", "0"),
		cmd("EVAL", "rawset(_G, 'x', 1)", "0"),
		cmd("EVAL", "return redis.setresp(4)", "0"),
		cmd("EVAL", "redis.setresp(3); return redis.call('HGETALL', 'nohash')", "0"),
		cmd("EVAL", "return redis.pcall('BZPOPMIN', 'z', '0')", "0"),
		cmd("MULTI"),
		cmd("SET", "m", "1"),
		cmd("SAVE"),
		cmd("EXEC"),
		cmd("GET", "m"),
		cmd("CONFIG", "SET", "maxmemory", "bla"),
		cmd("CONFIG", "SET", "lua-time-limit", "-1"),
		cmd("CONFIG", "SET", "busy-reply-threshold", "x"),
		cmd("CONFIG", "SET", "busy-reply-threshold", "5000"),
		cmd("CONFIG", "GET", "busy-reply-threshold"),
		cmd("CONFIG", "GET", "lua-time-limit"),
		cmd("FUNCTION", "FLUSH"),
		cmd("FUNCTION", "LIST"),
	}
	sessions = append(sessions, session{name: "functions", steps: steps},
		session{name: "functions-resp3", steps: append([]step{cmd("HELLO", "3").helloID()}, steps...)})
}

// TestFunctionDumpRestoreWithRedis moves a library both ways between redis-server and geocache
// with FUNCTION DUMP and FUNCTION RESTORE: Redis compresses the code (LZF) and geocache reads it;
// geocache writes it plain and Redis reads that.
func TestFunctionDumpRestoreWithRedis(t *testing.T) {
	red := dialRaw(t, startRedis(t))
	geoAddr, _, _ := startGeocache(t, resp.Config{}, nil)
	geo := dialRaw(t, geoAddr)
	long := libF + "\n-- " + strings.Repeat("padding that compresses well ", 20)
	if r := red.do(t, "FUNCTION", "LOAD", long); r != "$4\r\nflib\r\n" {
		t.Fatalf("redis FUNCTION LOAD: %q", r)
	}
	payload := bulkBody(t, red.do(t, "FUNCTION", "DUMP"))
	if r := geo.do(t, "FUNCTION", "RESTORE", payload); r != "+OK\r\n" {
		t.Fatalf("geocache FUNCTION RESTORE of Redis's dump: %q", r)
	}
	if r := geo.do(t, "FUNCTION", "RESTORE", payload); !strings.HasPrefix(r, "-ERR Library flib already exists") {
		t.Fatalf("RESTORE APPEND of a present library: %q", r)
	}
	geo.do(t, "SET", "k", "v")
	if r := geo.do(t, "FCALL", "fget", "1", "k"); r != "$1\r\nv\r\n" {
		t.Fatalf("FCALL of the restored library: %q", r)
	}
	back := bulkBody(t, geo.do(t, "FUNCTION", "DUMP"))
	red.do(t, "FUNCTION", "FLUSH")
	if r := red.do(t, "FUNCTION", "RESTORE", back); r != "+OK\r\n" {
		t.Fatalf("redis FUNCTION RESTORE of geocache's dump: %q", r)
	}
	if got := red.do(t, "FUNCTION", "LIST", "WITHCODE"); !strings.Contains(got, long) {
		t.Fatalf("Redis's FUNCTION LIST WITHCODE after the round trip lacks the code: %q", got)
	}
	want := red.do(t, "FUNCTION", "STATS")
	if got := geo.do(t, "FUNCTION", "STATS"); got != want || !strings.Contains(got, "functions_count\r\n:5") {
		t.Fatalf("FUNCTION STATS after the round trip:\nredis:    %q\ngeocache: %q", want, got)
	}
	corrupt := []byte(back)
	corrupt[len(corrupt)-1] ^= 1
	if r := geo.do(t, "FUNCTION", "RESTORE", string(corrupt), "REPLACE"); r != "-ERR DUMP payload version or checksum are wrong\r\n" {
		t.Fatalf("RESTORE of a corrupt payload: %q", r)
	}
}

// bulkBody returns the body of a bulk string reply.
func bulkBody(t *testing.T, r string) string {
	t.Helper()
	head, body, ok := strings.Cut(r, "\r\n")
	if !ok || !strings.HasPrefix(head, "$") || !strings.HasSuffix(body, "\r\n") {
		t.Fatalf("not a bulk string: %q", r)
	}
	return strings.TrimSuffix(body, "\r\n")
}
