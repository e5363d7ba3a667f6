// Command geobench measures a geocache cluster node against redis-server, black-box over RESP,
// on one machine: a redis-server primary with two --replicaof replicas plus a standalone
// redis-server on one side, a three-node geocache cluster on loopback (peers connected) plus a
// standalone node on the other. Every row runs the same redis-benchmark command against both
// sides, alternating which side goes first from round to round, and prints medians and ratios
// as a markdown table; then the replication visibility lag (SET on one node, EXISTS polled on
// another, beside paced background writes, --lag-rates); then a write flood measures each
// process's peak RSS against the memory limit both sides were given. The memory rows start
// fresh fleets of their own on the same ports: per-key-memory (RSS per key beyond key + value,
// --perkey-n distinct keys at each of --perkey-sizes, limit --perkey-max-memory-mib) and soak
// (--soak-duration of a paced 80/20 GET/SET load with TTLs on both sides at once, RSS and
// goroutines sampled, then RSS after every key expired).
//
//	go build -o /tmp/geocache ./cmd/geocache
//	go run ./cmd/geobench --geocache /tmp/geocache --rounds 5
//
// Ports: --port-base .. --port-base+33 on 127.0.0.1 (default 16400, away from 6379, 7379 and
// 8080).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// config is the command line.
type config struct {
	geocache       string
	redisServer    string
	redisBenchmark string
	basePort       int
	ports          map[int]int // offset -> port, overriding basePort+offset (tests: ephemeral ports)
	rounds         int
	requests       int
	clients        int
	keyspace       int
	maxMemory      int64
	floodRequests  int
	lagRates       []int // writes/s of the lag rows
	lagDuration    time.Duration
	rows           string // comma-separated row names; "" = all
	dir            string

	// The per-key memory row: keys, value sizes, and the (no-eviction) limit of its fleets.
	perKeyN         int
	perKeySizes     []int
	perKeyMaxMemory int64
	// The soak row.
	soakDuration           time.Duration
	soakRate, soakKeyspace int
	soakTTLMin, soakTTLMax time.Duration
	soakSample, soakSettle time.Duration
}

// wants reports whether the row called name is selected by --rows.
func (c *config) wants(name string) bool {
	return c.rows == "" || slices.Contains(strings.Split(c.rows, ","), name)
}

// port is the loopback port at offset off of the layout (fleet.go).
func (c *config) port(off int) int {
	if p, ok := c.ports[off]; ok {
		return p
	}
	return c.basePort + off
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("geobench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.geocache, "geocache", "", "geocache binary (default: go build ./cmd/geocache into the work directory)")
	fs.StringVar(&c.redisServer, "redis-server", "redis-server", "redis-server binary")
	fs.StringVar(&c.redisBenchmark, "redis-benchmark", "redis-benchmark", "redis-benchmark binary")
	fs.IntVar(&c.basePort, "port-base", 16400, "first of 34 loopback ports used")
	fs.IntVar(&c.rounds, "rounds", 3, "alternating rounds per row")
	fs.IntVar(&c.requests, "n", 200000, "requests per redis-benchmark run")
	fs.IntVar(&c.clients, "c", 50, "redis-benchmark clients")
	fs.IntVar(&c.keyspace, "keyspace", 100000, "keys of the GET/SET rows (-r)")
	mem := fs.Int64("max-memory-mib", 64, "memory limit of every process, MiB (redis --maxmemory, geocache --max-memory)")
	fs.IntVar(&c.floodRequests, "flood-n", 3000000, "SETs of 100-byte values to random keys in the peak-RSS flood (0 skips it)")
	lagRates := fs.String("lag-rates", "1000,10000", "comma-separated write rates (writes/s) of the replication lag rows; empty skips them")
	fs.DurationVar(&c.lagDuration, "lag-duration", 3*time.Second, "duration of one lag measurement")
	fs.StringVar(&c.rows, "rows", "", "comma-separated rows to run (default all): misses-p1,misses-p16,set-p16,set-p16-repl,get-p16,aggregate-writes,per-key-memory,soak (the lag and flood rows follow --lag-rates and --flood-n)")
	fs.IntVar(&c.perKeyN, "perkey-n", 1000000, "distinct keys of the per-key memory row (0 skips it)")
	perKeySizes := fs.String("perkey-sizes", "32,100", "comma-separated value sizes (bytes) of the per-key memory row; a fresh fleet each")
	perKeyMem := fs.Int64("perkey-max-memory-mib", 4096, "memory limit of the per-key memory row's processes, MiB (large enough that nothing is evicted)")
	fs.DurationVar(&c.soakDuration, "soak-duration", 10*time.Minute, "duration of the soak row's load (0 skips it); the first half is warm-up")
	fs.IntVar(&c.soakRate, "soak-rate", 10000, "ops/s per side in the soak row (80/20 GET/SET)")
	fs.IntVar(&c.soakKeyspace, "soak-keyspace", 100000, "keys of the soak row")
	fs.DurationVar(&c.soakTTLMin, "soak-ttl-min", 30*time.Second, "shortest EX of the soak row's SETs (whole seconds)")
	fs.DurationVar(&c.soakTTLMax, "soak-ttl-max", 60*time.Second, "longest EX of the soak row's SETs (whole seconds)")
	fs.DurationVar(&c.soakSample, "soak-sample", 5*time.Second, "RSS and goroutine sampling interval of the soak row")
	fs.DurationVar(&c.soakSettle, "soak-settle", 2*time.Minute, "wait after every soak key expired before the last RSS sample (Go forces a GC every 2 minutes when idle)")
	fs.StringVar(&c.dir, "dir", "", "work directory for logs and node data (default a temporary one, removed)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	c.maxMemory = *mem << 20
	c.perKeyMaxMemory = *perKeyMem << 20
	for _, f := range strings.Split(*perKeySizes, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("geobench: --perkey-sizes: %q is not a positive size", f)
		}
		c.perKeySizes = append(c.perKeySizes, n)
	}
	for _, f := range strings.Split(*lagRates, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		r, err := strconv.Atoi(f)
		if err != nil || r < 1 {
			return nil, fmt.Errorf("geobench: --lag-rates: %q is not a positive rate", f)
		}
		c.lagRates = append(c.lagRates, r)
	}
	switch {
	case c.rounds < 1 || c.requests < 1 || c.clients < 1 || c.keyspace < 1:
		return nil, errors.New("geobench: --rounds, -n, -c and --keyspace must be positive")
	case c.basePort < 1024 || c.basePort+portsUsed > 65535:
		return nil, errors.New("geobench: --port-base out of range")
	case *mem < 1 || *perKeyMem < 1:
		return nil, errors.New("geobench: --max-memory-mib and --perkey-max-memory-mib must be positive")
	case c.perKeyN < 0 || c.soakDuration < 0:
		return nil, errors.New("geobench: --perkey-n and --soak-duration must not be negative")
	case c.soakRate < 1 || c.soakKeyspace < 1 || c.soakSample <= 0 || c.soakSettle < 0:
		return nil, errors.New("geobench: --soak-rate, --soak-keyspace and --soak-sample must be positive, --soak-settle not negative")
	case c.soakTTLMin < time.Second || c.soakTTLMax < c.soakTTLMin || c.soakTTLMin%time.Second != 0 || c.soakTTLMax%time.Second != 0:
		return nil, errors.New("geobench: --soak-ttl-min and --soak-ttl-max must be whole seconds, at least 1s, min ≤ max")
	}
	return c, nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if _, err := run(ctx, cfg, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// run measures every row and writes the report to out (and returns it); progress goes to log.
func run(ctx context.Context, cfg *config, out, log io.Writer) (*report, error) {
	if cfg.dir == "" {
		d, err := os.MkdirTemp("", "geobench-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		cfg.dir = d
	} else if err := os.MkdirAll(cfg.dir, 0o755); err != nil {
		return nil, err
	}
	if cfg.geocache == "" {
		cfg.geocache = filepath.Join(cfg.dir, "geocache")
		fmt.Fprintln(log, "building geocache ...")
		b, err := exec.CommandContext(ctx, "go", "build", "-o", cfg.geocache, "github.com/geocache/geocache/cmd/geocache").CombinedOutput()
		if err != nil {
			return nil, fmt.Errorf("geobench: go build: %v: %s", err, b)
		}
	}
	rep := &report{cfg: cfg, loadStart: loadavg()}
	rs := rows(cfg)
	if len(rs) > 0 || len(cfg.lagRates) > 0 || cfg.floodRequests > 0 {
		if err := runShared(ctx, cfg, rs, rep, log); err != nil {
			return nil, err
		}
	}
	// The memory rows start fresh processes each: what a process once allocated stays in its
	// RSS, so they cannot share the fleet above (its ports are free again by now).
	if cfg.wants("per-key-memory") && cfg.perKeyN > 0 && len(cfg.perKeySizes) > 0 {
		var err error
		if rep.perKey, err = perKeyMemory(ctx, cfg, log); err != nil {
			return nil, err
		}
	}
	if cfg.wants("soak") && cfg.soakDuration > 0 {
		var err error
		if rep.soak, err = soak(ctx, cfg, log); err != nil {
			return nil, err
		}
	}
	rep.loadEnd = loadavg()
	rep.write(out)
	return rep, nil
}

// runShared measures the throughput rows rs, the lag rows and the flood on one fleet.
func runShared(ctx context.Context, cfg *config, rs []row, rep *report, log io.Writer) error {
	f, err := startFleet(ctx, cfg, cfg.dir)
	if err != nil {
		return err
	}
	defer f.stop()
	for i := range rs {
		r := &rs[i]
		res := rowResult{row: r}
		for round := range cfg.rounds {
			sides := []bool{false, true} // false: redis, true: geocache
			if round%2 == 1 {
				sides = []bool{true, false}
			}
			for _, geoSide := range sides {
				targets, cpu := r.redis(f), r.cpuRedis
				if geoSide {
					targets, cpu = r.geo(f), r.cpuGeo
				}
				procs := dedup(targets)
				if cpu != nil {
					procs = cpu(f)
				}
				smp, err := runRow(ctx, cfg, r, targets, procs)
				if err != nil {
					return err
				}
				if geoSide {
					res.geo = append(res.geo, smp)
				} else {
					res.redis = append(res.redis, smp)
				}
				fmt.Fprintf(log, "%s round %d %s: %.0f/s, %.2f µs CPU/op (load %s)\n", r.name, round+1,
					map[bool]string{false: "redis", true: "geocache"}[geoSide], smp.rps, us(smp.cpuPer), loadavg())
			}
		}
		rep.rows = append(rep.rows, res)
	}
	for _, rate := range cfg.lagRates {
		lr := lagRow{rate: rate}
		for round := range cfg.rounds {
			sides := []bool{false, true}
			if round%2 == 1 {
				sides = []bool{true, false}
			}
			for _, geoSide := range sides {
				src, dst := f.redis[0], f.redis[1]
				if geoSide {
					src, dst = f.geo[0], f.geo[1]
				}
				res, err := measureLag(ctx, src, dst, rate, cfg.lagDuration, fmt.Sprintf("%d-%d-%v", rate, round, geoSide))
				if err != nil {
					return err
				}
				if geoSide {
					lr.geo = append(lr.geo, res)
				} else {
					lr.redis = append(lr.redis, res)
				}
				fmt.Fprintf(log, "lag %d/s round %d %s: p50 %v p99 %v (%d probes, %.0f writes/s sent; load %s)\n", rate, round+1,
					map[bool]string{false: "redis", true: "geocache"}[geoSide], res.p50, res.p99, res.probes, res.achieved, loadavg())
			}
		}
		rep.lag = append(rep.lag, lr)
	}
	if cfg.floodRequests > 0 {
		if rep.flood, err = flood(ctx, cfg, f, log); err != nil {
			return err
		}
	}
	return nil
}

func dedup(ss []*server) []*server {
	var out []*server
	for _, s := range ss {
		found := false
		for _, o := range out {
			found = found || o == s
		}
		if !found {
			out = append(out, s)
		}
	}
	return out
}

func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }

// machine describes the CPU for the report.
func machine() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	model, n := "?", 0
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok {
			switch strings.TrimSpace(k) {
			case "model name":
				model = strings.TrimSpace(v)
			case "processor":
				n++
			}
		}
	}
	return fmt.Sprintf("%d × %s", n, model)
}
