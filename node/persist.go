package node

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// Warm restart. With Config.DataDir a node saves its cache to DataDir/cache.snap — on Close,
// every Config.SaveInterval when something changed, after Config.SaveAfterWrites changes, and on
// Save/BGSave — and loads it when it starts. See snapshot.go for what a snapshot holds and
// docs/design.md ("Warm restart") for why loading old data never resurrects a deleted key.

// Persistence errors.
var (
	// ErrLoading is returned by data operations while the node loads its snapshot at start
	// (Redis's LOADING); WaitLoaded waits for the end of the load.
	ErrLoading = errors.New("node: loading the dataset in memory")
	// ErrSaveInProgress is returned by Save and BGSave while another save runs.
	ErrSaveInProgress = errors.New("node: background save already in progress")
	// ErrNoDataDir is returned by Save and BGSave on a node without Config.DataDir.
	ErrNoDataDir = errors.New("node: no data directory: persistence is off")
)

// snapshotFile is the snapshot's name inside Config.DataDir.
const snapshotFile = "cache.snap"

// persister is a node's persistence state; nil on a node without DataDir.
type persister struct {
	path    string
	loading atomic.Bool   // set until the snapshot is loaded (or found absent or bad)
	loaded  chan struct{} // closed when loading ends
	saving  atomic.Bool   // one save at a time

	mu           sync.Mutex // guards the fields below
	changesAt    uint64     // changes() when the last successful save started
	lastSave     time.Time  // last successful save (start of the process before one)
	lastErr      error      // last save's error, nil if it succeeded
	lastDuration time.Duration
	lastBytes    int64
	lastKeys     int
	saveStarted  time.Time // current save, zero when none runs
	saves, fails uint64
	loadedKeys   int
	loadExpired  int
	loadDuration time.Duration
	loadErr      error
}

// PersistenceStats describe a node's snapshots (INFO persistence, /metrics).
type PersistenceStats struct {
	Enabled          bool          // Config.DataDir is set
	Loading          bool          // the snapshot is being loaded
	SaveInProgress   bool          // a save runs now
	ChangesSinceSave uint64        // writes (local and replicated) since the last successful save started
	LastSave         time.Time     // last successful save; the node's start before the first one
	LastSaveOK       bool          // the last save succeeded (true before any)
	LastSaveDuration time.Duration // of the last save, successful or not
	LastSaveBytes    int64         // size of the last snapshot written
	LastSaveKeys     int           // entries in it (delete tombstones included)
	SaveStarted      time.Time     // start of the save in progress, zero if none
	Saves, Failures  uint64        // saves completed and failed since start
	LoadedKeys       int           // entries loaded at start
	LoadedExpired    int           // entries of the snapshot that had expired by the load
	LoadDuration     time.Duration // how long the load took
	LoadError        string        // why the snapshot found at start was skipped, "" if it was not
}

// initPersistence prepares persistence before replication starts: while the node loads,
// Ready is false, data operations return ErrLoading and replication waits (gossip is dropped
// and repaired by anti-entropy afterwards, sync sessions wait for the load).
func (n *Node) initPersistence() {
	if n.cfg.DataDir == "" {
		return
	}
	p := &persister{path: filepath.Join(n.cfg.DataDir, snapshotFile), loaded: make(chan struct{})}
	p.lastSave = n.cfg.Now()
	n.persist = p
	if _, err := os.Stat(p.path); errors.Is(err, fs.ErrNotExist) {
		close(p.loaded) // a cold start: nothing to wait for
		return
	}
	p.loading.Store(true)
}

// startPersistence loads the snapshot in the background and starts the periodic saver. Called
// once replication is wired, since the load hands the saved version vector to it.
func (n *Node) startPersistence() {
	p := n.persist
	if p == nil {
		return
	}
	n.wg.Add(1)
	go n.saver()
	if !p.loading.Load() {
		return
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		n.loadSnapshot()
		p.loading.Store(false)
		close(p.loaded)
	}()
}

// loading reports whether the node is still loading its snapshot.
func (n *Node) loading() bool { return n.persist != nil && n.persist.loading.Load() }

// Loading reports whether the node is loading its snapshot (Redis's INFO loading:1).
func (n *Node) Loading() bool { return n.loading() }

// WaitLoaded blocks until the node has loaded its snapshot (at once without one), or ctx ends.
func (n *Node) WaitLoaded(ctx context.Context) error {
	if n.persist == nil {
		return nil
	}
	select {
	case <-n.persist.loaded:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// changes counts writes applied here: local ones and replicated ones that won.
func (n *Node) changes() uint64 {
	c := n.localWrites.Load()
	if n.repl != nil {
		c += n.repl.st.applied.Load()
	}
	return c
}

// saverTick is how often the saver checks whether a save is due.
const saverTick = time.Second

// saver saves periodically: every SaveInterval when something changed, and as soon as
// SaveAfterWrites changes accumulated.
func (n *Node) saver() {
	defer n.wg.Done()
	p := n.persist
	select {
	case <-p.loaded:
	case <-n.stop:
		return
	}
	tick := saverTick
	if iv := n.cfg.SaveInterval; iv > 0 && iv < tick {
		tick = iv
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
		}
		p.mu.Lock()
		dirty := n.changes() - p.changesAt
		since := n.cfg.Now().Sub(p.lastSave)
		failed := p.lastErr != nil
		p.mu.Unlock()
		due := dirty > 0 && ((n.cfg.SaveInterval > 0 && since >= n.cfg.SaveInterval) ||
			(n.cfg.SaveAfterWrites > 0 && dirty >= uint64(n.cfg.SaveAfterWrites)))
		if failed && since < saveRetry {
			due = false // a failing disk is retried every saveRetry, not every tick
		}
		if due {
			if err := n.save(true); err != nil && !errors.Is(err, ErrSaveInProgress) {
				n.cfg.Logger.Error("periodic save failed", "path", p.path, "err", err)
			}
		}
	}
}

// saveRetry is how long the saver waits after a failed save before trying again, as Redis does.
const saveRetry = 5 * time.Second

// Save writes the snapshot now and returns when it is on disk (Redis's SAVE). Requests keep
// being served meanwhile: the store is read in small chunks under short read locks.
func (n *Node) Save(ctx context.Context) error {
	if err := n.checkSave(ctx); err != nil {
		return err
	}
	return n.save(false)
}

// BGSave starts writing the snapshot in the background and returns at once (Redis's BGSAVE).
func (n *Node) BGSave() error {
	if err := n.checkSave(context.Background()); err != nil {
		return err
	}
	if n.persist.saving.Load() {
		return ErrSaveInProgress
	}
	if !n.goAsync(func() {
		if err := n.save(true); err != nil && !errors.Is(err, ErrSaveInProgress) {
			n.cfg.Logger.Error("background save failed", "path", n.persist.path, "err", err)
		}
	}) {
		return ErrClosed
	}
	return nil
}

func (n *Node) checkSave(ctx context.Context) error {
	switch {
	case n.persist == nil:
		return ErrNoDataDir
	case n.closed.Load():
		return ErrClosed
	case n.loading():
		return ErrLoading
	}
	return ctx.Err()
}

// LastSave is the time of the last successful save, or the node's start before the first one
// (Redis's LASTSAVE). Zero without persistence.
func (n *Node) LastSave() time.Time {
	if n.persist == nil {
		return time.Time{}
	}
	n.persist.mu.Lock()
	defer n.persist.mu.Unlock()
	return n.persist.lastSave
}

// PersistenceStats reports the node's snapshot state; zero (Enabled false) without DataDir.
func (n *Node) PersistenceStats() PersistenceStats {
	p := n.persist
	if p == nil {
		return PersistenceStats{}
	}
	ch := n.changes()
	p.mu.Lock()
	defer p.mu.Unlock()
	s := PersistenceStats{
		Enabled: true, Loading: p.loading.Load(), SaveInProgress: !p.saveStarted.IsZero(),
		ChangesSinceSave: ch - min(p.changesAt, ch), LastSave: p.lastSave, LastSaveOK: p.lastErr == nil,
		LastSaveDuration: p.lastDuration, LastSaveBytes: p.lastBytes, LastSaveKeys: p.lastKeys,
		SaveStarted: p.saveStarted, Saves: p.saves, Failures: p.fails,
		LoadedKeys: p.loadedKeys, LoadedExpired: p.loadExpired, LoadDuration: p.loadDuration,
	}
	if p.loadErr != nil {
		s.LoadError = p.loadErr.Error()
	}
	return s
}

// save writes one snapshot unless another save runs, and records the outcome. A paced save
// (BGSAVE, periodic) leaves the CPU to requests half of the time (snapshot.go, savePace); SAVE
// and the save on Close, which someone waits for, run at full speed.
func (n *Node) save(paced bool) error {
	p := n.persist
	if !p.saving.CompareAndSwap(false, true) {
		return ErrSaveInProgress
	}
	defer p.saving.Store(false)
	start := time.Now()
	changes := n.changes()
	p.mu.Lock()
	p.saveStarted = n.cfg.Now()
	p.mu.Unlock()
	res, err := n.writeSnapshot(p.path, paced)
	d := time.Since(start)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.saveStarted = time.Time{}
	p.lastDuration, p.lastErr = d, err
	if err != nil {
		p.fails++
		return fmt.Errorf("node: save %s: %w", p.path, err)
	}
	p.saves++
	p.changesAt = changes
	p.lastSave = n.cfg.Now()
	p.lastBytes, p.lastKeys = res.bytes, res.entries
	n.cfg.Logger.Debug("snapshot saved", "path", p.path, "entries", res.entries, "bytes", res.bytes, "took", d)
	return nil
}

// finalSave is Close's save, once every goroutine stopped; skipped while the snapshot is still
// being loaded (the file on disk is then still the newest complete state).
func (n *Node) finalSave() {
	if n.persist == nil || n.loading() {
		return
	}
	if err := n.save(false); err != nil {
		n.cfg.Logger.Error("save on close failed", "path", n.persist.path, "err", err)
	}
}
