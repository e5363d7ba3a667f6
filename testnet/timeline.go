package testnet

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Sample is one observation of how far the nodes agree on the workload's keys.
type Sample struct {
	At time.Time
	// Agree is the fraction of keys on which every answering node holds the same version
	// (absent, deleted and expired count as one state).
	Agree float64
	// Answering is how many nodes answered (killed and paused ones do not).
	Answering int
	// Differ counts, per answering node, the keys on which it differs from the most common value.
	Differ map[string]int
}

// Sampler watches convergence: every interval it reads every running node's registers (GET
// /v1/dump, or one MGET of the workload keys on nodes without it) and records on how many of the
// workload keys the nodes agree.
type Sampler struct {
	c        *Cluster
	keys     []string
	interval time.Duration
	cancel   context.CancelFunc
	wg       sync.WaitGroup

	mu      sync.Mutex
	samples []Sample
}

// StartSampler starts sampling keys every interval (default 200 ms).
func StartSampler(c *Cluster, keys []string, interval time.Duration) *Sampler {
	if interval <= 0 {
		interval = 200 * time.Millisecond
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Sampler{c: c, keys: keys, interval: interval, cancel: cancel}
	s.wg.Go(func() { s.run(ctx) })
	return s
}

// Stop ends sampling and returns the samples.
func (s *Sampler) Stop() []Sample {
	s.cancel()
	s.wg.Wait()
	return s.Samples()
}

// Samples returns the samples so far.
func (s *Sampler) Samples() []Sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Sample(nil), s.samples...)
}

func (s *Sampler) run(ctx context.Context) {
	// Reading with /v1/dump sees only what each node holds; the MGET fallback (nodes without
	// /v1/dump) may fill misses from peers (read-through) and so overstates agreement.
	useDump := true
	conns := map[string]*respConn{}
	incs := map[string]int{}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		views := map[string][]string{}
		for _, n := range s.c.Nodes {
			st, inc, _ := n.State()
			if st != StateRunning {
				continue
			}
			if useDump {
				dctx, cancel := context.WithTimeout(ctx, s.interval)
				d := NodeDump{Regs: map[string]Register{}}
				err := s.c.dumpHTTP(dctx, n, &d)
				cancel()
				if errors.Is(err, errNoDump) {
					useDump = false
				} else {
					if err == nil {
						view := make([]string, len(s.keys))
						for i, k := range s.keys {
							if r, ok := d.Regs[k]; ok && !r.Deleted && (r.ExpireAtMs == 0 || r.ExpireAtMs > now.Add(n.ClockOffset()).UnixMilli()) {
								view[i] = r.Version.String()
							}
						}
						views[n.Name] = view
					}
					continue
				}
			}
			c := conns[n.Name]
			if c != nil && incs[n.Name] != inc {
				c.Close()
				c = nil
			}
			if c == nil {
				var err error
				if c, err = dialRESP(n.RESP(), 200*time.Millisecond); err != nil {
					continue
				}
				conns[n.Name], incs[n.Name] = c, inc
			}
			r, err := c.do(time.Now().Add(s.interval), append([]string{"MGET"}, s.keys...)...)
			if err != nil || r.kind != '*' || len(r.arr) != len(s.keys) {
				c.Close()
				delete(conns, n.Name)
				continue
			}
			view := make([]string, len(s.keys))
			for i, v := range r.arr {
				if !v.null {
					view[i] = "=" + v.str
				}
			}
			views[n.Name] = view
		}
		smp := Sample{At: now, Answering: len(views), Differ: map[string]int{}}
		for name := range views {
			smp.Differ[name] = 0
		}
		agree := 0
		for i := range s.keys {
			count := map[string]int{}
			for _, v := range views {
				count[v[i]]++
			}
			best, bestN := "", -1
			for val, c := range count {
				if c > bestN || c == bestN && val < best {
					best, bestN = val, c
				}
			}
			if len(count) <= 1 {
				agree++
			}
			for name, v := range views {
				if v[i] != best {
					smp.Differ[name]++
				}
			}
		}
		if len(s.keys) > 0 {
			smp.Agree = float64(agree) / float64(len(s.keys))
		}
		s.mu.Lock()
		s.samples = append(s.samples, smp)
		s.mu.Unlock()
	}
}
