package testnet

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"
)

// Scenario is a named, scripted test: a network shape, initial clock offsets and a script.
type Scenario struct {
	Name        string
	Description string
	Script      string
	// Offsets are clock offsets from the first start, by node, region or "$i".
	Offsets map[string]time.Duration
	// NoProbe disables the lag probe (it is on by default).
	NoProbe bool
}

// RunConfig configures how scenarios run. Zero fields select the defaults in comments.
type RunConfig struct {
	// Binary is the geocache executable. Required.
	Binary string
	// Out is the directory the report goes to. Required.
	Out string
	// Matrix is the WAN. Default DefaultMatrix().
	Matrix Matrix
	// Regions and NodesPerRegion shape the network. Defaults 3 and 1.
	Regions, NodesPerRegion int
	// Seed drives the workload (and the schedule, in randomized mode).
	Seed uint64
	// Workload configures the clients; its Prefix and Seed are set per run.
	Workload WorkloadConfig
	// ConvergeTimeout bounds the final wait for agreement. Default 60 s.
	ConvergeTimeout time.Duration
	// LogLevel of the nodes. Default "warn".
	LogLevel string
	// Ports are the nodes' listen ports. Default DefaultPorts() for each zero field.
	Ports Ports
	// Progress receives progress lines. Default: discarded.
	Progress io.Writer
}

func (rc RunConfig) withDefaults() RunConfig {
	if rc.ConvergeTimeout <= 0 {
		rc.ConvergeTimeout = 60 * time.Second
	}
	if rc.Progress == nil {
		rc.Progress = io.Discard
	}
	return rc
}

// Measure is one named duration a scenario recorded (a convergence or warm-up time).
type Measure struct {
	Name  string
	Value time.Duration
}

// Result is everything one scenario run produced.
type Result struct {
	Scenario    string
	Description string
	Script      string
	Seed        uint64
	Start, End  time.Time
	Nodes       []NodeInfo
	Ops         int
	OK          int
	Fail        int
	Unknown     int
	Check       CheckResult
	Converged   bool
	Convergence time.Duration // from the final heal to agreement
	Measures    []Measure
	Lag         []PairLag
	Probes      []LagProbe // every measured lag probe (lag-probes.csv)
	Emu         EmulatorStats
	Audit       ConnAudit
	AuditErr    string
	Events      []Event
	Samples     []Sample
	Rejected    uint64 // deltas rejected by the nodes (clock too far ahead)
	Dropped     uint64 // deltas dropped as older than held
	Err         string // the run failed to complete (not a violation)
	Load        string // the machine's load at the end of the run (shared machines are noisy)
	history     []Op
	keys        []string
}

// NodeInfo describes a node for the report.
type NodeInfo struct {
	Name, Region, PeerID string
	Offset               time.Duration
}

// Passed reports whether the run completed, converged, broke no guarantee and never went around
// the emulator (no direct connection at the end, no probe faster than the emulated delay).
// Replication lag against its target is reported, not judged here.
func (r *Result) Passed() bool {
	early := 0
	for _, l := range r.Lag {
		early += l.Early
	}
	return r.Err == "" && r.Converged && r.Check.OK() && len(r.Audit.Bypasses) == 0 && r.AuditErr == "" && early == 0
}

// History returns the operations the run recorded.
func (r *Result) History() []Op { return r.history }

// RunScenario starts a network, runs one scenario on it, stops the network and returns the
// result. Violations are in the result, not the error; the error means the run could not
// complete (a node did not start, a script error).
func RunScenario(ctx context.Context, rc RunConfig, sc Scenario) (*Result, error) {
	rc = rc.withDefaults()
	steps, err := ParseScript(sc.Script)
	if err != nil {
		return nil, err
	}
	offsets, err := resolveOffsets(rc, sc.Offsets)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(rc.Progress, "== %s: starting %d regions x %d nodes\n", sc.Name, max(rc.Regions, 1), max(rc.NodesPerRegion, 1))
	c, err := StartCluster(ctx, ClusterConfig{Binary: rc.Binary, Ports: rc.Ports, Dir: rc.Out + "/nodes", Matrix: rc.Matrix,
		Regions: rc.Regions, NodesPerRegion: rc.NodesPerRegion, LogLevel: rc.LogLevel, ClockOffsets: offsets,
		Progress: rc.Progress})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	fmt.Fprintf(rc.Progress, "== %s: %d nodes connected through the emulator\n", sc.Name, len(c.Nodes))
	// Connected is not yet gossiping: without this wait the first probes of the far pairs
	// measured anti-entropy (up to +200 ms) and alone broke the steady p99.
	ready, rounds, err := c.WaitReplicating(ctx, 30*time.Second)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(rc.Progress, "== %s: gossip reaches every node (%v, %d rounds)\n", sc.Name, ready.Round(time.Millisecond), rounds)
	res, err := runSteps(ctx, c, rc, sc, steps, "k/")
	if res != nil {
		res.Measures = append([]Measure{{Name: "gossip ready after connect", Value: ready}}, res.Measures...)
	}
	return res, err
}

// resolveOffsets maps "$i" and region names in offsets to node names (before the cluster exists).
func resolveOffsets(rc RunConfig, in map[string]time.Duration) (map[string]time.Duration, error) {
	if len(in) == 0 {
		return nil, nil
	}
	m := rc.Matrix
	if m.Regions == nil {
		m = DefaultMatrix()
	}
	regions := rc.Regions
	if regions <= 0 {
		regions = 3 // ClusterConfig's default
	}
	per := max(rc.NodesPerRegion, 1)
	out := map[string]time.Duration{}
	for k, d := range in {
		name := k
		var idx int
		if _, err := fmt.Sscanf(k, "$%d", &idx); err == nil {
			if idx >= regions || idx >= len(m.Regions) {
				return nil, fmt.Errorf("testnet: offset for %s: only %d regions", k, regions)
			}
			name = m.Regions[idx].Name
		}
		found := false
		for _, r := range m.Regions[:min(regions, len(m.Regions))] {
			for i := 1; i <= per; i++ {
				n := fmt.Sprintf("%s-%d", r.Name, i)
				if name == r.Name || name == n {
					out[n] = d
					found = true
				}
			}
		}
		if !found {
			return nil, fmt.Errorf("testnet: offset for unknown node or region %q", k)
		}
	}
	return out, nil
}

// run is the state of one scenario run.
type run struct {
	c        *Cluster
	rc       RunConfig
	res      *Result
	wcfg     WorkloadConfig
	wl       *Workload
	done     []*History
	prober   *LagProber
	sampler  *Sampler
	bgCtx    context.Context
	bgCancel context.CancelFunc
	bg       sync.WaitGroup
	stepName string
	prev     string // the previous step's command, to name measures
	mu       sync.Mutex

	stepViolations []Violation // found while the script ran (a converge step that timed out)
	disagreement   []Violation // the differences a timed-out converge saw last
	proberStopped  bool        // set by the final phase (the script's goroutine) only

	// warmKeys are, per node, the keys recorded by "count" for "expectwarm"; guarded by mu.
	warmKeys map[string][]string
}

// runSteps runs a scenario's steps on a running network, then the final phase and the check.
// prefix isolates this run's workload keys from earlier runs on the same network.
func runSteps(ctx context.Context, c *Cluster, rc RunConfig, sc Scenario, steps []step, prefix string) (*Result, error) {
	rc = rc.withDefaults()
	wcfg := rc.Workload
	wcfg.Prefix, wcfg.Seed = prefix, rc.Seed
	wcfg = wcfg.withDefaults()
	r := &run{c: c, rc: rc, wcfg: wcfg, res: &Result{Scenario: sc.Name, Description: sc.Description, Script: sc.Script,
		Seed: rc.Seed, Start: time.Now(), keys: wcfg.KeyNames()}}
	for _, n := range c.Nodes {
		r.res.Nodes = append(r.res.Nodes, NodeInfo{Name: n.Name, Region: n.Region, PeerID: n.PeerID, Offset: n.ClockOffset()})
	}
	firstEvent := len(c.Log.Events())
	r.bgCtx, r.bgCancel = context.WithCancel(ctx)
	r.sampler = StartSampler(c, r.res.keys, 200*time.Millisecond)
	if !sc.NoProbe {
		r.prober = StartLagProber(c, LagConfig{Prefix: "lag/" + prefix})
	}
	r.wl = StartWorkload(c, wcfg)
	c.Log.add("mark", sc.Name+" start")

	progressDone := make(chan struct{})
	var progressWG sync.WaitGroup
	progressWG.Go(func() { r.progress(progressDone) })

	var err error
	for i, st := range steps {
		r.mu.Lock()
		r.stepName = fmt.Sprintf("%d/%d %s", i+1, len(steps), st)
		r.mu.Unlock()
		if err = r.exec(ctx, st); err != nil {
			err = fmt.Errorf("testnet: %s line %d (%s): %w", sc.Name, st.line, st, err)
			break
		}
		if st.cmd != "sleep" && st.cmd != "mark" {
			r.prev = st.cmd
		}
	}
	r.mu.Lock()
	r.stepName = "final: heal, restart, converge"
	r.mu.Unlock()
	ferr := r.final(ctx)
	close(progressDone)
	progressWG.Wait()
	r.res.End = time.Now()
	r.res.Events = c.Log.Events()[firstEvent:]
	if err == nil {
		err = ferr
	}
	if err != nil {
		r.res.Err = err.Error()
	}
	return r.res, err
}

func (r *run) progress(done chan struct{}) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		r.mu.Lock()
		step, wl := r.stepName, r.wl
		r.mu.Unlock()
		var ok, fail, unk uint64
		if wl != nil {
			ok, fail, unk = wl.Counts()
		}
		for _, h := range r.doneHistories() {
			for _, o := range h.Ops() {
				switch o.Status {
				case StatusOK:
					ok++
				case StatusFail:
					fail++
				default:
					unk++
				}
			}
		}
		fmt.Fprintf(r.rc.Progress, "  [%6.1fs] %s: %s | ops ok %d fail %d unknown %d\n",
			time.Since(r.res.Start).Seconds(), r.res.Scenario, step, ok, fail, unk)
	}
}

func (r *run) doneHistories() []*History {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*History(nil), r.done...)
}

func (r *run) stopWorkload() {
	r.mu.Lock()
	wl := r.wl
	r.wl = nil
	r.mu.Unlock()
	if wl != nil {
		h := wl.Stop()
		r.mu.Lock()
		r.done = append(r.done, h)
		r.mu.Unlock()
	}
}
