package node

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/geocache/geocache/crdt"
)

// Messages carried on the cluster's gossip topic and on sync streams. Each starts with a kind
// byte; the body reuses crdt's versioned frames, so the entry format is versioned once.
const (
	msgDeltas    byte = 0x01 // gossip: crdt batch of the sender's own writes
	msgHeartbeat byte = 0x02 // gossip: replica, latest seq, HLC, applied vector
	// msgUnits is msgDeltas holding at least one transaction's unit: deltas in a row sharing a
	// dot, applied atomically. A kind of its own so that a node that predates transactions
	// refuses it rather than applying the first delta of a unit and dropping the rest as
	// duplicates of its dot.
	msgUnits byte = 0x03
	// msgAckRequest asks its receivers for an early heartbeat: the sender waits for
	// acknowledgements (WAIT). It travels behind the sender's writes on the same ordered stream,
	// so the heartbeat answering it covers them. A node that predates it refuses it (counted as
	// rejected) and acknowledges with its periodic heartbeat only.
	msgAckRequest byte = 0x04

	frameHello  byte = 0x11 // sync: replica + vector
	frameDeltas byte = 0x12 // sync: crdt batch (any writer's deltas: relays allowed)
	frameAdopt  byte = 0x13 // sync: after a snapshot, "you now hold replica R up to seq S"
	frameDone   byte = 0x14 // sync: the sender has sent everything
	frameUnits  byte = 0x15 // sync: frameDeltas holding a transaction's unit (see msgUnits)
	// frameSnapshot is a crdt batch of snapshot entries: final states, merged by LWW without
	// deduplication by dot (a transaction's entries share one) and not logged.
	frameSnapshot byte = 0x16
)

// errBadMessage reports a malformed or disallowed replication message.
var errBadMessage = errors.New("node: bad replication message")

// maxFrame bounds one sync frame: a batch of large values, or one whole collection (a snapshot
// ships each collection in one piece; senders close a batch at chunkBytes before adding the
// next delta). Larger frames are refused before they are read.
const (
	chunkBytes = 8 << 20
	maxFrame   = chunkBytes + maxCollection + 1<<20
)

// heartbeat is what every node publishes periodically and soon after applying peer writes.
type heartbeat struct {
	replica crdt.ReplicaID
	seq     uint64         // the sender's latest issued seq
	hlc     crdt.Timestamp // the sender's clock when sending
	vector  []crdt.ReplicaState
}

func appendHeartbeat(dst []byte, h *heartbeat) []byte {
	dst = append(dst, msgHeartbeat)
	dst = binary.AppendUvarint(dst, uint64(h.replica))
	dst = binary.AppendUvarint(dst, h.seq)
	dst = binary.AppendUvarint(dst, uint64(h.hlc))
	return crdt.AppendVector(dst, h.vector)
}

func decodeHeartbeat(b []byte, maxReplicas int) (heartbeat, error) {
	var h heartbeat
	if len(b) == 0 || b[0] != msgHeartbeat {
		return h, fmt.Errorf("%w: not a heartbeat", errBadMessage)
	}
	b = b[1:]
	var vals [3]uint64
	for i := range vals {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return h, fmt.Errorf("%w: truncated heartbeat", errBadMessage)
		}
		vals[i], b = v, b[n:]
	}
	h.replica, h.seq, h.hlc = crdt.ReplicaID(vals[0]), vals[1], crdt.Timestamp(vals[2])
	vec, n, err := crdt.DecodeVector(b, maxReplicas)
	if err != nil {
		return h, err
	}
	if n != len(b) {
		return h, fmt.Errorf("%w: trailing bytes after heartbeat", errBadMessage)
	}
	h.vector = vec
	return h, nil
}

// frameWriter writes length-prefixed sync frames.
type frameWriter struct {
	w   *bufio.Writer
	buf []byte
}

func (fw *frameWriter) write(frame []byte) error {
	fw.buf = binary.AppendUvarint(fw.buf[:0], uint64(len(frame)))
	if _, err := fw.w.Write(fw.buf); err != nil {
		return err
	}
	_, err := fw.w.Write(frame)
	return err
}

// readFrame reads one length-prefixed frame into buf (grown as needed, up to maxFrame).
func readFrame(r *bufio.Reader, buf []byte) ([]byte, error) {
	size, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, err
	}
	if size == 0 || size > maxFrame {
		return nil, fmt.Errorf("%w: frame of %d bytes", errBadMessage, size)
	}
	if cap(buf) < int(size) {
		buf = make([]byte, size)
	}
	buf = buf[:size]
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

// inFlight is a replica's newest write a sync peer knows is on its way to it by gossip: the
// replica's own heartbeats, which travel behind its writes on one ordered stream, announced
// every write up to seq (at its HLC ts). Writes of it up to seq the peer lacks were lost; those
// after it may still arrive, and a repair leaves them to gossip.
type inFlight struct {
	rep crdt.ReplicaID
	seq uint64
	ts  crdt.Timestamp
}

// appendHello encodes a sync hello: our replica id, our vector, and two optional lists — the
// out-of-order runs our vector holds (a vector summary lists at most crdt.MaxOutOfOrder single
// seqs, and a write flood after a loss holds many more) and the bounds of the writes we want
// repaired (inFlight). Without them (the old form) the peer sends every dot the summary lacks.
func appendHello(dst []byte, r crdt.ReplicaID, vec []crdt.ReplicaState, runs []crdt.Range, bounds []inFlight) []byte {
	dst = append(dst, frameHello)
	dst = binary.AppendUvarint(dst, uint64(r))
	dst = crdt.AppendVector(dst, vec)
	if len(bounds) == 0 && len(runs) == 0 {
		return dst
	}
	dst = binary.AppendUvarint(dst, uint64(len(bounds)))
	for _, b := range bounds {
		dst = binary.AppendUvarint(dst, uint64(b.rep))
		dst = binary.AppendUvarint(dst, b.seq)
		dst = binary.AppendUvarint(dst, uint64(b.ts))
	}
	dst = binary.AppendUvarint(dst, uint64(len(runs)))
	for _, rg := range runs {
		dst = binary.AppendUvarint(dst, uint64(rg.Replica))
		dst = binary.AppendUvarint(dst, rg.From)
		dst = binary.AppendUvarint(dst, rg.To-rg.From)
	}
	return dst
}

// hello is a decoded sync hello.
type hello struct {
	replica crdt.ReplicaID
	vector  []crdt.ReplicaState
	runs    []crdt.Range
	bounds  []inFlight
}

func decodeHello(b []byte, maxReplicas int) (hello, error) {
	var h hello
	r, n := binary.Uvarint(b[1:])
	if n <= 0 {
		return h, fmt.Errorf("%w: truncated hello", errBadMessage)
	}
	vec, m, err := crdt.DecodeVector(b[1+n:], maxReplicas)
	if err != nil {
		return h, err
	}
	h.replica, h.vector = crdt.ReplicaID(r), vec
	rest := b[1+n+m:]
	if len(rest) == 0 {
		return h, nil
	}
	// triples reads count (at most limit) triples of uvarints.
	triples := func(limit uint64, each func(a, b, c uint64) error) error {
		count, k := binary.Uvarint(rest)
		if k <= 0 || count > limit || count > uint64(len(rest)) {
			return fmt.Errorf("%w: bad list in hello", errBadMessage)
		}
		rest = rest[k:]
		for range count {
			var vals [3]uint64
			for j := range vals {
				v, k := binary.Uvarint(rest)
				if k <= 0 {
					return fmt.Errorf("%w: truncated hello", errBadMessage)
				}
				vals[j], rest = v, rest[k:]
			}
			if err := each(vals[0], vals[1], vals[2]); err != nil {
				return err
			}
		}
		return nil
	}
	if err := triples(uint64(maxReplicas), func(rep, seq, ts uint64) error {
		h.bounds = append(h.bounds, inFlight{rep: crdt.ReplicaID(rep), seq: seq, ts: crdt.Timestamp(ts)})
		return nil
	}); err != nil {
		return hello{}, err
	}
	if err := triples(uint64(maxReplicas)*crdt.MaxOutOfOrder, func(rep, from, span uint64) error {
		if from == 0 || span > 1<<62 || from > 1<<62 {
			return fmt.Errorf("%w: bad run in hello", errBadMessage)
		}
		h.runs = append(h.runs, crdt.Range{Replica: crdt.ReplicaID(rep), From: from, To: from + span})
		return nil
	}); err != nil {
		return hello{}, err
	}
	if len(rest) != 0 {
		return hello{}, fmt.Errorf("%w: trailing bytes after hello", errBadMessage)
	}
	return h, nil
}

func appendAdopt(dst []byte, r crdt.ReplicaID, seq uint64, ts crdt.Timestamp) []byte {
	dst = append(dst, frameAdopt)
	dst = binary.AppendUvarint(dst, uint64(r))
	dst = binary.AppendUvarint(dst, seq)
	return binary.AppendUvarint(dst, uint64(ts))
}

func decodeAdopt(b []byte) (crdt.ReplicaID, uint64, crdt.Timestamp, error) {
	b = b[1:]
	var vals [3]uint64
	for i := range vals {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return 0, 0, 0, fmt.Errorf("%w: truncated adopt", errBadMessage)
		}
		vals[i], b = v, b[n:]
	}
	if len(b) != 0 {
		return 0, 0, 0, fmt.Errorf("%w: trailing bytes after adopt", errBadMessage)
	}
	return crdt.ReplicaID(vals[0]), vals[1], crdt.Timestamp(vals[2]), nil
}
