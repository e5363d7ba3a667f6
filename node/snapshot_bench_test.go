package node

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	ds "github.com/ipfs/go-datastore"
	dsq "github.com/ipfs/go-datastore/query"
	leveldb "github.com/ipfs/go-ds-leveldb"

	"github.com/geocache/geocache/crdt"
)

// Storage choice for warm restart: the snapshot file (bufio + the crdt codec, what the node
// uses) against go-ds-leveldb (the go-datastore implementation the catalog already uses), for
// the same entries. Run with:
//
//	go test -run '^$' -bench 'Snapshot(File|LevelDB)' -benchtime 1x ./node/ -args -snapkeys=1000000
var snapKeys = flag.Int("snapkeys", 100_000, "keys in the snapshot storage benchmarks (100-byte values)")

// filledNode returns a node holding n keys of 100-byte values.
func filledNode(b *testing.B, n int) *Node {
	b.Helper()
	nd := fillNode(b, n)
	b.Cleanup(func() { nd.Close() })
	return nd
}

// fillNode is filledNode without the cleanup: the caller closes the node.
func fillNode(b *testing.B, n int) *Node {
	b.Helper()
	nd, err := New(Config{MaxMemory: 8 << 30, SaveInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	// Random bytes: neither side gets to compress them (the catalog's LevelDB uses snappy).
	rng := rand.NewChaCha8([32]byte{1})
	val := make([]byte, 100)
	for i := range n {
		rng.Read(val)
		if _, err := nd.Set(context.Background(), fmt.Sprintf("key:%012d", i), val, SetOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	return nd
}

func dirBytes(b *testing.B, dir string) int64 {
	var total int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			total += fi.Size()
		}
		return nil
	})
	return total
}

func BenchmarkSnapshotFile(b *testing.B) {
	src := fillNode(b, *snapKeys)
	dir := b.TempDir()
	src.persist = &persister{path: filepath.Join(dir, snapshotFile), loaded: make(chan struct{})}
	close(src.persist.loaded)
	b.Run("save", func(b *testing.B) {
		for range b.N {
			if err := src.save(false); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(dirBytes(b, dir))/float64(*snapKeys), "disk-B/key")
	})
	// The load runs as in a restarted process: the source's entries are gone, so the garbage
	// collector does not mark them during the load.
	src.persist = nil // no save on close
	src.Close()
	src = nil
	runtime.GC()
	b.Run("load", func(b *testing.B) {
		var cpu time.Duration
		for range b.N {
			cpu0 := processCPU()
			dst, err := New(Config{MaxMemory: 8 << 30, SaveInterval: -1, DataDir: dir})
			if err != nil {
				b.Fatal(err)
			}
			if err := dst.WaitLoaded(context.Background()); err != nil {
				b.Fatal(err)
			}
			if dst.Len() != *snapKeys {
				b.Fatalf("loaded %d keys", dst.Len())
			}
			b.StopTimer()
			cpu += processCPU() - cpu0
			dst.persist = nil // no save on close
			dst.Close()
			runtime.GC() // the next load starts from an empty heap, as a new process does
			b.StartTimer()
		}
		// CPU time (user + system, all threads) is less sensitive than wall time to other
		// processes on a shared machine; it includes the collector's work.
		b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/op")
	})
}

// processCPU is the process's user and system CPU time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkSnapshotLevelDB(b *testing.B) {
	src := filledNode(b, *snapKeys)
	dir := b.TempDir()
	ctx := context.Background()
	b.Run("save", func(b *testing.B) {
		for i := range b.N {
			path := filepath.Join(dir, fmt.Sprint(i))
			db, err := leveldb.NewDatastore(path, nil)
			if err != nil {
				b.Fatal(err)
			}
			// Batches of 4096 keep memory bounded, as the file's blocks do.
			batch, _ := db.Batch(ctx)
			n := 0
			var buf []byte
			src.store.Range(0, func(k string, v value, exp int64) bool {
				buf = crdt.AppendDelta(buf[:0], &crdt.Delta{Key: k, Entry: v.entry(src.reps, exp)})
				if err := batch.Put(ctx, ds.NewKey(k), append([]byte(nil), buf...)); err != nil {
					b.Fatal(err)
				}
				if n++; n%4096 == 0 {
					if err := batch.Commit(ctx); err != nil {
						b.Fatal(err)
					}
					batch, _ = db.Batch(ctx)
				}
				return true
			})
			if err := batch.Commit(ctx); err != nil {
				b.Fatal(err)
			}
			if err := db.Sync(ctx, ds.NewKey("/")); err != nil {
				b.Fatal(err)
			}
			db.Close()
			if i == b.N-1 {
				b.ReportMetric(float64(dirBytes(b, path))/float64(*snapKeys), "disk-B/key")
			}
		}
	})
	b.Run("load", func(b *testing.B) {
		for range b.N {
			dst, err := New(Config{MaxMemory: 8 << 30, SaveInterval: -1})
			if err != nil {
				b.Fatal(err)
			}
			db, err := leveldb.NewDatastore(filepath.Join(dir, "0"), nil)
			if err != nil {
				b.Fatal(err)
			}
			res, err := db.Query(ctx, dsq.Query{})
			if err != nil {
				b.Fatal(err)
			}
			nowMs := dst.nowMs()
			for r := range res.Next() {
				if r.Error != nil {
					b.Fatal(r.Error)
				}
				d, _, err := crdt.DecodeDelta(r.Value, crdt.Limits{MaxKey: 1 << 30, MaxValue: 1 << 30})
				if err != nil {
					b.Fatal(err)
				}
				dst.applyLoaded(&d, nowMs)
			}
			res.Close()
			db.Close()
			if dst.Len() != *snapKeys {
				b.Fatalf("loaded %d keys", dst.Len())
			}
			b.StopTimer()
			dst.Close()
			b.StartTimer()
		}
	})
}
