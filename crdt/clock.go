package crdt

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Timestamp is a hybrid logical clock reading: the high 48 bits are wall
// clock unix milliseconds, the low 16 bits a logical counter. Packing both
// into one integer makes comparison a single integer compare and lets the
// logical counter carry into the milliseconds on overflow.
type Timestamp uint64

// MaxMillis is the largest millisecond value a Timestamp can hold
// (2^48-1, roughly the year 10889).
const MaxMillis = 1<<48 - 1

const logicalBits = 16

// MakeTimestamp builds a Timestamp from unix milliseconds and a logical
// counter. ms is clamped to [0, MaxMillis] rather than masked, so an
// out-of-range input can never wrap around and go backwards.
func MakeTimestamp(ms int64, logical uint16) Timestamp {
	return Timestamp(uint64(clampMillis(ms))<<logicalBits | uint64(logical))
}

// Millis returns the wall clock part in unix milliseconds.
func (t Timestamp) Millis() int64 { return int64(t >> logicalBits) }

// Logical returns the logical counter part.
func (t Timestamp) Logical() uint16 { return uint16(t) }

// String formats t as "millis.logical", e.g. "1700000000000.3".
func (t Timestamp) String() string {
	b := strconv.AppendInt(make([]byte, 0, 24), t.Millis(), 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, uint64(t.Logical()), 10)
	return string(b)
}

func clampMillis(ms int64) int64 {
	return min(max(ms, 0), MaxMillis)
}

// DefaultMaxClockOffset is the largest amount a remote timestamp may run
// ahead of local wall time before Observe rejects it. It bounds how far one
// node with a bad clock can drag every other clock (and every future write's
// version) ahead of real time.
const DefaultMaxClockOffset = 500 * time.Millisecond

// ErrClockSkew is the sentinel wrapped by *ClockSkewError.
var ErrClockSkew = errors.New("crdt: remote clock too far ahead")

// ClockSkewError reports a remote timestamp that was rejected because it is
// more than MaxOffset ahead of local physical time.
type ClockSkewError struct {
	Remote    Timestamp     // the rejected remote timestamp
	Physical  int64         // local physical time (unix ms) it was compared with
	MaxOffset time.Duration // the tolerance that was exceeded
}

// Error describes the skew in milliseconds.
func (e *ClockSkewError) Error() string {
	return fmt.Sprintf("%s: remote %s is %dms ahead of local %d (max %s)",
		ErrClockSkew.Error(), e.Remote, e.Remote.Millis()-clampMillis(e.Physical), e.Physical, e.MaxOffset)
}

// Unwrap returns ErrClockSkew so callers can test with errors.Is.
func (e *ClockSkewError) Unwrap() error { return ErrClockSkew }

// Clock is a hybrid logical clock (Kulkarni et al.). Its readings stay
// close to wall time but never go backwards and order causally related
// events even when wall clocks disagree by up to the max offset.
//
// Clock is NOT safe for concurrent use; the node wraps it in a mutex. Wall
// time is passed in to every call so the clock itself is deterministic.
type Clock struct {
	last      Timestamp
	maxOffset time.Duration
}

// NewClock returns a clock that rejects remote timestamps more than
// maxOffset ahead of local time; maxOffset <= 0 means DefaultMaxClockOffset.
func NewClock(maxOffset time.Duration) *Clock {
	if maxOffset <= 0 {
		maxOffset = DefaultMaxClockOffset
	}
	return &Clock{maxOffset: maxOffset}
}

// MaxOffset returns the skew tolerance the clock was created with.
func (c *Clock) MaxOffset() time.Duration { return c.maxOffset }

// Last returns the most recent timestamp returned by Now or Observe (zero
// before the first call).
func (c *Clock) Last() Timestamp { return c.last }

// Now returns a timestamp for a local event at wall time physicalMs. It is
// strictly greater than every timestamp returned or observed before: if
// wall time has not moved past the last reading the logical counter is
// incremented, and when the counter is exhausted (0xFFFF) the increment
// carries into the milliseconds, running the clock 1 ms ahead rather than
// ever repeating a timestamp.
func (c *Clock) Now(physicalMs int64) Timestamp {
	c.last = c.next(c.last, physicalMs)
	return c.last
}

// Observe merges a timestamp received from another replica and returns a
// local timestamp strictly greater than both the previous reading and
// remote, so an event caused by the remote one is ordered after it.
//
// A remote timestamp more than the max offset ahead of physicalMs is
// rejected with a *ClockSkewError and leaves the clock unchanged: adopting
// it would push every future local write into the future.
func (c *Clock) Observe(remote Timestamp, physicalMs int64) (Timestamp, error) {
	pt := clampMillis(physicalMs)
	// Both sides are within [0, MaxMillis], so the subtraction cannot overflow.
	if remote.Millis()-pt > c.maxOffset.Milliseconds() {
		return c.last, &ClockSkewError{Remote: remote, Physical: physicalMs, MaxOffset: c.maxOffset}
	}
	c.last = c.next(max(c.last, remote), physicalMs)
	return c.last, nil
}

// next is the HLC send/receive rule on packed timestamps: physical time
// wins when it is ahead, otherwise the logical counter of the latest
// reading is incremented (the +1 carries into the millis on overflow).
func (c *Clock) next(latest Timestamp, physicalMs int64) Timestamp {
	if pt := clampMillis(physicalMs); pt > latest.Millis() {
		return MakeTimestamp(pt, 0)
	}
	if latest == ^Timestamp(0) {
		// Unreachable before the year 10889; saturate rather than wrap to 0.
		return latest
	}
	return latest + 1
}
