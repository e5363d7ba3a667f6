package cluster

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"

	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Gossip messages are unsigned (StrictNoSign), so gossipsub carries neither
// the author nor a sequence number, and a relayed message's ReceivedFrom is
// the relay. Every message therefore starts with a small envelope:
//
//	version  byte (envelopeVersion)
//	origin   uvarint length + peer ID bytes of the publisher
//	seq      uvarint, per publisher, starting at the process start time in ns
//	payload  the caller's bytes
//
// origin+seq is unique per message, so it doubles as the gossipsub message
// ID (no hashing of the payload, and identical payloads are not mistaken
// for duplicates). Starting seq at the wall clock keeps IDs unique across
// restarts of a node with a persistent identity, as gossipsub's own
// sequence numbers do. Members are trusted: the origin is authenticated
// only to the extent that every connection is an authenticated member.
const envelopeVersion = 1

var errBadEnvelope = errors.New("cluster: malformed gossip envelope")

// maxPeerIDLen bounds the origin field; identity-hashed Ed25519 IDs are 38
// bytes, sha256-hashed ones 34.
const maxPeerIDLen = 64

// appendEnvelope appends the envelope header and payload to dst.
func appendEnvelope(dst []byte, origin peer.ID, seq uint64, payload []byte) []byte {
	dst = append(dst, envelopeVersion)
	dst = binary.AppendUvarint(dst, uint64(len(origin)))
	dst = append(dst, origin...)
	dst = binary.AppendUvarint(dst, seq)
	return append(dst, payload...)
}

// envelopeHeaderLen bounds the header size for a given origin.
func envelopeHeaderLen(origin peer.ID) int {
	return 1 + binary.MaxVarintLen64 + len(origin) + binary.MaxVarintLen64
}

// parseEnvelope splits a message into its origin, sequence number, header
// length and payload. The results alias b.
func parseEnvelope(b []byte) (origin peer.ID, seq uint64, hdr int, payload []byte, err error) {
	if len(b) < 1 || b[0] != envelopeVersion {
		return "", 0, 0, nil, errBadEnvelope
	}
	n, k := binary.Uvarint(b[1:])
	if k <= 0 || n == 0 || n > maxPeerIDLen || uint64(len(b)-1-k) < n {
		return "", 0, 0, nil, errBadEnvelope
	}
	off := 1 + k
	origin = peer.ID(b[off : off+int(n)])
	off += int(n)
	seq, k = binary.Uvarint(b[off:])
	if k <= 0 {
		return "", 0, 0, nil, errBadEnvelope
	}
	off += k
	return origin, seq, off, b[off:], nil
}

// messageID is the gossipsub message ID function: the envelope header
// (origin + seq) when well formed, else a hash of the data so malformed
// messages still get distinct IDs (validation rejects them afterwards).
func messageID(m *pb.Message) string {
	data := m.GetData()
	if _, _, hdr, _, err := parseEnvelope(data); err == nil {
		return string(data[:hdr])
	}
	sum := sha256.Sum256(data)
	return string(sum[:])
}
