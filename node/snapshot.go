package node

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/geocache/geocache/crdt"
	"github.com/geocache/geocache/lru"
	"github.com/geocache/geocache/node/internal/snapfile"
)

// A snapshot is a snapfile with these blocks, in this order:
//
//	meta     savedAt:fixed64 (unix ms) replica:fixed64 clock:fixed64 (HLC when the save began)
//	vector   crdt.AppendVector of the version vector, taken before any entry is read
//	flush    the newest flush marker (crdt.AppendDelta), when there is one
//	entries  crdt.AppendDelta records (values and delete tombstones), ~256 KiB per block
//	floor    fixed64: the highest local tombstone stamp, the store's floor, and the stamp of
//	         every entry skipped as expired, taken after the last entry
//	flush    the newest flush marker again, taken after the last entry
//	parts    among the entries blocks: one part of a large collection (crdt AppendParts), a
//	         crdt.AppendDelta record; a key's parts follow each other and are applied in order
//
// Entries use the replication codec, so every CRDT type the codec knows persists unchanged.
// Taking the vector first makes it a lower bound of what the file holds: each dot it claims was
// applied before the entries were read, so the file holds that write, a newer write of the same
// key, or (evicted or expired meanwhile) a floor that covers it. Writes applied during the save
// may be in the file without being in the vector: peers resend them after a restart, and
// applying a write twice changes nothing.
const (
	blockMeta    snapfile.Kind = 1
	blockVector  snapfile.Kind = 2
	blockFlush   snapfile.Kind = 3
	blockEntries snapfile.Kind = 4
	blockFloor   snapfile.Kind = 5
	blockPart    snapfile.Kind = 6
)

// entriesBlock is the size at which an entries block is cut.
const entriesBlock = 256 << 10

// saveYieldEvery is how many entries a save encodes between yields to other goroutines (some
// 50 µs of work).
const saveYieldEvery = 256

// savePace is the work a paced save does before it sleeps as long as that work took: a
// background save then takes at most half a core (and twice as long) on a machine whose cores
// requests need.
const savePace = time.Millisecond

type saveResult struct {
	entries int
	bytes   int64
}

// writeSnapshot streams the node's state to path (through a temporary file, fsynced and
// renamed). Memory is bounded by one entries block plus the store's Range chunk.
func (n *Node) writeSnapshot(path string, paced bool) (saveResult, error) {
	var res saveResult
	w, err := snapfile.Create(path)
	if err != nil {
		return res, err
	}
	ok := false
	defer func() {
		if !ok {
			w.Abort()
		}
	}()
	nowMs := n.nowMs()
	n.clockMu.Lock()
	clk := n.clock.Last()
	n.clockMu.Unlock()
	var buf []byte
	buf = binary.LittleEndian.AppendUint64(buf, uint64(nowMs))
	buf = binary.LittleEndian.AppendUint64(buf, uint64(n.replica))
	buf = binary.LittleEndian.AppendUint64(buf, uint64(clk))
	if err := w.Block(blockMeta, buf, 0); err != nil {
		return res, err
	}
	if n.repl != nil {
		n.repl.mu.Lock()
		summary := n.repl.vec.Summary()
		n.repl.mu.Unlock()
		if err := w.Block(blockVector, crdt.AppendVector(buf[:0], summary), 0); err != nil {
			return res, err
		}
	}
	if err := n.writeFlushBlock(w, buf[:0]); err != nil {
		return res, err
	}
	var high uint64 // newest stamp of an entry skipped as expired
	count := 0
	workStart := time.Now()
	buf = buf[:0]
	// Range at time 0 reports entries that have expired but not been reclaimed yet, so their
	// stamps reach the floor: otherwise a late, older write of such a key would be accepted after
	// the restart, where the running node would have refused it.
	n.store.Range(0, func(k string, v value, exp int64) bool {
		if lru.IsExpired(exp, nowMs) {
			high = max(high, uint64(v.ts))
			return true
		}
		if v.obj() != nil {
			if es := v.entries(n.reps, exp); len(es) > 1 {
				// A large collection: its parts in blocks of their own, after the entries
				// before it, so that the loader applies them in order.
				if count > 0 {
					if err = w.Block(blockEntries, buf, count); err != nil {
						return false
					}
					res.entries += count
					buf, count = buf[:0], 0
				}
				for i := range es {
					buf = crdt.AppendDelta(buf[:0], &crdt.Delta{Key: k, Entry: es[i]})
					if err = w.Block(blockPart, buf, 1); err != nil {
						return false
					}
				}
				buf = buf[:0]
				res.entries++
				return true
			}
		}
		buf = crdt.AppendDelta(buf, &crdt.Delta{Key: k, Entry: v.entry(n.reps, exp)})
		count++
		if count%saveYieldEvery == 0 {
			if worked := time.Since(workStart); paced && worked >= savePace {
				time.Sleep(worked)
				workStart = time.Now()
			} else {
				// Let the requests queued on this P run now: the scheduler would otherwise
				// preempt the saver only after 10 ms, the latency a request behind it sees.
				runtime.Gosched()
			}
		}
		if len(buf) >= entriesBlock {
			err = w.Block(blockEntries, buf, count)
			res.entries += count
			buf, count = buf[:0], 0
		}
		return err == nil
	})
	if err != nil {
		return res, err
	}
	if count > 0 {
		if err := w.Block(blockEntries, buf, count); err != nil {
			return res, err
		}
		res.entries += count
	}
	high = max(high, n.store.TombstoneHigh())
	if err := w.Block(blockFloor, binary.LittleEndian.AppendUint64(buf[:0], high), 0); err != nil {
		return res, err
	}
	if err := n.writeFlushBlock(w, buf[:0]); err != nil {
		return res, err
	}
	res.bytes = w.Size()
	if err := w.Commit(); err != nil {
		return res, err
	}
	ok = true
	return res, nil
}

func (n *Node) writeFlushBlock(w *snapfile.Writer, buf []byte) error {
	f, ok := n.flushMarker()
	if !ok {
		return nil
	}
	return w.Block(blockFlush, crdt.AppendDelta(buf, &crdt.Delta{Entry: f}), 1)
}

// errStaleSnapshot stops a load whose file is older than the grace horizon.
var errStaleSnapshot = errors.New("node: snapshot older than the tombstone grace horizon")

// loadSnapshot loads the snapshot, if there is one, into the (empty) store. A missing file is
// a cold start; a torn, corrupt or unreadable one is logged, moved aside and skipped, and so is
// a replicating node's file older than TombstoneTTL: deletes made elsewhere since may have been
// collected everywhere, and nothing would stop the file's values from coming back.
func (n *Node) loadSnapshot() {
	p := n.persist
	start := time.Now()
	info, err := snapfile.Verify(p.path)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err != nil {
		n.skipSnapshot(err, true)
		return
	}
	n.reserveFor(info)
	nowMs := n.nowMs()
	lim := crdt.Limits{MaxKey: maxKeyLen, MaxValue: 1 << 30} // a longer key cannot be stored (value.dot)
	var (
		vec      []crdt.ReplicaState
		hasVec   bool
		metaTS   crdt.Timestamp
		expired  uint64 // newest stamp of an entry that expired while the node was down
		loaded   int
		nExpired int
		applying bool
	)
	bl := newBlockLoader(n, nowMs, lim)
	err = snapfile.Read(p.path, func(k snapfile.Kind, b []byte) error {
		switch k {
		case blockMeta:
			if len(b) < 24 {
				return fmt.Errorf("%w: %d-byte meta block", snapfile.ErrCorrupt, len(b))
			}
			savedAt := int64(binary.LittleEndian.Uint64(b))
			metaTS = crdt.Timestamp(binary.LittleEndian.Uint64(b[16:]))
			if n.repl != nil && nowMs-savedAt > n.cfg.TombstoneTTL.Milliseconds() {
				return fmt.Errorf("%w: saved %s ago, horizon %s", errStaleSnapshot,
					time.Duration(nowMs-savedAt)*time.Millisecond, n.cfg.TombstoneTTL)
			}
			// Local writes after the load must be stamped after everything loaded.
			n.clockMu.Lock()
			_, _ = n.clock.Observe(metaTS, nowMs)
			n.clockMu.Unlock()
			applying = true
		case blockVector:
			s, _, err := crdt.DecodeVector(b, 0)
			if err != nil {
				return err
			}
			vec, hasVec = s, true
		case blockFlush:
			if err := bl.drain(); err != nil {
				return err
			}
			d, _, err := crdt.DecodeDelta(b, lim)
			if err != nil {
				return err
			}
			if d.Entry.Type == crdt.TypeFlush {
				n.applyFlush(&d.Entry)
			}
		case blockEntries:
			return bl.submit(b)
		case blockPart:
			// In order: the parts of a collection join in turn (crdt AppendParts).
			if err := bl.drain(); err != nil {
				return err
			}
			return bl.applyNow(b)
		case blockFloor:
			if err := bl.drain(); err != nil {
				return err
			}
			expired = max(expired, bl.high)
			if len(b) < 8 {
				return fmt.Errorf("%w: %d-byte floor block", snapfile.ErrCorrupt, len(b))
			}
			n.store.RaiseFloor(max(binary.LittleEndian.Uint64(b), expired))
		}
		return nil
	})
	if derr := bl.close(); err == nil {
		err = derr
	}
	loaded, nExpired = bl.loaded, bl.expired
	if err != nil {
		if applying {
			// Entries may be half loaded: keep them (each is a genuine write) but claim no dots,
			// so peers resend everything, and refuse late writes for absent keys older than the
			// save, which a lost local tombstone might have refused.
			n.store.RaiseFloor(uint64(metaTS))
		}
		n.skipSnapshot(err, !errors.Is(err, errStaleSnapshot))
		return
	}
	if hasVec && n.repl != nil {
		r := n.repl
		r.mu.Lock()
		r.vec = crdt.VectorFromSummary(append(r.vec.Summary(), vec...))
		r.mu.Unlock()
	}
	p.mu.Lock()
	p.loadedKeys, p.loadExpired, p.loadDuration = loaded, nExpired, time.Since(start)
	p.mu.Unlock()
	n.cfg.Logger.Info("snapshot loaded", "path", p.path, "entries", loaded, "in_file", info.Records,
		"bytes", info.Size, "took", time.Since(start).Round(time.Millisecond))
}

// reserveFor grows the store once for the file's entries (as many as MaxMemory can hold, at
// their average size on disk, which is close to their charged size), so that the load does
// not grow the store's index and slab entry by entry.
func (n *Node) reserveFor(info snapfile.Info) {
	if info.Records == 0 {
		return
	}
	keys := int64(info.Records)
	perEntry := info.Size/keys + lru.EntryOverhead + int64(valueOverhead)
	if m := n.store.MaxBytes(); m > 0 {
		keys = min(keys, m/perEntry+1)
	}
	n.store.Reserve(int(keys))
}

// skipSnapshot logs why the snapshot was not (fully) loaded and, for a damaged file, moves it
// aside so that the next save does not destroy the evidence.
func (n *Node) skipSnapshot(err error, damaged bool) {
	p := n.persist
	p.mu.Lock()
	p.loadErr = err
	p.mu.Unlock()
	if !damaged {
		n.cfg.Logger.Warn("snapshot skipped, starting empty", "path", p.path, "err", err)
		return
	}
	aside := p.path + ".bad-" + strconv.FormatInt(time.Now().Unix(), 10)
	if rerr := os.Rename(p.path, aside); rerr != nil {
		aside = ""
	}
	n.cfg.Logger.Error("snapshot unreadable, starting empty", "path", p.path, "moved_to", aside, "err", err)
}

// applyLoaded puts one saved entry into the store unless the store already holds a newer
// version (a write made while the load ran) or a floor covers it. A saved entry is the key's
// whole state, whatever its type; it is merged as a remote one would be.
func (n *Node) applyLoaded(d *crdt.Delta, nowMs int64) bool {
	e := &d.Entry
	if e.Type == crdt.TypeFlush {
		n.applyFlush(e)
		return false
	}
	// The remote merge: the LWW rule for registers, crdt.Merge for counters, the collection
	// join (which also decodes a collection into its in-memory form), the floors.
	won := false
	n.store.Do(d.Key, nowMs, func(cur lru.Current[value]) lru.Update[value] {
		up, ok := n.merge(d.Key, &cur, e, nowMs)
		won = ok
		return up
	})
	return won
}

// blockLoader applies entries blocks on several goroutines: each entry goes through the store's
// compare-and-apply, so the order between blocks does not matter. The flush and floor blocks
// wait for the entries before them (drain). Memory is bounded by the buffers in flight.
type blockLoader struct {
	n     *Node
	nowMs int64
	lim   crdt.Limits
	work  chan []byte
	free  chan []byte
	pend  sync.WaitGroup // blocks submitted and not yet applied
	procs sync.WaitGroup // the workers

	mu      sync.Mutex // guards the fields below
	err     error
	loaded  int
	expired int
	high    uint64 // newest stamp of an entry dropped as expired
}

func newBlockLoader(n *Node, nowMs int64, lim crdt.Limits) *blockLoader {
	workers := min(max(runtime.GOMAXPROCS(0), 1), 8)
	l := &blockLoader{n: n, nowMs: nowMs, lim: lim, work: make(chan []byte), free: make(chan []byte, 2*workers)}
	for range 2 * workers {
		l.free <- nil
	}
	l.procs.Add(workers)
	for range workers {
		go l.worker()
	}
	return l
}

// submit hands a copy of an entries block to a worker; it returns the first error seen so far.
func (l *blockLoader) submit(b []byte) error {
	buf := append(<-l.free, b...)
	l.pend.Add(1)
	l.work <- buf
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// drain waits until every submitted block is applied.
func (l *blockLoader) drain() error {
	l.pend.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// close drains and stops the workers.
func (l *blockLoader) close() error {
	err := l.drain()
	close(l.work)
	l.procs.Wait()
	return err
}

// applyNow applies an entries block on the caller's goroutine (a collection's part, which must
// follow the one before it); nothing may be in flight.
func (l *blockLoader) applyNow(b []byte) error {
	loaded, expired, high, err := l.apply(b)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.loaded += loaded
	l.expired += expired
	l.high = max(l.high, high)
	if l.err == nil {
		l.err = err
	}
	return l.err
}

func (l *blockLoader) worker() {
	defer l.procs.Done()
	for buf := range l.work {
		loaded, expired, high, err := l.apply(buf)
		l.mu.Lock()
		l.loaded += loaded
		l.expired += expired
		l.high = max(l.high, high)
		if l.err == nil {
			l.err = err
		}
		l.mu.Unlock()
		l.free <- buf[:0]
		l.pend.Done()
	}
}

func (l *blockLoader) apply(b []byte) (loaded, expired int, high uint64, err error) {
	for len(b) > 0 {
		d, m, err := crdt.DecodeDelta(b, l.lim)
		if err != nil {
			return loaded, expired, high, err
		}
		b = b[m:]
		if d.Entry.Expired(l.nowMs) {
			high = max(high, uint64(d.Entry.Version.TS))
			expired++
			continue
		}
		if l.n.applyLoaded(&d, l.nowMs) {
			loaded++
		}
	}
	return loaded, expired, high, nil
}
