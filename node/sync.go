package node

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/geocache/geocache/crdt"
)

// Anti-entropy. A session runs over one bidirectional stream and is symmetric: each side sends a
// hello (its replica id and version vector), then streams what the other lacks — from the delta
// log when the log still covers the gap, otherwise a snapshot of its entries (live values and
// delete tombstones) written by the uncovered replicas, less the register writes the peer's
// vector shows it applied, followed by "adopt" frames — and ends with done. Because each side
// sends every dot it holds, a node cut off from X but not from Y receives X's writes through Y.

// sessionTimeout bounds one anti-entropy session.
const sessionTimeout = 2 * time.Minute

// errPeerClaim is returned when a peer presents a replica id that belongs to someone else.
var errPeerClaim = errors.New("node: peer claims another node's replica id")

// syncReason is why a node opened an anti-entropy session (ReplicationStats.SyncStarts).
type syncReason int

const (
	syncConnect  syncReason = iota // a peer connected
	syncGap                        // a peer showed dots we still lacked two heartbeat intervals later
	syncLoss                       // a peer's heartbeat announced its own writes we lack: lost on the way
	syncPeriodic                   // a difference a whole periodic round did not close
	syncReasons
)

// syncPause paces repairs: after a session with a peer, no gap, loss or periodic session starts
// with it for syncPause times the session's length, so repairs take at most about a quarter of
// the time. A session that has to send snapshots (the gap outran the delta log) costs both ends
// the data of the gap's writers; under a write flood that outruns a receiver, one every two
// heartbeat intervals starved the receivers into losing more, and a cluster writing collections
// spent most of its CPU on repairs (HSET throughput fell from 155k to 34k/s). A short session,
// served from the log, pauses for as little.
const syncPause = 3

// startSync runs one session with peer in the background unless one is already running or,
// for a repair (not a peer's connection), the last one ended less than syncPause times its
// length ago.
func (r *replicator) startSync(id string, why syncReason) {
	r.mu.Lock()
	p := r.peerLocked(id)
	if p.syncing {
		r.mu.Unlock()
		return
	}
	if why != syncConnect && time.Now().Before(p.syncQuiet) {
		r.mu.Unlock()
		r.st.syncPaced.Add(1)
		return
	}
	p.syncing = true
	r.mu.Unlock()
	r.st.syncStarts[why].Add(1)
	begin := time.Now()
	started := r.n.goAsync(func() {
		ctx, cancel := r.n.stopCtx()
		defer cancel()
		ctx, cancel2 := context.WithTimeout(ctx, sessionTimeout)
		defer cancel2()
		rw, err := r.tr.OpenSync(ctx, id)
		if err == nil {
			err = r.session(ctx, id, rw)
		}
		if err == nil {
			r.n.markReady()
		}
		if err != nil {
			r.st.syncFail.Add(1)
			r.n.cfg.Logger.Debug("anti-entropy failed", "peer", id, "err", err)
		}
		r.mu.Lock()
		p.syncing = false
		p.lastSync = time.Now()
		p.syncQuiet = p.lastSync.Add(syncPause * p.lastSync.Sub(begin))
		r.mu.Unlock()
	})
	if !started {
		r.mu.Lock()
		p.syncing = false
		r.mu.Unlock()
	}
}

// handleSync serves a session a peer opened. It blocks until the session ends.
func (r *replicator) handleSync(id string, rw io.ReadWriteCloser) {
	ctx, cancel := r.n.stopCtx()
	defer cancel()
	ctx, cancel2 := context.WithTimeout(ctx, sessionTimeout)
	defer cancel2()
	if err := r.session(ctx, id, rw); err != nil {
		r.st.syncFail.Add(1)
		r.n.cfg.Logger.Debug("anti-entropy failed", "peer", id, "err", err)
	}
}

func (r *replicator) session(ctx context.Context, peer string, rw io.ReadWriteCloser) error {
	defer rw.Close()
	defer context.AfterFunc(ctx, func() { rw.Close() })()
	// Our vector means nothing before the snapshot is loaded: wait for it.
	if err := r.n.WaitLoaded(ctx); err != nil {
		return err
	}
	r.st.sessions.Add(1)
	br := bufio.NewReaderSize(rw, 64<<10)
	bw := bufio.NewWriterSize(rw, 64<<10)
	fw := &frameWriter{w: bw}

	// The writer sends our hello at once and, once the peer's hello arrived, what it lacks; the
	// reader takes the peer's hello and then applies what it sends. Neither waits for the other
	// to read, so the session works over unbuffered transports too.
	theirs := make(chan peerHello, 1)
	sendErr := make(chan error, 1)
	go func() {
		r.mu.Lock()
		mine, runs := r.vec.Summary(), r.vec.Runs()
		bounds := r.inFlightLocked()
		r.mu.Unlock()
		if err := fw.write(appendHello(nil, r.n.replica, mine, runs, bounds)); err != nil {
			sendErr <- err
			return
		}
		if err := bw.Flush(); err != nil {
			sendErr <- err
			return
		}
		h, ok := <-theirs
		if !ok {
			sendErr <- nil
			return
		}
		sendErr <- r.sendMissing(fw, bw, h.vec, h.bounds)
	}()
	recvErr := r.receiveHello(peer, br, theirs)
	if recvErr == nil {
		recvErr = r.receive(br)
	}
	if recvErr != nil {
		rw.Close() // unblock the writer
	}
	if err := <-sendErr; err != nil && recvErr == nil {
		return err
	}
	return recvErr
}

// peerHello is what a peer's sync hello asks for: the dots its vector lacks, except those of the
// replicas in bounds beyond their bound (on their way to it by gossip).
type peerHello struct {
	vec    *crdt.Vector
	bounds []inFlight
}

// inFlightLocked lists, for every peer whose heartbeats reach us (connected, heard within the
// peer timeout), the newest of its own writes its last heartbeat announced. Its heartbeats
// travel behind its writes on one ordered stream, so the ones up to there we lack were lost and
// the later ones may be on their way: a repair asks only for the former. Without the bound a
// session under a write flood fetched every write in flight too — tens of thousands of deltas
// that gossip then delivered a second time (duplicates), or, once the delta log no longer
// covered them, a snapshot of the writer's whole store. Needs r.mu.
func (r *replicator) inFlightLocked() []inFlight {
	var out []inFlight
	for _, p := range r.peers {
		if p.replica == 0 || p.vector == nil || !p.connected || time.Since(p.lastHB) >= r.cfg.PeerTimeout {
			continue
		}
		seq, ts := p.vector.Prefix(p.replica)
		out = append(out, inFlight{rep: p.replica, seq: seq, ts: ts})
	}
	return out
}

// receiveHello reads and checks the peer's hello and hands it to the writer; on error it closes
// theirs so the writer stops.
func (r *replicator) receiveHello(peer string, br *bufio.Reader, theirs chan<- peerHello) error {
	frame, err := readFrame(br, nil)
	if err != nil {
		close(theirs)
		return err
	}
	if frame[0] != frameHello {
		r.st.rejected.Add(1)
		close(theirs)
		return fmt.Errorf("%w: expected hello", errBadMessage)
	}
	h, err := decodeHello(frame, crdt.DefaultMaxReplicas)
	if err == nil {
		err = r.bind(peer, h.replica)
	}
	if err != nil {
		r.st.rejected.Add(1)
		close(theirs)
		return err
	}
	v := crdt.VectorFromSummary(h.vector)
	for _, rg := range h.runs {
		v.AddRange(rg, 0) // the peer's vector serves Missing only: timestamps do not matter
	}
	theirs <- peerHello{vec: v, bounds: h.bounds}
	return nil
}

// bind records that peer writes as replica rep, refusing a replica id another live peer holds.
func (r *replicator) bind(peer string, rep crdt.ReplicaID) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if rep == 0 || rep == r.n.replica {
		return errPeerClaim
	}
	if owner, ok := r.byRepl[rep]; ok && owner != peer {
		return errPeerClaim
	}
	r.byRepl[rep] = peer
	r.peerLocked(peer).replica = rep
	return nil
}

// sendMissing streams to the peer whatever it lacks according to its vector, except writes of
// a bounded replica beyond its bound: those are on their way to the peer by gossip.
func (r *replicator) sendMissing(fw *frameWriter, bw *bufio.Writer, theirs *crdt.Vector, bounds []inFlight) error {
	bound := make(map[crdt.ReplicaID]inFlight, len(bounds))
	for _, b := range bounds {
		bound[b.rep] = b
	}
	// beyond reports whether replica rep's write seq is in flight to the peer.
	beyond := func(rep crdt.ReplicaID, seq uint64) bool {
		b, ok := bound[rep]
		return ok && seq > b.seq
	}
	r.mu.Lock()
	var fromLog []crdt.Range
	snap := map[crdt.ReplicaID]bool{}
	for _, rg := range theirs.Missing(r.vec) {
		if b, ok := bound[rg.Replica]; ok {
			if rg.From > b.seq {
				continue
			}
			rg.To = min(rg.To, b.seq)
		}
		if r.log.covers(rg.Replica, rg.From) {
			fromLog = append(fromLog, rg)
		} else {
			snap[rg.Replica] = true
		}
	}
	fromLogRecs := r.log.collect(fromLog)
	var adopts []inFlight
	for rep := range snap {
		seq, ts := r.vec.Prefix(rep)
		if b, ok := bound[rep]; ok && b.seq < seq {
			// The snapshot leaves the writes beyond the bound to gossip (below), so the peer
			// adopts only up to the bound, at the time the replica's heartbeat gave it.
			seq, ts = b.seq, b.ts
		}
		adopts = append(adopts, inFlight{rep, seq, ts})
	}
	r.mu.Unlock()

	chunk := crdt.Batch{From: r.n.replica}
	var buf []byte
	kind := frameDeltas
	chunkLen := 0
	flush := func() error {
		if len(chunk.Deltas) == 0 {
			return nil
		}
		buf = crdt.AppendBatch(append(buf[:0], kind), &chunk)
		r.st.syncSent.Add(uint64(len(chunk.Deltas)))
		chunk.Deltas = chunk.Deltas[:0]
		kind = frameDeltas
		chunkLen = 0
		return fw.write(buf)
	}
	// add appends ds (one delta, or a transaction's unit whole) to the chunk, first sending the
	// chunk if ds would take it past chunkBytes or SyncChunk deltas (a frame then holds at most
	// chunkBytes plus one collection or one unit: see maxFrame; a unit is at most MaxTxWrites
	// deltas, within the receiver's batch limit).
	add := func(ds ...crdt.Delta) error {
		n := 0
		for i := range ds {
			n += len(ds[i].Key) + len(ds[i].Entry.Value) + 64
		}
		if len(chunk.Deltas) > 0 && (chunkLen+n > chunkBytes || len(chunk.Deltas)+len(ds) > r.cfg.SyncChunk) {
			if err := flush(); err != nil {
				return err
			}
		}
		chunk.Deltas = append(chunk.Deltas, ds...)
		chunkLen += n
		return nil
	}
	if err := r.n.eachLogged(fromLogRecs, func(ds []crdt.Delta) error {
		if err := add(ds...); err != nil {
			return err
		}
		if len(ds) > 1 {
			kind = frameUnits
		}
		return nil
	}); err != nil {
		return err
	}
	if err := flush(); err != nil {
		return err
	}
	if len(snap) > 0 {
		r.st.snapshots.Add(1)
		// The newest flush marker goes first: the peer may be adopting the seqs of its writer
		// without it, and entries the snapshot carries are all newer than it.
		if f, ok := r.n.flushMarker(); ok {
			kind = frameSnapshot
			chunk.Deltas = append(chunk.Deltas, crdt.Delta{Entry: f})
		}
		var err error
		r.n.store.Range(r.n.nowMs(), func(k string, v value, exp int64) bool {
			// A counter or a collection may hold writes of any replica.
			if !snap[r.n.reps.id(v.rep())] && v.obj() == nil && !counterTouches(r.n.reps, &v, exp, snap) {
				return true
			}
			if v.obj() == nil && v.typ() != crdt.TypeCounter {
				if dot := (crdt.Dot{Replica: r.n.reps.id(v.rep()), Seq: v.seq()}); beyond(dot.Replica, dot.Seq) {
					return true // in flight to the peer: gossip brings it
				} else if dot.Seq != 0 && theirs.Contains(dot) {
					// The peer applied this very write (its vector says so): a register is the
					// one write. Sending every entry of the uncovered writers instead made a
					// repair of a few lost frames under a write flood cost the whole store,
					// which starved the receivers into losing more.
					return true
				}
			}
			if v.obj() != nil {
				// A large collection goes in parts, in order (collections.go): each within a
				// frame, applied in turn by the peer's receive loop.
				for _, e := range v.entries(r.n.reps, exp) {
					if err = add(crdt.Delta{Key: k, Entry: e}); err != nil {
						return false
					}
					kind = frameSnapshot
				}
				return true
			}
			if err = add(crdt.Delta{Key: k, Entry: v.entry(r.n.reps, exp)}); err == nil {
				kind = frameSnapshot
			}
			return err == nil
		})
		if err != nil {
			return err
		}
		// Writes of the uncovered replicas that expired here, as expired delete tombstones of
		// their versions: the peer adopts their dots, so this is its only news of them.
		nowMs := r.n.nowMs()
		for _, x := range r.n.expired.since(nowMs - r.n.cfg.TombstoneTTL.Milliseconds()) {
			if !snap[x.ver.Replica] || beyond(x.ver.Replica, x.seq) || theirs.Contains(crdt.Dot{Replica: x.ver.Replica, Seq: x.seq}) {
				continue
			}
			// Expiry 1 (1970): expired on every node whatever its clock, so nothing is stored.
			d := crdt.Delta{Key: x.key, Entry: crdt.Entry{Type: crdt.TypeLWW, Flags: crdt.FlagTombstone,
				Version: x.ver, Seq: x.seq, Expiry: 1}}
			if err := add(d); err != nil {
				return err
			}
			kind = frameSnapshot
		}
	}
	if err := flush(); err != nil {
		return err
	}
	for _, a := range adopts {
		if err := fw.write(appendAdopt(buf[:0], a.rep, a.seq, a.ts)); err != nil {
			return err
		}
	}
	if err := fw.write([]byte{frameDone}); err != nil {
		return err
	}
	return bw.Flush()
}

// receive applies what the peer sends until its done frame.
func (r *replicator) receive(br *bufio.Reader) error {
	lim := r.lim
	lim.MaxBatch = max(r.cfg.SyncChunk, crdt.DefaultLimits().MaxBatch)
	var buf []byte
	sc := r.getScratch()
	defer r.putScratch(sc)
	for {
		frame, err := readFrame(br, buf)
		if err != nil {
			return err
		}
		buf = frame
		switch frame[0] {
		case frameDeltas, frameUnits, frameSnapshot:
			b := &sc.batch
			if err := crdt.DecodeBatchInto(b, frame[1:], lim); err != nil {
				r.st.rejected.Add(1)
				return err
			}
			r.st.recvSync.Add(uint64(len(b.Deltas)))
			if frame[0] == frameSnapshot {
				r.st.recv.Add(uint64(r.applySnapshot(b.Deltas, sc)))
			} else {
				r.st.recv.Add(uint64(r.applyDeltas(b.Deltas, false, false, sc)))
			}
			clear(b.Deltas) // the store keeps what it needs of them
		case frameAdopt:
			rep, seq, ts, err := decodeAdopt(frame)
			if err != nil {
				r.st.rejected.Add(1)
				return err
			}
			r.adopt(rep, seq, ts)
		case frameDone:
			return nil
		default:
			r.st.rejected.Add(1)
			return fmt.Errorf("%w: unknown sync frame %#x", errBadMessage, frame[0])
		}
	}
}

// maxAdoptGap bounds how many seqs one adopt frame may mark as held.
const maxAdoptGap = 1 << 24

// adopt marks replica rep's seqs up to seq as held after a snapshot: the peer sent every entry
// of rep it holds, and whatever it no longer holds was evicted or superseded there.
func (r *replicator) adopt(rep crdt.ReplicaID, seq uint64, ts crdt.Timestamp) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cur, _ := r.vec.Prefix(rep)
	if seq <= cur || seq-cur > maxAdoptGap || rep == r.n.replica {
		return
	}
	for s := cur + 1; s <= seq; s++ {
		r.vec.Add(crdt.Dot{Replica: rep, Seq: s}, ts)
	}
}
