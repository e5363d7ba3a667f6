package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// perKeyKeyLen is the length of every key the per-key memory row writes ("key:" and 12 digits,
// redis-benchmark's key shape).
const perKeyKeyLen = 16

// perKeyResult is the per-key memory row at one value size: every process of a fresh fleet.
type perKeyResult struct {
	valueSize, keys int
	procs           []perKeyProc
}

// perKeyProc is one process's resident set before and after the keys arrived.
type perKeyProc struct {
	procRole
	before, after int64
}

// beyond is the RSS per key beyond the key and value bytes.
func (p perKeyProc) beyond(r *perKeyResult) float64 {
	return float64(p.after-p.before)/float64(r.keys) - float64(perKeyKeyLen+r.valueSize)
}

// perKeyMemory measures, for each value size, what a key costs in RSS: a fresh fleet per size
// (freed memory is not returned, so FLUSHALL between sizes would hide the second one), a
// memory limit under which nothing is evicted, N distinct keys written to the redis primary,
// the redis standalone, geocache node a and the geocache standalone, and RSS read once every
// process (replicas and receivers too) holds all N.
func perKeyMemory(ctx context.Context, cfg *config, log io.Writer) ([]perKeyResult, error) {
	var out []perKeyResult
	for _, size := range cfg.perKeySizes {
		r, err := perKeyOne(ctx, cfg, size, log)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

func perKeyOne(ctx context.Context, cfg *config, size int, log io.Writer) (perKeyResult, error) {
	res := perKeyResult{valueSize: size, keys: cfg.perKeyN}
	c := *cfg
	c.maxMemory = cfg.perKeyMaxMemory
	dir := filepath.Join(cfg.dir, "per-key-"+strconv.Itoa(size))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return res, err
	}
	fmt.Fprintf(log, "per-key memory, %d-byte values: starting a fresh fleet (limit %d MiB; load %s)\n", size, c.maxMemory>>20, loadavg())
	f, err := startFleet(ctx, &c, dir)
	if err != nil {
		return res, err
	}
	defer f.stop()
	roles := f.roles()
	base := make([]int, len(roles))
	for i, r := range roles {
		if base[i], err = dbsize(r.s.addr); err != nil {
			return res, err
		}
		rss, _, err := procStatus(r.s.pid())
		if err != nil {
			return res, err
		}
		res.procs = append(res.procs, perKeyProc{procRole: r, before: rss})
	}
	writers := []*server{f.redis[0], f.redisSA, f.geo[0], f.geoSA}
	t0 := time.Now()
	errs := make([]error, len(writers))
	var wg sync.WaitGroup
	for i, s := range writers {
		wg.Go(func() { errs[i] = loadKeys(ctx, s.addr, cfg.perKeyN, size) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return res, err
		}
	}
	fmt.Fprintf(log, "per-key memory, %d-byte values: %d keys written to each writer in %v (load %s)\n", size, cfg.perKeyN,
		time.Since(t0).Round(time.Millisecond), loadavg())
	// Every process must hold every key before its RSS means anything: replicas and receivers
	// may still be applying what the writers sent.
	deadline := time.Now().Add(max(2*time.Minute, time.Duration(cfg.perKeyN/2000)*time.Second))
	for i, r := range roles {
		for {
			n, err := dbsize(r.s.addr)
			if err != nil {
				return res, err
			}
			if n >= base[i]+cfg.perKeyN {
				break
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return res, fmt.Errorf("geobench: per-key memory: %s holds %d of %d keys", r.s.name, n-base[i], cfg.perKeyN)
			}
			time.Sleep(200 * time.Millisecond) // polling a process we do not control
		}
	}
	for i := range res.procs {
		rss, _, err := procStatus(res.procs[i].s.pid())
		if err != nil {
			return res, err
		}
		res.procs[i].after = rss
	}
	fmt.Fprintf(log, "per-key memory, %d-byte values: every process holds every key after %v\n", size, time.Since(t0).Round(time.Millisecond))
	return res, nil
}

// loadKeys writes n distinct keys (key:000000000000 ...) with values of size bytes to addr, over
// one connection, pipelined in batches, and checks every reply.
func loadKeys(ctx context.Context, addr string, n, size int) error {
	c, err := dialRESP(addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	val := strings.Repeat("x", size)
	const batch = 1000
	var b strings.Builder
	for i := 0; i < n; i += batch {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		b.Reset()
		m := min(batch, n-i)
		for j := range m {
			k := fmt.Sprintf("key:%012d", i+j)
			fmt.Fprintf(&b, "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", len(k), k, len(val), val)
		}
		c.c.SetDeadline(time.Now().Add(30 * time.Second))
		if _, err := c.c.Write([]byte(b.String())); err != nil {
			return err
		}
		for range m {
			if r, err := c.read(); err != nil {
				return fmt.Errorf("geobench: SET on %s: %w", addr, err)
			} else if r != "OK" {
				return fmt.Errorf("geobench: SET on %s answered %q", addr, r)
			}
		}
	}
	return nil
}

// writePerKey prints the per-key memory table: each geocache process against its redis
// counterpart (writer against the primary, receivers against the replicas, standalone against
// standalone).
func writePerKey(w io.Writer, rs []perKeyResult, limit int64) {
	if len(rs) == 0 {
		return
	}
	fmt.Fprintf(w, "\nRSS per key beyond key + value (%d-byte keys): a fresh fleet per value size, limit %d MiB (nothing evicted), "+
		"%d distinct keys written to the redis primary and standalone and to geocache node a and standalone, RSS read when every process holds every key "+
		"(target: a geocache cluster node ≤ its redis counterpart):\n\n", perKeyKeyLen, limit>>20, rs[0].keys)
	fmt.Fprintln(w, "| value | side | role | RSS before | RSS after | per key beyond key + value | ratio to redis | target |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|")
	for i := range rs {
		r := &rs[i]
		half := len(r.procs) / 2 // redis first, then geocache in the same roles
		for j, p := range r.procs {
			ratio, ok := "", "(anchor)"
			if p.side == "geocache" && j-half >= 0 && j-half < half {
				a := r.procs[j-half].beyond(r)
				ratio = fmt.Sprintf("%.2f×", p.beyond(r)/a)
				ok = "met"
				if p.beyond(r) > a {
					ok = "**not met**"
				}
				if p.role == "standalone" {
					ok = "—"
				}
			}
			fmt.Fprintf(w, "| %d B | %s | %s | %.1f MiB | %.1f MiB | %.0f B | %s | %s |\n", r.valueSize, p.side, p.role,
				mib(p.before), mib(p.after), p.beyond(r), ratio, ok)
		}
	}
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
