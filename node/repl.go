package node

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/geocache/geocache/crdt"
	"github.com/geocache/geocache/lru"
)

// transport is what replication needs from the network. The libp2p cluster implements it; tests
// may use an in-memory one. Publish is best effort: anti-entropy repairs what it loses.
type transport interface {
	Publish(ctx context.Context, data []byte) error
	OpenSync(ctx context.Context, peer string) (io.ReadWriteCloser, error)
}

// replConfig tunes replication. Zero fields take the defaults in withDefaults.
type replConfig struct {
	MaxBatch          int           // deltas per gossip message (256; publishFrameBytes bounds its size)
	QueueSize         int           // outbound deltas waiting for gossip (65536); overflow is dropped, counted, repaired by sync
	QueueWait         time.Duration // most a write pass waits for a half-full queue to be taken (beginWrites; 1 s)
	LogBytes          int           // most the delta log may take (64 MiB); the janitor sizes it within by the data held (sizeLog)
	HeartbeatInterval time.Duration // 250 ms
	AckDelay          time.Duration // delay of the early heartbeat a peer asked for (msgAckRequest; 2 ms)
	AckInterval       time.Duration // least time between early heartbeats after applying peer writes (20 ms)
	PeerTimeout       time.Duration // a peer silent this long is unreachable (3 s)
	SyncInterval      time.Duration // periodic anti-entropy (5 s)
	SyncChunk         int           // deltas per sync frame (256)

	// Members, when set, lists the peer ids of the cluster's other members that have not left
	// (the catalog). Causal stability waits for every one of them (stableTime). It must not
	// call into the replicator.
	Members func() []string
}

func (c replConfig) withDefaults() replConfig {
	set := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	setD := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	set(&c.MaxBatch, 256)
	set(&c.QueueSize, 1<<16)
	set(&c.LogBytes, 64<<20)
	set(&c.SyncChunk, 256)
	setD(&c.HeartbeatInterval, 250*time.Millisecond)
	setD(&c.QueueWait, time.Second)
	setD(&c.AckDelay, 2*time.Millisecond)
	setD(&c.AckInterval, 20*time.Millisecond)
	setD(&c.PeerTimeout, 3*time.Second)
	setD(&c.SyncInterval, 5*time.Second)
	return c
}

// peerState is what this node knows of one peer, from its heartbeats and sync hello.
type peerState struct {
	id        string
	replica   crdt.ReplicaID
	lastHB    time.Time
	seq       uint64         // its latest issued seq
	hlc       crdt.Timestamp // its clock at the last heartbeat
	vector    *crdt.Vector   // what it has applied
	gapVec    *crdt.Vector   // what it had applied when it first showed dots we lack; nil = no gap
	gapSince  time.Time      // when
	lag       time.Duration  // smoothed apply lag of its writes here
	syncing   bool
	lastSync  time.Time
	syncQuiet time.Time // no repair session with it before then (startSync: syncPause)
	connected bool
	left      crdt.ReplicaID // the replica that said goodbye (leave.go); 0 = none
	forgotten bool           // forgotten (forget.go) while we still lacked some of its writes

	// roundTheirs and roundMine are its vector and ours at the last periodic sync round: a
	// difference between them that a whole round did not close starts a session (periodicSync).
	roundTheirs, roundMine *crdt.Vector
	// lossSync is when a session last started for its own writes lost on the way (onHeartbeat).
	lossSync time.Time
}

// ReplicationStats are the replication counters of one node.
type ReplicationStats struct {
	DeltasSent, BatchesSent           uint64 // gossip
	DeltasDropped                     uint64 // outbound queue full (repaired by anti-entropy)
	DeltasApplied, DeltasStale        uint64 // remote deltas that won / lost LWW (or hit a tombstone)
	DeltasDuplicate                   uint64 // already applied
	DeltasRejected, ClockSkewRejected uint64 // malformed or disallowed / too far in the future
	HeartbeatsSent, HeartbeatsRecv    uint64
	SyncSessions, SyncFailures        uint64
	SyncDeltasSent, SyncDeltasRecv    uint64 // SyncDeltasRecv: new dots (writes not held before) that sessions delivered
	SnapshotsSent                     uint64
	LogBytes                          int

	// What arrived, by path: every delta of a gossip batch, and every delta or snapshot entry of
	// a sync session, before deduplication. GossipDeltasRecv = gossip's share of DeltasApplied
	// + DeltasStale + DeltasDuplicate (+ rejected); SyncDeltasStale and SyncDeltasDuplicate are
	// the sessions' share of those two, the work a repair did for nothing. In a steady cluster
	// with no loss each write arrives once, by gossip, and both stay near zero.
	GossipDeltasRecv, SyncDeltasIn       uint64
	SyncDeltasStale, SyncDeltasDuplicate uint64
	// SyncStarts counts the sessions this node opened, by reason: a peer connected, a gap a
	// peer showed persisted, a peer's own writes were lost on the way, a periodic round.
	SyncStartsConnect, SyncStartsGap, SyncStartsLoss, SyncStartsPeriodic uint64
	// SyncPaced counts repairs (gap, loss, periodic) not started because the last session with
	// that peer ended less than syncPause times its own length ago (startSync).
	SyncPaced uint64
	// PassesWaited counts write passes (an event loop's requests), and writes of the Go and
	// HTTP APIs, that waited for the gossip queue to be taken: peers read more slowly than
	// this node writes (back-pressure).
	PassesWaited uint64
}

// replicator owns the node's replication state: the outbound queue, the version vector, the
// delta log and what it knows of peers. Its goroutines are owned by the Node.
type replicator struct {
	n   *Node
	cfg replConfig
	tr  transport
	lim crdt.Limits

	wake chan struct{} // signals the gossip loop that pending grew

	// applyMu serialises the application of deltas (not snapshots) of one writer, by stripes
	// of writers' replica ids: a batch checks the vector for the dots it holds before applying
	// and records them after, so two batches of one writer applied at once (its gossip, and a
	// sync session relaying the same writes) would both merge them. Writers in other stripes
	// apply in parallel.
	applyMu [applyStripes]sync.Mutex

	mu         sync.Mutex
	vec        *crdt.Vector
	log        *deltaLog
	peers      map[string]*peerState
	byRepl     map[crdt.ReplicaID]string // replica id -> peer id, bound by authenticated sync hellos
	pending    []crdt.Delta              // local writes waiting for gossip, bounded by QueueSize
	publishing bool                      // a publisher holds taken-but-unpublished deltas
	// holds counts the write passes under way (BeginWrites, an event loop's pass over its
	// ready connections): their writes wait in pending for the pass's end, which publishes
	// them from the loop's own goroutine, instead of waking the gossip loop for each.
	holds int
	// holdSince is when the oldest pass under way began (unix ms): a write made passHoldMax
	// after it wakes the gossip loop anyway, so a long pass (a script, a large command) does
	// not hold other goroutines' writes back.
	holdSince int64
	// room, made by a write pass that found pending half full, is closed when a publisher next
	// takes pending (beginWrites); overflow is set when such a wait ran out (QueueWait), and
	// passes then start without waiting until a publisher takes pending.
	room     chan struct{}
	overflow bool
	// pub is the publisher's state, used only by whoever set publishing.
	pub struct {
		batch crdt.Batch
		buf   []byte
		spare []crdt.Delta // the other half of pending's double buffer
	}
	// handedSeq and handedTS are the seq and timestamp of our newest write handed to the
	// transport (or dropped from the fast path). While writes wait for gossip, heartbeats
	// announce our own writes only up to it: they travel behind the deltas they cover, so a
	// receiver under a write flood does not take the queued ones for a gap and start an
	// anti-entropy session for writes already on the way (heartbeatFrame).
	handedSeq uint64
	handedTS  crdt.Timestamp
	changed   chan struct{} // closed and replaced whenever a peer's vector advances (WAIT)

	ackPending atomic.Bool
	peersUp    atomic.Int32  // connected peers; gossip is skipped when there are none
	kick       chan struct{} // wakes the heartbeat loop for an early ack after applied writes
	ackAsk     chan struct{} // wakes it for an early ack a peer asked for (msgAckRequest)

	st struct {
		deltasSent, batchesSent, deltasDropped             atomic.Uint64
		applied, stale, duplicate, rejected, skew          atomic.Uint64
		hbSent, hbRecv, sessions, syncFail, syncSent, recv atomic.Uint64
		snapshots                                          atomic.Uint64
		recvGossip, recvSync, syncStale, syncDup           atomic.Uint64
		syncStarts                                         [syncReasons]atomic.Uint64
		syncPaced, passesWaited                            atomic.Uint64
	}

	// scratch holds *applyScratch: what receiving a batch needs besides the keys and values the
	// store keeps, reused from batch to batch (a slice of decoded deltas per batch was a third
	// of a receiver's allocation under a write flood).
	scratch sync.Pool

	// applied, when set (benchmarks), is called after a remote delta is applied.
	applied func(d *crdt.Delta) // must not keep d.Key or d.Entry.Value: views of a reused buffer

	started time.Time // process start, for peers not heard from since (stableTime)
}

func newReplicator(n *Node, cfg replConfig, tr transport) *replicator {
	cfg = cfg.withDefaults()
	lim := crdt.Limits{MaxKey: n.cfg.MaxKeySize, MaxValue: n.cfg.MaxValueSize + crdt.MaxContentType + 1}
	return &replicator{
		n: n, cfg: cfg, tr: tr, lim: lim, started: time.Now(),
		wake:    make(chan struct{}, 1),
		vec:     crdt.NewVector(),
		log:     newDeltaLog(cfg.LogBytes),
		peers:   map[string]*peerState{},
		byRepl:  map[crdt.ReplicaID]string{},
		changed: make(chan struct{}),
		kick:    make(chan struct{}, 1),
		ackAsk:  make(chan struct{}, 1),
	}
}

// start launches the replicator's goroutines under the node's WaitGroup.
func (r *replicator) start() {
	r.n.wg.Add(2)
	go r.gossipLoop()
	go r.heartbeatLoop()
}

// local records a local write and queues it for gossip. Called after the store lock is
// released, from any goroutine.
func (r *replicator) local(d crdt.Delta) {
	r.mu.Lock()
	r.vec.Add(d.Entry.Dot(), d.Entry.Version.TS)
	r.log.addOne(&d)
	if r.peersUp.Load() == 0 {
		// Nobody to gossip to: a peer that connects later catches up from the log.
		r.mu.Unlock()
		return
	}
	queued := len(r.pending) < r.cfg.QueueSize
	if queued {
		r.pending = append(r.pending, d)
	}
	wake := r.wakeNeeded(d.Entry.Version.TS.Millis())
	r.mu.Unlock()
	if !queued {
		// The write is applied, logged and in our vector: peers notice the gap from our next
		// heartbeat and fetch it by anti-entropy.
		r.st.deltasDropped.Add(1)
		return
	}
	if wake {
		r.wakeGossip()
	}
}

// passHoldMax is how long (ms) a write pass may hold writes back before a write wakes the
// gossip loop anyway. An event loop's pass normally lasts well under a millisecond.
const passHoldMax = 5

// wakeNeeded reports whether the gossip loop must be woken for what pending holds, a write
// stamped at nowMs having just joined it: not while a publisher is at work (it looks at pending
// again when done), nor while a pass holds writes (its end publishes them) unless the pass has
// lasted passHoldMax. Needs r.mu.
func (r *replicator) wakeNeeded(nowMs int64) bool {
	return len(r.pending) > 0 && !r.publishing && (r.holds == 0 || nowMs-r.holdSince >= passHoldMax)
}

func (r *replicator) wakeGossip() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// localUnit records the writes of a transaction, which share one dot, and queues them for
// gossip as one unit: they are logged and queued together (or dropped from the fast path
// together), so gossip and the log always hold the unit whole and in a row.
func (r *replicator) localUnit(ds []crdt.Delta) {
	ts := unitTS(ds)
	r.mu.Lock()
	r.vec.Add(ds[0].Entry.Dot(), ts)
	r.log.add(ds)
	if r.peersUp.Load() == 0 {
		r.mu.Unlock()
		return
	}
	queued := len(r.pending)+len(ds) <= r.cfg.QueueSize
	if queued {
		r.pending = append(r.pending, ds...)
	}
	wake := r.wakeNeeded(ts.Millis())
	r.mu.Unlock()
	if !queued {
		r.st.deltasDropped.Add(uint64(len(ds)))
		return
	}
	if wake {
		r.wakeGossip()
	}
}

// unitEnd returns the end of the unit starting at ds[i]: the deltas after it that share its dot
// (a transaction's writes, which senders keep in a row).
func unitEnd(ds []crdt.Delta, i int) int {
	j := i + 1
	for j < len(ds) && ds[j].Entry.Seq == ds[i].Entry.Seq && ds[j].Entry.Version.Replica == ds[i].Entry.Version.Replica {
		j++
	}
	return j
}

// unitStart returns the start of the unit ending at ds[i].
func unitStart(ds []crdt.Delta, i int) int {
	for i > 0 && ds[i-1].Entry.Seq == ds[i].Entry.Seq && ds[i-1].Entry.Version.Replica == ds[i].Entry.Version.Replica {
		i--
	}
	return i
}

// hasUnit reports whether ds holds a unit of more than one delta.
func hasUnit(ds []crdt.Delta) bool {
	for i := 1; i < len(ds); i++ {
		if ds[i].Entry.Seq == ds[i-1].Entry.Seq && ds[i].Entry.Version.Replica == ds[i-1].Entry.Version.Replica {
			return true
		}
	}
	return false
}

// unitTS is the newest timestamp of a unit's writes: the vector records the dot at it.
func unitTS(ds []crdt.Delta) crdt.Timestamp {
	var ts crdt.Timestamp
	for i := range ds {
		ts = max(ts, ds[i].Entry.Version.TS)
	}
	return ts
}

// flush waits until every queued delta was handed to the transport, or ctx ends.
func (r *replicator) flush(ctx context.Context) {
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	for {
		// Publish here too: the writes may wait for a pass's end (beginWrites).
		r.publishPending(ctx, false)
		r.mu.Lock()
		idle := len(r.pending) == 0 && !r.publishing
		r.mu.Unlock()
		if idle {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// gossipLoop publishes the writes queued outside write passes: at once when idle, and in
// batches of up to MaxBatch when writes queue up while a publish is in flight.
func (r *replicator) gossipLoop() {
	defer r.n.wg.Done()
	ctx, cancel := r.n.stopCtx()
	defer cancel()
	for {
		select {
		case <-r.n.stop:
			return
		case <-r.wake:
		}
		r.publishPending(ctx, false)
	}
}

// beginWrites starts a write pass: local writes wait in pending until endWrites publishes
// them. Passes may overlap (one per event loop); each must end.
func (r *replicator) beginWrites() {
	r.mu.Lock()
	r.waitRoomLocked(nil)
	now := r.n.nowMs()
	if r.holds == 0 {
		r.holdSince = now
	}
	r.holds++
	r.mu.Unlock()
}

// pace is beginWrites's wait for a write made outside a pass (the Go and HTTP APIs, a RESP
// connection not served by an event loop), before the write is made: a service writing
// through the Go API as fast as it can is paced to its slowest member as a RESP client is,
// where its writes beyond the queue were dropped and repaired by anti-entropy (the snapshots
// of a collapse under a write flood). It returns ctx.Err() if ctx ends first, and the write is
// then not made. Such a write holds no lock while it waits.
func (r *replicator) pace(ctx context.Context) error {
	if r.peersUp.Load() == 0 {
		return nil // nothing to wait for, and no lock taken
	}
	r.mu.Lock()
	ok := r.waitRoomLocked(ctx.Done())
	r.mu.Unlock()
	if !ok {
		return ctx.Err()
	}
	return nil
}

// waitRoomLocked waits, with r.mu released meanwhile, while pending is half full and a peer
// is up and no earlier wait ran out (overflow), until pending is under half its bound
// or QueueWait has passed (then marks the overflow: later passes do not wait until a publisher
// takes pending). A pass starts with the queue half full only when the publisher is slower
// than the writes: its members' send queues are full because they read more slowly than this
// node writes (cluster.Config.PublishWait). Waiting here, before the pass reads a request,
// paces the clients to the slowest member instead of filling the queue and dropping writes,
// which anti-entropy then repaired by snapshots that starved the members further (a cluster
// writing collections on a saturated machine spent most of its CPU on repairs). Writes made
// outside passes wait here too (pace). It reports false if done was closed first (nil: never).
func (r *replicator) waitRoomLocked(done <-chan struct{}) bool {
	halfFull := func() bool { return len(r.pending) >= r.cfg.QueueSize/2 && r.peersUp.Load() > 0 }
	if r.overflow || !halfFull() {
		return true
	}
	r.st.passesWaited.Add(1)
	t := time.NewTimer(r.cfg.QueueWait)
	defer t.Stop()
	for halfFull() {
		if r.room == nil {
			r.room = make(chan struct{})
		}
		room := r.room
		r.mu.Unlock()
		r.wakeGossip()
		var out, gone bool
		select {
		case <-room:
		case <-t.C:
			out = true
		case <-r.n.stop:
			out = true
		case <-done:
			gone = true
		}
		r.mu.Lock()
		if gone {
			return false
		}
		if out {
			r.overflow = true
			return true
		}
	}
	return true
}

// endWrites ends a write pass and publishes what is pending, on the caller's goroutine: a
// pipeline's writes go out as one batch, with no gossip loop to wake between the event loop
// and the member's writer (each wake-up of a parked goroutine added to the replication lag's
// tail). Another pass's writes queued meanwhile go out with them; if another publisher is at
// work, it publishes them when done.
func (r *replicator) endWrites() bool {
	return r.publishPending(r.n.life, true) // Publish never blocks: it queues
}

// publishPending hands the queued deltas to the transport, unless another goroutine is doing
// so (one publisher at a time keeps our writes in seq order on every member's stream, which
// heartbeats rely on). With no peer connected nothing is published: a peer that connects later
// is brought up to date by anti-entropy. What queued meanwhile is left to the gossip loop,
// unless a pass will publish it. endPass also ends the caller's write pass. It reports whether
// it handed anything to the transport.
func (r *replicator) publishPending(ctx context.Context, endPass bool) bool {
	r.mu.Lock()
	if endPass {
		r.holds--
	}
	if r.publishing || len(r.pending) == 0 {
		r.mu.Unlock()
		return false
	}
	taken := r.pending
	r.pending, r.pub.spare = r.pub.spare[:0], nil
	r.publishing = true
	r.overflow = false
	if r.room != nil {
		close(r.room) // passes waiting for room (waitRoomLocked)
		r.room = nil
	}
	r.mu.Unlock()
	sent := r.peersUp.Load() > 0
	if sent {
		r.publish(ctx, taken)
	}
	r.mu.Lock()
	if k := len(taken); k > 0 {
		r.handedSeq, r.handedTS = taken[k-1].Entry.Seq, max(r.handedTS, unitTS(taken[unitStart(taken, k-1):]))
	}
	// Only what was used: the slice beyond it was cleared when last used (pending only grows
	// by append). Clearing the whole capacity, up to QueueSize deltas, on every wake cost a
	// writer 8 % of its CPU under a write flood.
	clear(taken)
	r.pub.spare = taken[:0]
	r.publishing = false
	wake := r.wakeNeeded(r.n.nowMs())
	r.mu.Unlock()
	if wake {
		r.wakeGossip()
	}
	return sent
}

// publishFrameBytes is about the most payload (keys and values) publish puts in one frame: a
// receiver reads a frame of up to 64 KiB in place (cluster.readDirect), and a frame of 64
// deltas of 100 bytes was only ~9 KiB, each costing both ends a frame's fixed cost (the
// transport's queueing on the writer, a handler call, a decode and an apply setup on the
// receiver).
const publishFrameBytes = 32 << 10

// publish encodes ds in frames of up to MaxBatch deltas and about publishFrameBytes of keys
// and values, never splitting a transaction's unit, and hands each to the transport. The
// caller is the publisher.
func (r *replicator) publish(ctx context.Context, ds []crdt.Delta) {
	batch := &r.pub.batch
	batch.From = r.n.replica
	for len(ds) > 0 {
		k, size := 0, 0
		for k < len(ds) && k < r.cfg.MaxBatch && (k == 0 || size < publishFrameBytes) {
			size += len(ds[k].Key) + len(ds[k].Entry.Value)
			k++
		}
		k = unitEnd(ds, k-1) // never split a transaction's unit
		batch.Deltas = ds[:k]
		ds = ds[k:]
		kind := msgDeltas
		if hasUnit(batch.Deltas) {
			kind = msgUnits
		}
		r.pub.buf = crdt.AppendBatch(append(r.pub.buf[:0], kind), batch)
		if err := r.tr.Publish(ctx, r.pub.buf); err != nil {
			r.st.deltasDropped.Add(uint64(k))
			continue
		}
		r.st.batchesSent.Add(1)
		r.st.deltasSent.Add(uint64(k))
	}
	batch.Deltas = nil
}

// heartbeatLoop publishes heartbeats periodically, early when a peer asked for one
// (msgAckRequest: a WAIT sees its acknowledgements quickly) and at most every AckInterval after
// applying peer writes; it marks silent peers unreachable and starts periodic anti-entropy.
func (r *replicator) heartbeatLoop() {
	defer r.n.wg.Done()
	ctx, cancel := r.n.stopCtx()
	defer cancel()
	t := time.NewTicker(r.cfg.HeartbeatInterval)
	defer t.Stop()
	lastSyncRound := time.Now()
	var (
		buf      []byte
		lastSent time.Time
	)
	for {
		select {
		case <-r.n.stop:
			return
		case <-t.C:
		case <-r.kick:
			due := time.Now().Add(r.cfg.AckDelay)
			if next := lastSent.Add(r.cfg.AckInterval); next.After(due) {
				due = next
			}
			if !r.ackWait(due) {
				return
			}
		case <-r.ackAsk:
			if !r.ackWait(time.Now().Add(r.cfg.AckDelay)) {
				return
			}
		}
		lastSent = time.Now()
		r.ackPending.Store(false)
		// Writes held back by a pass that has not ended (a long script) leave at the latest
		// now, ahead of the heartbeat.
		r.publishPending(ctx, false)
		buf = r.heartbeatFrame(buf[:0])
		if err := r.tr.Publish(ctx, buf); err == nil {
			r.st.hbSent.Add(1)
		}
		if time.Since(lastSyncRound) >= r.cfg.SyncInterval {
			lastSyncRound = time.Now()
			r.periodicSync()
		}
	}
}

// ackWait waits until due, or AckDelay after a peer asks for an acknowledgement if that is
// sooner. It reports false when the node stops.
func (r *replicator) ackWait(due time.Time) bool {
	timer := time.NewTimer(time.Until(due))
	defer timer.Stop()
	for {
		select {
		case <-r.n.stop:
			return false
		case <-timer.C:
			return true
		case <-r.ackAsk:
			if asked := time.Now().Add(r.cfg.AckDelay); asked.Before(due) {
				due = asked
				timer.Reset(time.Until(due))
			}
		}
	}
}

func (r *replicator) heartbeatFrame(dst []byte) []byte {
	r.n.clockMu.Lock()
	h := heartbeat{replica: r.n.replica, seq: r.n.seq, hlc: r.n.clock.Now(r.n.nowMs())}
	r.n.clockMu.Unlock()
	r.mu.Lock()
	h.vector = r.vec.Summary()
	if len(r.pending) > 0 || r.publishing {
		for i := range h.vector {
			if s := &h.vector[i]; s.Replica == r.n.replica && s.Prefix > r.handedSeq {
				s.Prefix, s.PrefixTS, s.Extra = r.handedSeq, r.handedTS, nil
			}
		}
	}
	r.mu.Unlock()
	return appendHeartbeat(dst, &h)
}

// onMessage handles one gossip message from peer from. Malformed or disallowed messages are
// counted and change nothing.
func (r *replicator) onMessage(from string, data []byte) {
	if len(data) == 0 {
		r.st.rejected.Add(1)
		return
	}
	switch data[0] {
	case msgDeltas, msgUnits:
		if r.n.loading() {
			return // not recorded in the vector: anti-entropy delivers it after the load
		}
		sc := r.getScratch()
		defer r.putScratch(sc)
		b := &sc.batch
		// The keys and values stay views of data, which outlives the apply (applyDeltas copies
		// what it keeps): most name keys the store holds, so copying each was an allocation per
		// write, and a register's value is stored behind a copy of its key (merge), so a
		// decoded copy of the value was garbage at once.
		sc.borrowed = true
		if err := crdt.DecodeBatchBorrow(b, data[1:], r.lim); err != nil {
			r.st.rejected.Add(1)
			return
		}
		// Gossip carries only the sender's own writes; relayed writes travel over
		// authenticated sync streams.
		for i := range b.Deltas {
			if b.Deltas[i].Entry.Version.Replica != b.From {
				r.st.rejected.Add(uint64(len(b.Deltas)))
				return
			}
		}
		if b.From == r.n.replica {
			// Someone claims to be us: refuse rather than corrupt our own write stream.
			r.st.rejected.Add(uint64(len(b.Deltas)))
			return
		}
		r.st.recvGossip.Add(uint64(len(b.Deltas)))
		r.applyDeltas(b.Deltas, true, false, sc)
		// An early heartbeat tells the writer (and the stable time of every peer) how far we
		// got, at most every AckInterval: one AckDelay after each batch, as before, was up to
		// 500 heartbeats a second to every peer under a write flood — a frame, a system call
		// and a wake-up on both sides each, a few per cent of every node's CPU. A WAIT asks for
		// its heartbeat (msgAckRequest) and gets it after AckDelay.
		if len(b.Deltas) > 0 && r.ackPending.CompareAndSwap(false, true) {
			select {
			case r.kick <- struct{}{}:
			default:
			}
		}
	case msgAckRequest:
		if len(data) != 1 {
			r.st.rejected.Add(1)
			return
		}
		select {
		case r.ackAsk <- struct{}{}:
		default: // one is already on its way
		}
	case msgHeartbeat:
		h, err := decodeHeartbeat(data, crdt.DefaultMaxReplicas)
		if err != nil || h.replica == r.n.replica {
			r.st.rejected.Add(1)
			return
		}
		r.st.hbRecv.Add(1)
		r.onHeartbeat(from, &h)
	default:
		r.st.rejected.Add(1)
	}
}

// apply merges one remote delta into the store and records its dot. It reports whether the
// delta was new here (not a duplicate or rejected).
func (r *replicator) apply(d *crdt.Delta) bool {
	return r.applyBatch([]crdt.Delta{*d}, false) == 1
}

// applyBatch merges remote deltas into the store (LWW, inside the store's compare-and-apply)
// and records their dots and log entries, taking each replication lock once per batch. It
// returns how many deltas were new here. gossip says the deltas came by gossip: only those
// feed the writer's smoothed lag, since a repair by anti-entropy delivers writes that may be
// minutes old (a joining node would report the age of the data, not the link's delay).
//
// Deltas in a row that share a dot are one transaction's unit: it is applied under the locks of
// all its keys' shards, so no reader here sees part of it, and it is taken or refused whole.
func (r *replicator) applyBatch(ds []crdt.Delta, gossip bool) int {
	return r.applyDeltas(ds, gossip, false, nil)
}

// applySnapshot merges the entries of a snapshot: final states, not writes. Entries of one
// transaction share a dot but may arrive in different frames, so they are not deduplicated by
// dot (LWW makes a repeat a no-op) and not logged: the log then no longer covers those writers
// up to those seqs, and a peer lacking them is served by a snapshot in turn.
func (r *replicator) applySnapshot(ds []crdt.Delta, sc *applyScratch) int {
	return r.applyDeltas(ds, false, true, sc)
}

// applyScratch is the reusable memory of applying received batches (replicator.scratch).
type applyScratch struct {
	batch crdt.Batch
	state []uint8
	keys  []string
	// borrowed says the deltas' keys and values are views of a buffer reused after the apply
	// (crdt.DecodeBatchBorrow): what is kept of them beyond the apply must be a copy.
	borrowed bool
	blocks   [][]byte // a run's blocks (ownedBlock), cleared after the run
}

// ownedBlock copies a register write's key and bytes into the one block the store keeps them
// in (keyedBuf, as own does) and points d at that copy; it returns the block, or nil for
// another type or an empty key or value (merge copies those if they win). A receiver builds
// a run's blocks before the store's batch looks their keys up, not one by one while it applies
// them: the copy writes fresh memory the caches do not hold, and under the store's lock the
// next read of what was just written (the update, copied to the store) waited for those
// writes to reach the cache — 8 % of a receiver's CPU under a SET flood (pprof placed it on
// the copy after own returned). Built first, those writes drain while the lookups' misses are
// in flight. A write that then loses leaves its block to the collector: gossip and sync runs
// hold only writes whose dots were new here, which nearly all win; a snapshot's runs are not
// built this way.
func ownedBlock(d *crdt.Delta) []byte {
	if d.Entry.Type != crdt.TypeLWW || len(d.Key) == 0 || len(d.Entry.Value) == 0 || len(d.Key) > maxKeyLen {
		return nil
	}
	kb := keyedCopy(d.Key, d.Entry.Value)
	d.Key = unsafe.String(unsafe.SliceData(kb), len(d.Key))
	d.Entry.Value = kb[len(d.Key):]
	return kb
}

func (r *replicator) getScratch() *applyScratch {
	if sc, ok := r.scratch.Get().(*applyScratch); ok {
		return sc
	}
	return &applyScratch{}
}

// putScratch returns sc to the pool without the keys and values it pointed to: the store keeps
// those that won, and the others are garbage. A sync frame's worth of deltas (up to SyncChunk)
// is kept; a larger slice is let go.
func (r *replicator) putScratch(sc *applyScratch) {
	clear(sc.batch.Deltas)
	clear(sc.keys)
	if cap(sc.batch.Deltas) > 4096 {
		sc.batch.Deltas, sc.state, sc.keys = nil, nil, nil
	}
	sc.batch.Deltas, sc.keys, sc.borrowed = sc.batch.Deltas[:0], sc.keys[:0], false
	r.scratch.Put(sc)
}

// applyDeltas applies ds (applyBatch, applySnapshot) with sc's memory (nil: its own).
func (r *replicator) applyDeltas(ds []crdt.Delta, gossip, snapshot bool, sc *applyScratch) int {
	const (
		skip = iota
		fresh
		won
	)
	// A batch without a unit of several deltas (a writer's plain SETs, nearly every batch) has
	// every end at i+1: one pass to know it, not a scan of the next delta at each of the five
	// places below that ask for a unit's end (3 % of a receiver's instructions).
	single := snapshot || !hasUnit(ds)
	end := func(i int) int {
		if single {
			return i + 1
		}
		return unitEnd(ds, i)
	}
	if !snapshot {
		defer r.lockWriters(ds)()
	}
	if sc == nil {
		sc = &applyScratch{}
	}
	// Borrowed keys and values: a register's reach the store, which keeps neither (merge
	// stores its bytes behind a copy of its key, and the store keeps no key of its own), nor
	// does a collection's (crdt copies what a merge keeps, and applyRemoteColl the key where a
	// new collection keeps it: copies here were two allocations of every replicated SADD); a
	// counter's may be kept where nothing copies them, so it gets copies here.
	if sc.borrowed {
		for k := range ds {
			if t := ds[k].Entry.Type; t != crdt.TypeLWW && !t.IsCollection() {
				ds[k].Key = strings.Clone(ds[k].Key)
				ds[k].Entry.Value = bytes.Clone(ds[k].Entry.Value)
			}
		}
	}
	if cap(sc.state) < len(ds) {
		sc.state = make([]uint8, len(ds))
	}
	state := sc.state[:len(ds)]
	clear(state)
	r.mu.Lock()
	for i := 0; i < len(ds); {
		j := end(i)
		ok := true
		for k := i; k < j; k++ {
			if !validRemote(&ds[k], r.n.cfg.MaxKeySize) || (j-i > 1 && ds[k].Entry.Type == crdt.TypeFlush) {
				ok = false // one bad delta refuses its whole unit; a flush is never part of one
			}
		}
		switch {
		case !ok:
			r.st.rejected.Add(uint64(j - i))
		case !snapshot && r.vec.Contains(ds[i].Entry.Dot()) && !(j-i == 1 && ds[i].Entry.Type == crdt.TypeCounter):
			// A counter is merged even under a dot we hold: its whole state may ride under its
			// newest dot and carry other replicas' writes (merging is idempotent). A collection's
			// delta is the same bytes wherever it travels (its writer's encoding, relayed from
			// logs), so a dot held means it was merged, or superseded by a snapshot: merging it
			// again is a no-op that cost a receiver a quarter more under a write flood, when
			// anti-entropy resends what gossip is still delivering.
			r.st.duplicate.Add(uint64(j - i))
			if !gossip {
				r.st.syncDup.Add(uint64(j - i))
			}
		default:
			for k := i; k < j; k++ {
				state[k] = fresh
			}
		}
		i = j
	}
	r.mu.Unlock()
	nowMs := r.n.nowMs()
	r.n.clockMu.Lock()
	for i := 0; i < len(ds); {
		j := end(i)
		for k := i; k < j && state[i] == fresh; k++ {
			if _, err := r.n.clock.Observe(ds[k].Entry.Version.TS, nowMs); err != nil {
				// Not recorded in the vector: once our clock catches up a later sync delivers it.
				for m := i; m < j; m++ {
					state[m] = skip
				}
				r.st.skew.Add(1)
			}
		}
		i = j
	}
	r.n.clockMu.Unlock()
	// plainRun returns the end of the run of fresh deltas from ds[i] that are each a unit on
	// their own and not a flush: those are applied one after another in one store batch.
	plainRun := func(i int) int {
		for i < len(ds) && state[i] == fresh && ds[i].Entry.Type != crdt.TypeFlush && end(i) == i+1 {
			i++
		}
		return i
	}
	keys := sc.keys[:0]
	defer func() { sc.keys = keys[:0] }()
	var nWon, nStale uint64
	for i := 0; i < len(ds); {
		j := end(i)
		if state[i] != fresh {
			i = j
			continue
		}
		if run := plainRun(i); run > i+1 {
			// Single writes in a row are applied as one store batch, which overlaps their
			// lookups' cache misses (a receiver's largest cost under a write flood).
			keys = keys[:0]
			blocks := sc.blocks[:0]
			for k := i; k < run; k++ {
				var kb []byte
				if !snapshot {
					// A snapshot's entries are not checked against the vector first: many
					// may lose to what this node holds, and a block built for each would be
					// garbage in proportion to the store. merge copies the winners.
					kb = ownedBlock(&ds[k])
				}
				blocks = append(blocks, kb)
				keys = append(keys, ds[k].Key)
			}
			var runs collRuns // runs of deltas to one collection, merged whole (mergeInRun)
			r.n.store.ApplyBatch(keys, nowMs, func(k int, cur lru.Current[value]) lru.Update[value] {
				d := &ds[i+k]
				if up, newer, ok := r.n.mergePlain(&cur, &d.Entry, blocks[k], len(d.Key)); ok {
					if newer {
						state[i+k] = won
					}
					return up
				}
				if up, ok := r.n.mergeInRun(&runs, ds[i:run], k, &cur, nowMs, state[i:run], won); ok {
					return up
				}
				up, ok := r.n.mergeKeyed(d.Key, &cur, &d.Entry, nowMs, blocks[k])
				if ok {
					state[i+k] = won
				}
				return up
			})
			clear(blocks)
			sc.blocks = blocks[:0]
			j = run
		} else if j-i == 1 && ds[i].Entry.Type == crdt.TypeFlush {
			if _, newer := r.n.applyFlush(&ds[i].Entry); newer {
				state[i] = won
			}
		} else if j-i == 1 {
			e := &ds[i].Entry
			r.n.store.Do(ds[i].Key, nowMs, func(cur lru.Current[value]) lru.Update[value] {
				up, ok := r.n.merge(ds[i].Key, &cur, e, nowMs)
				if ok {
					state[i] = won
				}
				return up
			})
		} else {
			keys = keys[:0]
			for k := i; k < j; k++ {
				keys = append(keys, ds[k].Key)
			}
			l := r.n.store.Lock(keys, false)
			for k := i; k < j; k++ {
				e := &ds[k].Entry
				l.Do(ds[k].Key, nowMs, func(cur lru.Current[value]) lru.Update[value] {
					up, ok := r.n.merge(ds[k].Key, &cur, e, nowMs)
					if ok {
						state[k] = won
					}
					return up
				})
			}
			l.Unlock()
		}
		for k := i; k < j; k++ {
			if state[k] == won {
				nWon++
			} else {
				nStale++
			}
		}
		i = j
	}
	// Counted once per batch: an atomic add per write was a shared cache line bouncing
	// between the receive goroutines of different writers.
	r.st.applied.Add(nWon)
	if nStale > 0 {
		r.st.stale.Add(nStale)
		if !gossip {
			r.st.syncStale.Add(nStale)
		}
	}
	added := 0
	// The writer whose peer's lag the last won delta fed: a batch is one writer's, so its peer
	// is looked up once, not per write (two map reads per write, 2 % of a receiver's CPU).
	var (
		lagRep  crdt.ReplicaID
		lagPeer *peerState
	)
	r.mu.Lock()
	for i := 0; i < len(ds); {
		j := end(i)
		if state[i] == skip {
			i = j
			continue
		}
		e := &ds[i].Entry
		newDot := r.vec.Add(e.Dot(), unitTS(ds[i:j]))
		if snapshot {
			r.log.markDropped(e.Version.Replica, e.Seq)
		} else if newDot {
			r.log.add(ds[i:j])
		}
		if newDot {
			added += j - i
		}
		for k := i; k < j; k++ {
			if state[k] == won && gossip {
				if lagPeer == nil || lagRep != e.Version.Replica {
					lagRep, lagPeer = e.Version.Replica, r.peers[r.byRepl[e.Version.Replica]]
				}
				if p := lagPeer; p != nil {
					lag := time.Duration(nowMs-ds[k].Entry.Version.TS.Millis()) * time.Millisecond
					p.lag = (p.lag*7 + max(lag, 0)) / 8
				}
			}
		}
		i = j
	}
	r.mu.Unlock()
	if r.applied != nil {
		for i := range ds {
			if state[i] == won {
				r.applied(&ds[i])
			}
		}
	}
	return added
}

// applyStripes is how many stripes of writers applyMu has.
const applyStripes = 16

// lockWriters takes the applyMu stripes of ds's writers, in order, and returns their unlock.
func (r *replicator) lockWriters(ds []crdt.Delta) func() {
	var mask uint32
	for i := range ds {
		mask |= 1 << (uint64(ds[i].Entry.Version.Replica) % applyStripes)
	}
	for i := range applyStripes {
		if mask&(1<<i) != 0 {
			r.applyMu[i].Lock()
		}
	}
	return func() {
		for i := range applyStripes {
			if mask&(1<<i) != 0 {
				r.applyMu[i].Unlock()
			}
		}
	}
}

// validRemote checks what the codec cannot: a known type in its place (a flush marker has an
// empty key), the key bound, a dot.
func validRemote(d *crdt.Delta, maxKey int) bool {
	switch {
	case d.Entry.Seq == 0 || len(d.Key) > maxKey:
		return false
	case d.Entry.Type == crdt.TypeFlush:
		return d.Key == ""
	}
	return d.Entry.Type == crdt.TypeLWW || d.Entry.Type == crdt.TypeCounter || d.Entry.Type.IsCollection()
}

// merge applies a remote entry e of key to cur under cur's shard lock: the LWW rule between registers,
// crdt.Merge when either side is a counter, the collection merge for hashes, sets and sorted
// sets (applyRemoteColl). It reports whether e changed the key and the update
// that stores the result.
func (n *Node) merge(key string, cur *lru.Current[value], e *crdt.Entry, nowMs int64) (lru.Update[value], bool) {
	return n.mergeKeyed(key, cur, e, nowMs, nil)
}

// mergeKeyed is merge for an entry whose key and bytes a caller may have copied already into
// one block, kb (keyedBuf: the key, then e.Value): a winning value that is e's bytes is kept
// there, not copied again.
func (n *Node) mergeKeyed(key string, cur *lru.Current[value], e *crdt.Entry, nowMs int64, kb []byte) (up lru.Update[value], won bool) {
	up, won = n.mergeEntry(key, cur, e, nowMs)
	if up.Action == lru.Put && !up.Value.isObj() {
		if len(kb) > len(key) && up.Value.p == unsafe.Pointer(unsafe.SliceData(kb[len(key):])) {
			up.Value.setKeyed(kb, len(key))
			return
		}
		// The bytes (of e, which may be a view of a received frame) go behind a copy of the
		// key in one allocation, where the store keeps them (own): built here, once.
		own(key, &up.Value)
	}
	return
}

// mergePlain is mergeKeyed for a receiver's common case, decided in one step: a register write
// e whose key (klen bytes) and bytes are the block kb (ownedBlock), onto a register or an
// absent key — the LWW rule, the floor of an absent key, the writer's index. Through
// mergeKeyed, mergeEntry, applyRemoteColl and mergeValue, each returning the update up the
// chain, it cost ~500 instructions per write under a SET flood. handled is false, deciding
// nothing, for anything else (a counter or a collection on either side, no block), which
// mergeKeyed decides; what it handles it decides as mergeKeyed would.
func (n *Node) mergePlain(cur *lru.Current[value], e *crdt.Entry, kb []byte, klen int) (up lru.Update[value], won, handled bool) {
	if e.Type != crdt.TypeLWW || kb == nil {
		return up, false, false
	}
	if cur.Exists {
		if cur.Value.isObj() || cur.Value.typ() == crdt.TypeCounter {
			return up, false, false
		}
		if !cur.Value.ver(n.reps).Less(e.Version) {
			return lru.Update[value]{Action: lru.Keep}, false, true
		}
	} else if uint64(e.Version.TS) <= cur.Floor {
		return lru.Update[value]{Action: lru.Keep}, false, true // evicted/expired/deleted newer here
	}
	v, ok := n.reps.newValue(e.Version, e.Seq, e.Type, e.Flags)
	if !ok {
		return lru.Update[value]{Action: lru.Keep}, false, true // the full replica table refuses it
	}
	v.setData(e.Value)
	n.trackTombstone(cur, &v)
	v.setKeyed(kb, klen) // e.Value is kb[klen:]
	return lru.Update[value]{Action: lru.Put, Value: v, Expiry: e.Expiry}, true, true
}

// mergeEntry is merge before the winning bytes are copied.
func (n *Node) mergeEntry(key string, cur *lru.Current[value], e *crdt.Entry, nowMs int64) (lru.Update[value], bool) {
	if up, won, ok := n.applyRemoteColl(key, cur, e, nowMs); ok {
		return up, won
	}
	// Checked under the key's lock: a flush publishes its floor before it clears, so a counter
	// stored here after the check would have been cleared with the rest.
	if e.Type == crdt.TypeCounter && n.flushedBefore(e) {
		return lru.Update[value]{Action: lru.Keep}, false // increments that did not observe a flush
	}
	if !cur.Exists && uint64(e.Version.TS) <= cur.Floor {
		return lru.Update[value]{Action: lru.Keep}, false // evicted/expired/deleted newer here
	}
	v, exp, ok := n.mergeValue(cur, e)
	if !ok {
		return lru.Update[value]{Action: lru.Keep}, false
	}
	n.trackTombstone(cur, &v)
	return lru.Update[value]{Action: lru.Put, Value: v, Expiry: exp}, true
}

// onHeartbeat updates what we know of a peer and starts anti-entropy when it holds writes we
// lack for two heartbeats in a row (one could be gossip still in flight).
func (r *replicator) onHeartbeat(from string, h *heartbeat) {
	peerVec := crdt.VectorFromSummary(h.vector)
	r.mu.Lock()
	p := r.peerLocked(from)
	p.forgotten = false // it is back
	if p.replica == 0 || p.replica != h.replica {
		// First heartbeat, or the peer restarted with a new replica id.
		p.replica = h.replica
		if _, taken := r.byRepl[h.replica]; !taken {
			r.byRepl[h.replica] = from
		}
	}
	p.lastHB, p.seq, p.hlc, p.vector = time.Now(), h.seq, h.hlc, peerVec
	// A gap is what the peer had applied and we lack. Under a steady write flood a peer that
	// applies some writer's stream a little ahead of us always shows one, and heartbeats come
	// every few milliseconds (early acks), so a gap alone is no sign of loss. It is when the
	// dots a peer showed stay missing here for two heartbeat intervals that gossip lost them
	// and anti-entropy is started.
	now := p.lastHB
	if p.gapVec != nil && !r.lacksFrom(from, p.gapVec) {
		p.gapVec = nil // the old gap closed: gossip delivered it
	}
	if p.gapVec == nil && r.lacksFrom(from, peerVec) {
		p.gapVec, p.gapSince = peerVec, now
	}
	needSync := p.gapVec != nil && now.Sub(p.gapSince) >= 2*r.cfg.HeartbeatInterval && !p.syncing
	why := syncGap
	// The peer's own writes are another matter: its heartbeat travels behind them on the same
	// ordered stream, so those it announces and we lack were lost (its queue to us overflowed,
	// or the stream was reset). Fetch them now, while its delta log still holds them: two
	// heartbeat intervals later a small log had often moved past them, and the session sent a
	// snapshot of the store instead (then more fell behind while it was applied).
	// At most one such session every two heartbeat intervals, as for other gaps: a starved
	// receiver that keeps losing writes would otherwise start one per heartbeat.
	if !needSync && !p.syncing && now.Sub(p.lossSync) >= 2*r.cfg.HeartbeatInterval && lacksOwn(r.vec, peerVec, h.replica) {
		needSync, p.lossSync, why = true, now, syncLoss
	}
	if needSync {
		p.gapVec = nil // judged afresh after the session
	}
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
	if needSync {
		r.startSync(from, why)
	}
}

// lacksOwn reports whether v, a peer's vector, holds writes of replica rep (the peer itself)
// that mine lacks.
func lacksOwn(mine, v *crdt.Vector, rep crdt.ReplicaID) bool {
	for _, rg := range mine.Missing(v) {
		if rg.Replica == rep {
			return true
		}
	}
	return false
}

// lacksFrom reports whether v, peer from's vector, holds dots we lack that we should fetch from
// it: writes of from itself, or of a replica we do not hear from directly. Writes of a third
// replica whose heartbeats reach us are left to it: its heartbeats travel behind its deltas on
// one ordered stream, so they reveal any we lost, while the ones from already applied may still
// be on their way here. (Under a write flood on a loaded machine a receiver a few hundred ms
// behind another fetched those again, from a delta log too short for the lag, that is as a
// snapshot of the whole store, every few seconds.) Needs r.mu.
func (r *replicator) lacksFrom(from string, v *crdt.Vector) bool {
	for _, rg := range r.vec.Missing(v) {
		if id, ok := r.byRepl[rg.Replica]; ok && id != from {
			if q := r.peers[id]; q != nil && q.connected && time.Since(q.lastHB) < r.cfg.PeerTimeout {
				continue
			}
		}
		return true
	}
	return false
}

func (r *replicator) peerLocked(id string) *peerState {
	p := r.peers[id]
	if p == nil {
		p = &peerState{id: id}
		r.peers[id] = p
	}
	return p
}

// onPeer is told when a peer connects or disconnects. A connect starts anti-entropy.
func (r *replicator) onPeer(id string, up bool) {
	r.mu.Lock()
	if !up && r.peers[id] == nil {
		// Gone, and nothing held for it: a member forgotten (forget.go) before its disconnect
		// reached us. Recording it would bring back an unheard peer that nothing removes.
		r.mu.Unlock()
		return
	}
	p := r.peerLocked(id)
	if p.connected != up {
		if up {
			r.peersUp.Add(1)
		} else {
			r.peersUp.Add(-1)
		}
	}
	p.connected = up
	r.mu.Unlock()
	if up {
		r.startSync(id, syncConnect)
	}
}

// periodicSync runs anti-entropy with every live peer whose vectors at the last round still
// differ from our vector now, in either direction: it held dots we still lack (lacksFrom), or
// its last heartbeat still lacks dots we held. A difference alone is no reason: under a steady
// write flood vectors always differ by the writes in flight, and a session then fetched those
// twice, from the log or, when the log no longer covered them, as a snapshot of the store.
func (r *replicator) periodicSync() {
	r.mu.Lock()
	var ids []string
	mine := r.vec.Clone()
	for id, p := range r.peers {
		if !p.connected || p.vector == nil {
			p.roundTheirs, p.roundMine = nil, nil
			continue
		}
		if (p.roundTheirs != nil && r.lacksFrom(id, p.roundTheirs)) || (p.roundMine != nil && !p.vector.Covers(p.roundMine)) {
			ids = append(ids, id)
		}
		p.roundTheirs, p.roundMine = p.vector, mine
	}
	r.mu.Unlock()
	rand.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	for _, id := range ids {
		r.startSync(id, syncPeriodic)
	}
}

// stableTime is the HLC below which this node has applied every write of every live replica:
// for each peer, the HLC of its heartbeat when we hold all its writes, else the HLC of the last
// contiguous write we hold from it. Local tombstones older than this can go.
//
// A peer counts as live until it has been silent for the grace horizon (TombstoneTTL), not just
// the few seconds after which it is reported unreachable: a partitioned region keeps writing,
// and its writes may still arrive, older than tombstones left here meanwhile. A peer this
// process has not heard from yet — a catalog member cut off since before our start, or a
// connected peer whose first heartbeat is on its way — counts as heard at our start: until the
// grace horizon has passed since then, nothing is stable. So is nothing before a joining node
// is warmed, while it may not know every member yet. (Found by the testnet's randomized mode: a
// restarted node collected the marker of an expired write while a region partitioned since
// before the restart still held an older write, which it then applied after the heal.)
func (r *replicator) stableTime(own crdt.Timestamp) crdt.Timestamp {
	if !r.n.Ready() {
		return 0
	}
	var members []string
	if r.cfg.Members != nil {
		members = r.cfg.Members() // outside r.mu: the catalog takes its own locks
	}
	cutoff := time.Now().Add(-r.n.cfg.TombstoneTTL)
	unheardLive := !r.started.Before(cutoff)
	stable := own
	r.mu.Lock()
	defer r.mu.Unlock()
	// Heard means a heartbeat: a sync hello binds a peer's replica id before its first
	// heartbeat, but says nothing of how far its writes go.
	heard := func(p *peerState) bool { return p != nil && p.replica != 0 && !p.lastHB.IsZero() }
	if unheardLive {
		for _, id := range members {
			if !heard(r.peers[id]) {
				return 0
			}
		}
	}
	for _, p := range r.peers {
		if r.leftComplete(p) {
			if p.forgotten {
				delete(r.peers, p.id) // nothing more to wait for
			}
			continue // said goodbye or was forgotten, and we hold all it wrote
		}
		if !heard(p) {
			if unheardLive {
				return 0
			}
			continue
		}
		if p.lastHB.Before(cutoff) {
			continue
		}
		seq, ts := r.vec.Prefix(p.replica)
		if seq >= p.seq {
			// Its writes up to its last heartbeat are all here: its clock then bounds its
			// later writes, and so does its newest write held here, the fresher of the two
			// while it keeps writing (so a replica's element rewrites are collected within a
			// janitor pass, not a heartbeat later: a quarter of a replica's CPU went to
			// keeping and collecting removed writes under an HSET flood).
			ts = max(ts, p.hlc)
		}
		stable = min(stable, ts)
	}
	return stable
}

// waitAcked blocks until `want` live peers have applied every write up to seq, or ctx ends,
// and returns how many have. While short it asks the peers for early heartbeats (askAcks),
// again every ackRetry: a request can overtake writes another goroutine was publishing, and
// its answer then covers fewer than seq.
func (r *replicator) waitAcked(ctx context.Context, seq uint64, want int) int {
	var (
		asked time.Time
		retry *time.Timer
	)
	defer func() {
		if retry != nil {
			retry.Stop()
		}
	}()
	for {
		r.mu.Lock()
		got := 0
		cutoff := time.Now().Add(-r.cfg.PeerTimeout)
		for _, p := range r.peers {
			if p.vector == nil || p.lastHB.Before(cutoff) {
				continue
			}
			if s, _ := p.vector.Prefix(r.n.replica); s >= seq {
				got++
			}
		}
		ch := r.changed
		r.mu.Unlock()
		if got >= want {
			return got
		}
		if since := time.Since(asked); since >= ackRetry {
			r.askAcks(ctx)
			asked = time.Now()
		}
		wait := ackRetry - time.Since(asked)
		if retry == nil {
			retry = time.NewTimer(wait)
		} else {
			retry.Reset(wait)
		}
		select {
		case <-ctx.Done():
			return got
		case <-r.n.stop:
			return got
		case <-ch:
		case <-retry.C:
		}
	}
}

// ackRetry is how often a waiter short of acknowledgements asks again (waitAcked).
const ackRetry = 10 * time.Millisecond

// askAcks hands the writes waiting for gossip to the transport, then asks every peer for an
// early heartbeat behind them (msgAckRequest).
func (r *replicator) askAcks(ctx context.Context) {
	r.publishPending(ctx, false)
	if r.peersUp.Load() > 0 {
		_ = r.tr.Publish(ctx, []byte{msgAckRequest}) // best effort: the periodic heartbeat acknowledges too
	}
}

// PeerInfo is replication's view of one peer.
type PeerInfo struct {
	ID        string
	Replica   crdt.ReplicaID
	Connected bool
	Reachable bool          // heartbeat seen within the peer timeout
	LastSeen  time.Time     // last heartbeat
	Lag       time.Duration // smoothed delay between a peer's write and its apply here
	Behind    uint64        // our writes the peer has not acknowledged
}

func (r *replicator) peerInfos() []PeerInfo {
	r.n.clockMu.Lock()
	own := r.n.seq
	r.n.clockMu.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	cutoff := time.Now().Add(-r.cfg.PeerTimeout)
	out := make([]PeerInfo, 0, len(r.peers))
	for _, p := range r.peers {
		if p.forgotten {
			continue
		}
		pi := PeerInfo{ID: p.id, Replica: p.replica, Connected: p.connected, LastSeen: p.lastHB,
			Reachable: !p.lastHB.Before(cutoff), Lag: p.lag}
		if p.vector != nil {
			s, _ := p.vector.Prefix(r.n.replica)
			pi.Behind = own - min(s, own)
		}
		out = append(out, pi)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (r *replicator) stats() ReplicationStats {
	r.mu.Lock()
	lb := r.log.bytes
	r.mu.Unlock()
	return ReplicationStats{
		DeltasSent: r.st.deltasSent.Load(), BatchesSent: r.st.batchesSent.Load(),
		DeltasDropped: r.st.deltasDropped.Load(),
		DeltasApplied: r.st.applied.Load(), DeltasStale: r.st.stale.Load(),
		DeltasDuplicate: r.st.duplicate.Load(),
		DeltasRejected:  r.st.rejected.Load(), ClockSkewRejected: r.st.skew.Load(),
		HeartbeatsSent: r.st.hbSent.Load(), HeartbeatsRecv: r.st.hbRecv.Load(),
		SyncSessions: r.st.sessions.Load(), SyncFailures: r.st.syncFail.Load(),
		SyncDeltasSent: r.st.syncSent.Load(), SyncDeltasRecv: r.st.recv.Load(),
		SnapshotsSent: r.st.snapshots.Load(), LogBytes: lb,
		GossipDeltasRecv: r.st.recvGossip.Load(), SyncDeltasIn: r.st.recvSync.Load(),
		SyncDeltasStale: r.st.syncStale.Load(), SyncDeltasDuplicate: r.st.syncDup.Load(),
		SyncStartsConnect: r.st.syncStarts[syncConnect].Load(), SyncStartsGap: r.st.syncStarts[syncGap].Load(),
		SyncStartsLoss: r.st.syncStarts[syncLoss].Load(), SyncStartsPeriodic: r.st.syncStarts[syncPeriodic].Load(),
		SyncPaced: r.st.syncPaced.Load(), PassesWaited: r.st.passesWaited.Load(),
	}
}

// enableReplication attaches a replicator speaking over tr. Called once, before the node is
// shared.
func (n *Node) enableReplication(tr transport, rc replConfig) *replicator {
	r := newReplicator(n, rc, tr)
	n.repl = r
	n.sink = r.local
	n.unitSink = r.localUnit
	r.start()
	return r
}

// BeginWrites starts a write pass: the local writes made until the matching EndWrites are
// replicated by it, on the caller's goroutine and as few batches, instead of each waking the
// replication goroutine. An event loop wraps each pass over its ready connections in one, so
// that a pipeline's writes leave together. Passes may overlap; writes made by other goroutines
// meanwhile may wait for a pass's end too. Every BeginWrites must be followed by EndWrites
// soon: a pass must not block.
func (n *Node) BeginWrites() {
	if n.repl != nil {
		n.repl.beginWrites()
	}
}

// WithinWritePass returns ctx marked as that of a caller that makes its writes inside write
// passes (BeginWrites, EndWrites), which pace them when peers read more slowly than this node
// writes: a write made with it does not wait again, inside the pass. An event loop's
// connections use it. Any other write (the Go API's callers, HTTP) waits before it is made
// while the gossip queue is half full, up to QueueWait (then the overflow: it goes on, and
// what the queue cannot hold is repaired by anti-entropy), or until its context ends, which
// fails the write with the context's error and changes nothing.
func (n *Node) WithinWritePass(ctx context.Context) context.Context {
	return context.WithValue(ctx, writePassKey{}, true)
}

// writePassKey marks a context made by WithinWritePass.
type writePassKey struct{}

// EndWrites ends a write pass (BeginWrites) and hands its writes to the transport, which only
// queues them: it does not block on the network. It reports whether it handed any, which made
// goroutines runnable (the members' stream writers): a caller about to block in a system call
// (an event loop's epoll_wait) should yield first, or they wait on its processor until the
// runtime takes it back, up to the scheduler monitor's period (10 ms when idle).
func (n *Node) EndWrites() bool {
	if n.repl != nil {
		return n.repl.endWrites()
	}
	return false
}

// WaitReplicated blocks until `replicas` other live nodes have applied every write this node
// issued before the call, or ctx ends, and returns how many had (Redis WAIT semantics: the
// count is returned on timeout too). replicas <= 0 returns at once.
func (n *Node) WaitReplicated(ctx context.Context, replicas int) (int, error) {
	if n.closed.Load() {
		return 0, ErrClosed
	}
	if n.repl == nil {
		if replicas > 0 {
			<-ctx.Done()
		}
		return 0, nil
	}
	n.clockMu.Lock()
	seq := n.seq
	n.clockMu.Unlock()
	return n.repl.waitAcked(ctx, seq, replicas), nil
}

// Peers reports replication's view of every peer seen; empty on a node without replication.
func (n *Node) Peers() []PeerInfo {
	if n.repl == nil {
		return nil
	}
	return n.repl.peerInfos()
}

// ReplicationStats returns the replication counters; zero on a node without replication.
func (n *Node) ReplicationStats() ReplicationStats {
	if n.repl == nil {
		return ReplicationStats{}
	}
	return n.repl.stats()
}
