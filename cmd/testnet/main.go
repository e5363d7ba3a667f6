// Command testnet runs geocache test networks: several real geocache processes on this machine,
// connected only through a userspace WAN emulator, with scripted faults, a client workload, a
// convergence checker and a report. See docs/testnet.md.
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

	"github.com/geocache/geocache/testnet"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `testnet: run geocache on an emulated multi-region network and check it.

Usage:
  testnet [flags] SCENARIO...

Scenarios: %s,
  emulator (the emulator's accuracy alone), random (seeded random fault schedules, see --runs),
  all (every scripted scenario), or --script FILE for your own.
Measurements: locality (clients in every region read from their nearest node; one region's
  node is killed and restarted: failover and failback), stampede (a cold key requested in
  every region at once: origin loads per key and latency, see --stampede-*).

Each scenario writes OUT/SCENARIO/report.md with SVG charts, history.jsonl and summary.json,
and prints a summary table. The exit status is 1 if any scenario found a violation, a bypass of
the emulator, or did not converge.

Flags:
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("testnet", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, usage, strings.Join(testnet.ScenarioNames(), ", "))
		fs.PrintDefaults()
	}
	bin := fs.String("geocache", "", "geocache binary (default: go build ./cmd/geocache into OUT/bin)")
	out := fs.String("out", "testnet-out", "report directory")
	regions := fs.Int("regions", 3, "number of regions (from the matrix, in order)")
	nodes := fs.Int("nodes", 1, "nodes per region")
	matrixFile := fs.String("matrix", "", "latency matrix JSON file (default: built-in real inter-region RTTs)")
	scale := fs.Float64("scale", 1, "multiply every emulated delay by this")
	seed := fs.Uint64("seed", 1, "seed for the workload and, with random, the first fault schedule")
	runs := fs.Int("runs", 20, "random: number of fault schedules (seeds seed .. seed+runs-1)")
	seedList := fs.String("seeds", "", "random: comma-separated seeds to run instead of --seed/--runs (to replay failures)")
	script := fs.String("script", "", "run this scenario script file (scenario name: its base name)")
	rate := fs.Float64("rate", 0, "operations per second per client (default 25)")
	keys := fs.Int("keys", 0, "workload key space (default 24)")
	clients := fs.Int("clients", 0, "clients per node (default 1)")
	logLevel := fs.String("log-level", "warn", "nodes' log level")
	d := testnet.DefaultPorts()
	portsFlag := fs.String("ports", fmt.Sprintf("%d,%d,%d", d.P2P, d.RESP, d.HTTP),
		"every node's libp2p, RESP and HTTP ports (each node has its own loopback address; move them if a local server holds one on all addresses)")
	converge := fs.Duration("converge-timeout", 0, "how long to wait for agreement after the final heal (default 60s; 30s per random run)")
	accN := fs.Int("accuracy-samples", 500, "emulator: messages per requested delay")
	stKeys := fs.Int("stampede-keys", 20, "stampede: cold keys per variant")
	stCallers := fs.Int("stampede-callers", 10, "stampede: concurrent callers per region per key")
	stService := fs.Duration("origin-service", 50*time.Millisecond, "stampede: the origin's time per request")
	stNoBase := fs.Bool("no-baseline", false, "stampede: skip the baseline run with --origin-dedup node")
	locClients := fs.Int("locality-clients", 0, "locality: clients per region (default 2)")
	locPhase := fs.Duration("locality-phase", 0, "locality: length of the healthy, down and restarted phases (default 8s)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	names := fs.Args()
	if len(names) == 0 && *script == "" {
		fs.Usage()
		return 2
	}
	if len(names) == 1 && names[0] == "all" {
		names = nil
		for _, n := range testnet.ScenarioNames() {
			if n != "ci" {
				names = append(names, n)
			}
		}
	}
	command := "go run ./cmd/testnet " + strings.Join(args, " ")

	m := testnet.DefaultMatrix()
	if *matrixFile != "" {
		var err error
		if m, err = testnet.LoadMatrix(*matrixFile); err != nil {
			fmt.Fprintln(stderr, err)
			return 2
		}
	}
	if *scale != 1 {
		m = m.Scaled(*scale)
	}
	var scenarios []testnet.Scenario
	needBinary := false
	for _, n := range names {
		switch n {
		case "emulator":
		case "random", "stampede", "locality":
			needBinary = true
		default:
			sc, err := testnet.LookupScenario(n)
			if err != nil {
				fmt.Fprintln(stderr, err)
				return 2
			}
			scenarios = append(scenarios, sc)
			needBinary = true
		}
	}
	if *script != "" {
		b, err := os.ReadFile(*script)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 2
		}
		name := strings.TrimSuffix(filepath.Base(*script), filepath.Ext(*script))
		scenarios = append(scenarios, testnet.Scenario{Name: name, Script: string(b)})
		names = append(names, name)
		needBinary = true
	}
	for _, sc := range scenarios {
		if _, err := testnet.ParseScript(sc.Script); err != nil {
			fmt.Fprintln(stderr, err)
			return 2
		}
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if needBinary && *bin == "" {
		p, err := filepath.Abs(filepath.Join(*out, "bin", "geocache"))
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		fmt.Fprintf(stderr, "== building geocache into %s\n", p)
		cmd := exec.CommandContext(ctx, "go", "build", "-o", p, "github.com/geocache/geocache/cmd/geocache")
		cmd.Stdout, cmd.Stderr = stderr, stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(stderr, "testnet: building geocache:", err)
			return 1
		}
		*bin = p
	}
	ports, err := parsePorts(*portsFlag)
	if err != nil {
		fmt.Fprintln(stderr, "testnet: --ports:", err)
		return 2
	}
	rc := testnet.RunConfig{Binary: *bin, Ports: ports, Matrix: m, Regions: *regions, NodesPerRegion: *nodes, Seed: *seed,
		Workload: testnet.WorkloadConfig{Rate: *rate, Keys: *keys, ClientsPerNode: *clients}, LogLevel: *logLevel,
		ConvergeTimeout: *converge, Progress: stderr}

	failed := false
	var results []*testnet.Result
	var tables []func() // measurement tables printed after the summary
	for _, n := range names {
		if ctx.Err() != nil {
			break
		}
		dir := filepath.Join(*out, n)
		switch n {
		case "emulator":
			fmt.Fprintln(stderr, "== emulator: measuring requested vs measured one-way delay")
			delays := []time.Duration{0, time.Millisecond, 5 * time.Millisecond, 34 * time.Millisecond,
				85 * time.Millisecond, 106500 * time.Microsecond, 163 * time.Millisecond}
			interval := 5 * time.Millisecond
			rows, err := testnet.MeasureAccuracy(delays, *accN, interval, stderr)
			if err != nil {
				fmt.Fprintln(stderr, err)
				failed = true
				continue
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				fmt.Fprintln(stderr, err)
				return 1
			}
			f, err := os.Create(filepath.Join(dir, "report.md"))
			if err != nil {
				fmt.Fprintln(stderr, err)
				return 1
			}
			testnet.WriteAccuracy(f, command, rows, *accN, interval)
			f.Close()
			testnet.WriteAccuracy(stdout, command, rows, *accN, interval)
		case "stampede":
			rcs := rc
			rcs.Out = dir
			sr, err := testnet.RunStampede(ctx, rcs, testnet.StampedeConfig{Keys: *stKeys, Callers: *stCallers,
				Service: *stService, NoBaseline: *stNoBase})
			if err != nil {
				fmt.Fprintf(stderr, "testnet: stampede: %v\n", err)
				failed = true
			}
			if sr == nil {
				continue
			}
			if err := testnet.WriteStampedeReport(dir, command, sr); err != nil {
				fmt.Fprintln(stderr, err)
			}
			if !sr.Passed() {
				failed = true
			}
			results = append(results, testnet.StampedeSummary(sr))
			tables = append(tables, func() { testnet.StampedeTable(stdout, sr) })
			fmt.Fprintf(stderr, "== stampede done: report %s\n", filepath.Join(dir, "report.md"))
		case "locality":
			rcl := rc
			rcl.Out = dir
			lr, err := testnet.RunLocality(ctx, rcl, testnet.LocalityConfig{ClientsPerRegion: *locClients, Phase: *locPhase})
			if err != nil {
				fmt.Fprintf(stderr, "testnet: locality: %v\n", err)
				failed = true
			}
			if lr == nil {
				continue
			}
			if err := testnet.WriteLocalityReport(dir, command, lr); err != nil {
				fmt.Fprintln(stderr, err)
			}
			if !lr.Passed() {
				failed = true
				for _, f := range lr.Failures {
					fmt.Fprintf(stderr, "  locality: %s\n", f)
				}
			}
			results = append(results, testnet.LocalitySummary(lr))
			tables = append(tables, func() { testnet.LocalityTable(stdout, lr) })
			fmt.Fprintf(stderr, "== locality done: report %s\n", filepath.Join(dir, "report.md"))
		case "random":
			rcr := rc
			rcr.Out = dir
			seeds := testnet.Seeds(*seed, *runs)
			if *seedList != "" {
				seeds = nil
				for _, f := range strings.Split(*seedList, ",") {
					v, err := strconv.ParseUint(strings.TrimSpace(f), 10, 64)
					if err != nil {
						fmt.Fprintf(stderr, "testnet: --seeds: %q is not a seed\n", f)
						return 2
					}
					seeds = append(seeds, v)
				}
			}
			start := time.Now()
			passed := 0
			rr, err := testnet.RunRandom(ctx, rcr, seeds, func(i int, r testnet.RandomRun) {
				status := "error"
				if r.Result != nil {
					status = fmt.Sprintf("%d violations, %d ops, converged in %.0f ms", len(r.Result.Check.Violations),
						r.Result.Ops, float64(r.Result.Convergence.Microseconds())/1000)
					if r.Result.Passed() {
						passed++
					}
					if r.Result.Err != "" {
						status += " (" + r.Result.Err + ")"
					}
				}
				el := time.Since(start)
				eta := time.Duration(float64(el) / float64(i+1) * float64(len(seeds)-i-1))
				fmt.Fprintf(stderr, "  run %d/%d seed %d: %s | %d/%d passed | elapsed %v, eta %v\n", i+1, len(seeds), r.Seed,
					status, passed, i+1, el.Round(time.Second), eta.Round(time.Second))
			})
			if err := os.MkdirAll(dir, 0o755); err == nil {
				if f, err := os.Create(filepath.Join(dir, "report.md")); err == nil {
					testnet.WriteRandomReport(f, command, rr, time.Since(start))
					f.Close()
				}
			}
			if err != nil {
				fmt.Fprintln(stderr, "testnet: random:", err)
				failed = true
			}
			for _, r := range rr {
				if r.Result == nil || !r.Result.Passed() {
					failed = true
				}
			}
			var failedSeeds []string
			for _, r := range rr {
				if r.Result == nil || !r.Result.Passed() {
					failedSeeds = append(failedSeeds, strconv.FormatUint(r.Seed, 10))
				}
			}
			fmt.Fprintf(stdout, "random: %d runs, %d passed; failed seeds: [%s]; report %s\n", len(rr), passed,
				strings.Join(failedSeeds, ","), filepath.Join(dir, "report.md"))
		default:
			var sc testnet.Scenario
			for _, s := range scenarios {
				if s.Name == n {
					sc = s
				}
			}
			rcs := rc
			rcs.Out = dir
			res, err := testnet.RunScenario(ctx, rcs, sc)
			if err != nil {
				fmt.Fprintf(stderr, "testnet: %s: %v\n", n, err)
				failed = true
			}
			if res == nil {
				continue
			}
			if err := testnet.WriteReport(dir, command, res); err != nil {
				fmt.Fprintln(stderr, err)
			}
			results = append(results, res)
			if !res.Passed() {
				failed = true
				for i, v := range res.Check.Violations {
					if i == 5 {
						break
					}
					fmt.Fprintf(stderr, "  violation: %s\n", v.String())
				}
			}
			fmt.Fprintf(stderr, "== %s done: report %s\n", n, filepath.Join(dir, "report.md"))
		}
	}
	if len(results) > 0 {
		testnet.SummaryTable(stdout, results)
	}
	for _, t := range tables {
		t()
	}
	if failed {
		return 1
	}
	return 0
}

// parsePorts reads --ports: "P2P,RESP,HTTP", three distinct ports.
func parsePorts(v string) (testnet.Ports, error) {
	parts := strings.Split(v, ",")
	if len(parts) != 3 {
		return testnet.Ports{}, fmt.Errorf("want three comma-separated ports (libp2p,RESP,HTTP), got %q", v)
	}
	var ps [3]uint16
	for i, p := range parts {
		n, err := strconv.ParseUint(strings.TrimSpace(p), 10, 16)
		if err != nil || n == 0 {
			return testnet.Ports{}, fmt.Errorf("%q is not a port (1-65535)", p)
		}
		ps[i] = uint16(n)
	}
	if ps[0] == ps[1] || ps[0] == ps[2] || ps[1] == ps[2] {
		return testnet.Ports{}, fmt.Errorf("the three ports must differ, got %q", v)
	}
	return testnet.Ports{P2P: ps[0], RESP: ps[1], HTTP: ps[2]}, nil
}
