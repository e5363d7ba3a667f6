package testnet

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/geocache/geocache/crdt"
)

// OpKind is the kind of a client operation.
type OpKind string

// Operation kinds.
const (
	OpSet OpKind = "set"
	OpGet OpKind = "get"
	OpDel OpKind = "del"
	// OpIncr is an INCRBY of a counter key (CounterKey): counters are never SET or deleted by
	// the workload, so their value must be the sum of the increments applied.
	OpIncr OpKind = "incrby"
	// Collection writes (collections.go): HSET of the client's own field, SADD and SREM of a
	// member, ZINCRBY of a member.
	OpHSet  OpKind = "hset"
	OpSAdd  OpKind = "sadd"
	OpSRem  OpKind = "srem"
	OpZIncr OpKind = "zincrby"
)

// Status is what the client knows about an operation's outcome.
type Status string

// Statuses.
const (
	StatusOK      Status = "ok"      // acknowledged
	StatusFail    Status = "fail"    // definitely not applied: never sent, or an error reply
	StatusUnknown Status = "unknown" // sent, no reply: may or may not have been applied
)

// Op is one client operation as the workload saw it: the history the checker judges.
type Op struct {
	ID      int           `json:"id"`
	Client  string        `json:"client"`
	Node    string        `json:"node"`
	Inc     int           `json:"incarnation"` // the node's process lifetime when invoked
	Replica string        `json:"replica"`     // that incarnation's replica id
	Offset  time.Duration `json:"clock_offset_ns,omitempty"`
	Kind    OpKind        `json:"op"`
	Key     string        `json:"key"`
	// Value is the value written (set) or read (get; empty when not found). Written values are
	// unique, so a value read names the write that produced it.
	Value    string        `json:"value,omitempty"`
	TTL      time.Duration `json:"ttl_ns,omitempty"`
	Delta    int64         `json:"delta,omitempty"`  // incrby, zincrby: the increment
	Member   string        `json:"member,omitempty"` // hset: the field; sadd, srem, zincrby: the member
	Found    bool          `json:"found,omitempty"`  // get: the key existed
	Invoke   time.Time     `json:"invoke"`
	Complete time.Time     `json:"complete"`
	Status   Status        `json:"status"`
	Err      string        `json:"err,omitempty"`
	// Version is this write's exact version, when the read-back right after it still saw it.
	Version string `json:"version,omitempty"`
	// Later is a version the node held right after this write and that is not it: the write's
	// version is lower.
	Later string `json:"later,omitempty"`
}

func (o *Op) String() string {
	s := fmt.Sprintf("#%d %s@%s(inc %d) %s %q", o.ID, o.Client, o.Node, o.Inc, o.Kind, o.Key)
	if o.Member != "" {
		s += fmt.Sprintf(" %q", o.Member)
	}
	if o.Value != "" {
		s += fmt.Sprintf(" %q", o.Value)
	}
	if o.Delta != 0 {
		s += " by " + strconv.FormatInt(o.Delta, 10)
	}
	if o.TTL > 0 {
		s += " px=" + strconv.FormatInt(o.TTL.Milliseconds(), 10)
	}
	if o.Kind == OpGet && !o.Found && o.Status == StatusOK {
		s += " -> nil"
	}
	s += fmt.Sprintf(" [%s .. %s] %s", o.Invoke.Format("15:04:05.000"), o.Complete.Format("15:04:05.000"), o.Status)
	if o.Version != "" {
		s += " v=" + o.Version
	}
	if o.Later != "" {
		s += " later=" + o.Later
	}
	return s
}

// lowerBound is a timestamp this write's version cannot be below: a hybrid logical clock never
// runs behind its node's wall clock, which read at least Invoke (+ the node's clock offset) when
// the write was stamped.
func (o *Op) lowerBound() crdt.Timestamp {
	return crdt.MakeTimestamp(o.Invoke.Add(o.Offset).UnixMilli(), 0)
}

// History is the append-only record of a workload's operations. Safe for concurrent use.
type History struct {
	mu  sync.Mutex
	ops []Op
}

func (h *History) add(o Op) {
	h.mu.Lock()
	o.ID = len(h.ops) + 1
	h.ops = append(h.ops, o)
	h.mu.Unlock()
}

// Ops returns a copy of the operations, in completion order.
func (h *History) Ops() []Op {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Op(nil), h.ops...)
}

// WriteJSON writes the history as JSON lines.
func (h *History) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	for _, o := range h.Ops() {
		if err := enc.Encode(o); err != nil {
			return err
		}
	}
	return nil
}

// parseVersion parses crdt.Version.String(): "millis.logical@replicahex".
func parseVersion(s string) (crdt.Version, error) {
	ts, rep, ok := strings.Cut(s, "@")
	msPart, logPart, ok2 := strings.Cut(ts, ".")
	if !ok || !ok2 {
		return crdt.Version{}, fmt.Errorf("testnet: version %q", s)
	}
	ms, err1 := strconv.ParseInt(msPart, 10, 64)
	lg, err2 := strconv.ParseUint(logPart, 10, 16)
	r, err3 := strconv.ParseUint(rep, 16, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return crdt.Version{}, fmt.Errorf("testnet: version %q: %w", s, err)
	}
	return crdt.Version{TS: crdt.MakeTimestamp(ms, uint16(lg)), Replica: crdt.ReplicaID(r)}, nil
}

// parseETag parses the HTTP API's entity tag: "\"<ts hex>-<replica hex>\"".
func parseETag(s string) (crdt.Version, error) {
	s = strings.Trim(strings.TrimPrefix(s, "W/"), `"`)
	a, b, ok := strings.Cut(s, "-")
	ts, err1 := strconv.ParseUint(a, 16, 64)
	r, err2 := strconv.ParseUint(b, 16, 64)
	if !ok || err1 != nil || err2 != nil {
		return crdt.Version{}, fmt.Errorf("testnet: etag %q", s)
	}
	return crdt.Version{TS: crdt.Timestamp(ts), Replica: crdt.ReplicaID(r)}, nil
}
