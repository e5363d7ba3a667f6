package resp_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/geocache/geocache/node"
	"github.com/geocache/geocache/node/resp"
)

// maxMemorySteps run on two connections of each server (0 and 1: the second changes the bound
// while the first is inside MULTI, as Redis's unit/multi does). Values set and read back cover
// Redis's memory grammar (memtoull); writes are sent only at maxmemory 1, where both servers
// are out of memory (Redis: used memory over it; geocache: no entry fits), or at 0.
var maxMemorySteps = []struct {
	conn int
	args []string
}{
	{0, []string{"CONFIG", "SET", "maxmemory", "100mb"}},
	{0, []string{"CONFIG", "GET", "maxmemory"}},
	{0, []string{"CONFIG", "SET", "maxmemory", "1KB"}},
	{0, []string{"CONFIG", "GET", "maxmemory"}},
	{0, []string{"CONFIG", "SET", "maxmemory", "3k"}},
	{0, []string{"CONFIG", "GET", "maxmemory"}},
	{0, []string{"CONFIG", "SET", "maxmemory", "2M"}},
	{0, []string{"CONFIG", "GET", "maxmemory"}},
	{0, []string{"CONFIG", "SET", "maxmemory", "1g"}},
	{0, []string{"CONFIG", "GET", "maxmemory"}},
	{0, []string{"CONFIG", "SET", "maxmemory", "2Gb"}},
	{0, []string{"CONFIG", "GET", "maxmemory"}},
	{0, []string{"CONFIG", "SET", "maxmemory", "10b"}},
	{0, []string{"CONFIG", "GET", "maxmemory"}},
	{0, []string{"CONFIG", "SET", "maxmemory", "01"}},
	{0, []string{"CONFIG", "GET", "maxmemory"}},
	{0, []string{"CONFIG", "SET", "maxmemory", "b"}},
	{0, []string{"CONFIG", "GET", "maxmemory"}},
	{0, []string{"CONFIG", "SET", "maxmemory", "1"}},
	{0, []string{"CONFIG", "SET", "maxmemory", ""}},
	{0, []string{"CONFIG", "GET", "maxmemory"}},
	{0, []string{"CONFIG", "SET", "maxmemory", "9223372036854775807"}},
	{0, []string{"CONFIG", "GET", "maxmemory"}},
	{0, []string{"CONFIG", "SET", "maxmemory", "-1"}},
	{0, []string{"CONFIG", "SET", "maxmemory", "bla"}},
	{0, []string{"CONFIG", "SET", "maxmemory", "1.5mb"}},
	{0, []string{"CONFIG", "SET", "maxmemory", " 1"}},
	{0, []string{"CONFIG", "SET", "maxmemory", "1tb"}},
	{0, []string{"CONFIG", "SET", "maxmemory", "1", "maxmemory", "2"}},
	{0, []string{"CONFIG", "SET", "maxmemory", "0"}},
	{0, []string{"CONFIG", "GET", "maxmemory"}},

	// Out of memory: denyoom commands are refused, others run.
	{0, []string{"CONFIG", "SET", "maxmemory", "1"}},
	{0, []string{"SET", "x", "1"}},
	{0, []string{"SETEX", "x", "10", "1"}},
	{0, []string{"INCR", "n"}},
	{0, []string{"APPEND", "x", "1"}},
	{0, []string{"MSET", "a", "1", "b", "2"}},
	{0, []string{"HSET", "h", "f", "v"}},
	{0, []string{"SADD", "s", "m"}},
	{0, []string{"ZADD", "z", "1", "m"}},
	{0, []string{"GET", "missing"}},
	{0, []string{"DEL", "missing"}},
	{0, []string{"EXPIRE", "missing", "10"}},
	{0, []string{"GETEX", "missing"}},
	{0, []string{"PING"}},
	// Inside MULTI everything but EXEC, DISCARD, QUIT and RESET is refused, and the
	// transaction fails ("DISCARD should not fail during OOM").
	{0, []string{"MULTI"}},
	{0, []string{"SET", "x", "1"}},
	{0, []string{"GET", "x"}},
	{0, []string{"DISCARD"}},
	{0, []string{"MULTI"}},
	{0, []string{"PING"}},
	{0, []string{"EXEC"}},
	{0, []string{"CONFIG", "SET", "maxmemory", "0"}},

	// "EXEC fails if there are errors while queueing commands #2".
	{0, []string{"MULTI"}},
	{0, []string{"SET", "foo1", "bar1"}},
	{1, []string{"CONFIG", "SET", "maxmemory", "1"}},
	{0, []string{"SET", "foo2", "bar2"}},
	{1, []string{"CONFIG", "SET", "maxmemory", "0"}},
	{0, []string{"SET", "foo3", "bar3"}},
	{0, []string{"EXEC"}},
	{0, []string{"EXISTS", "foo1", "foo2", "foo3"}},

	// "EXEC with at least one use-memory command should fail" and its read-only twin.
	{0, []string{"MULTI"}},
	{0, []string{"SET", "x", "1"}},
	{0, []string{"GET", "missing"}},
	{1, []string{"CONFIG", "SET", "maxmemory", "1"}},
	{0, []string{"EXEC"}},
	{0, []string{"PING"}},
	{1, []string{"CONFIG", "SET", "maxmemory", "0"}},
	{0, []string{"MULTI"}},
	{0, []string{"GET", "missing"}},
	{0, []string{"PING"}},
	{1, []string{"CONFIG", "SET", "maxmemory", "1"}},
	{0, []string{"EXEC"}},
	{1, []string{"CONFIG", "SET", "maxmemory", "0"}},

	// Data is kept while out of memory (a bound that holds no entry evicts nothing), and
	// scripts: "allow-oom shebang flag", "FUNCTION - verify allow-omm allows running any
	// command", "reject script do not cause a Lua stack leak".
	{0, []string{"SET", "keep", "123"}},
	{0, []string{"FUNCTION", "LOAD", "REPLACE", "#!lua name=f1\nredis.register_function{function_name='f1', callback=function() return redis.call('set', 'x', '1') end, flags={'allow-oom'}}"}},
	{0, []string{"CONFIG", "SET", "maxmemory", "1"}},
	{0, []string{"GET", "keep"}},
	{0, []string{"EVAL", "redis.call('set','keep',1)\nreturn 1", "1", "keep"}},
	{0, []string{"EVAL", "return redis.pcall('set','keep',1)", "1", "keep"}},
	{0, []string{"EVAL", "return redis.call('get','keep')", "1", "keep"}},
	{0, []string{"EVAL", "#!lua flags=\nreturn 1", "0"}},
	{0, []string{"EVAL", "#!lua\nreturn 1", "0"}},
	{0, []string{"EVAL", "#!lua flags=allow-oom\nredis.call('set','keep',1)\nreturn 1", "1", "keep"}},
	{0, []string{"GET", "keep"}},
	{0, []string{"EVAL", "#!lua flags=no-writes\nreturn redis.call('get','keep')", "0"}},
	{0, []string{"EVAL_RO", "return redis.call('get','keep')", "1", "keep"}},
	{0, []string{"FCALL", "f1", "1", "x"}},
	{0, []string{"GET", "x"}},
	{0, []string{"FUNCTION", "LOAD", "#!lua name=f2\nredis.register_function('f2', function() return 1 end)"}},
	{0, []string{"FUNCTION", "FLUSH"}},
	{0, []string{"CONFIG", "SET", "maxmemory", "0"}},

	// "MULTI with config error".
	{0, []string{"MULTI"}},
	{0, []string{"SET", "foo", "bar"}},
	{0, []string{"CONFIG", "SET", "maxmemory", "bla"}},
	{0, []string{"EXEC"}},
	{0, []string{"SET", "after", "1"}},
	{0, []string{"GET", "after"}},
}

func TestMaxMemoryAgainstRedis(t *testing.T) {
	red := startRedis(t)
	for _, mode := range transports {
		t.Run(mode.name, func(t *testing.T) {
			geo, _, _ := startGeocache(t, resp.Config{EventLoops: mode.loops}, nil)
			r := [2]*rawConn{dialRaw(t, red), dialRaw(t, red)}
			g := [2]*rawConn{dialRaw(t, geo), dialRaw(t, geo)}
			r[0].do(t, "FLUSHALL")
			for i, st := range maxMemorySteps {
				want := r[st.conn].do(t, st.args...)
				got := g[st.conn].do(t, st.args...)
				if got != want {
					t.Fatalf("step %d (conn %d) %q:\nredis:    %q\ngeocache: %q", i, st.conn, st.args, want, got)
				}
			}
		})
	}
}

// CONFIG SET maxmemory shrinks the node at once by LRU eviction (counted in evicted_keys), and
// INFO memory, CONFIG GET and the node's Stats report the new bound; 0 lifts it.
func TestConfigSetMaxMemoryShrinks(t *testing.T) {
	t.Parallel()
	addr, n, _ := startGeocache(t, resp.Config{}, func(c *node.Config) { c.MaxMemory = 8 << 20 })
	c := dialRaw(t, addr)
	val := strings.Repeat("v", 200)
	for i := range 10000 {
		if r := c.do(t, "SET", fmt.Sprint("k", i), val); r != "+OK\r\n" {
			t.Fatalf("SET: %q", r)
		}
	}
	for i := range 20 {
		c.do(t, "GET", fmt.Sprint("k", i))
	}
	if r := c.do(t, "CONFIG", "SET", "maxmemory", "256kb"); r != "+OK\r\n" {
		t.Fatalf("CONFIG SET maxmemory 256kb: %q", r)
	}
	st := n.Stats()
	if st.MaxMemory != 256<<10 || st.Bytes > 256<<10 || st.Evictions == 0 || st.Keys+int(st.Evictions) != 10000 {
		t.Fatalf("after 256kb: %+v", st)
	}
	info := c.do(t, "INFO")
	for _, want := range []string{"maxmemory:262144\r\n", "maxmemory_human:256.00K\r\n",
		fmt.Sprintf("evicted_keys:%d\r\n", st.Evictions), fmt.Sprintf("used_memory:%d\r\n", st.Bytes)} {
		if !strings.Contains(info, want) {
			t.Fatalf("INFO lacks %q:\n%s", want, info)
		}
	}
	if r := c.do(t, "DBSIZE"); r != fmt.Sprintf(":%d\r\n", st.Keys) {
		t.Fatalf("DBSIZE %q, want %d", r, st.Keys)
	}
	for i := range 20 {
		if r := c.do(t, "GET", fmt.Sprint("k", i)); r != "$200\r\n"+val+"\r\n" {
			t.Fatalf("recently read k%d: %q", i, r)
		}
	}
	if r := c.do(t, "CONFIG", "GET", "maxmemory"); r != "*2\r\n$9\r\nmaxmemory\r\n$6\r\n262144\r\n" {
		t.Fatalf("CONFIG GET maxmemory: %q", r)
	}
	// Inside EXEC the bound cannot change (the transaction holds store locks); the same value
	// is accepted.
	c.do(t, "MULTI")
	c.do(t, "CONFIG", "SET", "maxmemory", "1mb")
	c.do(t, "CONFIG", "SET", "maxmemory", "256kb")
	if r := c.do(t, "EXEC"); !regexp.MustCompile(`^\*2\r\n-ERR CONFIG SET failed \(possibly related to argument 'maxmemory'\) - [^\r]*MULTI[^\r]*\r\n\+OK\r\n$`).MatchString(r) {
		t.Fatalf("CONFIG SET maxmemory inside EXEC: %q", r)
	}
	if r := c.do(t, "CONFIG", "SET", "maxmemory", "0"); r != "+OK\r\n" {
		t.Fatalf("CONFIG SET maxmemory 0: %q", r)
	}
	before := n.Stats().Evictions
	for i := range 20000 {
		c.do(t, "SET", fmt.Sprint("u", i), val)
	}
	if st := n.Stats(); st.Evictions != before || st.MaxMemory != 0 || st.Bytes <= 256<<10 {
		t.Fatalf("unbounded: %d evictions, %+v", st.Evictions-before, st)
	}
	if info := c.do(t, "INFO", "memory"); !strings.Contains(info, "maxmemory:0\r\nmaxmemory_human:0B\r\n") {
		t.Fatalf("INFO memory at maxmemory 0:\n%s", info)
	}
}
