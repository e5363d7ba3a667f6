package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// soakSample is every soaked process's RSS (and, for geocache, goroutine count) at one moment.
type soakSample struct {
	at  time.Duration // since the load started
	rss []int64
	gor []float64 // go_goroutines; -1 for redis
}

// soakResult is the soak row: a time series per process and what the load achieved.
type soakResult struct {
	procs    []procRole // redis primary and replicas, geocache a, b, c
	before   soakSample // just before the load
	samples  []soakSample
	duration time.Duration // of the load
	// expired is when DBSIZE fell back to its level before the load on every process, since
	// the load started (0: not within the deadline).
	expired time.Duration
	after   soakSample   // after expiry and the settle time
	settle  []soakSample // during the settle time, after included
	left    []int        // keys above the pre-load level at the end
	// sent and errs are per side ("redis", "geocache"): commands answered and error replies.
	sent, errs map[string]int
}

// soakTarget is one connection's share of a side's load.
type soakTarget struct {
	side       string
	s          *server
	gets, sets float64 // per second
}

// soak runs the paced mixed load on a fresh fleet, both sides at once (the same machine
// conditions for both; the load is light): redis writes to the primary and reads from the
// primary and both replicas, geocache spreads reads and writes over its three nodes. Every SET
// carries a TTL. It samples RSS and goroutines throughout, then waits for every key to expire
// and for the settle time, and samples once more.
func soak(ctx context.Context, cfg *config, log io.Writer) (*soakResult, error) {
	dir := filepath.Join(cfg.dir, "soak")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "soak: starting a fresh fleet (load %s)\n", loadavg())
	f, err := startFleet(ctx, cfg, dir)
	if err != nil {
		return nil, err
	}
	defer f.stop()
	res := &soakResult{procs: append(append([]procRole{}, f.roles()[:3]...), f.roles()[4:7]...),
		sent: map[string]int{}, errs: map[string]int{}}
	httpAddr := map[*server]string{}
	for i, s := range f.geo {
		httpAddr[s] = addr(cfg.port(offGeoHTTP + i))
	}
	sampleAt := func(at time.Duration) (soakSample, error) {
		smp := soakSample{at: at}
		for _, p := range res.procs {
			rss, _, err := procStatus(p.s.pid())
			if err != nil {
				return smp, err
			}
			g := -1.0
			if h, ok := httpAddr[p.s]; ok {
				if g, err = promValue(h, "go_goroutines"); err != nil {
					return smp, err
				}
			}
			smp.rss, smp.gor = append(smp.rss, rss), append(smp.gor, g)
		}
		return smp, nil
	}
	base := make([]int, len(res.procs))
	for i, p := range res.procs {
		if base[i], err = dbsize(p.s.addr); err != nil {
			return nil, err
		}
	}
	if res.before, err = sampleAt(0); err != nil {
		return nil, err
	}

	rate := float64(cfg.soakRate)
	targets := []soakTarget{
		{"redis", f.redis[0], rate * 0.8 / 3, rate * 0.2},
		{"redis", f.redis[1], rate * 0.8 / 3, 0},
		{"redis", f.redis[2], rate * 0.8 / 3, 0},
	}
	for _, s := range f.geo {
		targets = append(targets, soakTarget{"geocache", s, rate * 0.8 / 3, rate * 0.2 / 3})
	}
	fmt.Fprintf(log, "soak: %v of %d ops/s per side (80/20 GET/SET, EX %v–%v over %d keys; load %s)\n",
		cfg.soakDuration, cfg.soakRate, cfg.soakTTLMin, cfg.soakTTLMax, cfg.soakKeyspace, loadavg())
	start := time.Now()
	stop := make(chan struct{})
	sent, errs, lerrs := make([]int, len(targets)), make([]int, len(targets)), make([]error, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Go(func() { sent[i], errs[i], lerrs[i] = soakLoad(ctx, cfg, t, uint64(i), stop) })
	}
	// Sample on the load's own schedule until the load ends.
	tick := time.NewTicker(cfg.soakSample)
	defer tick.Stop()
	end := time.After(cfg.soakDuration)
	var serr error
loop:
	for {
		select {
		case <-ctx.Done():
			serr = ctx.Err()
			break loop
		case <-end:
			break loop
		case <-tick.C:
			smp, err := sampleAt(time.Since(start))
			if err != nil {
				serr = err
				break loop
			}
			res.samples = append(res.samples, smp)
			fmt.Fprintf(log, "soak %v: RSS %s MiB, goroutines %s (load %s)\n", smp.at.Round(time.Second), rssList(smp.rss), gorList(smp.gor), loadavg())
		}
	}
	close(stop)
	wg.Wait()
	res.duration = time.Since(start)
	if serr != nil {
		return nil, serr
	}
	smp, err := sampleAt(res.duration)
	if err != nil {
		return nil, err
	}
	res.samples = append(res.samples, smp)
	for i, t := range targets {
		if lerrs[i] != nil {
			return nil, lerrs[i]
		}
		res.sent[t.side] += sent[i]
		res.errs[t.side] += errs[i]
	}
	fmt.Fprintf(log, "soak: load done: redis %.0f ops/s, geocache %.0f ops/s achieved; waiting for every key to expire\n",
		float64(res.sent["redis"])/res.duration.Seconds(), float64(res.sent["geocache"])/res.duration.Seconds())

	// Expiry: every key carries a TTL of at most soakTTLMax, so DBSIZE must come back to its
	// pre-load level; then the processes get the settle time to hand memory back.
	deadline := time.Now().Add(cfg.soakTTLMax + 2*time.Minute)
	res.left = make([]int, len(res.procs))
	for {
		done := true
		for i, p := range res.procs {
			n, err := dbsize(p.s.addr)
			if err != nil {
				return nil, err
			}
			res.left[i] = n - base[i]
			done = done && n <= base[i]
		}
		if done {
			res.expired = time.Since(start)
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(200 * time.Millisecond) // polling processes we do not control
	}
	fmt.Fprintf(log, "soak: keys left %v at %v; settling %v\n", res.left, time.Since(start).Round(time.Second), cfg.soakSettle)
	// A measurement window: the allocators return freed memory over time (and a Go process's
	// idle garbage grows back until its next collection), so the window is sampled throughout.
	settleEnd := time.After(cfg.soakSettle)
settle:
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-settleEnd:
			break settle
		case <-tick.C:
			smp, err := sampleAt(time.Since(start))
			if err != nil {
				return nil, err
			}
			res.settle = append(res.settle, smp)
		}
	}
	if res.after, err = sampleAt(time.Since(start)); err != nil {
		return nil, err
	}
	res.settle = append(res.settle, res.after)
	fmt.Fprintf(log, "soak %v (after expiry): RSS %s MiB, goroutines %s\n", res.after.at.Round(time.Second), rssList(res.after.rss), gorList(res.after.gor))
	return res, nil
}

// soakLoad sends t's share of the load over one connection until stop: on each millisecond tick,
// the commands due by then (at most 1000, so a side that falls behind is measured as behind
// rather than flooded), pipelined, then reads their replies. It returns the commands answered
// and how many of them were error replies.
func soakLoad(ctx context.Context, cfg *config, t soakTarget, seed uint64, stop <-chan struct{}) (sent, errs int, err error) {
	c, err := dialRESP(t.s.addr, time.Second)
	if err != nil {
		return 0, 0, err
	}
	defer c.Close()
	rng := rand.New(rand.NewPCG(seed, uint64(time.Now().UnixNano())))
	val := strings.Repeat("v", 100)
	rate := t.gets + t.sets
	ttlMin, ttlSpan := int(cfg.soakTTLMin/time.Second), int((cfg.soakTTLMax-cfg.soakTTLMin)/time.Second)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	var b strings.Builder
	for {
		select {
		case <-stop:
			return sent, errs, nil
		case <-ctx.Done():
			return sent, errs, ctx.Err()
		case <-tick.C:
		}
		due := min(int(time.Since(start).Seconds()*rate)-sent, 1000)
		if due <= 0 {
			continue
		}
		b.Reset()
		for range due {
			k := "soak:" + strconv.Itoa(rng.IntN(cfg.soakKeyspace))
			if rng.Float64()*rate < t.sets {
				ex := strconv.Itoa(ttlMin + rng.IntN(ttlSpan+1))
				fmt.Fprintf(&b, "*5\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n$2\r\nEX\r\n$%d\r\n%s\r\n", len(k), k, len(val), val, len(ex), ex)
			} else {
				fmt.Fprintf(&b, "*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n", len(k), k)
			}
		}
		c.c.SetDeadline(time.Now().Add(30 * time.Second))
		if _, err := c.c.Write([]byte(b.String())); err != nil {
			return sent, errs, err
		}
		for range due {
			if _, err := c.read(); err != nil {
				var re replyError
				if !errors.As(err, &re) {
					return sent, errs, fmt.Errorf("geobench: soak on %s: %w", t.s.name, err)
				}
				errs++ // an error reply: counted, the connection is still in step
			}
		}
		sent += due
	}
}

// soakStats are the figures of one process drawn from the series.
type soakStats struct {
	warm, end, maxLast int64 // RSS at warm-up end, at the end of the load, highest in the last half
	drift              float64
	gorBefore, gorWarm float64
	gorEnd, gorAfter   float64
	lowAfter           int64   // lowest RSS during the settle time
	returned           float64 // share of the load's growth given back at the end of the settle time
}

// stats computes process i's figures; warm-up is the first half of the load.
func (r *soakResult) stats(i int) soakStats {
	var st soakStats
	warmAt := r.duration / 2
	warmSet := false
	for _, s := range r.samples {
		if s.at >= warmAt && !warmSet {
			st.warm, st.gorWarm, warmSet = s.rss[i], s.gor[i], true
		}
		if warmSet {
			st.maxLast = max(st.maxLast, s.rss[i])
		}
	}
	last := r.samples[len(r.samples)-1]
	st.end, st.gorEnd = last.rss[i], last.gor[i]
	if !warmSet {
		st.warm, st.gorWarm = st.end, st.gorEnd
	}
	st.drift = float64(st.end-st.warm) / float64(st.warm)
	st.gorBefore, st.gorAfter = r.before.gor[i], r.after.gor[i]
	st.lowAfter = r.after.rss[i]
	for _, s := range r.settle {
		st.lowAfter = min(st.lowAfter, s.rss[i])
	}
	if grown := st.end - r.before.rss[i]; grown > 0 {
		st.returned = float64(st.end-r.after.rss[i]) / float64(grown)
	}
	return st
}

// writeSoak prints the soak table: per process, RSS before, at warm-up end, at the end, the
// drift over the last half, goroutines, and RSS after expiry.
func writeSoak(w io.Writer, r *soakResult, cfg *config) {
	if r == nil {
		return
	}
	d := r.duration.Seconds()
	fmt.Fprintf(w, "\nSoak: %v at %d ops/s per side, both sides at once (80/20 GET/SET of 100-byte values over %d keys, SET with EX %v–%v; "+
		"redis: SETs to the primary, GETs spread over primary and replicas; geocache: both spread over nodes a, b, c), limit %d MiB; "+
		"achieved redis %.0f ops/s (%d error replies), geocache %.0f ops/s (%d error replies). Warm-up is the first half; "+
		"after the load, every key expired at %v (keys left: %v), then %v to settle. "+
		"Targets (geocache): drift over the last half < 5 %%, goroutines flat (end within 5 %% or 5 of warm-up end), "+
		"at least half of the load's RSS growth returned at the end of the settle time:\n\n",
		r.duration.Round(time.Second), cfg.soakRate, cfg.soakKeyspace, cfg.soakTTLMin, cfg.soakTTLMax, cfg.maxMemory>>20,
		float64(r.sent["redis"])/d, r.errs["redis"], float64(r.sent["geocache"])/d, r.errs["geocache"],
		expiredText(r.expired), r.left, cfg.soakSettle)
	fmt.Fprintln(w, "| side | role | RSS before load | at warm-up end | at end | drift (last half) | max (last half) | goroutines before / warm-up / end / after | RSS after expiry, lowest / at the end | growth returned (at the end) | target |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|")
	for i, p := range r.procs {
		st := r.stats(i)
		gor, ok := "—", "(anchor)"
		if p.side == "geocache" {
			gor = fmt.Sprintf("%.0f / %.0f / %.0f / %.0f", st.gorBefore, st.gorWarm, st.gorEnd, st.gorAfter)
			var miss []string
			if st.drift >= 0.05 {
				miss = append(miss, "drift")
			}
			if st.gorEnd-st.gorWarm > max(5, st.gorWarm*0.05) {
				miss = append(miss, "goroutines")
			}
			if st.returned < 0.5 {
				miss = append(miss, "returned")
			}
			ok = "met"
			if len(miss) > 0 {
				ok = "**not met** (" + strings.Join(miss, ", ") + ")"
			}
		}
		fmt.Fprintf(w, "| %s | %s | %.1f MiB | %.1f MiB | %.1f MiB | %+.1f %% | %.1f MiB | %s | %.1f / %.1f MiB | %.0f %% | %s |\n",
			p.side, p.role, mib(r.before.rss[i]), mib(st.warm), mib(st.end), st.drift*100, mib(st.maxLast), gor,
			mib(st.lowAfter), mib(r.after.rss[i]), st.returned*100, ok)
	}
}

func expiredText(d time.Duration) string {
	if d == 0 {
		return "never (deadline passed)"
	}
	return d.Round(time.Second).String() + " from the start of the load"
}

func rssList(xs []int64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf("%.1f", mib(x))
	}
	return strings.Join(parts, " ")
}

func gorList(xs []float64) string {
	var parts []string
	for _, x := range xs {
		if x >= 0 {
			parts = append(parts, strconv.FormatFloat(x, 'f', 0, 64))
		}
	}
	return strings.Join(parts, " ")
}
