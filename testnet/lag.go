package testnet

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// LagConfig configures the replication-lag probe. Zero fields select the defaults in comments.
type LagConfig struct {
	// Prefix starts every probe key. Default "lag/".
	Prefix string
	// Interval is the pause between two probes of one directed pair. Default 50 ms.
	Interval time.Duration
	// Poll is the pause between two reads at the destination while waiting. Default 250 µs: the
	// measurement's resolution up to the target (one-way delay + 2 × LagTargetSlack); 4 × Poll
	// beyond.
	Poll time.Duration
	// Timeout abandons a probe that did not arrive (a fault began meanwhile). Default 3 s.
	Timeout time.Duration
}

func (c LagConfig) withDefaults() LagConfig {
	if c.Prefix == "" {
		c.Prefix = "lag/"
	}
	if c.Interval <= 0 {
		c.Interval = 50 * time.Millisecond
	}
	if c.Poll <= 0 {
		c.Poll = 250 * time.Microsecond
	}
	if c.Timeout <= 0 {
		c.Timeout = 3 * time.Second
	}
	return c
}

// LagProber measures replication lag for every directed pair of nodes: it writes a fresh key on
// the source and polls the destination with EXISTS until the key is there. The lag of one probe
// is from the moment the SET is sent to the source to the reply of the first EXISTS at the
// destination that finds it: an upper bound of the true lag, within Poll plus one loopback round
// trip. EXISTS looks at the local store only; a GET would fill the miss from a peer
// (read-through) and measure that instead of replication.
// Reads start 1 ms before the emulated one-way delay has passed, so waiting costs little.
// Probing pauses on pairs that are not healthy (a link cut or stalled, a node down or paused).
type LagProber struct {
	c      *Cluster
	cfg    LagConfig
	cancel context.CancelFunc
	wg     sync.WaitGroup
	on     atomic.Bool

	mu      sync.Mutex
	samples map[[2]string]*Samples // node pair -> lag
	lost    map[[2]string]int      // probes that timed out
	early   map[[2]string]int      // probes seen before the one-way delay had passed
	probes  []LagProbe             // every measured probe, in completion order, up to maxProbes
}

// maxProbes bounds the per-probe record (six pairs at 20 probes/s: over two hours).
const maxProbes = 1 << 17

// LagProbe is one measured probe: when its SET was sent, how long the source took to
// acknowledge it and when the destination first showed the key. Kept so a slow probe can be
// matched with what happened at that time (faults, other pairs, the machine).
type LagProbe struct {
	At       time.Time     // the SET was sent
	From, To string        // nodes
	SetRTT   time.Duration // SET sent -> the source's reply
	Lag      time.Duration // SET sent -> the first EXISTS reply that found the key
}

// StartLagProber starts probing every directed pair of nodes; it starts enabled.
func StartLagProber(c *Cluster, cfg LagConfig) *LagProber {
	cfg = cfg.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	p := &LagProber{c: c, cfg: cfg, cancel: cancel, samples: map[[2]string]*Samples{}, lost: map[[2]string]int{},
		early: map[[2]string]int{}}
	p.on.Store(true)
	for _, s := range c.Nodes {
		for _, d := range c.Nodes {
			if s != d {
				k := [2]string{s.Name, d.Name}
				p.samples[k] = NewSamples(20000)
				p.wg.Go(func() { p.pair(ctx, s, d) })
			}
		}
	}
	return p
}

// SetEnabled turns probing on or off (scenarios turn it off during faults they do not want in
// the lag statistics).
func (p *LagProber) SetEnabled(on bool) { p.on.Store(on) }

// Stop ends probing and waits for the probes in flight.
func (p *LagProber) Stop() {
	p.cancel()
	p.wg.Wait()
}

// PairLag is the measured lag of one directed node pair.
type PairLag struct {
	From, To   string // nodes
	FromRegion string
	ToRegion   string
	OneWay     time.Duration // the emulated one-way delay
	Lag        Summary       // p50, p90, p99, p99.9
	Sorted     []time.Duration
	Lost       int
	// Early counts probes that arrived faster than the emulated one-way delay: impossible
	// through the emulator, so a bypass. Must be 0.
	Early int
}

// Results returns every pair's lag statistics, in node order.
func (p *LagProber) Results() []PairLag {
	var out []PairLag
	for _, s := range p.c.Nodes {
		for _, d := range p.c.Nodes {
			if s == d {
				continue
			}
			k := [2]string{s.Name, d.Name}
			p.mu.Lock()
			smp, lost, early := p.samples[k], p.lost[k], p.early[k]
			p.mu.Unlock()
			out = append(out, PairLag{From: s.Name, To: d.Name, FromRegion: s.Region, ToRegion: d.Region,
				OneWay: p.c.Emu.Delay(s.Name, d.Name), Lag: smp.Summary(50, 90, 99, 99.9), Sorted: smp.Sorted(), Lost: lost, Early: early})
		}
	}
	return out
}

// Probes returns a copy of every measured probe (up to the first 131072), in completion order.
func (p *LagProber) Probes() []LagProbe {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.probes)
}

// healthy reports whether probing s -> d measures replication rather than a fault.
func (p *LagProber) healthy(s, d *Node) bool {
	if !p.on.Load() {
		return false
	}
	if st, _, _ := s.State(); st != StateRunning {
		return false
	}
	if st, _, _ := d.State(); st != StateRunning {
		return false
	}
	return !p.c.Emu.IsCut(s.Name, d.Name) && !p.c.Emu.link(s.Name, d.Name).stalled() &&
		!p.c.Emu.link(d.Name, s.Name).stalled()
}

func (p *LagProber) pair(ctx context.Context, s, d *Node) {
	var src, dst *respConn
	var srcInc, dstInc int
	defer func() {
		if src != nil {
			src.Close()
		}
		if dst != nil {
			dst.Close()
		}
	}()
	k := [2]string{s.Name, d.Name}
	timer := newPreciseTimer()
	defer timer.Close()
	tick := time.NewTicker(p.cfg.Interval)
	defer tick.Stop()
	for seq := 0; ; seq++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if !p.healthy(s, d) {
			continue
		}
		var err error
		if src, srcInc, err = p.conn(src, srcInc, s); err != nil {
			continue
		}
		if dst, dstInc, err = p.conn(dst, dstInc, d); err != nil {
			continue
		}
		key := p.cfg.Prefix + s.Name + ">" + d.Name + "/" + strconv.Itoa(seq)
		val := strconv.FormatInt(time.Now().UnixNano(), 10)
		t0 := time.Now()
		if r, err := src.do(t0.Add(p.cfg.Timeout), "SET", key, val, "PX", "5000"); err != nil || r.kind == '-' {
			src.Close()
			src = nil
			continue
		}
		setRTT := time.Since(t0)
		// Bytes cannot arrive before the one-way delay; start reading a little before it.
		// Nothing can arrive before the one-way delay (the emulator never delivers early; a
		// probe found on the first read would show it as a lag below the delay).
		oneWay := p.c.Emu.Delay(s.Name, d.Name)
		timer.sleepUntil(t0.Add(oneWay - min(oneWay, time.Millisecond)))
		lag, err := p.await(timer, dst, key, t0, t0.Add(oneWay+2*LagTargetSlack))
		if err != nil {
			// A request may still be outstanding: never reuse the connection.
			dst.Close()
			dst = nil
		}
		switch {
		case lag < 0:
			if p.healthy(s, d) { // a fault that began meanwhile explains a timeout
				p.mu.Lock()
				p.lost[k]++
				p.mu.Unlock()
			}
		case err == nil && p.healthy(s, d):
			p.samples[k].Add(lag)
			p.mu.Lock()
			if lag < oneWay {
				// Faster than the emulated delay: only a path around the emulator can do that.
				p.early[k]++
			}
			if len(p.probes) < maxProbes {
				p.probes = append(p.probes, LagProbe{At: t0, From: s.Name, To: d.Name, SetRTT: setRTT, Lag: lag})
			}
			p.mu.Unlock()
		}
	}
}

// await polls key's existence on c, every Poll until fine ends and every 4 Polls after (the
// tail needs less resolution than the region around the target); it returns the lag from t0,
// or -1 on timeout (with the error when a request was cut short: the connection is then out of
// step and must be closed).
func (p *LagProber) await(timer *preciseTimer, c *respConn, key string, t0, fine time.Time) (time.Duration, error) {
	deadline := t0.Add(p.cfg.Timeout)
	for {
		r, err := c.do(deadline, "EXISTS", key)
		if err != nil {
			if time.Now().After(deadline) {
				return -1, err
			}
			return 0, err
		}
		now := time.Now()
		if r.kind == ':' && r.n == 1 {
			return now.Sub(t0), nil
		}
		if now.After(deadline) {
			return -1, nil
		}
		poll := p.cfg.Poll
		if now.After(fine) {
			poll *= 4
		}
		timer.sleepUntil(now.Add(poll))
	}
}

// conn returns a connection to n's current incarnation, reconnecting when needed.
func (p *LagProber) conn(c *respConn, inc int, n *Node) (*respConn, int, error) {
	_, cur, _ := n.State()
	if c != nil && inc == cur {
		return c, inc, nil
	}
	if c != nil {
		c.Close()
	}
	c, err := dialRESP(n.RESP(), 500*time.Millisecond)
	if err != nil {
		return nil, 0, fmt.Errorf("testnet: lag probe: %w", err)
	}
	return c, cur, nil
}
