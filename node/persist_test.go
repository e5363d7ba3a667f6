package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/geocache/geocache/crdt"
)

// syncBuffer is a log sink safe for the node's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// persistNode starts a non-replicating node on clk with its cache saved in dir, and waits for
// its snapshot to load.
func persistNode(t *testing.T, dir string, clk *fakeClock, log *syncBuffer) *Node {
	t.Helper()
	lg := slog.New(slog.DiscardHandler)
	if log != nil {
		lg = slog.New(slog.NewTextHandler(log, nil))
	}
	n, err := New(Config{Now: clk.Now, JanitorInterval: time.Hour, DataDir: dir, SaveInterval: -1,
		TombstoneTTL: 10 * time.Minute, Logger: lg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	if err := n.WaitLoaded(context.Background()); err != nil {
		t.Fatal(err)
	}
	return n
}

func dumpAll(t *testing.T, n *Node) map[string]DumpEntry {
	t.Helper()
	out := map[string]DumpEntry{}
	if err := n.Dump(context.Background(), func(e DumpEntry) bool { out[e.Key] = e; return true }); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSnapshotRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir, clk := t.TempDir(), newFakeClock()
	a := persistNode(t, dir, clk, nil)
	mustSet(t, a, "old", "flushed away", SetOptions{})
	clk.Advance(time.Millisecond)
	if _, err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	flush, _ := a.flushMarker()
	clk.Advance(time.Millisecond)
	mustSet(t, a, "plain", "v", SetOptions{})
	mustSet(t, a, "ttl", "t", SetOptions{TTL: time.Hour})
	mustSet(t, a, "typed", `{"a":1}`, SetOptions{ContentType: "application/json"})
	mustSet(t, a, "gone", "x", SetOptions{})
	if _, err := a.Delete(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	mustSet(t, a, "", "empty key", SetOptions{})
	want := dumpAll(t, a)
	if err := a.Save(ctx); err != nil {
		t.Fatal(err)
	}
	st := a.PersistenceStats()
	if st.Saves != 1 || st.LastSaveKeys != 5 || st.LastSaveBytes <= 0 || st.ChangesSinceSave != 0 || !st.LastSaveOK {
		t.Fatalf("stats after save: %+v", st)
	}
	a.Close()

	b := persistNode(t, dir, clk, nil)
	got := dumpAll(t, b)
	if len(got) != len(want) {
		t.Fatalf("loaded %d entries, want %d: %v", len(got), len(want), got)
	}
	for k, w := range want {
		g := got[k]
		if !bytes.Equal(g.Value, w.Value) || g.ContentType != w.ContentType || g.ExpireAtMs != w.ExpireAtMs ||
			g.Version != w.Version || g.Deleted != w.Deleted {
			t.Fatalf("%q: loaded %+v, want %+v", k, g, w)
		}
	}
	if f, ok := b.flushMarker(); !ok || f.Version != flush.Version || f.Seq != flush.Seq {
		t.Fatalf("flush marker %+v %v, want %+v", f, ok, flush)
	}
	if v, ok := mustGet(t, b, "plain"); !ok || v != "v" {
		t.Fatalf("plain = %q %v", v, ok)
	}
	if _, ok := mustGet(t, b, "gone"); ok {
		t.Fatal("deleted key is back after the restart")
	}
	if b.Len() != 4 || b.Stats().DeleteTombstones != 1 {
		t.Fatalf("Len %d, tombstones %d; want 4, 1", b.Len(), b.Stats().DeleteTombstones)
	}
	if st := b.PersistenceStats(); st.LoadedKeys != 5 || st.LoadError != "" {
		t.Fatalf("load stats %+v", st)
	}
	// A write after the restart beats the loaded version: the clock observed the file's.
	r := mustSet(t, b, "plain", "w", SetOptions{})
	if !want["plain"].Version.Less(r.Version) {
		t.Fatalf("new write %v not after loaded %v", r.Version, want["plain"].Version)
	}
	// The loaded tombstone still refuses the older write it deleted.
	old := crdt.Entry{Value: []byte("x"), Version: want["gone"].Version, Seq: 1, Type: crdt.TypeLWW}
	old.Version.TS--
	if b.applyLoaded(&crdt.Delta{Key: "gone", Entry: old}, clk.Now().UnixMilli()) {
		t.Fatal("an older write replaced a loaded tombstone")
	}
}

func TestSnapshotDropsWhatExpiredMeanwhile(t *testing.T) {
	t.Parallel()
	dir, clk := t.TempDir(), newFakeClock()
	a := persistNode(t, dir, clk, nil)
	short := mustSet(t, a, "short", "s", SetOptions{TTL: time.Minute})
	mustSet(t, a, "long", "l", SetOptions{TTL: time.Hour})
	a.Close() // saves on close

	clk.Advance(2 * time.Minute)
	b := persistNode(t, dir, clk, nil)
	if _, ok := mustGet(t, b, "short"); ok {
		t.Fatal("a key that expired while the node was down is back")
	}
	if v, ok := mustGet(t, b, "long"); !ok || v != "l" {
		t.Fatalf("long = %q %v", v, ok)
	}
	// The expired key's stamp is a floor: a late, older write of it is refused as it would
	// have been by the running node's local tombstone.
	if got := b.Stats().TombstoneFloor; got < short.Version.TS {
		t.Fatalf("floor %v below the expired write %v", got, short.Version.TS)
	}
}

func TestSnapshotCorruptOrTornSkipped(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		damage func(b []byte) []byte
	}{
		{"flipped bit", func(b []byte) []byte { b[len(b)/2] ^= 0x10; return b }},
		{"torn tail", func(b []byte) []byte { return b[:len(b)-7] }},
		{"no trailer", func(b []byte) []byte { return b[:len(b)-25] }},
		{"bad version", func(b []byte) []byte { b[8] = 99; return b }},
		{"not a snapshot", func(b []byte) []byte { return []byte("REDIS0011 something else") }},
		{"trailing garbage", func(b []byte) []byte { return append(b, 0) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir, clk := t.TempDir(), newFakeClock()
			a := persistNode(t, dir, clk, nil)
			for i := range 2000 {
				mustSet(t, a, fmt.Sprint("k", i), strings.Repeat("v", 100), SetOptions{})
			}
			a.Close()
			path := filepath.Join(dir, snapshotFile)
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, tc.damage(raw), 0o600); err != nil {
				t.Fatal(err)
			}
			var log syncBuffer
			b := persistNode(t, dir, clk, &log)
			if b.Len() != 0 {
				t.Fatalf("started with %d keys from a damaged file", b.Len())
			}
			if !strings.Contains(log.String(), "snapshot unreadable, starting empty") {
				t.Fatalf("no log line; log: %s", log.String())
			}
			if st := b.PersistenceStats(); st.LoadError == "" {
				t.Fatal("LoadError empty")
			}
			if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("damaged file left in place: %v", err)
			}
			aside, _ := filepath.Glob(path + ".bad-*")
			if len(aside) != 1 {
				t.Fatalf("damaged file not kept aside: %v", aside)
			}
		})
	}
}

func TestSnapshotLoadingBlocksDataAndSaves(t *testing.T) {
	t.Parallel()
	n, _ := newTestNode(t, nil)
	if err := n.Save(context.Background()); !errors.Is(err, ErrNoDataDir) {
		t.Fatalf("Save without DataDir = %v", err)
	}
	if st := n.PersistenceStats(); st.Enabled {
		t.Fatal("persistence enabled without DataDir")
	}
	// A loading node refuses data operations and saves and is not ready.
	clk := newFakeClock()
	m := persistNode(t, t.TempDir(), clk, nil)
	m.persist.loading.Store(true)
	if _, err := m.Set(context.Background(), "k", []byte("v"), SetOptions{}); !errors.Is(err, ErrLoading) {
		t.Fatalf("Set while loading = %v", err)
	}
	if err := m.Save(context.Background()); !errors.Is(err, ErrLoading) {
		t.Fatalf("Save while loading = %v", err)
	}
	if m.Ready() {
		t.Fatal("ready while loading")
	}
	m.persist.loading.Store(false)
	if !m.Ready() {
		t.Fatal("not ready after loading")
	}
}

func TestSnapshotStaleFileSkippedWhenReplicating(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	clk := newFakeClock()
	a := persistNode(t, dir, clk, nil)
	mustSet(t, a, "k", "v", SetOptions{})
	a.Close()
	clk.Advance(11 * time.Minute) // beyond persistNode's TombstoneTTL
	var log syncBuffer
	b := newP2PNode(t, func(c *Config) {
		c.DataDir, c.Now, c.TombstoneTTL = dir, clk.Now, 10*time.Minute
		c.Logger = slog.New(slog.NewTextHandler(&log, nil))
	})
	if err := b.WaitLoaded(context.Background()); err != nil {
		t.Fatal(err)
	}
	if b.Len() != 0 || !strings.Contains(log.String(), "older than the tombstone grace horizon") {
		t.Fatalf("stale snapshot loaded: %d keys; log %s", b.Len(), log.String())
	}
}

func TestBGSaveAndPeriodicSave(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	n, err := New(Config{DataDir: dir, SaveInterval: -1, SaveAfterWrites: 3, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	if err := n.WaitLoaded(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		mustSet(t, n, fmt.Sprint("k", i), "v", SetOptions{})
	}
	// SaveAfterWrites: the saver notices within a tick.
	waitFor(t, func() bool { return n.PersistenceStats().Saves >= 1 })
	if st := n.PersistenceStats(); st.LastSaveKeys != 3 {
		t.Fatalf("periodic save wrote %d keys, want 3", st.LastSaveKeys)
	}
	mustSet(t, n, "k3", "v", SetOptions{})
	before := n.PersistenceStats().Saves
	if err := n.BGSave(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { st := n.PersistenceStats(); return st.Saves > before && !st.SaveInProgress })
	if st := n.PersistenceStats(); st.LastSaveKeys != 4 || st.ChangesSinceSave != 0 {
		t.Fatalf("after BGSAVE: %+v", st)
	}
}

// A node restarted from its snapshot is sent only what it missed while down, and a key deleted
// elsewhere meanwhile stays deleted although the snapshot holds its value.
func TestP2PRestartFromSnapshotCatchesUpTheGap(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	a := newP2PNode(t, nil)
	b := newP2PNode(t, func(c *Config) { c.Join = a.P2PAddrs(); c.DataDir = dir; c.SaveInterval = -1 })
	waitFor(t, func() bool { return reachablePeers(a) == 1 && reachablePeers(b) == 1 })
	const before, during = 2000, 50
	for i := range before {
		mustSetCtx(t, []*Node{a, b}[i%2], fmt.Sprint("k", i), "v")
	}
	mustSetCtx(t, b, "doomed", "alive")
	converged(t, a, b)
	b.Close() // saves

	for i := range during {
		mustSetCtx(t, a, fmt.Sprint("down", i), "x")
	}
	if n, err := a.Delete(ctx, "doomed"); err != nil || n != 1 {
		t.Fatalf("DEL doomed = %d, %v", n, err)
	}
	sentBefore := a.ReplicationStats().SyncDeltasSent
	snapsBefore := a.ReplicationStats().SnapshotsSent

	b2 := newP2PNode(t, func(c *Config) { c.Join = a.P2PAddrs(); c.DataDir = dir; c.SaveInterval = -1 })
	if err := b2.WaitLoaded(ctx); err != nil {
		t.Fatal(err)
	}
	if st := b2.PersistenceStats(); st.LoadedKeys != before+1 {
		t.Fatalf("loaded %d entries, want %d (%s)", st.LoadedKeys, before+1, st.LoadError)
	}
	waitFor(t, func() bool { return b2.Ready() })
	converged(t, a, b2)
	if b2.Len() != before+during {
		t.Fatalf("restarted node holds %d keys, want %d", b2.Len(), before+during)
	}
	if _, ok := mustGet(t, b2, "doomed"); ok {
		t.Fatal("a key deleted while the node was down came back from its snapshot")
	}
	if _, ok := mustGet(t, a, "doomed"); ok {
		t.Fatal("the restarted node resurrected a deleted key on its peer")
	}
	// Only the gap crossed the wire: the writes and the delete made while b was down (and
	// b's own writes, whose dots its old vector claims, are not resent).
	sent := a.ReplicationStats().SyncDeltasSent - sentBefore
	if sent < during+1 || sent > during+1+64 {
		t.Fatalf("peer sent %d deltas to the restarted node, want the %d-write gap", sent, during+1)
	}
	if a.ReplicationStats().SnapshotsSent != snapsBefore {
		t.Fatal("the peer streamed a full snapshot instead of the gap")
	}
	mustSetCtx(t, b2, "after", "2")
	converged(t, a, b2)
}

// A kill -9 after a save: the node comes back with the saved state only. The writes it made
// after the save are not claimed by the saved vector, so the peer that received them sends them
// back; nothing it had not saved is lost to the cluster.
func TestP2PKillAfterSaveRecoversLaterWritesFromPeer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	a := newP2PNode(t, nil)
	b := newP2PNode(t, func(c *Config) { c.Join = a.P2PAddrs(); c.DataDir = dir; c.SaveInterval = -1 })
	waitFor(t, func() bool { return reachablePeers(a) == 1 && reachablePeers(b) == 1 })
	mustSetCtx(t, b, "saved", "1")
	if err := b.Save(ctx); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, snapshotFile)
	saved, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	mustSetCtx(t, b, "unsaved", "2") // b's own write after the save, gossiped to a
	converged(t, a, b)
	b.Close()
	// What a kill -9 leaves on disk: the last save, not the one Close just wrote.
	if err := os.WriteFile(path, saved, 0o600); err != nil {
		t.Fatal(err)
	}
	b2 := newP2PNode(t, func(c *Config) { c.Join = a.P2PAddrs(); c.DataDir = dir; c.SaveInterval = -1 })
	if err := b2.WaitLoaded(ctx); err != nil {
		t.Fatal(err)
	}
	if st := b2.PersistenceStats(); st.LoadedKeys != 1 {
		t.Fatalf("loaded %d entries, want the 1 saved", st.LoadedKeys)
	}
	waitFor(t, func() bool { v, ok, _ := b2.GetLocal(ctx, "unsaved"); return ok && string(v.Value) == "2" })
	converged(t, a, b2)
}
