package testnet

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// WorkloadConfig configures the client workload. The zero value of every field selects the
// default in its comment.
type WorkloadConfig struct {
	// Prefix starts every key, so that successive runs on one network do not mix. Default "k/".
	Prefix string
	// Keys is the size of the key space. Default 24: small, so that regions write the same keys
	// concurrently and last-writer-wins decides often.
	Keys int
	// ClientsPerNode is the number of clients talking to each node. Default 1.
	ClientsPerNode int
	// Rate is each client's operations per second. Default 25.
	Rate float64
	// SetPct, TTLPct, DelPct, IncrPct and CollPct are the shares of plain SETs, SETs with a PX
	// expiry, DELs, INCRBYs of a counter key and collection writes (HSET, SADD, SREM, ZINCRBY:
	// collections.go) in percent; the rest are GETs. Defaults 40, 10, 10, 10, 10.
	SetPct, TTLPct, DelPct, IncrPct, CollPct int
	// CounterKeys is the number of counter keys INCRBY spreads over (CounterKey). Default 4:
	// every region increments the same counters concurrently.
	CounterKeys int
	// CollKeys is the number of keys of each collection type (HashKey, SetKey, ZSetKey).
	// Default 2, so that regions write the same collections concurrently.
	CollKeys int
	// MinTTL and MaxTTL bound the PX expiry of expiring SETs. Defaults 300 ms and 1.5 s.
	MinTTL, MaxTTL time.Duration
	// Timeout bounds one operation. Default 2 s.
	Timeout time.Duration
	// Seed makes the operation sequence reproducible (timing is not).
	Seed uint64
	// NoReadBack disables the HTTP read-back after each write that learns the write's version.
	NoReadBack bool
}

func (c WorkloadConfig) withDefaults() WorkloadConfig {
	if c.Prefix == "" {
		c.Prefix = "k/"
	}
	if c.Keys <= 0 {
		c.Keys = 24
	}
	if c.ClientsPerNode <= 0 {
		c.ClientsPerNode = 1
	}
	if c.Rate <= 0 {
		c.Rate = 25
	}
	if c.SetPct == 0 && c.TTLPct == 0 && c.DelPct == 0 && c.IncrPct == 0 && c.CollPct == 0 {
		c.SetPct, c.TTLPct, c.DelPct, c.IncrPct, c.CollPct = 40, 10, 10, 10, 10
	}
	if c.CounterKeys <= 0 {
		c.CounterKeys = 4
	}
	if c.CollKeys <= 0 {
		c.CollKeys = 2
	}
	if c.MinTTL <= 0 {
		c.MinTTL = 300 * time.Millisecond
	}
	if c.MaxTTL < c.MinTTL {
		c.MaxTTL = max(c.MinTTL, 1500*time.Millisecond)
	}
	if c.Timeout <= 0 {
		c.Timeout = 2 * time.Second
	}
	return c
}

// KeyNames returns the workload's keys.
func (c WorkloadConfig) KeyNames() []string {
	c = c.withDefaults()
	out := make([]string, c.Keys)
	for i := range out {
		out[i] = c.Prefix + strconv.Itoa(i)
	}
	return out
}

// Workload runs clients against every node and records what they saw.
type Workload struct {
	c      *Cluster
	cfg    WorkloadConfig
	hist   *History
	tag    string // makes values unique across workloads on one network
	cancel context.CancelFunc
	wg     sync.WaitGroup

	ok, fail, unknown atomic.Uint64
}

// StartWorkload starts ClientsPerNode clients per node. Stop ends them.
func StartWorkload(c *Cluster, cfg WorkloadConfig) *Workload {
	cfg = cfg.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	w := &Workload{c: c, cfg: cfg, hist: &History{}, cancel: cancel, tag: strconv.FormatUint(rand.Uint64()%1e6, 36)}
	for _, n := range c.Nodes {
		for i := 0; i < cfg.ClientsPerNode; i++ {
			name := fmt.Sprintf("%s/c%d", n.Name, i)
			w.wg.Go(func() { w.client(ctx, n, name) })
		}
	}
	return w
}

// Stop ends the clients, waits for them and returns the history.
func (w *Workload) Stop() *History {
	w.cancel()
	w.wg.Wait()
	return w.hist
}

// Counts returns the operations so far by status.
func (w *Workload) Counts() (ok, fail, unknown uint64) {
	return w.ok.Load(), w.fail.Load(), w.unknown.Load()
}

// History returns the history recorded so far (it grows until Stop).
func (w *Workload) History() *History { return w.hist }

// CounterKey is the name of counter i of a workload with key prefix prefix: "n/" after the
// prefix, never a register key (those are the prefix and a number).
func CounterKey(prefix string, i int) string { return prefix + "n/" + strconv.Itoa(i) }

// isCounterKey reports whether key is a counter key of the workload with prefix prefix.
func isCounterKey(prefix, key string) bool { return strings.HasPrefix(key, prefix+"n/") }

func seedOf(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

// client is one sequential client bound to one node.
func (w *Workload) client(ctx context.Context, n *Node, name string) {
	rng := rand.New(rand.NewPCG(w.cfg.Seed, seedOf(name)))
	var conn *respConn
	var connInc int
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	period := time.Duration(float64(time.Second) / w.cfg.Rate)
	timer := time.NewTimer(time.Duration(rng.Int64N(int64(period))))
	defer timer.Stop()
	seq := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		timer.Reset(period/2 + time.Duration(rng.Int64N(int64(period))))

		seq++
		op := Op{Client: name, Node: n.Name, Key: w.cfg.Prefix + strconv.Itoa(rng.IntN(w.cfg.Keys))}
		switch p := rng.IntN(100); {
		case p < w.cfg.SetPct:
			op.Kind, op.Value = OpSet, fmt.Sprintf("%s#%s.%d", name, w.tag, seq)
		case p < w.cfg.SetPct+w.cfg.TTLPct:
			op.Kind, op.Value = OpSet, fmt.Sprintf("%s#%s.%d", name, w.tag, seq)
			op.TTL = w.cfg.MinTTL + time.Duration(rng.Int64N(int64(w.cfg.MaxTTL-w.cfg.MinTTL)+1))
			op.TTL = op.TTL.Truncate(time.Millisecond)
		case p < w.cfg.SetPct+w.cfg.TTLPct+w.cfg.DelPct:
			op.Kind = OpDel
		case p < w.cfg.SetPct+w.cfg.TTLPct+w.cfg.DelPct+w.cfg.IncrPct:
			op.Kind, op.Key, op.Delta = OpIncr, CounterKey(w.cfg.Prefix, rng.IntN(w.cfg.CounterKeys)), 1+rng.Int64N(9)
		case p < w.cfg.SetPct+w.cfg.TTLPct+w.cfg.DelPct+w.cfg.IncrPct+w.cfg.CollPct:
			w.collOp(rng, &op, seq)
		default:
			op.Kind = OpGet
		}
		_, inc, rep := n.State()
		op.Inc, op.Replica, op.Offset = inc, rep, n.ClockOffset()
		if conn != nil && connInc != inc {
			conn.Close() // the process it talked to is gone
			conn = nil
		}
		op.Invoke = time.Now()
		if conn == nil {
			c, err := dialRESP(n.RESP(), 500*time.Millisecond)
			if err != nil {
				op.Complete, op.Status, op.Err = time.Now(), StatusFail, "connect: "+err.Error()
				w.record(op)
				continue
			}
			if _, now, _ := n.State(); now != inc { // restarted while we dialled: which one answered?
				c.Close()
				op.Complete, op.Status, op.Err = time.Now(), StatusFail, "node restarted during connect"
				w.record(op)
				continue
			}
			conn, connInc = c, inc
		}
		var args []string
		switch op.Kind {
		case OpSet:
			args = []string{"SET", op.Key, op.Value}
			if op.TTL > 0 {
				args = append(args, "PX", strconv.FormatInt(op.TTL.Milliseconds(), 10))
			}
		case OpDel:
			args = []string{"DEL", op.Key}
		case OpGet:
			args = []string{"GET", op.Key}
		case OpIncr:
			args = []string{"INCRBY", op.Key, strconv.FormatInt(op.Delta, 10)}
		default:
			args = collArgs(&op)
		}
		r, err := conn.do(op.Invoke.Add(w.cfg.Timeout), args...)
		op.Complete = time.Now()
		switch {
		case errors.Is(err, errNotSent):
			op.Status, op.Err = StatusFail, err.Error()
		case err != nil:
			op.Status, op.Err = StatusUnknown, err.Error()
		case r.kind == '-':
			op.Status, op.Err = StatusFail, r.str
		default:
			op.Status = StatusOK
			if op.Kind == OpGet {
				op.Found, op.Value = !r.null, r.str
			}
			if op.Kind == OpDel {
				op.Found = r.n > 0
			}
		}
		if err != nil {
			conn.Close()
			conn = nil
		}
		if op.Status == StatusOK && (op.Kind == OpSet || op.Kind == OpDel) && !w.cfg.NoReadBack {
			w.readBack(ctx, n, &op)
		}
		w.record(op)
	}
}

// readBack reads the key just written on the same node to learn the write's version: the
// node's register only moves forward, so a read-back that still shows our value has our version,
// and one that shows another value has a higher one.
func (w *Workload) readBack(ctx context.Context, n *Node, op *Op) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	kr, err := w.c.readKey(ctx, n, op.Key)
	if _, inc, _ := n.State(); err != nil || !kr.found || inc != op.Inc {
		return
	}
	if op.Kind == OpSet && kr.value == op.Value {
		op.Version = kr.version.String()
	} else {
		op.Later = kr.version.String()
	}
}

func (w *Workload) record(op Op) {
	switch op.Status {
	case StatusOK:
		w.ok.Add(1)
	case StatusFail:
		w.fail.Add(1)
	default:
		w.unknown.Add(1)
	}
	w.hist.add(op)
}
