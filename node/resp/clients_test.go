package resp_test

import (
	"context"
	"errors"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/geocache/geocache/node/resp"
)

// TestGoRedis drives the server with go-redis, unchanged, in RESP3 (its default) and RESP2.
func TestGoRedis(t *testing.T) {
	t.Parallel()
	for _, mode := range transports {
		t.Run(mode.name, func(t *testing.T) { testGoRedis(t, mode.loops) })
	}
}

func testGoRedis(t *testing.T, loops int) {
	addr, _, _ := startGeocache(t, resp.Config{Password: "secret", Users: map[string]string{"alice": "pw"},
		EventLoops: loops}, nil)
	for _, proto := range []int{3, 2} {
		t.Run("RESP"+string(rune('0'+proto)), func(t *testing.T) {
			ctx := context.Background()
			rdb := redis.NewClient(&redis.Options{Addr: addr, Protocol: proto, Username: "alice",
				Password: "pw", ClientName: "gotest"})
			defer rdb.Close()
			prefix := "p" + string(rune('0'+proto)) + ":"
			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			must(rdb.Ping(ctx).Err())
			must(rdb.Set(ctx, prefix+"a", "1", 0).Err())
			if v, err := rdb.Get(ctx, prefix+"a").Result(); err != nil || v != "1" {
				t.Fatalf("GET: %q, %v", v, err)
			}
			if _, err := rdb.Get(ctx, prefix+"missing").Result(); !errors.Is(err, redis.Nil) {
				t.Fatalf("GET missing: %v, want redis.Nil", err)
			}
			if ok, err := rdb.SetNX(ctx, prefix+"a", "2", time.Minute).Result(); err != nil || ok {
				t.Fatalf("SETNX existing: %v, %v", ok, err)
			}
			prev, err := rdb.SetArgs(ctx, prefix+"a", "3", redis.SetArgs{Get: true, TTL: time.Hour}).Result()
			if err != nil || prev != "1" {
				t.Fatalf("SET GET: %q, %v", prev, err)
			}
			if ttl, err := rdb.TTL(ctx, prefix+"a").Result(); err != nil || ttl < 59*time.Minute || ttl > time.Hour {
				t.Fatalf("TTL: %v, %v", ttl, err)
			}
			must(rdb.Persist(ctx, prefix+"a").Err())
			if ttl, err := rdb.TTL(ctx, prefix+"a").Result(); err != nil || ttl != -1 {
				t.Fatalf("TTL after PERSIST: %v, %v", ttl, err)
			}
			must(rdb.MSet(ctx, prefix+"b", "2", prefix+"c", "3").Err())
			vals, err := rdb.MGet(ctx, prefix+"a", prefix+"b", prefix+"nope").Result()
			if err != nil || len(vals) != 3 || vals[0] != "3" || vals[1] != "2" || vals[2] != nil {
				t.Fatalf("MGET: %v, %v", vals, err)
			}
			if v, err := rdb.GetEx(ctx, prefix+"b", 30*time.Second).Result(); err != nil || v != "2" {
				t.Fatalf("GETEX: %q, %v", v, err)
			}
			if ok, err := rdb.Expire(ctx, prefix+"c", time.Minute).Result(); err != nil || !ok {
				t.Fatalf("EXPIRE: %v, %v", ok, err)
			}
			if n, err := rdb.Exists(ctx, prefix+"a", prefix+"b", prefix+"x").Result(); err != nil || n != 2 {
				t.Fatalf("EXISTS: %d, %v", n, err)
			}
			var keys []string
			iter := rdb.Scan(ctx, 0, prefix+"*", 2).Iterator()
			for iter.Next(ctx) {
				keys = append(keys, iter.Val())
			}
			must(iter.Err())
			sort.Strings(keys)
			if strings.Join(keys, ",") != prefix+"a,"+prefix+"b,"+prefix+"c" {
				t.Fatalf("SCAN: %v", keys)
			}
			pipe := rdb.Pipeline()
			incr := make([]*redis.StatusCmd, 50)
			for i := range incr {
				incr[i] = pipe.Set(ctx, prefix+"pipe", i, 0)
			}
			get := pipe.Get(ctx, prefix+"pipe")
			if _, err := pipe.Exec(ctx); err != nil {
				t.Fatalf("pipeline: %v", err)
			}
			if get.Val() != "49" {
				t.Fatalf("pipelined GET: %q", get.Val())
			}
			if name, err := rdb.ClientGetName(ctx).Result(); err != nil || name != "gotest" {
				t.Fatalf("CLIENT GETNAME: %q, %v", name, err)
			}
			if info, err := rdb.Info(ctx, "server").Result(); err != nil || !strings.Contains(info, "redis_version:") {
				t.Fatalf("INFO: %v", err)
			}
			if n, err := rdb.Del(ctx, prefix+"a", prefix+"b", prefix+"c", prefix+"pipe").Result(); err != nil || n != 4 {
				t.Fatalf("DEL: %d, %v", n, err)
			}
			if err := rdb.Do(ctx, "NOSUCH").Err(); err == nil || !strings.HasPrefix(err.Error(), "ERR unknown command 'NOSUCH'") {
				t.Fatalf("unknown command: %v", err)
			}
		})
	}
	t.Run("wrong password", func(t *testing.T) {
		rdb := redis.NewClient(&redis.Options{Addr: addr, Password: "nope"})
		defer rdb.Close()
		err := rdb.Ping(context.Background()).Err()
		if err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
			t.Fatalf("PING with a wrong password: %v", err)
		}
	})
	t.Run("no password", func(t *testing.T) {
		rdb := redis.NewClient(&redis.Options{Addr: addr})
		defer rdb.Close()
		err := rdb.Ping(context.Background()).Err()
		if err == nil || !strings.Contains(err.Error(), "NOAUTH") {
			t.Fatalf("PING without a password: %v", err)
		}
	})
}

// TestGoRedisDefaults uses go-redis exactly as most applications do: default options (RESP3 via
// HELLO 3 without AUTH, CLIENT SETINFO on connect, a connection pool), a pipeline whose middle
// command fails, and STRLEN.
func TestGoRedisDefaults(t *testing.T) {
	t.Parallel()
	for _, mode := range transports {
		t.Run(mode.name, func(t *testing.T) {
			addr, _, _ := startGeocache(t, resp.Config{EventLoops: mode.loops}, nil)
			ctx := context.Background()
			rdb := redis.NewClient(&redis.Options{Addr: addr})
			defer rdb.Close()
			info, err := rdb.ClientInfo(ctx).Result()
			if err != nil {
				t.Fatal(err)
			}
			if info.Resp != 3 {
				t.Fatalf("go-redis negotiated RESP%d, want its default RESP3", info.Resp)
			}
			pipe := rdb.Pipeline()
			set := pipe.Set(ctx, "k", "hello", time.Minute)
			bad := pipe.Do(ctx, "EXPIRE", "k", "soon")
			strlen := pipe.StrLen(ctx, "k")
			ttl := pipe.TTL(ctx, "k")
			missing := pipe.Get(ctx, "missing")
			if _, err := pipe.Exec(ctx); err == nil {
				t.Fatal("pipeline with a failing command reported no error")
			}
			if set.Err() != nil || set.Val() != "OK" {
				t.Errorf("pipelined SET: %q, %v", set.Val(), set.Err())
			}
			if bad.Err() == nil || bad.Err().Error() != "ERR value is not an integer or out of range" {
				t.Errorf("pipelined EXPIRE with a bad integer: %v", bad.Err())
			}
			if strlen.Err() != nil || strlen.Val() != 5 {
				t.Errorf("pipelined STRLEN: %d, %v", strlen.Val(), strlen.Err())
			}
			if ttl.Err() != nil || ttl.Val() <= 59*time.Second || ttl.Val() > time.Minute {
				t.Errorf("pipelined TTL: %v, %v", ttl.Val(), ttl.Err())
			}
			if !errors.Is(missing.Err(), redis.Nil) {
				t.Errorf("pipelined GET of a missing key: %v, want redis.Nil", missing.Err())
			}
			// The pool opens several connections under concurrent use; each negotiates again.
			errs := make(chan error, 20)
			for i := range 20 {
				go func() { errs <- rdb.Set(ctx, "c"+strconv.Itoa(i), i, 0).Err() }()
			}
			for range 20 {
				if err := <-errs; err != nil {
					t.Fatal(err)
				}
			}
			if n, err := rdb.DBSize(ctx).Result(); err != nil || n != 21 {
				t.Fatalf("DBSIZE: %d, %v, want 21", n, err)
			}
		})
	}
}

// TestRedisCLI runs redis-cli, unchanged, against the server.
func TestRedisCLI(t *testing.T) {
	t.Parallel()
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Skip("redis-cli is not installed (Debian package redis-tools)")
	}
	addr, _, _ := startGeocache(t, resp.Config{Password: "secret"}, nil)
	host, port, _ := strings.Cut(addr, ":")
	run := func(args ...string) string {
		t.Helper()
		all := append([]string{"-h", host, "-p", port, "--no-auth-warning", "-a", "secret"}, args...)
		out, err := exec.Command(cli, all...).CombinedOutput()
		if err != nil {
			t.Fatalf("redis-cli %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"PING"}, "PONG"},
		{[]string{"SET", "greeting", "hello world"}, "OK"},
		{[]string{"GET", "greeting"}, "hello world"},
		{[]string{"--no-raw", "GET", "nope"}, "(nil)"},
		{[]string{"EXPIRE", "greeting", "100"}, "1"},
		{[]string{"--no-raw", "TTL", "greeting"}, "(integer) 100"},
		{[]string{"-3", "--no-raw", "HELLO", "3"}, ""},
		{[]string{"--no-raw", "NOSUCH"}, "(error) ERR unknown command 'NOSUCH', with args beginning with:"},
		{[]string{"DBSIZE"}, "1"},
		{[]string{"--scan"}, "greeting"},
		{[]string{"COMMAND", "COUNT"}, ""},
	} {
		got := run(c.args...)
		if c.want != "" && got != c.want {
			t.Errorf("redis-cli %v = %q, want %q", c.args, got, c.want)
		}
	}
	// --bigkeys sizes every key with TYPE and STRLEN.
	if out := run("--bigkeys"); !strings.Contains(out, `Biggest string found '"greeting"' has 11 bytes`) ||
		strings.Contains(out, "failed") {
		t.Errorf("redis-cli --bigkeys:\n%s", out)
	}
	// Pipe mode: the mass-insertion protocol.
	cmd := exec.Command(cli, "-h", host, "-p", port, "--no-auth-warning", "-a", "secret", "--pipe")
	var in strings.Builder
	for i := range 1000 {
		in.Write(encode("SET", "bulk:"+string(rune('a'+i%26))+strings.Repeat("x", i%7), "v"))
	}
	cmd.Stdin = strings.NewReader(in.String())
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "errors: 0, replies: 1000") {
		t.Fatalf("redis-cli --pipe: %v\n%s", err, out)
	}
}
