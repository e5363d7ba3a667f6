package testnet

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/geocache/geocache/crdt"
)

// CheckInput is what the checker judges: the history of client operations and the final state of
// every live node, taken after faults were healed and writes stopped.
type CheckInput struct {
	// Ops is the history. Only keys starting with Prefix are judged against it; every key in the
	// dumps is judged for agreement.
	Ops    []Op
	Prefix string
	// Dumps is the final state of every live node.
	Dumps []NodeDump
	// Compare, when set, limits the agreement check to the keys it accepts (one run's keys on
	// a network that ran others before). Default: every key.
	Compare func(key string) bool
	// Incarnations are the process lifetimes of the nodes.
	Incarnations []Incarnation
	// Disturbances are, per node, the intervals during which it had a cut or stalled link or was
	// paused (an open interval has a zero End).
	Disturbances map[string][]Interval
	// SettleWindow is how long an acknowledged write needs to have certainly left a healthy
	// node. Default 2 s plus the largest clock offset in Incarnations.
	SettleWindow time.Duration
	// CatchUp is how long after a disturbance ends a node needs to have certainly handed its
	// writes to peers by anti-entropy (reconnect backoff up to 10 s, then a sync round). Default
	// 15 s.
	//
	// A write returns once applied locally (replication is asynchronous) and nodes keep no disk
	// state, so an acknowledged write may be lost with its process without a violation when the
	// process was killed less than SettleWindow after it, or was disturbed between the write and
	// the kill and killed less than CatchUp after that disturbance ended. Such writes are counted
	// as excused and not required to win.
	CatchUp time.Duration
	// ExpiryMargin: keys expiring within this of the dumps are not compared across nodes (the
	// dumps are not taken at the same instant). Default 2 s.
	ExpiryMargin time.Duration
}

// Violation is one broken guarantee with its evidence.
type Violation struct {
	Kind   string // see the Kind* constants
	Key    string
	Detail string
	Ops    []Op     // the operations involved
	Nodes  []string // what each node held, "node NAME: version value"
}

// Violation kinds.
const (
	KindDivergent      = "divergent"       // live nodes hold different versions of a key
	KindMissing        = "missing"         // some live nodes hold a live key, others nothing
	KindExpiredPresent = "expired-present" // a node holds a key past its expiry
	KindPhantom        = "phantom"         // a value nobody wrote (or a failed write) is visible
	KindFutureRead     = "future-read"     // a read returned a write invoked after it completed
	KindVersion        = "version-mismatch"
	KindLostWrite      = "lost-write"  // the agreed version is older than an acknowledged write
	KindResurrected    = "resurrected" // a deleted key is back with an older value
	KindReadYourWrites = "read-your-writes"
	KindMonotonic      = "monotonic-reads"
	KindCounter        = "counter" // a counter's value is not the sum of the increments applied
	// KindCollection: a hash, set or sorted set breaks its merge rule (collections.go).
	KindCollection = "collection"
)

func (v Violation) String() string {
	var b strings.Builder
	if v.Key != "" {
		fmt.Fprintf(&b, "%s key %q: %s", v.Kind, v.Key, v.Detail)
	} else {
		fmt.Fprintf(&b, "%s: %s", v.Kind, v.Detail)
	}
	for _, n := range v.Nodes {
		fmt.Fprintf(&b, "\n    %s", n)
	}
	for i := range v.Ops {
		fmt.Fprintf(&b, "\n    op %s", v.Ops[i].String())
	}
	return b.String()
}

// CheckResult summarises a check.
type CheckResult struct {
	Keys          int // distinct keys held by any live node
	Judged        int // workload keys judged against the history
	Ops           int
	AckedWrites   int
	ExactVersions int // acknowledged writes whose exact version the read-back learned
	Excused       int // acknowledged writes of killed processes that may be lost
	Notes         []string
	Violations    []Violation
}

// OK reports whether no guarantee was broken.
func (r CheckResult) OK() bool { return len(r.Violations) == 0 }

type incKey struct {
	node string
	n    int
}

// checker holds the indexes of one check.
type checker struct {
	in      CheckInput
	res     CheckResult
	byValue map[string]*Op // SETs by their unique value
	exact   map[int]crdt.Version
	later   map[int]crdt.Version
	incs    map[incKey]Incarnation
}

// Check verifies, for a quiescent network: every live node agrees on every key it holds; the
// agreed version is not older than any acknowledged write (so it is the last-writer-wins winner
// among them, and no deleted key reappears); no node holds an expired key; and every client read
// its own writes and never went back in time on its node.
func Check(in CheckInput) CheckResult {
	if in.ExpiryMargin <= 0 {
		in.ExpiryMargin = 2 * time.Second
	}
	if in.CatchUp <= 0 {
		in.CatchUp = 15 * time.Second
	}
	if in.SettleWindow <= 0 {
		in.SettleWindow = 2 * time.Second
		var maxOff time.Duration
		for _, inc := range in.Incarnations {
			maxOff = max(maxOff, inc.Offset, -inc.Offset)
		}
		in.SettleWindow += maxOff
	}
	c := &checker{in: in, byValue: map[string]*Op{}, exact: map[int]crdt.Version{}, later: map[int]crdt.Version{},
		incs: map[incKey]Incarnation{}}
	c.res.Ops = len(in.Ops)
	for i := range in.Ops {
		o := &in.Ops[i]
		if o.Kind == OpSet {
			c.byValue[o.Value] = o
		}
		if v, err := parseVersion(o.Version); err == nil && o.Version != "" {
			c.exact[o.ID] = v
		}
		if v, err := parseVersion(o.Later); err == nil && o.Later != "" {
			c.later[o.ID] = v
		}
		if o.Kind != OpGet && o.Status == StatusOK {
			c.res.AckedWrites++
			if o.Version != "" {
				c.res.ExactVersions++
			}
		}
	}
	for _, inc := range in.Incarnations {
		c.incs[incKey{inc.Node, inc.N}] = inc
	}
	states := c.normalizeColls()
	c.agreement()
	c.history()
	c.sessions()
	c.counters()
	c.collections(states)
	sort.SliceStable(c.res.Violations, func(i, j int) bool {
		a, b := c.res.Violations[i], c.res.Violations[j]
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		return a.Key < b.Key
	})
	return c.res
}

func (c *checker) violate(kind, key, detail string, nodes []string, ops ...*Op) {
	v := Violation{Kind: kind, Key: key, Detail: detail, Nodes: nodes}
	for _, o := range ops {
		if o != nil {
			v.Ops = append(v.Ops, *o)
		}
	}
	c.res.Violations = append(c.res.Violations, v)
}

func regString(node string, r Register, ok bool) string {
	switch {
	case !ok:
		return "node " + node + ": absent"
	case r.Deleted && (r.Value != "" || r.ExpireAtMs != 0):
		return fmt.Sprintf("node %s: %s deleted (value %q, expiry %d)", node, r.Version, r.Value, r.ExpireAtMs)
	case r.Deleted:
		return fmt.Sprintf("node %s: %s deleted", node, r.Version)
	case r.ExpireAtMs != 0:
		return fmt.Sprintf("node %s: %s %q expires %s", node, r.Version, r.Value, time.UnixMilli(r.ExpireAtMs).Format("15:04:05.000"))
	}
	return fmt.Sprintf("node %s: %s %q", node, r.Version, r.Value)
}

func (c *checker) nodesView(key string) []string {
	var out []string
	for _, d := range c.in.Dumps {
		r, ok := d.Regs[key]
		out = append(out, regString(d.Node, r, ok))
	}
	return out
}

// agreement compares the dumps key by key.
func (c *checker) agreement() {
	keys := map[string]bool{}
	var latest int64 // the latest node clock reading among the dumps, unix ms
	for _, d := range c.in.Dumps {
		for k := range d.Regs {
			if c.in.Compare == nil || c.in.Compare(k) {
				keys[k] = true
			}
		}
		latest = max(latest, d.At.Add(d.Offset).UnixMilli())
	}
	c.res.Keys = len(keys)
	for _, k := range sortedKeys(keys) {
		var present []Register
		absent, absentPartial := 0, 0
		ambiguous := false
		for _, d := range c.in.Dumps {
			r, ok := d.Regs[k]
			if !ok {
				absent++
				if d.Partial {
					absentPartial++
				}
				continue
			}
			if r.Deleted {
				// What clients read of a deleted key is nothing, and a tombstone's expiry is this
				// node's own retention of it (TombstoneTTL from when it applied the delete, so
				// nodes differ by their apply times: seen on an emptied set after fullrestart).
				r.Value, r.ExpireAtMs = "", 0
			}
			now := d.At.Add(d.Offset).UnixMilli()
			if r.ExpireAtMs != 0 && r.ExpireAtMs <= now {
				c.violate(KindExpiredPresent, k, fmt.Sprintf("%s holds it %d ms after its expiry", d.Node, now-r.ExpireAtMs),
					c.nodesView(k))
			}
			if r.ExpireAtMs != 0 && r.ExpireAtMs <= latest+c.in.ExpiryMargin.Milliseconds() {
				ambiguous = true
			}
			present = append(present, r)
		}
		if ambiguous {
			continue
		}
		same := true
		for _, r := range present[1:] {
			if r.Version != present[0].Version || r.Deleted != present[0].Deleted ||
				r.Value != present[0].Value || r.ExpireAtMs != present[0].ExpireAtMs {
				same = false
			}
		}
		if !same {
			c.violate(KindDivergent, k, "live nodes hold different versions", c.nodesView(k))
			continue
		}
		if absent == 0 {
			continue
		}
		if present[0].Deleted {
			if absent > absentPartial {
				c.res.Notes = append(c.res.Notes, fmt.Sprintf("key %q: delete tombstone held by %d nodes, absent on %d",
					k, len(present), absent-absentPartial))
			}
			continue
		}
		c.violate(KindMissing, k, fmt.Sprintf("held by %d live nodes, absent on %d", len(present), absent), c.nodesView(k))
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// excused reports whether an acknowledged write may have been lost with its process.
func (c *checker) excused(o *Op) bool {
	inc, ok := c.incs[incKey{o.Node, o.Inc}]
	if !ok || inc.End.IsZero() || !inc.Killed {
		return false
	}
	if inc.End.Sub(o.Complete) < c.in.SettleWindow {
		return true
	}
	for _, iv := range c.in.Disturbances[o.Node] {
		end := iv.End
		if end.IsZero() || end.After(inc.End) {
			end = inc.End
		}
		// A disturbance between the write and the kill that ended too shortly before the kill.
		if !iv.Start.After(inc.End) && !end.Before(o.Complete) && inc.End.Sub(end) < c.in.CatchUp {
			return true
		}
	}
	return false
}

// floorOf is the lowest version write o can have: exact when known, else its clock bound.
func (c *checker) floorOf(o *Op) crdt.Version {
	if v, ok := c.exact[o.ID]; ok {
		return v
	}
	return crdt.Version{TS: o.lowerBound()}
}

// ceilOf is a version write o's version is at most: exact when known, else the later version its
// read-back saw; ok is false when neither is known.
func (c *checker) ceilOf(o *Op) (crdt.Version, bool) {
	if v, ok := c.exact[o.ID]; ok {
		return v, true
	}
	v, ok := c.later[o.ID]
	return v, ok
}

// history judges each node's final state of each workload key against the acknowledged writes.
func (c *checker) history() {
	byKey := map[string][]*Op{}
	for i := range c.in.Ops {
		o := &c.in.Ops[i]
		if registerKey(c.in.Prefix, o.Key) {
			byKey[o.Key] = append(byKey[o.Key], o)
		}
	}
	excused := map[int]bool{}
	for i := range c.in.Ops {
		o := &c.in.Ops[i]
		if o.Kind != OpGet && o.Status == StatusOK && c.excused(o) {
			excused[o.ID] = true
			c.res.Excused++
		}
	}
	for _, k := range sortedKeys(byKey) {
		ops := byKey[k]
		c.res.Judged++
		held := false
		for _, d := range c.in.Dumps {
			r, ok := d.Regs[k]
			if !ok {
				continue
			}
			held = true
			var w *Op
			if !r.Deleted {
				w = c.byValue[r.Value]
				switch {
				case w == nil || w.Key != k:
					c.violate(KindPhantom, k, fmt.Sprintf("%s holds a value no client wrote to this key", d.Node), c.nodesView(k))
					continue
				case w.Status == StatusFail:
					c.violate(KindPhantom, k, fmt.Sprintf("%s holds the value of a write that failed", d.Node), c.nodesView(k), w)
					continue
				}
				if v, ok := c.exact[w.ID]; ok && v != r.Version {
					c.violate(KindVersion, k, fmt.Sprintf("%s holds the value with version %s, but it was written as %s",
						d.Node, r.Version, v), c.nodesView(k), w)
				}
			}
			// The held version must not be older than any acknowledged write: report the write
			// it misses by the most.
			var worst *Op
			var worstFloor crdt.Version
			for _, o := range ops {
				if o.Kind == OpGet || o.Status != StatusOK || excused[o.ID] {
					continue
				}
				// A DEL is satisfied by any delete tombstone. One that removed nothing (reply 0)
				// still wrote a tombstone with a fresh version, so a live value older than it is
				// a resurrection like any other.
				if o.Kind == OpDel && r.Deleted {
					continue
				}
				// A delete tombstone older than a write that has expired everywhere since reads
				// the same as the winner (nothing); only the register's version is stale.
				if r.Deleted && o.Kind == OpSet && o.TTL > 0 && !o.Complete.Add(o.TTL).After(d.At) {
					if c.floorOf(o).Compare(r.Version) > 0 {
						c.res.Notes = append(c.res.Notes, fmt.Sprintf("key %q: %s holds a delete tombstone %s older than "+
							"the expired write %s (%s)", k, d.Node, r.Version, o.Client, c.floorOf(o)))
					}
					continue
				}
				if f := c.floorOf(o); r.Version.Less(f) && (worst == nil || worstFloor.Less(f)) {
					worst, worstFloor = o, f
				}
			}
			if worst != nil {
				kind := KindLostWrite
				if worst.Kind == OpDel && !r.Deleted {
					kind = KindResurrected
				}
				how := "its exact version"
				if _, ok := c.exact[worst.ID]; !ok {
					how = "its clock bound"
				}
				c.violate(kind, k, fmt.Sprintf("%s holds %s, older than acknowledged %s %s (%s %s)",
					d.Node, r.Version, worst.Kind, worst.Client, how, worstFloor), c.nodesView(k), w, worst)
			}
		}
		if held {
			continue
		}
		// Absent everywhere: fine if a delete or an expiry can explain it.
		var lastPlain *Op
		explained := false
		for _, o := range ops {
			if o.Status == StatusFail {
				continue
			}
			if o.Kind == OpDel || o.Kind == OpSet && o.TTL > 0 {
				explained = true
			}
			if o.Kind == OpSet && o.TTL == 0 && o.Status == StatusOK && !excused[o.ID] {
				lastPlain = o
			}
		}
		if lastPlain != nil && !explained {
			c.violate(KindLostWrite, k, "no live node holds the key, yet it was written without expiry and never deleted",
				nil, lastPlain)
		}
	}
}

// session is one client's view of one key on one node incarnation.
type session struct {
	floor   crdt.Version // the node's register is at least this
	floorBy *Op          // the operation that set the floor
	lastSet *Op          // the client's last acknowledged SET of the key
}

// sessions checks read-your-writes and monotonic reads per client, key and node incarnation.
func (c *checker) sessions() {
	byKey := map[string][]*Op{}
	byClient := map[string][]*Op{}
	for i := range c.in.Ops {
		o := &c.in.Ops[i]
		if !registerKey(c.in.Prefix, o.Key) {
			continue
		}
		byKey[o.Key] = append(byKey[o.Key], o)
		byClient[o.Client] = append(byClient[o.Client], o)
	}
	for _, client := range sortedKeys(byClient) {
		ops := byClient[client]
		sort.SliceStable(ops, func(i, j int) bool { return ops[i].Invoke.Before(ops[j].Invoke) })
		state := map[string]*session{}
		inc := map[string]int{} // key -> incarnation of the state
		for _, o := range ops {
			if o.Status != StatusOK {
				continue
			}
			s := state[o.Key]
			if s == nil || inc[o.Key] != o.Inc {
				s = &session{}
				state[o.Key], inc[o.Key] = s, o.Inc
			}
			raise := func(v crdt.Version, by *Op) {
				if s.floor.Less(v) {
					s.floor, s.floorBy = v, by
				}
			}
			switch o.Kind {
			case OpSet:
				raise(c.floorOf(o), o)
				s.lastSet = o
			case OpDel:
				// Every DEL writes a tombstone with a fresh version, found or not.
				raise(crdt.Version{TS: o.lowerBound()}, o)
			case OpGet:
				c.judgeRead(o, s, byKey[o.Key])
				if o.Found {
					if w := c.byValue[o.Value]; w != nil {
						raise(c.floorOf(w), o)
					}
				}
			}
		}
	}
}

func (c *checker) judgeRead(o *Op, s *session, keyOps []*Op) {
	kindFor := func() string {
		if s.floorBy != nil && s.floorBy.Kind != OpGet {
			return KindReadYourWrites
		}
		return KindMonotonic
	}
	if !o.Found {
		if s.floorBy == nil {
			return
		}
		// A miss after a value was seen needs a delete or an expiry to explain it.
		for _, x := range keyOps {
			if x.Status == StatusFail || !x.Invoke.Before(o.Complete) {
				continue
			}
			if x.Kind == OpDel || x.Kind == OpSet && x.TTL > 0 && !x.Invoke.Add(x.TTL).After(o.Complete) {
				return
			}
		}
		c.violate(kindFor(), o.Key, fmt.Sprintf("%s read nothing on %s after %s, with no delete or expiry to explain it",
			o.Client, o.Node, s.floorBy.Kind), nil, s.floorBy, o)
		return
	}
	w := c.byValue[o.Value]
	if w == nil || w.Key != o.Key {
		c.violate(KindPhantom, o.Key, fmt.Sprintf("%s read a value no client wrote to this key", o.Client), nil, o)
		return
	}
	if w.Status == StatusFail {
		c.violate(KindPhantom, o.Key, fmt.Sprintf("%s read the value of a write that failed", o.Client), nil, w, o)
		return
	}
	if w.Invoke.After(o.Complete) {
		c.violate(KindFutureRead, o.Key, fmt.Sprintf("%s read a value written after the read completed", o.Client), nil, w, o)
		return
	}
	// The client's own older write, seen after a newer one on the same process.
	if l := s.lastSet; l != nil && w != l && w.Client == o.Client && w.Node == o.Node && w.Inc == o.Inc &&
		w.Complete.Before(l.Invoke) {
		c.violate(KindReadYourWrites, o.Key, fmt.Sprintf("%s read its own older write after a newer one", o.Client),
			nil, w, l, o)
		return
	}
	if ceil, ok := c.ceilOf(w); ok && ceil.Less(s.floor) {
		c.violate(kindFor(), o.Key, fmt.Sprintf("%s read a version (at most %s) older than one it had seen or written (at least %s)",
			o.Client, ceil, s.floor), nil, s.floorBy, w, o)
	}
}

// counters judges each counter key (never SET or deleted by the workload): every live node holds
// the same value, at least the sum of the acknowledged increments (those of a node killed right
// after acknowledging may be lost with it: excused) and at most the sum of every increment that
// may have been applied (acknowledged, excused or without a reply). A PN-counter that replicated
// its increments as last-writer-wins writes would lose concurrent ones and fail the lower bound.
func (c *checker) counters() {
	type bounds struct {
		lo, hi int64
		last   *Op
	}
	byKey := map[string]*bounds{}
	for i := range c.in.Ops {
		o := &c.in.Ops[i]
		if o.Kind != OpIncr || o.Status == StatusFail {
			continue
		}
		b := byKey[o.Key]
		if b == nil {
			b = &bounds{}
			byKey[o.Key] = b
		}
		b.hi += o.Delta
		if o.Status == StatusOK && !c.excused(o) {
			b.lo += o.Delta
			b.last = o
		}
	}
	for _, k := range sortedKeys(byKey) {
		b := byKey[k]
		c.res.Judged++
		for _, d := range c.in.Dumps {
			r, ok := d.Regs[k]
			var v int64
			if ok && !r.Deleted {
				var err error
				if v, err = strconv.ParseInt(r.Value, 10, 64); err != nil {
					c.violate(KindCounter, k, fmt.Sprintf("%s holds %q, not an integer", d.Node, r.Value), c.nodesView(k))
					continue
				}
			} else if d.Partial && b.lo == 0 {
				continue
			}
			if v < b.lo || v > b.hi {
				c.violate(KindCounter, k, fmt.Sprintf("%s holds %d; the increments applied sum to between %d and %d",
					d.Node, v, b.lo, b.hi), c.nodesView(k), b.last)
			}
		}
	}
}
