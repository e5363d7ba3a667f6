// Command benchcompare runs redis-benchmark against redis-server and a geocache binary in the
// same run, alternating between them round by round so that both see the same machine load, and
// prints the median throughput and latency of each case as a Markdown table.
//
// Usage:
//
//	go build -o /tmp/geocache ./cmd/geocache
//	go run ./node/resp/internal/benchcompare -geocache /tmp/geocache -rounds 5
package main

import (
	"encoding/csv"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"time"
)

// result is one redis-benchmark run: throughput, latency and the server's CPU time per request
// (user + system, from /proc), which the machine's other load disturbs far less than
// throughput.
type result struct{ rps, avg, p50, p99, cpuUs float64 }

func main() {
	bin := flag.String("geocache", "", "geocache binary (required)")
	rounds := flag.Int("rounds", 5, "rounds per case; medians are reported")
	requests := flag.Int("n", 200000, "requests per redis-benchmark run")
	clients := flag.Int("c", 50, "parallel clients")
	extra := flag.String("geocache-args", "", "extra geocache arguments")
	pipes := flag.String("pipelines", "1,16", "pipeline depths to run (-P), comma-separated")
	flag.Parse()
	if *bin == "" {
		log.Fatal("-geocache is required")
	}
	redisPort, geoPort := freePort(), freePort()
	redis := exec.Command("redis-server", "--port", strconv.Itoa(redisPort), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no")
	args := []string{"--resp-listen", "127.0.0.1:" + strconv.Itoa(geoPort), "--http-listen", "",
		"--p2p-listen", "", "--log-level", "warn"}
	if *extra != "" {
		args = append(args, strings.Fields(*extra)...)
	}
	geo := exec.Command(*bin, args...)
	geo.Stderr = os.Stderr
	for _, c := range []*exec.Cmd{redis, geo} {
		if err := c.Start(); err != nil {
			log.Fatal(err)
		}
		defer func(c *exec.Cmd) { c.Process.Kill(); c.Wait() }(c)
	}
	waitPort(redisPort)
	waitPort(geoPort)

	type key struct {
		server, test string
		pipeline     int
	}
	var pipelines []int
	for _, f := range strings.Split(*pipes, ",") {
		p, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || p < 1 {
			log.Fatalf("bad -pipelines %q", *pipes)
		}
		pipelines = append(pipelines, p)
	}
	results := map[key][]result{}
	for r := 0; r < *rounds; r++ {
		for _, p := range pipelines {
			for _, s := range []struct {
				name string
				port int
				pid  int
			}{{"redis", redisPort, redis.Process.Pid}, {"geocache", geoPort, geo.Process.Pid}} {
				for _, test := range []string{"set", "get"} {
					before := cpuTicks(s.pid)
					res := runBenchmark(s.port, *clients, *requests, p, test)
					res.cpuUs = float64(cpuTicks(s.pid)-before) * 1e6 / clockTicks / float64(*requests)
					k := key{s.name, strings.ToUpper(test), p}
					results[k] = append(results[k], res)
				}
			}
		}
	}
	out, _ := exec.Command("redis-server", "--version").Output()
	fmt.Printf("redis: %s", out)
	fmt.Printf("redis-benchmark -h 127.0.0.1 -p PORT -c %d -n %d -t get|set [-P 16] --csv; %d rounds alternating servers; medians\n\n",
		*clients, *requests, *rounds)
	fmt.Println("| test | pipeline | redis rps | geocache rps | ratio | redis p50 / p99 ms | geocache p50 / p99 ms | server CPU µs/req redis / geocache | CPU ratio redis/geocache |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	for _, p := range pipelines {
		for _, test := range []string{"SET", "GET"} {
			r := median(results[key{"redis", test, p}])
			g := median(results[key{"geocache", test, p}])
			fmt.Printf("| %s | %d | %.0f | %.0f | %.2f | %.3f / %.3f | %.3f / %.3f | %.2f / %.2f | %.2f |\n",
				test, p, r.rps, g.rps, g.rps/r.rps, r.p50, r.p99, g.p50, g.p99, r.cpuUs, g.cpuUs, r.cpuUs/g.cpuUs)
		}
	}
	fmt.Println()
	fmt.Println("all rounds (rps, CPU µs/req):")
	var lines []string
	for k, v := range results {
		var s []string
		for _, x := range v {
			s = append(s, fmt.Sprintf("%.0f/%.2f", x.rps, x.cpuUs))
		}
		lines = append(lines, fmt.Sprintf("  %-8s %s -P %-2d: %s", k.server, k.test, k.pipeline, strings.Join(s, " ")))
	}
	sort.Strings(lines)
	fmt.Println(strings.Join(lines, "\n"))
}

func runBenchmark(port, clients, n, pipeline int, test string) result {
	args := []string{"-h", "127.0.0.1", "-p", strconv.Itoa(port), "-c", strconv.Itoa(clients),
		"-n", strconv.Itoa(n), "-t", test, "--csv"}
	if pipeline > 1 {
		args = append(args, "-P", strconv.Itoa(pipeline))
	}
	out, err := exec.Command("redis-benchmark", args...).Output()
	if err != nil {
		log.Fatalf("redis-benchmark %v: %v", args, err)
	}
	rows, err := csv.NewReader(strings.NewReader(string(out))).ReadAll()
	if err != nil {
		log.Fatalf("parsing %q: %v", out, err)
	}
	if len(rows) != 2 {
		log.Fatalf("unexpected redis-benchmark output %q", out)
	}
	row := rows[1]
	f := func(i int) float64 { v, _ := strconv.ParseFloat(row[i], 64); return v }
	return result{rps: f(1), avg: f(2), p50: f(4), p99: f(6)}
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat times on Linux.
const clockTicks = 100

// cpuTicks is the user plus system CPU time of a process, in clock ticks.
func cpuTicks(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		log.Fatal(err)
	}
	// Fields after the command name, which is in parentheses and may contain spaces.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return utime + stime
}

// median takes the median of each field separately.
func median(rs []result) result {
	pick := func(get func(result) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = get(r)
		}
		sort.Float64s(v)
		if len(v) == 0 {
			return 0
		}
		return v[len(v)/2]
	}
	return result{
		rps:   pick(func(r result) float64 { return r.rps }),
		avg:   pick(func(r result) float64 { return r.avg }),
		p50:   pick(func(r result) float64 { return r.p50 }),
		p99:   pick(func(r result) float64 { return r.p99 }),
		cpuUs: pick(func(r result) float64 { return r.cpuUs }),
	}
}

func freePort() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func waitPort(port int) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			log.Fatalf("port %d not listening: %v", port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
