package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
)

func TestProbeVerdict(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		err  error
		want probeResult
	}{
		{nil, probeAlive},
		// The peer's resource manager refused the ping stream: it answered on the connection.
		{fmt.Errorf("ping: %w", &network.StreamError{ErrorCode: network.StreamResourceLimitExceeded, Remote: true}), probeAlive},
		{&network.StreamError{ErrorCode: network.StreamProtocolNegotiationFailed, Remote: true}, probeAlive},
		// Silence until the probe timeout: dead.
		{context.DeadlineExceeded, probeDead},
		{fmt.Errorf("read: %w", os.ErrDeadlineExceeded), probeDead},
		// Refused here, or reset here: proves nothing about the peer.
		{fmt.Errorf("protocol:/ipfs/ping/1.0.0: cannot reserve stream: %w", network.ErrResourceLimitExceeded), probeUnsure},
		{&network.StreamError{ErrorCode: network.StreamResourceLimitExceeded}, probeUnsure},
		{network.ErrReset, probeUnsure},
		{errors.New("connection closed"), probeUnsure},
	} {
		if got := probeVerdict(c.err); got != c.want {
			t.Errorf("probeVerdict(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}

// A peer that refuses the probe's ping stream (its resource manager does beyond a few ping
// streams per peer: both connections probed at once next to the periodic ping) is alive.
// Counted as dead, a healthy peer was disconnected right after a simultaneous dial, failing
// the requests in flight (seen as a second origin load in node's TestP2PLoaderOncePerCluster).
func TestProbeRefusedPingIsAlive(t *testing.T) {
	t.Parallel()
	a, b := joined(t)
	waitFor(t, 10*time.Second, "a and b connected", func() bool { return connectedTo(a, b) && connectedTo(b, a) })
	b.host.SetStreamHandler(ping.ID, func(s network.Stream) { _ = s.ResetWithError(network.StreamResourceLimitExceeded) })
	conns := a.host.Network().ConnsToPeer(b.ID())
	if len(conns) == 0 {
		t.Fatal("no connection from a to b")
	}
	got, err := a.probeConnRetry(context.Background(), conns[0])
	if got != probeAlive {
		t.Fatalf("probe of a live peer that refuses pings = %d (%v), want alive", got, err)
	}
	if err == nil {
		t.Fatal("the probe got a pong: the peer's ping handler was not replaced, the test proves nothing")
	}
}
