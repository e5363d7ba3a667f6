package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestGeobenchRuns runs the harness on a tiny input: every row and the flood, both sides. It
// checks that the tool works (processes start, the cluster meshes, every row measures both
// sides, peaks are read), not the speed: benchmarks are not timed tests. Without redis-server
// it skips, unless GEOCACHE_REQUIRE_REDIS=1 (CI), which makes it run.
func TestGeobenchRuns(t *testing.T) {
	for _, bin := range []string{"redis-server", "redis-benchmark"} {
		if _, err := exec.LookPath(bin); err != nil {
			if os.Getenv("GEOCACHE_REQUIRE_REDIS") == "1" {
				t.Fatalf("%s not found and GEOCACHE_REQUIRE_REDIS=1", bin)
			}
			t.Skipf("%s not installed", bin)
		}
	}
	dir := t.TempDir()
	geo := filepath.Join(dir, "geocache")
	if b, err := exec.Command("go", "build", "-o", geo, "github.com/geocache/geocache/cmd/geocache").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	cfg, err := parseFlags([]string{"--geocache", geo, "--dir", filepath.Join(dir, "run"), "--rounds", "2", "-n", "2000",
		"-c", "10", "--keyspace", "100", "--flood-n", "20000",
		"--lag-rates", "1000", "--lag-duration", "300ms",
		"--perkey-n", "2000", "--perkey-max-memory-mib", "256",
		"--soak-duration", "2s", "--soak-sample", "250ms", "--soak-rate", "1000", "--soak-keyspace", "1000",
		"--soak-ttl-min", "1s", "--soak-ttl-max", "1s", "--soak-settle", "0s"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ports = freePorts(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var out, log bytes.Buffer
	rep, err := run(ctx, cfg, &out, &log)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if len(rep.rows) != len(rows(cfg)) {
		t.Fatalf("%d rows measured, want %d", len(rep.rows), len(rows(cfg)))
	}
	for _, r := range rep.rows {
		if len(r.redis) != 2 || len(r.geo) != 2 {
			t.Errorf("%s: %d redis and %d geocache rounds, want 2 each", r.row.name, len(r.redis), len(r.geo))
		}
		for _, s := range append(append([]sample{}, r.redis...), r.geo...) {
			if s.rps <= 0 {
				t.Errorf("%s: a round measured %v requests/s", r.row.name, s.rps)
			}
		}
		if !strings.Contains(out.String(), "| "+r.row.name+" |") {
			t.Errorf("report lacks row %s", r.row.name)
		}
	}
	if !strings.Contains(out.String(), "SET -P 16 as a share of standalone redis-server") {
		t.Errorf("report lacks the share of standalone kept while replicating (set-p16 and set-p16-repl both ran)")
	}
	if len(rep.lag) != 1 || len(rep.lag[0].redis) != 2 || len(rep.lag[0].geo) != 2 {
		t.Fatalf("lag rows: %+v", rep.lag)
	}
	for _, l := range append(append([]lagResult{}, rep.lag[0].redis...), rep.lag[0].geo...) {
		if l.probes == 0 || l.p50 <= 0 || l.p99 < l.p50 {
			t.Errorf("lag round: %+v", l)
		}
	}
	if len(rep.flood) != 8 {
		t.Fatalf("%d peak RSS figures, want 8 (4 redis, 4 geocache)", len(rep.flood))
	}
	for _, p := range rep.flood {
		if p.hwm < 1<<20 || p.hwm < p.rss {
			t.Errorf("%s %s: peak %d, now %d", p.side, p.role, p.hwm, p.rss)
		}
	}
	if len(rep.perKey) != 2 {
		t.Fatalf("per-key memory measured at %d value sizes, want 2 (32 and 100 bytes)", len(rep.perKey))
	}
	for _, r := range rep.perKey {
		if r.keys != 2000 || len(r.procs) != 8 {
			t.Errorf("per-key memory, %d-byte values: %d keys, %d processes; want 2000 and 8", r.valueSize, r.keys, len(r.procs))
		}
		for _, p := range r.procs {
			// 2000 keys of 48 bytes or more add at least ~96 KiB of data to every process.
			if p.before < 1<<20 || p.after <= p.before {
				t.Errorf("per-key memory, %d B, %s %s: RSS %d before, %d after", r.valueSize, p.side, p.role, p.before, p.after)
			}
		}
	}
	sk := rep.soak
	if sk == nil {
		t.Fatal("no soak result")
	}
	if len(sk.procs) != 6 || len(sk.samples) < 4 {
		t.Fatalf("soak: %d processes, %d samples; want 6 and at least 4 over 2 s at 250 ms", len(sk.procs), len(sk.samples))
	}
	for _, side := range []string{"redis", "geocache"} {
		// The load is paced at 1000 ops/s per side for 2 s.
		if sk.sent[side] < 1000 || sk.errs[side] != 0 {
			t.Errorf("soak, %s: %d commands answered, %d error replies", side, sk.sent[side], sk.errs[side])
		}
	}
	if sk.expired == 0 {
		t.Errorf("soak: keys never expired; left %v", sk.left)
	}
	for i, p := range sk.procs {
		st := sk.stats(i)
		if st.warm < 1<<20 || st.end < 1<<20 || sk.after.rss[i] < 1<<20 {
			t.Errorf("soak, %s %s: RSS warm %d, end %d, after %d", p.side, p.role, st.warm, st.end, sk.after.rss[i])
		}
		if p.side == "geocache" && (st.gorBefore < 1 || st.gorEnd < 1 || st.gorAfter < 1) {
			t.Errorf("soak, %s: goroutines %+v", p.role, st)
		}
	}
	for _, want := range []string{"load average", "Peak RSS", "misses-p16", "RSS per key beyond", "| 100 B | geocache | node b (receiver) |", "Soak:", "| geocache | node c (receiver) |"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

// freePorts finds a loopback port for every offset of the layout: the processes need their
// ports on the command line, so the kernel picks them (port 0) and we hand them over.
func freePorts(t *testing.T) map[int]int {
	t.Helper()
	ports := map[int]int{}
	var lns []net.Listener
	offs := []int{}
	for i := range 4 {
		offs = append(offs, offRedis+i, offGeoRESP+i, offGeoHTTP+i)
		if i < 3 {
			offs = append(offs, offGeoP2P+i)
		}
	}
	for _, off := range offs {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		ports[off] = ln.Addr().(*net.TCPAddr).Port
	}
	for _, ln := range lns {
		ln.Close()
	}
	return ports
}
