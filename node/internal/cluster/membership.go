package cluster

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// peerState is what we know about one other peer. Guarded by table.mu.
type peerState struct {
	rec   Record // valid when known
	known bool   // rec came from the catalog
	seed  bool   // a Join peer: dialled even before its record is known

	connected bool
	rtt       time.Duration // EWMA; 0 = never measured
	lastSeen  time.Time

	direct bool // registered as a gossipsub direct peer

	dialing  bool
	backoff  time.Duration // delay before the next dial after this one
	nextDial time.Time

	// leftMs is the unix ms (the member's clock) of its goodbye or of its last record saying it
	// left; 0 while it is a member. A record written later makes it a member again.
	leftMs int64
	// probe marks a placeholder for a join address without a peer id (or
	// an HTTP URL): dialling it only learns who answers there.
	probe bool
	// replacedBy is the peer now answering at this peer's address (a
	// restart with a new identity, or the answer to a probe). While it is
	// connected (or is us) this entry is not dialled.
	replacedBy peer.ID

	failures  int       // consecutive failed dials (for loud-failure logging)
	failSince time.Time // first failure of the current run
	failLog   time.Time // last failure logged
	lost      bool      // a known member whose connection dropped
	noStream  time.Time // connected but without an outbound gossip stream since (zero: has one)
	pingFails int       // consecutive failed pings
}

// table is the membership view: catalog records joined with connection
// state, RTT and dial bookkeeping. All fields behind one mutex; no method
// calls out while holding it.
type table struct {
	mu    sync.Mutex
	self  peer.ID
	peers map[peer.ID]*peerState
}

func newTable() *table { return &table{peers: make(map[peer.ID]*peerState)} }

// superseded reports whether st answers at an address now held by a peer
// that is connected (or by us): redialling st would only reach that peer.
// Caller holds mu.
func (t *table) superseded(st *peerState) bool {
	if st.replacedBy == "" {
		return false
	}
	if st.replacedBy == t.self {
		return true
	}
	r := t.peers[st.replacedBy]
	return r != nil && r.connected
}

// get returns the state for p, creating it. Caller holds mu.
func (t *table) get(p peer.ID) *peerState {
	st := t.peers[p]
	if st == nil {
		st = &peerState{}
		t.peers[p] = st
	}
	return st
}

// rttAlpha is the EWMA weight of a new RTT sample. 1/4 follows route
// changes within a few pings while smoothing single outliers (TCP's SRTT
// uses 1/8 but samples far more often).
const rttAlpha = 0.25

// recordPing folds one ping result into the smoothed RTT. A successful ping
// also proves the link, so the dial backoff is reset. It returns the number
// of consecutive failed pings.
func (t *table) recordPing(p peer.ID, rtt time.Duration, ok bool, now time.Time) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := t.peers[p]
	if st == nil {
		return 0
	}
	if !ok {
		st.pingFails++
		return st.pingFails
	}
	st.pingFails = 0
	if st.rtt == 0 {
		st.rtt = rtt
	} else {
		st.rtt = time.Duration(rttAlpha*float64(rtt) + (1-rttAlpha)*float64(st.rtt))
	}
	st.lastSeen = now
	st.backoff = 0
	return 0
}

// setConnected applies a connectedness change; it reports whether the state
// changed (libp2p already dedupes, this guards against replays).
func (t *table) setConnected(p peer.ID, connected bool, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := t.get(p)
	if st.connected == connected {
		return false
	}
	st.connected = connected
	st.lastSeen = now
	st.pingFails = 0
	if !connected {
		// Redial after the current backoff (0 after a healthy link).
		st.nextDial = now.Add(st.backoff)
	}
	return true
}

// setRecord stores a catalog record; it reports whether p was unknown.
func (t *table) setRecord(p peer.ID, r Record) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := t.get(p)
	fresh := !st.known
	st.rec, st.known = r, true
	switch {
	case departed(r.State):
		st.leftMs = max(st.leftMs, r.UpdatedMs, 1)
	case r.UpdatedMs > st.leftMs:
		st.leftMs = 0 // back after leaving (a goodbye older than this record)
	}
	return fresh
}

// resetDial makes p due for an immediate dial with a fresh backoff.
func (t *table) resetDial(p peer.ID) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if st := t.peers[p]; st != nil {
		st.backoff, st.nextDial = 0, time.Time{}
	}
}

// dueDials marks and returns the peers that should be dialled now, and the
// connected or known peers not yet registered as gossipsub direct peers.
func (t *table) dueDials(now time.Time, lo, hi time.Duration, may func(peer.ID) bool) (dial, direct []peer.ID) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for p, st := range t.peers {
		if !st.direct && !st.probe && (st.known || st.connected) {
			st.direct = true
			direct = append(direct, p)
		}
		if st.connected || st.dialing || !(st.known || st.seed) || now.Before(st.nextDial) ||
			t.superseded(st) || (!st.probe && !may(p)) {
			continue
		}
		if st.leftMs != 0 && !st.seed {
			// It said goodbye; if it comes back it will dial us. Join peers are still
			// dialled, so that a cluster restarted as a whole finds itself again.
			continue
		}
		st.dialing = true
		// Space consecutive dials even when they "succeed" but the link
		// drops at once (e.g. the remote refuses us after the handshake):
		// only a successful ping resets the backoff.
		st.backoff = min(2*max(st.backoff, lo/2), hi)
		dial = append(dial, p)
	}
	return dial, direct
}

// dialDone records the end of a dial attempt.
func (t *table) dialDone(p peer.ID, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if st := t.peers[p]; st != nil {
		st.dialing = false
		// ±20% jitter so partitioned peers do not redial in lockstep.
		j := time.Duration(float64(st.backoff) * (0.8 + 0.4*rand.Float64()))
		st.nextDial = now.Add(j)
	}
}

func (t *table) connected() []peer.ID {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []peer.ID
	for p, st := range t.peers {
		if st.connected {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

func (t *table) members() []Member {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]Member, 0, len(t.peers)+1)
	for p, st := range t.peers {
		if !st.known && !st.connected || st.probe {
			continue
		}
		m := Member{Record: st.rec, Known: st.known, Connected: st.connected, RTT: st.rtt, LastSeen: st.lastSeen}
		if !st.known {
			m.Record = Record{PeerID: p.String()}
		}
		if st.leftMs != 0 {
			m.State = StateLeft
		}
		m.Addrs = slices.Clone(m.Addrs)
		out = append(out, m)
	}
	return out
}

// notifier delivers connectedness changes to user callbacks from its own
// goroutine, never under a lock and never blocking libp2p. Pending changes
// are coalesced per peer, so its memory is bounded by the number of peers;
// a down-up flap that happened while a callback was running is still
// delivered as two calls, so consecutive notifications for a peer always
// alternate.
type notifier struct {
	mu       sync.Mutex
	fns      []func(peer.ID, bool)
	pending  map[peer.ID]*pendingNote
	order    []peer.ID // FIFO of peers with a pending note
	notified map[peer.ID]bool
	wake     chan struct{}
}

type pendingNote struct {
	last  bool // latest state
	count int  // changes since the last delivery
}

func newNotifier() *notifier {
	return &notifier{
		pending:  make(map[peer.ID]*pendingNote),
		notified: make(map[peer.ID]bool),
		wake:     make(chan struct{}, 1),
	}
}

func (n *notifier) add(fn func(peer.ID, bool)) {
	n.mu.Lock()
	n.fns = append(n.fns, fn)
	n.mu.Unlock()
}

func (n *notifier) post(p peer.ID, connected bool) {
	n.mu.Lock()
	e := n.pending[p]
	if e == nil {
		e = &pendingNote{}
		n.pending[p] = e
		n.order = append(n.order, p)
	}
	e.last = connected
	e.count++
	n.mu.Unlock()
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// run delivers notes until ctx is done.
func (n *notifier) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.wake:
		}
		for {
			n.mu.Lock()
			if len(n.order) == 0 {
				n.mu.Unlock()
				break
			}
			p := n.order[0]
			n.order = n.order[1:]
			e := n.pending[p]
			delete(n.pending, p)
			prev := n.notified[p]
			var states []bool
			switch {
			case e.last != prev:
				states = []bool{e.last}
			case e.count >= 2:
				states = []bool{!prev, prev} // a flap since the last delivery
			}
			if len(states) > 0 {
				n.notified[p] = e.last
			}
			if !e.last {
				delete(n.notified, p) // absent = disconnected; bounds the map
			}
			fns := slices.Clone(n.fns)
			n.mu.Unlock()
			for _, s := range states {
				for _, fn := range fns {
					if ctx.Err() != nil {
						return
					}
					fn(p, s)
				}
			}
		}
	}
}

// watchConnections consumes libp2p connectedness events until the
// subscription is closed, updating the table and posting notifications.
func (c *Cluster) watchConnections(sub <-chan any) {
	for ev := range sub {
		e, ok := ev.(event.EvtPeerConnectednessChanged)
		if !ok || e.Peer == c.id {
			continue
		}
		connected := e.Connectedness == network.Connected
		if !c.table.setConnected(e.Peer, connected, time.Now()) {
			continue
		}
		if connected {
			c.c.connects.Add(1)
			c.linkUp(e.Peer, time.Now())
		} else {
			c.c.disconnects.Add(1)
			c.linkDown(e.Peer)
		}
		c.notes.post(e.Peer, connected)
		c.kickDialer() // register direct peer / schedule redial
	}
}
