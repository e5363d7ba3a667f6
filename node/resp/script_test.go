package resp_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/geocache/geocache/node/resp"
)

// TestGoRedisEval: go-redis's Eval, EvalSha (NOSCRIPT then load) and the Script helper, which
// tries EVALSHA and falls back to EVAL.
func TestGoRedisEval(t *testing.T) {
	t.Parallel()
	for _, mode := range transports {
		t.Run(mode.name, func(t *testing.T) {
			addr, _, _ := startGeocache(t, resp.Config{EventLoops: mode.loops}, nil)
			ctx := context.Background()
			rdb := redis.NewClient(&redis.Options{Addr: addr})
			defer rdb.Close()
			v, err := rdb.Eval(ctx, "redis.call('SET', KEYS[1], ARGV[1]); return redis.call('GET', KEYS[1])",
				[]string{"k"}, "v").Result()
			if err != nil || v != "v" {
				t.Fatalf("Eval = %v, %v", v, err)
			}
			incr := redis.NewScript(`
				local n = tonumber(redis.call('GET', KEYS[1]) or '0') + tonumber(ARGV[1])
				redis.call('SET', KEYS[1], n)
				return n`)
			if err := rdb.EvalSha(ctx, incr.Hash(), []string{"n"}, 1).Err(); err == nil ||
				!strings.HasPrefix(err.Error(), "NOSCRIPT") {
				t.Fatalf("EvalSha of an unknown script: %v", err)
			}
			for i := 1; i <= 3; i++ {
				if got, err := incr.Run(ctx, rdb, []string{"n"}, 2).Int(); err != nil || got != 2*i {
					t.Fatalf("Script.Run #%d = %d, %v", i, got, err)
				}
			}
			if ok, err := incr.Exists(ctx, rdb).Result(); err != nil || !ok[0] {
				t.Fatalf("SCRIPT EXISTS = %v, %v", ok, err)
			}
			res, err := rdb.Eval(ctx, "return {1, 'two', {3}, false}", nil).Slice()
			if err != nil || len(res) != 4 || res[0] != int64(1) || res[1] != "two" || res[3] != nil {
				t.Fatalf("Eval of a table = %#v, %v", res, err)
			}
			if err := rdb.Eval(ctx, "return redis.call('SET', 'a', '1', 'bad')", nil).Err(); err == nil ||
				!strings.HasPrefix(err.Error(), "ERR syntax error script: ") {
				t.Fatalf("a failing redis.call: %v", err)
			}
		})
	}
}

// TestScriptBusyAndKill: a long script makes other clients wait, then answer BUSY once it has
// run for ScriptBusyTime; SCRIPT KILL stops it and the node serves again. A script that wrote
// cannot be killed.
func TestScriptBusyAndKill(t *testing.T) {
	t.Parallel()
	for _, mode := range transports {
		t.Run(mode.name, func(t *testing.T) {
			addr, _, _ := startGeocache(t, resp.Config{EventLoops: mode.loops, ScriptBusyTime: 50 * time.Millisecond}, nil)
			looper, other := dialRaw(t, addr), dialRaw(t, addr)
			if _, err := looper.Write(encode("EVAL", "while true do end", "0")); err != nil {
				t.Fatal(err)
			}
			// Until the script is killed every command of another client answers BUSY (or waits
			// for the busy time first).
			waitUntil(t, 20*time.Second, func() bool { return other.do(t, "GET", "x") == "-"+busyMsg+"\r\n" })
			if got := other.do(t, "PING"); got != "-"+busyMsg+"\r\n" {
				t.Fatalf("PING during a busy script = %q", got)
			}
			if got := other.do(t, "SCRIPT", "KILL"); got != "+OK\r\n" {
				t.Fatalf("SCRIPT KILL = %q", got)
			}
			got, err := looper.readReply(20 * time.Second)
			if err != nil || !strings.HasPrefix(got, "-ERR Script killed by user with SCRIPT KILL... script: ") {
				t.Fatalf("killed script answered %q, %v", got, err)
			}
			if got := other.do(t, "SCRIPT", "KILL"); got != "-NOTBUSY No scripts in execution right now.\r\n" {
				t.Fatalf("SCRIPT KILL with no script = %q", got)
			}
			if got := other.do(t, "SET", "x", "1"); got != "+OK\r\n" {
				t.Fatalf("after the kill SET = %q", got)
			}
			// A script that wrote is unkillable: only closing the server stops it (the test's
			// cleanup does).
			if _, err := looper.Write(encode("EVAL", "redis.call('SET', 'w', '1') while true do end", "0")); err != nil {
				t.Fatal(err)
			}
			waitUntil(t, 20*time.Second, func() bool { return other.do(t, "GET", "x") == "-"+busyMsg+"\r\n" })
			if got := other.do(t, "SCRIPT", "KILL"); !strings.HasPrefix(got, "-UNKILLABLE ") {
				t.Fatalf("SCRIPT KILL of a script that wrote = %q", got)
			}
		})
	}
}

const busyMsg = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."

// TestScriptIsAtomic: readers never see half of a script's writes, and a script's
// read-modify-write from many clients loses no update.
func TestScriptIsAtomic(t *testing.T) {
	t.Parallel()
	addr, _, _ := startGeocache(t, resp.Config{}, nil)
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 6})
	defer rdb.Close()
	incr := redis.NewScript(`
		local n = tonumber(redis.call('GET', 'p0') or '0') + 1
		for i = 0, 3 do redis.call('SET', 'p' .. i, n) end
		return n`)
	var stop atomic.Bool
	var torn atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			prev := -1
			for i := range 4 {
				v, _ := rdb.Get(ctx, "p"+strconv.Itoa(i)).Int()
				if v < prev {
					torn.Add(1)
				}
				prev = v
			}
		}
	}()
	const writers, each = 3, 100
	var wwg sync.WaitGroup
	errs := make(chan error, writers)
	for range writers {
		wwg.Add(1)
		go func() {
			defer wwg.Done()
			for range each {
				if err := incr.Run(ctx, rdb, nil).Err(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wwg.Wait()
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if torn.Load() != 0 {
		t.Fatalf("%d reads saw half of a script", torn.Load())
	}
	for i := range 4 {
		if v, _ := rdb.Get(ctx, "p"+strconv.Itoa(i)).Int(); v != writers*each {
			t.Fatalf("p%d = %d, want %d", i, v, writers*each)
		}
	}
}

// TestScriptBadInput: each bad script gets an error and the node keeps serving.
func TestScriptBadInput(t *testing.T) {
	t.Parallel()
	addr, _, _ := startGeocache(t, resp.Config{}, nil)
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	for _, tc := range []struct{ script, want string }{
		{"return (", "ERR Error compiling script (new function): "},
		{"error('x')", "ERR user_script:1: x script: "},
		{"local function f() return f() + 1 end return f()", "ERR user_script:1: stack overflow"},
		{"local t = {} for i = 1, 1e5 do t[i] = i end return #t", ""}, // fine: a big table
		{"return redis.call('NOSUCHCOMMAND')", "ERR Unknown Redis command called from script script: "},
		// A flush clears every shard under its own lock, which the script holds.
		{"return redis.call('FLUSHALL')", "ERR FLUSHALL cannot run inside a transaction or a script"},
		{"return redis.call('SCRIPT', 'FLUSH')", "ERR This Redis command is not allowed from script script: "},
		{"return io.open('/etc/passwd')", "ERR user_script:1: Script attempted to access nonexistent global variable 'io'"},
		{"return require('os')", "ERR user_script:1: Script attempted to access nonexistent global variable 'require'"},
		{"local t = setmetatable({}, {}) return string.rep('x', 1e6):len()", ""},
	} {
		err := rdb.Eval(ctx, tc.script, nil).Err()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%q: %v", tc.script, err)
		case tc.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.want)):
			t.Errorf("%q: %v, want %q...", tc.script, err, tc.want)
		}
	}
	// A huge reply is served whole.
	n, err := rdb.Eval(ctx, "local t = {} for i = 1, 100000 do t[i] = i end return t", nil).Slice()
	if err != nil || len(n) != 100000 {
		t.Fatalf("huge reply: %d elements, %v", len(n), err)
	}
	if err := rdb.Set(ctx, "alive", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Eval(ctx, "return 1", nil).Err(); errors.Is(err, redis.Nil) || err != nil {
		t.Fatal(err)
	}
}
