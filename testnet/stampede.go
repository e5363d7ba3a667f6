package testnet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The stampede measurement: nodes fill misses from an HTTP origin (--origin) that lives in one
// region behind the emulator; for each of K cold keys, C callers in every region send GET to
// their region's node at the same moment. It counts the origin requests per key (the design
// wants one per cluster) and measures the callers' latency per region; optionally again with
// --origin-dedup node (every node loads for itself: the baseline without the cluster lease).

// StampedeConfig configures RunStampede. Zero fields select the defaults in comments.
type StampedeConfig struct {
	// Keys is the number of cold keys measured per variant. Default 20.
	Keys int `json:"keys"`
	// Callers is the number of concurrent callers per region per key. Default 10.
	Callers int `json:"callers"`
	// Service is how long the origin takes to answer one request. Default 50 ms.
	Service time.Duration `json:"service_ns"`
	// OriginRegion is the index of the origin's region. Default 0.
	OriginRegion int `json:"origin_region"`
	// NoBaseline skips the second run with --origin-dedup node.
	NoBaseline bool `json:"no_baseline"`
	// Timeout bounds one GET. Default 10 s.
	Timeout time.Duration `json:"timeout_ns"`
}

func (c StampedeConfig) withDefaults() StampedeConfig {
	if c.Keys <= 0 {
		c.Keys = 20
	}
	if c.Callers <= 0 {
		c.Callers = 10
	}
	if c.Service <= 0 {
		c.Service = 50 * time.Millisecond
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	return c
}

// StampedeVariant is what one dedup mode measured.
type StampedeVariant struct {
	Dedup     string        `json:"dedup"` // the nodes' --origin-dedup
	Loads     []int         `json:"loads_per_key"`
	LoadsMean float64       `json:"loads_mean"`
	LoadsMax  int           `json:"loads_max"`
	Regions   []StampRegion `json:"regions"`
	Errors    []string      `json:"errors,omitempty"` // failed GETs and wrong values (at most 20)
	ErrCount  int           `json:"error_count"`
}

// StampRegion is the callers' latency in one region.
type StampRegion struct {
	Region   string        `json:"region"`
	OneWayMs float64       `json:"origin_one_way_ms"` // one-way delay to the origin's region
	Calls    int           `json:"calls"`
	P50      time.Duration `json:"p50_ns"`
	P99      time.Duration `json:"p99_ns"`
	Max      time.Duration `json:"max_ns"`
}

// StampedeResult is the whole measurement.
type StampedeResult struct {
	Config       StampedeConfig    `json:"config"`
	Regions      []string          `json:"regions"`
	OriginRegion string            `json:"origin_region"`
	Start, End   time.Time         `json:"-"`
	Variants     []StampedeVariant `json:"variants"`
	Direct       uint64            `json:"origin_direct_connections"`
	Refused      uint64            `json:"client_dials_refused"`
	Audit        ConnAudit         `json:"audit"`
	Emu          EmulatorStats     `json:"-"`
	Load         string            `json:"machine"`
	Err          string            `json:"error,omitempty"`
}

// Passed reports whether every GET returned the origin's value, the cluster lease kept loads
// per key within the number of regions, and nothing went around the emulator.
func (r *StampedeResult) Passed() bool {
	if r.Err != "" || r.Direct != 0 || r.Refused != 0 || len(r.Audit.Bypasses) != 0 || len(r.Variants) == 0 {
		return false
	}
	for _, v := range r.Variants {
		if v.ErrCount > 0 || (v.Dedup == "cluster" && v.LoadsMax > len(r.Regions)) {
			return false
		}
	}
	return true
}

// RunStampede starts a network whose nodes use an origin, runs the stampede (and the baseline)
// and returns the measurement. The error means it could not run; failed GETs are in the result.
func RunStampede(ctx context.Context, rc RunConfig, sc StampedeConfig) (*StampedeResult, error) {
	rc = rc.withDefaults()
	sc = sc.withDefaults()
	m := rc.Matrix
	if m.Regions == nil {
		m = DefaultMatrix()
	}
	regions := rc.Regions
	if regions <= 0 {
		regions = 3 // ClusterConfig's default
	}
	if sc.OriginRegion >= regions || sc.OriginRegion >= len(m.Regions) {
		return nil, fmt.Errorf("testnet: stampede: origin region %d of %d", sc.OriginRegion, regions)
	}
	subnet := byte(100 + rand.IntN(150))
	res := &StampedeResult{Config: sc, OriginRegion: m.Regions[sc.OriginRegion].Name, Start: time.Now()}
	fmt.Fprintf(rc.Progress, "== stampede: starting %d regions x %d nodes with --origin in %s (%v per request)\n",
		regions, max(rc.NodesPerRegion, 1), res.OriginRegion, sc.Service)
	args := []string{"--origin", OriginURL(subnet), "--origin-timeout", "5s"}
	c, err := StartCluster(ctx, ClusterConfig{Binary: rc.Binary, Ports: rc.Ports, Dir: rc.Out + "/nodes", Matrix: m, Regions: regions,
		NodesPerRegion: rc.NodesPerRegion, LogLevel: rc.LogLevel, Subnet: subnet, Progress: rc.Progress,
		ExtraArgs: append(args, "--origin-dedup", "cluster")})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	for _, r := range c.Matrix().Regions {
		res.Regions = append(res.Regions, r.Name)
	}
	o, err := StartOrigin(c, res.OriginRegion, sc.Service)
	if err != nil {
		return nil, err
	}
	defer o.Close()
	cn, err := NewClientNet(c)
	if err != nil {
		return nil, err
	}
	variants := []string{"cluster"}
	if !sc.NoBaseline {
		variants = append(variants, "node")
	}
	tag := strconv.FormatUint(rand.Uint64()%1e9, 36)
	for i, dedup := range variants {
		if i > 0 {
			// Same network, nodes restarted with the other mode.
			fmt.Fprintf(rc.Progress, "== stampede: restarting the nodes with --origin-dedup %s\n", dedup)
			c.cfg.ExtraArgs = append(append([]string(nil), args...), "--origin-dedup", dedup)
			for _, n := range c.Nodes {
				if err := c.Restart(ctx, n.Name, nil); err != nil {
					return res, err
				}
			}
		}
		if err := waitHealthyMesh(ctx, c, 60*time.Second); err != nil {
			return res, err
		}
		v, err := stampedeVariant(ctx, c, cn, o, sc, dedup, tag, rc.Progress)
		if err != nil {
			res.Err = err.Error()
			return res, err
		}
		res.Variants = append(res.Variants, v)
	}
	res.End = time.Now()
	res.Direct, res.Refused = o.Direct(), cn.Refused()
	res.Emu = c.Emu.Stats()
	res.Load = machineLoad()
	a, err := c.Audit()
	res.Audit = a
	if err != nil {
		res.Err = "audit: " + err.Error()
	}
	return res, nil
}

// stampedeVariant measures sc.Keys cold keys with the nodes in one dedup mode.
func stampedeVariant(ctx context.Context, c *Cluster, cn *ClientNet, o *Origin, sc StampedeConfig, dedup, tag string,
	progress io.Writer) (StampedeVariant, error) {
	v := StampedeVariant{Dedup: dedup}
	type caller struct {
		region string
		conn   *respConn
	}
	var callers []caller
	defer func() {
		for _, cl := range callers {
			cl.conn.Close()
		}
	}()
	for _, r := range c.Matrix().Regions {
		n, err := c.Node(r.Name)
		if err != nil {
			return v, err
		}
		for range sc.Callers {
			conn, err := cn.Dialer(r.Name)(ctx, "tcp", n.RESP())
			if err != nil {
				return v, fmt.Errorf("stampede: caller in %s: %w", r.Name, err)
			}
			rc := newRESPConn(conn)
			callers = append(callers, caller{r.Name, rc})
			if rep, err := rc.do(time.Now().Add(5*time.Second), "PING"); err != nil || rep.str != "PONG" {
				return v, fmt.Errorf("stampede: caller in %s: PING: %v %v", r.Name, rep, err)
			}
		}
	}
	lat := map[string][]time.Duration{}
	for k := range sc.Keys {
		if err := ctx.Err(); err != nil {
			return v, err
		}
		key := fmt.Sprintf("stampede/%s/%s/%d", tag, dedup, k)
		type out struct {
			lat time.Duration
			val string
			err error
		}
		outs := make([]out, len(callers))
		var ready, done sync.WaitGroup
		start := make(chan struct{})
		for i, cl := range callers {
			ready.Add(1)
			done.Go(func() {
				ready.Done()
				<-start
				t0 := time.Now()
				rep, err := cl.conn.do(t0.Add(sc.Timeout), "GET", key)
				outs[i] = out{lat: time.Since(t0), val: rep.str, err: err}
				if err == nil {
					outs[i].err = rep.err()
					if rep.null {
						outs[i].err = errors.New("nil reply")
					}
				}
			})
		}
		ready.Wait()
		close(start)
		done.Wait()
		// Every load was caused by a GET that has now been answered; wait out stragglers anyway.
		ictx, cancel := context.WithTimeout(ctx, 10*time.Second)
		o.Idle(ictx)
		cancel()
		loads := o.Requests(key)
		v.Loads = append(v.Loads, loads)
		for i, ot := range outs {
			switch {
			case ot.err != nil:
				v.ErrCount++
				if len(v.Errors) < 20 {
					v.Errors = append(v.Errors, fmt.Sprintf("%s caller in %s: %v", key, callers[i].region, ot.err))
				}
			case ot.val != OriginValue(key):
				v.ErrCount++
				if len(v.Errors) < 20 {
					v.Errors = append(v.Errors, fmt.Sprintf("%s caller in %s: got %q", key, callers[i].region, ot.val))
				}
			default:
				lat[callers[i].region] = append(lat[callers[i].region], ot.lat)
			}
		}
		fmt.Fprintf(progress, "  stampede (%s): key %d/%d: %d origin loads\n", dedup, k+1, sc.Keys, loads)
		// Let the key's replication and lease traffic settle before the next one.
		select {
		case <-time.After(200 * time.Millisecond):
		case <-ctx.Done():
			return v, ctx.Err()
		}
	}
	sum := 0
	for _, l := range v.Loads {
		sum += l
		v.LoadsMax = max(v.LoadsMax, l)
	}
	v.LoadsMean = float64(sum) / float64(len(v.Loads))
	m := c.Matrix()
	for _, r := range m.Regions {
		s := lat[r.Name]
		slices.Sort(s)
		sr := StampRegion{Region: r.Name, Calls: len(s), OneWayMs: ms(m.OneWay(r.Name, o.Region)),
			P50: percentile(s, 50), P99: percentile(s, 99)}
		if len(s) > 0 {
			sr.Max = s[len(s)-1]
		}
		v.Regions = append(v.Regions, sr)
	}
	return v, nil
}

// waitHealthyMesh waits until every running node lists every other one as connected, reachable
// and serving: the view the load lease's owner choice needs to agree on.
func waitHealthyMesh(ctx context.Context, c *Cluster, timeout time.Duration) error {
	return c.waitEveryoneSees(ctx, timeout, 100*time.Millisecond, "healthy", c.healthyPeers)
}

// healthyPeers counts the peers n lists as connected, reachable and serving.
func (c *Cluster) healthyPeers(ctx context.Context, n *Node) (int, error) {
	var v struct {
		Members []struct {
			Self      bool   `json:"self"`
			Connected bool   `json:"connected"`
			Reachable bool   `json:"reachable"`
			State     string `json:"state"`
		} `json:"members"`
	}
	b, err := c.getJSON(ctx, n.HTTP()+"/v1/members")
	if err != nil {
		return 0, err
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return 0, err
	}
	count := 0
	for _, m := range v.Members {
		if !m.Self && m.Connected && m.Reachable && m.State == "serving" {
			count++
		}
	}
	return count, nil
}

func (c *Cluster) getJSON(ctx context.Context, url string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("testnet: GET %s: %s", url, resp.Status)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 4<<20))
}

// WriteStampedeReport writes dir/report.md and dir/summary.json.
func WriteStampedeReport(dir, command string, r *StampedeResult) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, "summary.json"), func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Passed bool `json:"passed"`
			*StampedeResult
		}{r.Passed(), r})
	}); err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, "report.md"), func(w io.Writer) error {
		p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
		p("# Scenario `stampede`: %s\n\n", verdict(r.Passed()))
		p("Cold-key stampede across the WAN: the nodes fill misses of GET from an HTTP origin (`--origin`) that lives in **%s** and takes %v per request; every node reaches it only through the emulator, with the one-way delay from its region. For each of %d cold keys, %d callers in every region send `GET key` to their region's node at the same moment (their connections cross the emulator with the intra-region delay). Measured: origin requests per key, and each caller's latency from sending GET to the reply (the origin's value).\n\n",
			r.OriginRegion, r.Config.Service, r.Config.Keys, r.Config.Callers)
		p("- command: `%s`\n- run: %s, %.1f s\n", command, r.Start.UTC().Format(time.RFC3339), r.End.Sub(r.Start).Seconds())
		if r.Load != "" {
			p("- machine at the end of the run: %s\n", r.Load)
		}
		if r.Err != "" {
			p("- **error**: %s\n", r.Err)
		}
		p("- emulator bypasses: %d node-to-node, %d direct connections to the origin, %d client dials refused\n\n",
			len(r.Audit.Bypasses), r.Direct, r.Refused)
		p("`cluster` is the default (`--origin-dedup cluster`: one node per cold key loads, chosen by the key's lease owner; the others wait for its value). `node` is the baseline without the cluster lease (`--origin-dedup node`: each node loads for itself, deduplicated only among its own callers).\n\n")
		p("## Origin loads per key\n\n| dedup | keys | callers per key | loads: mean | max | distribution (loads: keys) |\n|---|---|---|---|---|---|\n")
		for _, v := range r.Variants {
			p("| %s | %d | %d | %.2f | %d | %s |\n", v.Dedup, len(v.Loads), len(r.Regions)*r.Config.Callers, v.LoadsMean, v.LoadsMax, histogram(v.Loads))
		}
		p("\n## Caller latency (GET of a cold key, ms)\n\n| dedup | region | one-way to origin | calls | p50 | p99 | max |\n|---|---|---|---|---|---|---|\n")
		for _, v := range r.Variants {
			for _, s := range v.Regions {
				p("| %s | %s | %.1f | %d | %.1f | %.1f | %.1f |\n", v.Dedup, s.Region, s.OneWayMs, s.Calls, ms(s.P50), ms(s.P99), ms(s.Max))
			}
		}
		for _, v := range r.Variants {
			if v.ErrCount > 0 {
				p("\n**%d failed or wrong GETs (%s)**:\n\n", v.ErrCount, v.Dedup)
				for _, e := range v.Errors {
					p("- %s\n", e)
				}
			}
		}
		p("\n## Emulator links to the origin\n\n| link | delay | bytes | late p50 | late p99 |\n|---|---|---|---|---|\n")
		for _, l := range r.Emu.Links {
			if (l.From == originName || l.To == originName) && len(l.Late.P) >= 2 {
				p("| %s → %s | %v | %d | %.3f ms | %.3f ms |\n", l.From, l.To, l.Delay, l.Bytes, ms(l.Late.P[0]), ms(l.Late.P[1]))
			}
		}
		return nil
	})
}

func histogram(loads []int) string {
	h := map[int]int{}
	for _, l := range loads {
		h[l]++
	}
	var ks []int
	for k := range h {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	var parts []string
	for _, k := range ks {
		parts = append(parts, fmt.Sprintf("%d: %d", k, h[k]))
	}
	return strings.Join(parts, ", ")
}

// StampedeSummary is the stampede's line for the summary table: latency measures per variant and
// region, and whether it passed.
func StampedeSummary(r *StampedeResult) *Result {
	out := &Result{Scenario: "stampede", Start: r.Start, End: r.End, Converged: true, Err: r.Err, Audit: r.Audit}
	if !r.Passed() && out.Err == "" {
		out.Err = "stampede failed (see report)"
	}
	for _, v := range r.Variants {
		for _, s := range v.Regions {
			out.Measures = append(out.Measures, Measure{Name: v.Dedup + " " + s.Region + " p99", Value: s.P99})
		}
	}
	return out
}

// StampedeTable writes the loads per key of each variant, for the terminal.
func StampedeTable(w io.Writer, r *StampedeResult) {
	fmt.Fprintf(w, "\nstampede: origin in %s, %d keys x %d regions x %d callers\n", r.OriginRegion, r.Config.Keys, len(r.Regions), r.Config.Callers)
	for _, v := range r.Variants {
		var lat []string
		for _, s := range v.Regions {
			lat = append(lat, fmt.Sprintf("%s p50=%.0fms p99=%.0fms", s.Region, ms(s.P50), ms(s.P99)))
		}
		fmt.Fprintf(w, "  %-7s loads/key mean %.2f max %d (%s) | %s | errors %d\n", v.Dedup, v.LoadsMean, v.LoadsMax,
			histogram(v.Loads), strings.Join(lat, ", "), v.ErrCount)
	}
}
