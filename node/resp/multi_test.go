package resp_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/geocache/geocache/node/resp"
)

// TestGoRedisTxPipelined: go-redis's TxPipelined wraps the queue in MULTI/EXEC and reads the
// results from EXEC's array; a failing command fails alone.
func TestGoRedisTxPipelined(t *testing.T) {
	t.Parallel()
	for _, mode := range transports {
		t.Run(mode.name, func(t *testing.T) {
			addr, _, _ := startGeocache(t, resp.Config{EventLoops: mode.loops}, nil)
			ctx := context.Background()
			rdb := redis.NewClient(&redis.Options{Addr: addr})
			defer rdb.Close()
			var get *redis.StringCmd
			var bad *redis.Cmd
			cmds, err := rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.Set(ctx, "a", "1", 0)
				bad = p.Do(ctx, "SET", "a", "2", "NX", "XX")
				get = p.Get(ctx, "a")
				return nil
			})
			if err == nil || len(cmds) != 3 {
				t.Fatalf("TxPipelined = %d cmds, %v; want 3 with the syntax error", len(cmds), err)
			}
			if bad.Err() == nil || bad.Err().Error() != "ERR syntax error" || get.Val() != "1" {
				t.Fatalf("bad = %v, get = %q", bad.Err(), get.Val())
			}
			// A queueing error aborts the whole transaction.
			_, err = rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.Set(ctx, "a", "3", 0)
				p.Do(ctx, "NOSUCHCMD")
				return nil
			})
			if err == nil || err.Error() != "EXECABORT Transaction discarded because of previous errors." {
				t.Fatalf("TxPipelined with an unknown command: %v", err)
			}
			if v := rdb.Get(ctx, "a").Val(); v != "1" {
				t.Fatalf("a = %q after an aborted transaction", v)
			}
		})
	}
}

// TestGoRedisWatchRetry: concurrent read-modify-write increments with WATCH and a retry loop (the
// go-redis documentation's pattern) lose no update.
func TestGoRedisWatchRetry(t *testing.T) {
	t.Parallel()
	addr, _, _ := startGeocache(t, resp.Config{}, nil)
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 8})
	defer rdb.Close()
	const workers, each = 4, 50
	var retries atomic.Int64
	incr := func() error {
		for {
			err := rdb.Watch(ctx, func(tx *redis.Tx) error {
				n, err := tx.Get(ctx, "counter").Int()
				if err != nil && !errors.Is(err, redis.Nil) {
					return err
				}
				_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
					p.Set(ctx, "counter", strconv.Itoa(n+1), 0)
					return nil
				})
				return err
			}, "counter")
			if !errors.Is(err, redis.TxFailedErr) {
				return err
			}
			retries.Add(1)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				if err := incr(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if v := rdb.Get(ctx, "counter").Val(); v != strconv.Itoa(workers*each) {
		t.Fatalf("counter = %s, want %d (%d retries)", v, workers*each, retries.Load())
	}
	t.Logf("%d retries", retries.Load())
}

// TestMultiReadersNeverSeeHalf: one client writes pairs of keys in MULTI/EXEC, others read them in
// the written order; a reader must never find the second key behind the first.
func TestMultiReadersNeverSeeHalf(t *testing.T) {
	t.Parallel()
	addr, _, _ := startGeocache(t, resp.Config{}, nil)
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 4})
	defer rdb.Close()
	keys := []string{"p0", "p1", "p2", "p3"}
	var stop atomic.Bool
	var torn, reads atomic.Int64
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				prev := -1
				for _, k := range keys {
					v, _ := rdb.Get(ctx, k).Int()
					if v < prev {
						torn.Add(1)
					}
					prev = v
				}
				reads.Add(1)
			}
		}()
	}
	for i := 1; i <= 1000; i++ {
		_, err := rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
			for _, k := range keys {
				p.Set(ctx, k, i, 0)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	if torn.Load() != 0 {
		t.Fatalf("%d of %d reads saw half of a transaction", torn.Load(), reads.Load())
	}
}

// TestWatchSeesOtherClientsWrites: WATCH on one connection fails EXEC after another connection
// writes the key, and not after a write of another key.
func TestWatchSeesOtherClientsWrites(t *testing.T) {
	t.Parallel()
	addr, _, _ := startGeocache(t, resp.Config{}, nil)
	a, b := dialRaw(t, addr), dialRaw(t, addr)
	steps := []struct {
		c    *rawConn
		args []string
		want string
	}{
		{a, []string{"WATCH", "k"}, "+OK\r\n"},
		{b, []string{"SET", "other", "1"}, "+OK\r\n"},
		{a, []string{"MULTI"}, "+OK\r\n"},
		{a, []string{"SET", "k", "a"}, "+QUEUED\r\n"},
		{a, []string{"EXEC"}, "*1\r\n+OK\r\n"},
		{a, []string{"WATCH", "k"}, "+OK\r\n"},
		{b, []string{"SET", "k", "b"}, "+OK\r\n"},
		{a, []string{"MULTI"}, "+OK\r\n"},
		{a, []string{"SET", "k", "a2"}, "+QUEUED\r\n"},
		{a, []string{"EXEC"}, "*-1\r\n"},
		{a, []string{"GET", "k"}, "$1\r\nb\r\n"},
		// An oversized key answers inside EXEC as outside it: a miss to read, an error to write.
		{a, []string{"MULTI"}, "+OK\r\n"},
		{a, []string{"GET", strings.Repeat("k", 20000)}, "+QUEUED\r\n"},
		{a, []string{"SET", strings.Repeat("k", 20000), "v"}, "+QUEUED\r\n"},
		{a, []string{"SET", "small", "v"}, "+QUEUED\r\n"},
		{a, []string{"EXEC"}, "*3\r\n$-1\r\n-ERR key exceeds the maximum key size\r\n+OK\r\n"},
		{a, []string{"GET", strings.Repeat("k", 20000)}, "$-1\r\n"},
		{a, []string{"SET", strings.Repeat("k", 20000), "v"}, "-ERR key exceeds the maximum key size\r\n"},
	}
	for i, st := range steps {
		if got := st.c.do(t, st.args...); got != st.want {
			t.Fatalf("step %d %v = %q, want %q", i, st.args, got, st.want)
		}
	}
}
