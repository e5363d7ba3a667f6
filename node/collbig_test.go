package node

import (
	"bytes"
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/geocache/geocache/crdt"
	"github.com/geocache/geocache/node/internal/snapfile"
)

// bigColl is the element count of TestBigCollection: the million, less under the race
// detector and -short (still many parts).
func bigColl() int {
	if raceEnabled || testing.Short() {
		return 150_000
	}
	return 1_000_000
}

// fillBig writes n elements to key on node x (1000 per command) and returns its state's
// encoding.
func fillBig(t *testing.T, x *Node, typ crdt.Type, key string, n int) []byte {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < n; i += 1000 {
		var err error
		switch typ {
		case crdt.TypeHash:
			_, err = x.UpdateHash(ctx, key, true, func(h *crdt.Hash, stamp func() crdt.Version) *crdt.Hash {
				dot := stamp()
				pairs := make([][2][]byte, 0, 1000)
				for j := i; j < i+1000 && j < n; j++ {
					pairs = append(pairs, [2][]byte{[]byte("field:" + strconv.Itoa(j)), []byte("value:" + strconv.Itoa(j))})
				}
				return h.Set(dot, pairs...)
			})
		case crdt.TypeSet:
			_, err = x.UpdateSet(ctx, key, true, func(s *crdt.Set, stamp func() crdt.Version) *crdt.Set {
				ms := make([]string, 0, 1000)
				for j := i; j < i+1000 && j < n; j++ {
					ms = append(ms, "member:"+strconv.Itoa(j))
				}
				_, d := s.Add(stamp(), ms...)
				return d
			})
		default:
			_, err = x.UpdateZSet(ctx, key, true, func(z *crdt.ZSet, stamp func() crdt.Version) *crdt.ZSet {
				dot := stamp()
				var d *crdt.ZSet
				for j := i; j < i+1000 && j < n; j++ {
					d = z.AddTo(d, dot, "member:"+strconv.Itoa(j), float64(j))
				}
				return d
			})
		}
		if err != nil {
			t.Fatalf("after %d elements: %v", i, err)
		}
	}
	return collState(t, x, typ, key)
}

// collState returns key's collection encoding on x (nil when x holds none).
func collState(t *testing.T, x *Node, typ crdt.Type, key string) []byte {
	t.Helper()
	v, _, ok := x.store.Peek(key, x.nowMs())
	if !ok || v.obj() == nil || v.tombstone() {
		return nil
	}
	return v.obj().encode()
}

// A collection of a million elements (the size) is kept by the store, reaches a peer
// that joins later by anti-entropy, which ships it in parts (the delta log is too small to
// cover it), and survives a warm restart, saved in part blocks.
func TestBigCollection(t *testing.T) {
	n := bigColl()
	for _, typ := range []crdt.Type{crdt.TypeHash, crdt.TypeSet, crdt.TypeZSet} {
		t.Run(typ.String(), func(t *testing.T) {
			dir := t.TempDir()
			mod := func(c *Config) { c.MaxMemory = 2 << 30 }
			net := newMemNet()
			a := net.addWith(t, "a", func(c *Config) {
				mod(c)
				c.DataDir, c.SaveInterval = dir, -1
			}, replConfig{LogBytes: 1 << 20})
			if err := a.WaitLoaded(context.Background()); err != nil {
				t.Fatal(err)
			}
			want := fillBig(t, a, typ, "k", n)
			if want == nil {
				t.Fatal("the collection was not kept")
			}
			b := net.addWith(t, "b", mod, replConfig{LogBytes: 1 << 20})
			waitFor(t, func() bool { return bytes.Equal(collState(t, b, typ, "k"), want) })
			if a.repl.st.snapshots.Load() == 0 {
				t.Fatal("reached the peer without a snapshot: the parts were not exercised")
			}
			if err := a.Save(context.Background()); err != nil {
				t.Fatal(err)
			}
			a.Close()
			parts := 0
			if err := snapfile.Read(dir+"/"+snapshotFile, func(k snapfile.Kind, _ []byte) error {
				if k == blockPart {
					parts++
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if parts < 2 {
				t.Fatalf("%d part blocks in the snapshot, want several", parts)
			}
			r := persistNodeWith(t, dir, func(c *Config) { mod(c) })
			if got := collState(t, r, typ, "k"); !bytes.Equal(got, want) {
				t.Fatalf("after a warm restart: %d bytes of state, want %d", len(got), len(want))
			}
		})
	}
}

// persistNodeWith starts a non-replicating node on dir (mod may change its config) and waits
// for its snapshot to load.
func persistNodeWith(t *testing.T, dir string, mod func(*Config)) *Node {
	t.Helper()
	cfg := Config{Now: newFakeClock().Now, JanitorInterval: time.Hour, DataDir: dir, SaveInterval: -1, Logger: discardLogger()}
	mod(&cfg)
	x, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x.Close() })
	if err := x.WaitLoaded(context.Background()); err != nil {
		t.Fatal(err)
	}
	return x
}
