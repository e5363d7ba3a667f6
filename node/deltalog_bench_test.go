package node

import (
	"strconv"
	"testing"

	"github.com/geocache/geocache/crdt"
)

// BenchmarkDeltaLogAppendRef is the log's share of a plain write in steady state (full log:
// each append drops the oldest): a reference to a 16-byte key.
func BenchmarkDeltaLogAppendRef(b *testing.B) {
	l := newDeltaLog(1 << 20)
	keys := make([]string, 4096)
	for i := range keys {
		keys[i] = "key:" + strconv.FormatInt(int64(100000000000+i), 10)
	}
	d := crdt.Delta{Entry: crdt.Entry{Type: crdt.TypeLWW, Version: crdt.Version{Replica: 7}}}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		d.Key = keys[i%len(keys)]
		d.Entry.Seq = uint64(i + 1)
		d.Entry.Version.TS = crdt.Timestamp(1_800_000_000_000<<16 + i*4)
		l.addOne(&d)
	}
}
