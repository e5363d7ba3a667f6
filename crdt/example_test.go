package crdt_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/geocache/geocache/crdt"
)

func ExampleClock() {
	c := crdt.NewClock(500 * time.Millisecond)

	// Local events in the same millisecond tick the logical counter.
	fmt.Println(c.Now(1000))
	fmt.Println(c.Now(1000))

	// A remote timestamp slightly ahead is adopted, and the result orders
	// after it.
	ts, _ := c.Observe(crdt.MakeTimestamp(1200, 4), 1000)
	fmt.Println(ts)

	// One too far ahead is rejected and leaves the clock unchanged.
	_, err := c.Observe(crdt.MakeTimestamp(9000, 0), 1000)
	fmt.Println(errors.Is(err, crdt.ErrClockSkew), c.Last())

	// Output:
	// 1000.0
	// 1000.1
	// 1200.5
	// true 1200.5
}

func ExampleMerge() {
	write := func(val string, ms int64, replica crdt.ReplicaID) crdt.Entry {
		return crdt.Entry{
			Value:   []byte(val),
			Version: crdt.Version{TS: crdt.MakeTimestamp(ms, 0), Replica: replica},
			Type:    crdt.TypeLWW,
		}
	}
	paris := write("paris", 100, 1)
	tokyo := write("tokyo", 100, 2) // concurrent: same time, higher replica id wins
	del := crdt.Entry{Version: crdt.Version{TS: crdt.MakeTimestamp(200, 0), Replica: 1}, Type: crdt.TypeLWW, Flags: crdt.FlagTombstone}

	cur, ok := crdt.Entry{}, false
	for _, in := range []crdt.Entry{paris, tokyo, paris, del, tokyo} {
		var out crdt.Outcome
		cur, out = crdt.Merge(cur, ok, in)
		ok = true
		fmt.Printf("%-9s -> %q tombstone=%v\n", out, cur.Value, cur.Tombstone())
	}

	// Output:
	// applied   -> "paris" tombstone=false
	// applied   -> "tokyo" tombstone=false
	// stale     -> "tokyo" tombstone=false
	// applied   -> "" tombstone=true
	// stale     -> "" tombstone=true
}

func ExampleVector_Missing() {
	mine, theirs := crdt.NewVector(), crdt.NewVector()
	for seq := uint64(1); seq <= 10; seq++ {
		theirs.Add(crdt.Dot{Replica: 7, Seq: seq}, crdt.MakeTimestamp(int64(seq), 0))
		if seq <= 3 || seq == 6 {
			mine.Add(crdt.Dot{Replica: 7, Seq: seq}, crdt.MakeTimestamp(int64(seq), 0))
		}
	}
	// What they must send me: everything but the prefix and seq 6.
	for _, r := range mine.Missing(theirs) {
		fmt.Printf("replica %s seqs %d..%d\n", r.Replica, r.From, r.To)
	}
	seq, ts := mine.Prefix(7)
	fmt.Println("prefix", seq, "at", ts)

	// Output:
	// replica 0000000000000007 seqs 4..5
	// replica 0000000000000007 seqs 7..10
	// prefix 3 at 3.0
}
