// Command geobench measures a geocache cluster node against redis-server, black-box over RESP,
// on one machine: a redis-server primary with two --replicaof replicas plus a standalone
// redis-server on one side, a three-node geocache cluster on loopback (peers connected) plus a
// standalone node on the other. Every row runs the same redis-benchmark command against both
// sides, alternating which side goes first from round to round, and prints medians and ratios
// as a markdown table; then the replication visibility lag (SET on one node, EXISTS polled on
// another, beside paced background writes, --lag-rates); then a write flood measures each
// process's peak RSS against the memory limit both sides were given.
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
	fs.StringVar(&c.rows, "rows", "", "comma-separated rows to run (default all): misses-p1,misses-p16,set-p16,get-p16,aggregate-writes")
	fs.StringVar(&c.dir, "dir", "", "work directory for logs and node data (default a temporary one, removed)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	c.maxMemory = *mem << 20
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
	case *mem < 1:
		return nil, errors.New("geobench: --max-memory-mib must be positive")
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
	f, err := startFleet(ctx, cfg, cfg.dir)
	if err != nil {
		return nil, err
	}
	defer f.stop()
	rs := rows(cfg)
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
					return nil, err
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
					return nil, err
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
			return nil, err
		}
	}
	rep.loadEnd = loadavg()
	rep.write(out)
	return rep, nil
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
