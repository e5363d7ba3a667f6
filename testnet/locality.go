package testnet

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/geocache/geocache/client"
)

// The locality scenario: clients in every region use the client package (client.New with every
// node's HTTP address as seeds) over connections that cross the WAN emulator with their region's
// delay to each node. They GET preloaded keys at a steady rate. While healthy they must be served
// by their own region's node at local latency; then one region's node is killed with SIGKILL:
// its clients must move to the next nearest node (WAN latency) and, after the node restarts,
// come back to it.

// LocalityConfig configures RunLocality. Zero fields select the defaults in comments.
type LocalityConfig struct {
	// ClientsPerRegion is the number of client.Client instances per region. Default 2.
	ClientsPerRegion int `json:"clients_per_region"`
	// Rate is each client's GETs per second. Default 50.
	Rate float64 `json:"rate"`
	// Phase is the length of the healthy phase, of the down phase, and of the phase measured
	// after the clients failed back. Default 8 s.
	Phase time.Duration `json:"phase_ns"`
	// Victim is the index of the region whose node is killed. Default (and for 0) 1: the first
	// region's node stays up.
	Victim int `json:"victim"`
	// Keys is the number of keys written before the clients start. Default 32.
	Keys int `json:"keys"`
	// FailbackTimeout bounds the wait for every client to fail back after the restart.
	// Default 40 s.
	FailbackTimeout time.Duration `json:"failback_timeout_ns"`
}

func (c LocalityConfig) withDefaults() LocalityConfig {
	if c.ClientsPerRegion <= 0 {
		c.ClientsPerRegion = 2
	}
	if c.Rate <= 0 {
		c.Rate = 50
	}
	if c.Phase <= 0 {
		c.Phase = 8 * time.Second
	}
	if c.Victim <= 0 {
		c.Victim = 1
	}
	if c.Keys <= 0 {
		c.Keys = 32
	}
	if c.FailbackTimeout <= 0 {
		c.FailbackTimeout = 40 * time.Second
	}
	return c
}

// locSample is one GET of one client.
type locSample struct {
	At   time.Time
	Lat  time.Duration
	Node string // the node that answered ("" if the call failed)
	Err  string
}

// LatencyStats summarises GET latencies.
type LatencyStats struct {
	Calls      int           `json:"calls"`
	Failed     int           `json:"failed"`
	LocalShare float64       `json:"local_share"` // answered by the client's own region's node
	P50        time.Duration `json:"p50_ns"`
	P99        time.Duration `json:"p99_ns"`
	Max        time.Duration `json:"max_ns"`
	Nodes      []string      `json:"served_by"` // nodes that answered, most calls first
}

// LocalityRegion is one region's clients over the phases.
type LocalityRegion struct {
	Region     string        `json:"region"`
	WANMs      float64       `json:"nearest_wan_rtt_ms"` // RTT to the nearest other region
	Healthy    LatencyStats  `json:"healthy"`
	Down       LatencyStats  `json:"victim_down"` // while the victim's node was down
	After      LatencyStats  `json:"after_failback"`
	LimitP99   time.Duration `json:"healthy_p99_limit_ns"`
	HealthyMet bool          `json:"healthy_p99_local"`
}

// LocalityResult is the whole scenario.
type LocalityResult struct {
	Config        LocalityConfig         `json:"config"`
	Victim        string                 `json:"victim_node"`
	VictimRegion  string                 `json:"victim_region"`
	NextNearest   string                 `json:"next_nearest_region"`
	Regions       []LocalityRegion       `json:"regions"`
	Recovery      []time.Duration        `json:"recovery_ns"`         // per victim client: kill -> first success elsewhere
	RecoveryFails []int                  `json:"recovery_failed"`     // per victim client: failed GETs until then
	Failback      []time.Duration        `json:"failback_ns"`         // per victim client: node answering again -> served by it
	FailbackIssue []time.Duration        `json:"failback_restart_ns"` // the same from the restart command
	Restart       time.Duration          `json:"restart_ns"`          // restart command -> node answering
	Start, End    time.Time              `json:"-"`
	Kill, Up      time.Time              `json:"-"`
	Refused       uint64                 `json:"client_dials_refused"`
	Audit         ConnAudit              `json:"audit"`
	Failures      []string               `json:"failures,omitempty"`
	Err           string                 `json:"error,omitempty"`
	Load          string                 `json:"machine"`
	Events        []Event                `json:"-"`
	samples       map[string][]locSample // by client name
	regionOf      map[string]string      // client name -> region
}

// Passed reports whether the scenario's claims held: local latency while healthy, recovery on
// another node and failback, and no connection around the emulator.
func (r *LocalityResult) Passed() bool { return r.Err == "" && len(r.Failures) == 0 }

// RunLocality starts a network, runs the locality scenario and returns the measurement. The error
// means the run could not complete; broken claims are in Failures.
func RunLocality(ctx context.Context, rc RunConfig, lc LocalityConfig) (*LocalityResult, error) {
	rc = rc.withDefaults()
	lc = lc.withDefaults()
	res := &LocalityResult{Config: lc, Start: time.Now(), samples: map[string][]locSample{}, regionOf: map[string]string{}}
	fmt.Fprintf(rc.Progress, "== locality: starting %d regions x %d nodes\n", max(rc.Regions, 1), max(rc.NodesPerRegion, 1))
	c, err := StartCluster(ctx, ClusterConfig{Binary: rc.Binary, Ports: rc.Ports, Dir: rc.Out + "/nodes", Matrix: rc.Matrix,
		Regions: rc.Regions, NodesPerRegion: rc.NodesPerRegion, LogLevel: rc.LogLevel, Progress: rc.Progress})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	firstEvent := len(c.Log.Events())
	m := c.Matrix()
	if lc.Victim >= len(m.Regions) {
		return nil, fmt.Errorf("testnet: locality: victim region %d of %d", lc.Victim, len(m.Regions))
	}
	victim, err := c.Node(m.Regions[lc.Victim].Name)
	if err != nil {
		return nil, err
	}
	res.Victim, res.VictimRegion = victim.Name, victim.Region
	res.NextNearest = nearestOther(m, victim.Region)
	cn, err := NewClientNet(c)
	if err != nil {
		return nil, err
	}
	if err := waitHealthyMesh(ctx, c, 60*time.Second); err != nil {
		return nil, err
	}
	keys, err := seedKeys(ctx, c, cn, lc.Keys)
	if err != nil {
		return nil, err
	}

	// Clients: every one is a client.Client seeded with every node's HTTP address, dialling
	// through its region's routes only.
	var seeds []string
	for _, n := range c.Nodes {
		seeds = append(seeds, n.HTTP())
	}
	logf, err := os.Create(filepath.Join(rc.Out, "clients.log"))
	if err != nil {
		if err = os.MkdirAll(rc.Out, 0o755); err == nil {
			logf, err = os.Create(filepath.Join(rc.Out, "clients.log"))
		}
		if err != nil {
			return nil, err
		}
	}
	defer logf.Close()
	var logMu sync.Mutex
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: logf, mu: &logMu}, nil))
	type running struct {
		name, region string
		cl           *client.Client
	}
	var clients []running
	defer func() {
		for _, cl := range clients {
			cl.cl.Close()
		}
	}()
	for _, r := range m.Regions {
		for i := range lc.ClientsPerRegion {
			name := fmt.Sprintf("%s/c%d", r.Name, i)
			cfg := client.Config{Seeds: seeds, Dialer: cn.Dialer(r.Name), HTTPClient: cn.HTTPClient(r.Name),
				Logger: logger.With("client", name)}
			nctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			cl, err := client.New(nctx, cfg)
			cancel()
			if err != nil {
				return nil, fmt.Errorf("testnet: locality: client %s: %w", name, err)
			}
			clients = append(clients, running{name, r.Name, cl})
			res.regionOf[name] = r.Name
		}
	}
	// Every client must settle on its own region's node before measuring (probes need a few
	// rounds; that it happens at all is part of the claim).
	settle := time.Now().Add(20 * time.Second)
	for _, cl := range clients {
		own, _ := c.Node(cl.region)
		for cl.cl.Current().RESP != own.RESP() {
			if time.Now().After(settle) {
				res.Failures = append(res.Failures, fmt.Sprintf("client %s never chose its region's node (uses %s)",
					cl.name, cl.cl.Current().Region))
				break
			}
			if err := sleepCtx(ctx, 50*time.Millisecond); err != nil {
				return nil, err
			}
		}
	}

	var mu sync.Mutex
	lctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for i, cl := range clients {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(rc.Seed, uint64(i)))
			t := time.NewTicker(time.Duration(float64(time.Second) / lc.Rate))
			defer t.Stop()
			for {
				select {
				case <-lctx.Done():
					return
				case <-t.C:
				}
				key := keys[rng.IntN(len(keys))]
				var addr string
				t0 := time.Now()
				cctx, cancel := context.WithTimeout(lctx, 3*time.Second)
				err := cl.cl.Do(cctx, func(ctx context.Context, rdb *redis.Client) error {
					addr = rdb.Options().Addr
					return rdb.Get(ctx, key).Err()
				})
				cancel()
				s := locSample{At: t0, Lat: time.Since(t0)}
				if err != nil {
					if lctx.Err() != nil {
						return
					}
					s.Err = err.Error()
				} else {
					s.Node, _ = cn.RegionOf(addr)
				}
				mu.Lock()
				res.samples[cl.name] = append(res.samples[cl.name], s)
				mu.Unlock()
			}
		})
	}
	progress := func(what string) {
		fmt.Fprintf(rc.Progress, "  [%6.1fs] locality: %s\n", time.Since(res.Start).Seconds(), what)
	}

	runErr := func() error {
		c.Log.add("mark", "healthy")
		progress("healthy phase")
		if err := sleepCtx(ctx, lc.Phase); err != nil {
			return err
		}
		progress("kill -9 " + victim.Name)
		res.Kill = time.Now()
		if err := c.Kill(victim.Name); err != nil {
			return err
		}
		if err := sleepCtx(ctx, lc.Phase); err != nil {
			return err
		}
		progress("restart " + victim.Name)
		restartAt := time.Now()
		if err := c.Restart(ctx, victim.Name, nil); err != nil {
			return err
		}
		res.Up = time.Now()
		res.Restart = res.Up.Sub(restartAt)
		// Wait until every victim-region client is served by its node again, then measure.
		deadline := time.Now().Add(lc.FailbackTimeout)
		for !allFailedBack(res, &mu, victim.Name) {
			if time.Now().After(deadline) {
				break
			}
			if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
				return err
			}
		}
		progress("failed back; measuring")
		return sleepCtx(ctx, lc.Phase)
	}()
	stop()
	wg.Wait()
	res.End = time.Now()
	res.Events = c.Log.Events()[firstEvent:]
	res.Refused = cn.Refused()
	res.Load = machineLoad()
	a, aerr := c.Audit()
	res.Audit = a
	if aerr != nil {
		res.Failures = append(res.Failures, "audit: "+aerr.Error())
	}
	if runErr != nil {
		res.Err = runErr.Error()
		return res, runErr
	}
	res.analyse(m, c)
	return res, nil
}

// lockedWriter serialises writes of several slog handlers to one file.
type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// nearestOther is the region with the smallest RTT from region.
func nearestOther(m Matrix, region string) string {
	best, bestRTT := "", time.Duration(-1)
	for _, r := range m.Regions {
		if r.Name == region {
			continue
		}
		if d := m.RTT(region, r.Name); bestRTT < 0 || d < bestRTT {
			best, bestRTT = r.Name, d
		}
	}
	return best
}

// seedKeys writes n keys through region 0's routes and waits until every node holds them, so
// that the clients' GETs are local hits (the latency measured is the path, not a read-through).
func seedKeys(ctx context.Context, c *Cluster, cn *ClientNet, n int) ([]string, error) {
	first := c.Nodes[0]
	conn, err := cn.Dialer(first.Region)(ctx, "tcp", first.RESP())
	if err != nil {
		return nil, err
	}
	rc := newRESPConn(conn)
	defer rc.Close()
	tag := fmt.Sprint(rand.Uint64() % 1e9)
	var keys []string
	for i := range n {
		k := fmt.Sprintf("loc/%s/%d", tag, i)
		if rep, err := rc.do(time.Now().Add(5*time.Second), "SET", k, "v"+k); err != nil || rep.err() != nil {
			return nil, fmt.Errorf("testnet: locality: seeding %s: %v %v", k, err, rep.err())
		}
		keys = append(keys, k)
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, node := range c.Nodes {
		for {
			d, err := c.Dump(ctx, node)
			if err == nil && holdsKeys(d, keys) {
				break
			}
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("testnet: locality: %s does not hold the seeded keys", node.Name)
			}
			if err := sleepCtx(ctx, 50*time.Millisecond); err != nil {
				return nil, err
			}
		}
	}
	return keys, nil
}

func holdsKeys(d NodeDump, keys []string) bool {
	for _, k := range keys {
		if _, ok := d.Regs[k]; !ok {
			return false
		}
	}
	return true
}

// allFailedBack reports whether every client of the victim's region was served by the victim
// after it came back.
func allFailedBack(r *LocalityResult, mu *sync.Mutex, victim string) bool {
	mu.Lock()
	defer mu.Unlock()
	for name, region := range r.regionOf {
		if region != r.VictimRegion {
			continue
		}
		ok := false
		for _, s := range slices.Backward(r.samples[name]) {
			if s.At.Before(r.Up) {
				break
			}
			if s.Node == victim {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// analyse computes the per-region statistics and judges the claims.
func (r *LocalityResult) analyse(m Matrix, c *Cluster) {
	ownNode := map[string]string{}
	for _, n := range c.Nodes {
		if _, ok := ownNode[n.Region]; !ok {
			ownNode[n.Region] = n.Name
		}
	}
	healthyEnd := r.Kill
	for _, reg := range m.Regions {
		lr := LocalityRegion{Region: reg.Name, WANMs: ms(m.RTT(reg.Name, nearestOther(m, reg.Name)))}
		lr.LimitP99 = m.RTT(reg.Name, nearestOther(m, reg.Name)) / 2
		var healthy, down, after []locSample
		for name, region := range r.regionOf {
			if region != reg.Name {
				continue
			}
			ss := r.samples[name]
			var back time.Time // this client's failback (victim region) or the restart
			for _, s := range ss {
				if !s.At.Before(r.Up) && (region != r.VictimRegion || s.Node == ownNode[region]) {
					back = s.At
					break
				}
			}
			for _, s := range ss {
				switch {
				case s.At.Before(healthyEnd):
					healthy = append(healthy, s)
				case s.At.Before(r.Up):
					down = append(down, s)
				case !back.IsZero() && !s.At.Before(back):
					after = append(after, s)
				}
			}
		}
		lr.Healthy = latencyStats(healthy, ownNode[reg.Name])
		lr.Down = latencyStats(down, ownNode[reg.Name])
		lr.After = latencyStats(after, ownNode[reg.Name])
		lr.HealthyMet = lr.Healthy.Calls > 0 && lr.Healthy.P99 < lr.LimitP99
		if !lr.HealthyMet {
			r.Failures = append(r.Failures, fmt.Sprintf("%s: healthy p99 %.1f ms is not below %.1f ms (half the RTT to the nearest other region): not local",
				reg.Name, ms(lr.Healthy.P99), ms(lr.LimitP99)))
		}
		r.Regions = append(r.Regions, lr)
	}
	for name, region := range r.regionOf {
		if region != r.VictimRegion {
			continue
		}
		rec, fails := time.Duration(-1), 0
		for _, s := range r.samples[name] {
			if s.At.Before(r.Kill) {
				continue
			}
			if s.Err != "" {
				fails++
				continue
			}
			if s.Node != r.Victim {
				rec = s.At.Add(s.Lat).Sub(r.Kill)
				break
			}
		}
		r.Recovery = append(r.Recovery, rec)
		r.RecoveryFails = append(r.RecoveryFails, fails)
		if rec < 0 || rec > r.Up.Sub(r.Kill) {
			r.Failures = append(r.Failures, fmt.Sprintf("client %s did not succeed on another node while %s was down", name, r.Victim))
		}
		fb, fbIssue := time.Duration(-1), time.Duration(-1)
		for _, s := range r.samples[name] {
			if !s.At.Before(r.Up) && s.Node == r.Victim {
				fb = s.At.Add(s.Lat).Sub(r.Up)
				fbIssue = fb + r.Restart
				break
			}
		}
		r.Failback = append(r.Failback, fb)
		r.FailbackIssue = append(r.FailbackIssue, fbIssue)
		if fb < 0 {
			r.Failures = append(r.Failures, fmt.Sprintf("client %s never failed back to %s after its restart", name, r.Victim))
		}
	}
	if r.Refused > 0 {
		r.Failures = append(r.Failures, fmt.Sprintf("%d client dials to addresses the emulator does not carry", r.Refused))
	}
	if len(r.Audit.Bypasses) > 0 {
		r.Failures = append(r.Failures, fmt.Sprintf("%d node-to-node connections around the emulator", len(r.Audit.Bypasses)))
	}
}

func latencyStats(ss []locSample, own string) LatencyStats {
	st := LatencyStats{Calls: len(ss)}
	var lat []time.Duration
	by := map[string]int{}
	local := 0
	for _, s := range ss {
		if s.Err != "" {
			st.Failed++
			continue
		}
		lat = append(lat, s.Lat)
		by[s.Node]++
		if s.Node == own {
			local++
		}
	}
	slices.Sort(lat)
	st.P50, st.P99 = percentile(lat, 50), percentile(lat, 99)
	if len(lat) > 0 {
		st.Max = lat[len(lat)-1]
		st.LocalShare = float64(local) / float64(len(lat))
	}
	for n := range by {
		st.Nodes = append(st.Nodes, n)
	}
	slices.SortFunc(st.Nodes, func(a, b string) int { return by[b] - by[a] })
	return st
}

func durs(ds []time.Duration) string {
	var parts []string
	for _, d := range ds {
		if d < 0 {
			parts = append(parts, "never")
		} else {
			parts = append(parts, fmt.Sprintf("%.0f ms", ms(d)))
		}
	}
	return strings.Join(parts, ", ")
}

func maxDur(ds []time.Duration) time.Duration {
	m := time.Duration(0)
	for _, d := range ds {
		if d < 0 {
			return -1
		}
		m = max(m, d)
	}
	return m
}

// WriteLocalityReport writes dir/report.md, dir/latency.svg and dir/summary.json.
func WriteLocalityReport(dir, command string, r *LocalityResult) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, "summary.json"), func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Passed bool `json:"passed"`
			*LocalityResult
		}{r.Passed(), r})
	}); err != nil {
		return err
	}
	hasChart := len(r.samples) > 0
	if hasChart {
		if err := writeFile(filepath.Join(dir, "latency.svg"), func(w io.Writer) error { return localityChart(r).write(w) }); err != nil {
			return err
		}
	}
	return writeFile(filepath.Join(dir, "report.md"), func(w io.Writer) error {
		p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
		p("# Scenario `locality`: %s\n\n", verdict(r.Passed()))
		p("Clients in every region (%d per region, `client.New` seeded with every node's HTTP address, default client configuration) GET preloaded keys at %.0f/s each. Every client connection (RESP and member list) crosses the WAN emulator with the one-way delay from the client's region to the node's region (the intra-region delay to its own region's node); the clients' Dialer refuses any address that is not a node's. Healthy for %v, then `%s` is killed with SIGKILL for %v and restarted; after its clients fail back, %v more are measured.\n\n",
			r.Config.ClientsPerRegion, r.Config.Rate, r.Config.Phase, r.Victim, r.Config.Phase, r.Config.Phase)
		p("- command: `%s`\n- run: %s, %.1f s\n", command, r.Start.UTC().Format(time.RFC3339), r.End.Sub(r.Start).Seconds())
		if r.Load != "" {
			p("- machine at the end of the run: %s\n", r.Load)
		}
		if r.Err != "" {
			p("- **error**: %s\n", r.Err)
		}
		p("- emulator bypasses: %d node-to-node; client dials refused: %d\n", len(r.Audit.Bypasses), r.Refused)
		for _, f := range r.Failures {
			p("- **failed**: %s\n", f)
		}
		p("\n## GET latency per region (ms)\n\nLocal share: calls answered by the client's own region's node. The healthy p99 must be below half the RTT to the nearest other region (the limit column): local, not WAN.\n\n")
		p("| region | phase | calls | failed | local share | p50 | p99 | max | served by | limit |\n|---|---|---|---|---|---|---|---|---|---|\n")
		for _, lr := range r.Regions {
			for _, ph := range []struct {
				name string
				st   LatencyStats
			}{{"healthy", lr.Healthy}, {r.Victim + " down", lr.Down}, {"after failback", lr.After}} {
				limit := ""
				if ph.name == "healthy" {
					limit = fmt.Sprintf("%.1f (%s)", ms(lr.LimitP99), yesNo(lr.HealthyMet))
				}
				p("| %s | %s | %d | %d | %.1f%% | %.2f | %.2f | %.2f | %s | %s |\n", lr.Region, ph.name, ph.st.Calls, ph.st.Failed,
					100*ph.st.LocalShare, ms(ph.st.P50), ms(ph.st.P99), ms(ph.st.Max), strings.Join(ph.st.Nodes, " "), limit)
			}
		}
		p("\n## Failover and failback of %s's clients\n\n", r.VictimRegion)
		p("| measure | per client |\n|---|---|\n")
		p("| kill → first GET answered by another node (the nearest other region is %s) | %s |\n", r.NextNearest, durs(r.Recovery))
		p("| failed GETs in between | %v |\n", r.RecoveryFails)
		p("| restart command → node answering /v1/members | %.0f ms |\n", ms(r.Restart))
		p("| node answering → first GET answered by it again | %s |\n", durs(r.Failback))
		p("| restart command → first GET answered by it again | %s |\n", durs(r.FailbackIssue))
		if hasChart {
			p("\n![latency](latency.svg)\n")
		}
		p("\n## Events\n\n| t (s) | event | target |\n|---|---|---|\n")
		for _, e := range r.Events {
			p("| %.2f | %s | %s |\n", e.At.Sub(r.Start).Seconds(), e.Kind, e.Target)
		}
		p("\nClient switches are logged in `clients.log`.\n")
		return nil
	})
}

// localityChart plots, per region, the slowest GET of every 250 ms, with the victim's downtime
// shaded.
func localityChart(r *LocalityResult) *chart {
	c := &chart{title: "GET latency per region (locality)", note: "slowest GET per 250 ms window, per client region; shaded: " + r.Victim + " down",
		xLabel: "seconds since start", yLabel: "ms", w: 1000, h: 440}
	const win = 250 * time.Millisecond
	for i, reg := range r.Regions {
		buckets := map[int64]time.Duration{}
		for name, region := range r.regionOf {
			if region != reg.Region {
				continue
			}
			for _, s := range r.samples[name] {
				if s.Err != "" {
					continue
				}
				b := int64(s.At.Sub(r.Start) / win)
				buckets[b] = max(buckets[b], s.Lat)
			}
		}
		var ks []int64
		for k := range buckets {
			ks = append(ks, k)
		}
		slices.Sort(ks)
		s := series{name: "clients in " + reg.Region, color: palette[i%len(palette)]}
		for _, k := range ks {
			x := (time.Duration(k) * win).Seconds()
			s.pts = append(s.pts, point{x, ms(buckets[k])})
			c.xMax = max(c.xMax, x)
			c.yMax = max(c.yMax, ms(buckets[k])*1.1)
		}
		c.series = append(c.series, s)
	}
	if !r.Kill.IsZero() && !r.Up.IsZero() {
		c.bands = append(c.bands, band{r.Kill.Sub(r.Start).Seconds(), r.Up.Sub(r.Start).Seconds(), r.Victim + " down", "#bababa"})
	}
	return c
}

// LocalitySummary is the scenario's line for the summary table.
func LocalitySummary(r *LocalityResult) *Result {
	out := &Result{Scenario: "locality", Start: r.Start, End: r.End, Converged: true, Err: r.Err, Audit: r.Audit}
	if !r.Passed() && out.Err == "" {
		out.Err = strings.Join(r.Failures, "; ")
	}
	for _, lr := range r.Regions {
		out.Measures = append(out.Measures, Measure{Name: "healthy p99 " + lr.Region, Value: lr.Healthy.P99})
	}
	out.Measures = append(out.Measures, Measure{Name: "failover " + r.VictimRegion + " (max)", Value: maxDur(r.Recovery)},
		Measure{Name: "failback " + r.VictimRegion + " (max)", Value: maxDur(r.Failback)})
	return out
}

// LocalityTable writes the scenario's key figures, for the terminal.
func LocalityTable(w io.Writer, r *LocalityResult) {
	fmt.Fprintf(w, "\nlocality: %s killed and restarted\n", r.Victim)
	for _, lr := range r.Regions {
		fmt.Fprintf(w, "  %-13s healthy p50 %.2f p99 %.2f ms (local %.0f%%) | %s down: p50 %.2f p99 %.2f ms via %s | after: p50 %.2f p99 %.2f ms\n",
			lr.Region, ms(lr.Healthy.P50), ms(lr.Healthy.P99), 100*lr.Healthy.LocalShare, r.Victim, ms(lr.Down.P50), ms(lr.Down.P99),
			strings.Join(lr.Down.Nodes, "+"), ms(lr.After.P50), ms(lr.After.P99))
	}
	fmt.Fprintf(w, "  %s clients: failover %s; failback after the node answered %s (restart took %.0f ms)\n",
		r.VictimRegion, durs(r.Recovery), durs(r.Failback), ms(r.Restart))
}
