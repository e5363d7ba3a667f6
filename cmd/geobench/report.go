package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// rowResult is every round of one row.
type rowResult struct {
	row        *row
	redis, geo []sample
}

// peak is one process's peak RSS (VmHWM) after the flood.
type peak struct {
	side, role string
	s          *server
	hwm, rss   int64
}

type report struct {
	cfg                *config
	loadStart, loadEnd string
	rows               []rowResult
	lag                []lagRow
	flood              []peak
	perKey             []perKeyResult
	soak               *soakResult
}

// lagRow is every round of one lag rate.
type lagRow struct {
	rate       int
	redis, geo []lagResult
}

// flood writes cfg.floodRequests SETs of 100-byte values to random keys, at once, to the redis
// primary (replicated) and the standalone redis, and to geocache node a (replicated to b and c)
// and the standalone geocache; then it reads every process's peak RSS.
func flood(ctx context.Context, cfg *config, f *fleet, log io.Writer) ([]peak, error) {
	args := []string{"-P", "16", "-t", "set", "-d", "100", "-r", "10000000"}
	pairs := [][2]*server{{f.redis[0], f.redisSA}, {f.geo[0], f.geoSA}}
	for _, p := range pairs {
		fmt.Fprintf(log, "flood: %d SETs to %s and %s (load %s)\n", cfg.floodRequests, p[0].name, p[1].name, loadavg())
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, s := range p {
			wg.Go(func() { _, errs[i] = redisBenchmark(ctx, cfg, s.addr, cfg.floodRequests, args) })
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				return nil, err
			}
		}
	}
	// Let the receivers drain what the writers sent before reading their peaks.
	time.Sleep(2 * time.Second) // a measurement window, not synchronisation
	var out []peak
	for _, r := range f.roles() {
		rss, hwm, err := procStatus(r.s.pid())
		if err != nil {
			return nil, err
		}
		out = append(out, peak{side: r.side, role: r.role, s: r.s, hwm: hwm, rss: rss})
	}
	return out, nil
}

func (r *report) write(w io.Writer) {
	host, _ := os.Hostname()
	fmt.Fprintf(w, "geobench %s\n\n", time.Now().UTC().Format(time.RFC3339))
	fmt.Fprintf(w, "- command: `geobench %s`\n", strings.Join(os.Args[1:], " "))
	fmt.Fprintf(w, "- machine: %s (%s), load average %s at the start, %s at the end\n", machine(), host, r.loadStart, r.loadEnd)
	if len(r.rows) > 0 || len(r.lag) > 0 {
		fmt.Fprintf(w, "- %d alternating rounds of `redis-benchmark -c %d -n %d`; medians; CPU per request is the server processes' user+system time\n",
			r.cfg.rounds, r.cfg.clients, r.cfg.requests)
	}
	fmt.Fprintln(w)
	if len(r.rows) > 0 {
		fmt.Fprintln(w, "| row | redis-server | geocache cluster node | ratio | target | redis CPU/op | geocache CPU/op (all 3 nodes) | node a's own CPU/op |")
		fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|")
	}
	for _, res := range r.rows {
		rr, gr := rates(res.redis), rates(res.geo)
		ratio := median(gr) / median(rr)
		mark := ""
		if ratio < res.row.min {
			mark = " (not met)"
		}
		own := "—" // the aggregate row has three serving nodes
		if len(res.geo) > 0 && res.row.name != "aggregate-writes" {
			own = fmt.Sprintf("%.2f µs", us(medianFirst(res.geo)))
		}
		fmt.Fprintf(w, "| %s | %s/s (%s) | %s/s | %.2f× | %s%s | %.2f µs | %.2f µs | %s |\n",
			res.row.name, kilo(median(rr)), res.row.anchor, kilo(median(gr)), ratio, res.row.target, mark,
			us(medianDur(res.redis)), us(medianDur(res.geo)), own)
	}
	r.replShare(w)
	if len(r.lag) > 0 {
		fmt.Fprintf(w, "\nReplication visibility lag, SET on one node, EXISTS polled on another (redis: primary → replica; geocache: node a → node b), %v per round, medians of the rounds' p50 and p99 (target ≤ 2×):\n\n", r.cfg.lagDuration)
		fmt.Fprintln(w, "| writes/s | redis p50 / p99 | geocache p50 / p99 | ratio p50 / p99 | probes per round |")
		fmt.Fprintln(w, "|---|---|---|---|---|")
		for _, l := range r.lag {
			rp50, rp99 := lagMedians(l.redis)
			gp50, gp99 := lagMedians(l.geo)
			fmt.Fprintf(w, "| %d | %.3f / %.3f ms | %.3f / %.3f ms | %.2f× / %.2f× | %d |\n", l.rate, ms(rp50), ms(rp99), ms(gp50), ms(gp99),
				ms(gp50)/ms(rp50), ms(gp99)/ms(rp99), l.geo[0].probes)
		}
	}
	if len(r.flood) > 0 {
		lim := r.cfg.maxMemory
		bound := lim + lim/2 + 32<<20
		fmt.Fprintf(w, "\nPeak RSS (VmHWM) after %d SETs of 100-byte values to random keys, limit %d MiB (target ≤ 1.5 × limit + 32 MiB = %d MiB):\n\n",
			r.cfg.floodRequests, lim>>20, bound>>20)
		fmt.Fprintln(w, "| side | role | peak RSS | × limit | RSS now | target |")
		fmt.Fprintln(w, "|---|---|---|---|---|---|")
		for _, p := range r.flood {
			ok := "met"
			if p.hwm > bound {
				ok = "not met"
			}
			if p.side == "redis" {
				ok = "(anchor)"
			}
			fmt.Fprintf(w, "| %s | %s | %.0f MiB | %.2f× | %.0f MiB | %s |\n", p.side, p.role,
				float64(p.hwm)/(1<<20), float64(p.hwm)/float64(lim), float64(p.rss)/(1<<20), ok)
		}
	}
	writePerKey(w, r.perKey, r.cfg.perKeyMaxMemory)
	writeSoak(w, r.soak, r.cfg)
	if len(r.rows) == 0 && len(r.lag) == 0 {
		return
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Every round:")
	fmt.Fprintln(w)
	for _, res := range r.rows {
		fmt.Fprintf(w, "- %s: redis %s; geocache %s\n", res.row.name, list(res.redis), list(res.geo))
	}
	for _, l := range r.lag {
		fmt.Fprintf(w, "- lag at %d writes/s (p50/p99 ms): redis %s; geocache %s\n", l.rate, lagList(l.redis), lagList(l.geo))
	}
}

func rates(ss []sample) []float64 {
	out := make([]float64, len(ss))
	for i, s := range ss {
		out[i] = s.rps
	}
	return out
}

// medianDur is the median of the samples' CPU per request, summed over the side's processes.
func medianDur(ss []sample) time.Duration {
	return medianBy(ss, func(s sample) time.Duration { return s.cpuPer })
}

// medianFirst is the median of the first process's CPU per request (geocache node a).
func medianFirst(ss []sample) time.Duration {
	return medianBy(ss, func(s sample) time.Duration { return s.firstPer })
}

func medianBy(ss []sample, f func(sample) time.Duration) time.Duration {
	xs := make([]float64, len(ss))
	for i, s := range ss {
		xs[i] = float64(f(s))
	}
	return time.Duration(median(xs))
}

func list(ss []sample) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = kilo(s.rps)
	}
	return strings.Join(parts, ", ")
}

func kilo(x float64) string {
	if x >= 1000 {
		return fmt.Sprintf("%.1fk", x/1000)
	}
	return fmt.Sprintf("%.0f", x)
}

func lagMedians(ls []lagResult) (p50, p99 time.Duration) {
	a, b := make([]float64, len(ls)), make([]float64, len(ls))
	for i, l := range ls {
		a[i], b[i] = float64(l.p50), float64(l.p99)
	}
	return time.Duration(median(a)), time.Duration(median(b))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func lagList(ls []lagResult) string {
	parts := make([]string, len(ls))
	for i, l := range ls {
		parts[i] = fmt.Sprintf("%.3f/%.3f", ms(l.p50), ms(l.p99))
	}
	return strings.Join(parts, ", ")
}

// replShare prints, when both set-p16 rows ran, the share of standalone redis-server's SET rate
// that Redis keeps while replicating to two replicas, beside geocache's share (the set-p16
// ratio): the same target applied to Redis's own replication.
func (r *report) replShare(w io.Writer) {
	var sa, repl *rowResult
	for i := range r.rows {
		switch r.rows[i].row.name {
		case "set-p16":
			sa = &r.rows[i]
		case "set-p16-repl":
			repl = &r.rows[i]
		}
	}
	if sa == nil || repl == nil {
		return
	}
	standalone := median(rates(sa.redis))
	fmt.Fprintf(w, "\nSET -P 16 as a share of standalone redis-server (%s/s): redis-server primary + 2 replicas %.2f×, geocache cluster node %.2f× (medians of both set-p16 rows' rounds).\n",
		kilo(standalone), median(rates(repl.redis))/standalone, median(append(rates(sa.geo), rates(repl.geo)...))/standalone)
}
