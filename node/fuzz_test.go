package node

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/geocache/geocache/crdt"
)

// FuzzGossipMessage feeds arbitrary gossip payloads to a replicating node: it must never panic,
// and anything it accepts must be a well-formed write of another replica.
func FuzzGossipMessage(f *testing.F) {
	hb := appendHeartbeat(nil, &heartbeat{replica: 7, seq: 3, hlc: 99, vector: []crdt.ReplicaState{{Replica: 7, Prefix: 3}}})
	batch := crdt.AppendBatch([]byte{msgDeltas}, &crdt.Batch{From: 7, Deltas: []crdt.Delta{{Key: "k",
		Entry: crdt.Entry{Value: []byte("v"), Type: crdt.TypeLWW, Seq: 1, Version: crdt.Version{TS: 1, Replica: 7}}}}})
	unit := crdt.AppendBatch([]byte{msgUnits}, &crdt.Batch{From: 7, Deltas: []crdt.Delta{
		{Key: "a", Entry: crdt.Entry{Value: []byte("v"), Type: crdt.TypeLWW, Seq: 2, Version: crdt.Version{TS: 2, Replica: 7}}},
		{Key: "b", Entry: crdt.Entry{Value: []byte("w"), Type: crdt.TypeLWW, Seq: 2, Version: crdt.Version{TS: 3, Replica: 7}}}}})
	f.Add(hb)
	f.Add(batch)
	f.Add(unit)
	f.Add([]byte{0x02, 0x01})
	net := newMemNet()
	n := net.add(&testing.T{}, "fuzz", nil)
	f.Cleanup(func() { n.Close() })
	f.Fuzz(func(t *testing.T, data []byte) {
		n.repl.onMessage("peer", data)
	})
}

// FuzzSyncStream feeds an arbitrary byte stream to the anti-entropy receiver.
func FuzzSyncStream(f *testing.F) {
	frame := func(b []byte) []byte { return append(binary.AppendUvarint(nil, uint64(len(b))), b...) }
	good := frame(appendHello(nil, 9, nil, nil, nil))
	good = append(good, frame(crdt.AppendBatch([]byte{frameDeltas}, &crdt.Batch{From: 9, Deltas: []crdt.Delta{{Key: "k",
		Entry: crdt.Entry{Value: []byte("v"), Type: crdt.TypeLWW, Seq: 1, Version: crdt.Version{TS: 1, Replica: 9}}}}}))...)
	unit := []crdt.Delta{
		{Key: "a", Entry: crdt.Entry{Value: []byte("v"), Type: crdt.TypeLWW, Seq: 2, Version: crdt.Version{TS: 2, Replica: 9}}},
		{Key: "b", Entry: crdt.Entry{Value: []byte("w"), Type: crdt.TypeLWW, Seq: 2, Version: crdt.Version{TS: 3, Replica: 9}}}}
	good = append(good, frame(crdt.AppendBatch([]byte{frameUnits}, &crdt.Batch{From: 9, Deltas: unit}))...)
	good = append(good, frame(crdt.AppendBatch([]byte{frameSnapshot}, &crdt.Batch{From: 9, Deltas: unit}))...)
	good = append(good, frame(appendAdopt(nil, 9, 5, 10))...)
	good = append(good, frame([]byte{frameDone})...)
	f.Add(good)
	f.Add(append(frame(appendHello(nil, 9, nil, []crdt.Range{{Replica: 9, From: 4, To: 6}}, []inFlight{{rep: 9, seq: 3, ts: 7}})), good[len(frame(appendHello(nil, 9, nil, nil, nil))):]...))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	net := newMemNet()
	n := net.add(&testing.T{}, "fuzz", nil)
	f.Cleanup(func() { n.Close() })
	f.Fuzz(func(t *testing.T, data []byte) {
		theirs := make(chan peerHello, 1)
		br := bufio.NewReader(bytes.NewReader(data))
		if err := n.repl.receiveHello("peer", br, theirs); err == nil {
			n.repl.receive(br)
		}
	})
}
