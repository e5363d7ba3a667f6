package crdt

import (
	"cmp"
	"fmt"
)

// ReplicaID names one write stream: a fresh random 64-bit id per process
// start, so a restarted node never reuses a (replica, seq) dot.
type ReplicaID uint64

// String formats r as 16 hex digits, the natural form of a random id.
func (r ReplicaID) String() string { return fmt.Sprintf("%016x", uint64(r)) }

// Version orders writes: timestamp first, then replica id as a
// deterministic tie-break, so all replicas pick the same winner.
type Version struct {
	TS      Timestamp
	Replica ReplicaID
}

// Compare returns -1, 0 or 1 as v is lower than, equal to or higher than o.
func (v Version) Compare(o Version) int {
	if c := cmp.Compare(v.TS, o.TS); c != 0 {
		return c
	}
	return cmp.Compare(v.Replica, o.Replica)
}

// Less reports whether v is lower than o.
func (v Version) Less(o Version) bool { return v.Compare(o) < 0 }

// IsZero reports whether v is the zero version, which loses to every real
// write.
func (v Version) IsZero() bool { return v == Version{} }

// String formats v as "timestamp@replica".
func (v Version) String() string { return v.TS.String() + "@" + v.Replica.String() }

// Dot identifies one write: the writer's replica id and its sequence number
// within that replica's stream (counting from 1; 0 means "no write").
type Dot struct {
	Replica ReplicaID
	Seq     uint64
}

// String formats d as "replica:seq".
func (d Dot) String() string { return fmt.Sprintf("%s:%d", d.Replica, d.Seq) }
