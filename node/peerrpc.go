package node

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"time"

	"github.com/geocache/geocache/crdt"
)

// Peer RPC: one request and one response per stream (streams are cheap on a multiplexed
// connection). Used for read-through on a local miss and for cluster-wide load leases.
//
//	request:  op byte, uvarint key length, key, then op-specific fields
//	opGet     -> status (0 miss, 1 hit) [+ crdt delta]
//	opLease   uvarint ttl ms [flags byte] -> status (1 granted, 2 held by another) + uvarint
//	          remaining ms; with flag leaseFlagRich also 3 (absent: a load just found no such
//	          key) + uvarint remaining ms, or 4 (the owner holds the key) + crdt delta
//	opRelease [1 byte: 1 = the loader found no such key] -> status 1
//	opLeave   (empty key) uvarint replica, seq, hlc: the sender is leaving -> status 1 (leave.go)
const (
	rpcProto = "peer/1"

	opGet     byte = 0x01
	opLease   byte = 0x02
	opRelease byte = 0x03
	opLeave   byte = 0x04

	stMiss     byte = 0
	stHit      byte = 1
	stGranted  byte = 1
	stHeld     byte = 2
	stAbsent   byte = 3
	stOwnerHit byte = 4

	// leaseFlagRich in an opLease request: the asker understands stAbsent and stOwnerHit
	// (nodes before them read only granted/held).
	leaseFlagRich byte = 1

	// rpcDeadline bounds serving one request.
	rpcDeadline = 5 * time.Second
)

// peerRPC is the transport side of peer requests.
type peerRPC interface {
	OpenRPC(ctx context.Context, peer string) (io.ReadWriteCloser, error)
}

func appendRequest(dst []byte, op byte, key string) []byte {
	dst = append(dst, op)
	dst = binary.AppendUvarint(dst, uint64(len(key)))
	return append(dst, key...)
}

// call sends one request to peer and returns the raw response (bounded by maxFrame).
func (n *Node) call(ctx context.Context, peer string, req []byte) ([]byte, error) {
	rpc, ok := n.repl.tr.(peerRPC)
	if !ok {
		return nil, fmt.Errorf("node: transport has no peer rpc")
	}
	n.peerCalls.Add(1)
	s, err := rpc.OpenRPC(ctx, peer)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	defer context.AfterFunc(ctx, func() { s.Close() })()
	bw := bufio.NewWriter(s)
	fw := &frameWriter{w: bw}
	if err := fw.write(req); err != nil {
		return nil, err
	}
	if err := bw.Flush(); err != nil {
		return nil, err
	}
	if cw, ok := s.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	return readFrame(bufio.NewReader(s), nil)
}

// serveRPC answers one peer request on s.
func (n *Node) serveRPC(from string, s io.ReadWriteCloser) {
	defer s.Close()
	ctx, cancel := n.stopCtx()
	defer cancel()
	ctx, cancel2 := context.WithTimeout(ctx, rpcDeadline)
	defer cancel2()
	defer context.AfterFunc(ctx, func() { s.Close() })()
	req, err := readFrame(bufio.NewReader(s), nil)
	if err != nil || len(req) < 2 {
		n.repl.st.rejected.Add(1)
		return
	}
	op := req[0]
	klen, m := binary.Uvarint(req[1:])
	if m <= 0 || klen > uint64(n.cfg.MaxKeySize) || uint64(len(req)-1-m) < klen {
		n.repl.st.rejected.Add(1)
		return
	}
	key := string(req[1+m : 1+m+int(klen)])
	rest := req[1+m+int(klen):]
	var resp []byte
	switch op {
	case opGet:
		resp = n.serveGet(key)
	case opLease:
		ttl, k := binary.Uvarint(rest)
		if k <= 0 || ttl > uint64(time.Minute.Milliseconds()) {
			n.repl.st.rejected.Add(1)
			return
		}
		rich := len(rest) > k && rest[k]&leaseFlagRich != 0
		if hit := n.serveGet(key); rich && hit[0] == stHit {
			// We hold it: the asker needs no lease (a read-through answered by the owner).
			hit[0] = stOwnerHit
			resp = hit
			break
		}
		resp = n.leases.acquire(key, from, time.Duration(ttl)*time.Millisecond, time.Now(), rich)
	case opRelease:
		absent := len(rest) > 0 && rest[0] == 1
		n.leases.release(key, from, absent, n.cfg.NegativeTTL, time.Now())
		resp = []byte{stGranted}
	case opLeave:
		if !n.serveGoodbye(from, rest) {
			n.repl.st.rejected.Add(1)
			return
		}
		resp = []byte{stGranted}
	default:
		n.repl.st.rejected.Add(1)
		return
	}
	bw := bufio.NewWriter(s)
	fw := &frameWriter{w: bw}
	if fw.write(resp) == nil {
		bw.Flush()
	}
}

// serveGet answers a read-through: the live register for key, with its original version.
func (n *Node) serveGet(key string) []byte {
	v, exp, ok := n.store.Peek(key, n.nowMs())
	if !ok || v.tombstone() {
		return []byte{stMiss}
	}
	d := crdt.Delta{Key: key, Entry: v.entry(n.reps, exp)}
	return crdt.AppendDelta([]byte{stHit}, &d)
}
