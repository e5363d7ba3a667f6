package cluster

import (
	"encoding/json"
	"fmt"
	"time"
)

// Member states written in Record.State.
const (
	StateJoining = "joining" // started, warming up via anti-entropy
	StateServing = "serving" // serving normally
	StateLeaving = "leaving" // shutting down gracefully
	StateLeft    = "left"    // shut down gracefully: said goodbye (MarkLeft) or wrote it as its last record
)

func validState(s string) bool {
	return s == StateJoining || s == StateServing || s == StateLeaving || s == StateLeft
}

// departed reports whether a record state says the member has gone for good.
func departed(s string) bool { return s == StateLeaving || s == StateLeft }

// Record is one member's entry in the cluster catalog. Each node writes only
// its own record; the catalog replicates it to everyone. It changes rarely:
// it describes where a node is and how to reach it, not whether it is alive.
type Record struct {
	PeerID    string   `json:"peer_id"`              // libp2p peer ID (set by the cluster)
	Region    string   `json:"region,omitempty"`     // region name, e.g. "eu-west"
	Lat       float64  `json:"lat,omitempty"`        // latitude, degrees
	Lon       float64  `json:"lon,omitempty"`        // longitude, degrees
	RESP      string   `json:"resp,omitempty"`       // client address for the Redis protocol
	HTTP      string   `json:"http,omitempty"`       // client address for HTTP/JSON
	Version   string   `json:"version,omitempty"`    // software version
	State     string   `json:"state,omitempty"`      // StateJoining, StateServing, StateLeaving or StateLeft
	Addrs     []string `json:"addrs,omitempty"`      // full libp2p multiaddrs (with /p2p/); default: our announced addresses
	ReplicaID uint64   `json:"replica_id,omitempty"` // the node's current write-stream id (changes per process start)
	UpdatedMs int64    `json:"updated_ms,omitempty"` // unix ms of the write (set by the cluster)
}

// Member is a Record joined with what this node observes about the peer.
type Member struct {
	Record
	// Self is true for our own entry.
	Self bool
	// Known is false for a connected peer whose record has not reached us
	// through the catalog yet (only PeerID is set then).
	Known bool
	// Connected reports a live libp2p connection (always true for Self).
	Connected bool
	// RTT is the smoothed ping round trip; 0 when never measured.
	RTT time.Duration
	// LastSeen is the last time the peer was connected or answered a
	// ping; zero when never.
	LastSeen time.Time
}

func encodeRecord(r Record) ([]byte, error) {
	return json.Marshal(r)
}

func decodeRecord(b []byte) (Record, error) {
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return Record{}, fmt.Errorf("cluster: bad catalog record: %w", err)
	}
	if r.PeerID == "" {
		return Record{}, fmt.Errorf("cluster: catalog record without peer id")
	}
	return r, nil
}
