package cluster

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	libp2ptls "github.com/libp2p/go-libp2p/p2p/security/tls"
)

// securityWith reports the security protocol of h's connection to p ("" when none is open).
func securityWith(h host.Host, p peer.ID) protocol.ID {
	conns := h.Network().ConnsToPeer(p)
	if len(conns) == 0 {
		return ""
	}
	return conns[0].ConnState().Security
}

// noiseOnlyHost is a libp2p host that offers Noise alone, as members of versions before TLS
// was offered did.
func noiseOnlyHost(t *testing.T) host.Host {
	t.Helper()
	key, _ := newKey(t)
	h, err := libp2p.New(
		libp2p.Identity(key),
		libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Muxer(yamux.ID, muxer()),
		libp2p.DisableRelay(),
		libp2p.DisableMetrics(),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return h
}

// Members of this version secure their links with TLS 1.3 (AES-GCM: the cheaper cipher on
// processors with AES instructions), and still connect with a member that offers only Noise,
// whichever side dials, and exchange data over that link.
func TestSecurityTLSFirstNoiseFallback(t *testing.T) {
	a := newNode(t, testConfig())
	in := collect(a)
	cfg := testConfig()
	cfg.Join = []string{joinAddr(a)}
	b := newNode(t, cfg)
	waitFor(t, 10*time.Second, "b connected to a", func() bool { return connectedTo(a, b) && connectedTo(b, a) })
	if got := securityWith(a.host, b.ID()); got != libp2ptls.ID {
		t.Fatalf("a-b link secured with %q, want %q", got, libp2ptls.ID)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// An older member dials us: it proposes Noise only.
	old := noiseOnlyHost(t)
	if err := old.Connect(ctx, peer.AddrInfo{ID: a.ID(), Addrs: a.Addrs()}); err != nil {
		t.Fatalf("noise-only member dialling a: %v", err)
	}
	if got := securityWith(old, a.ID()); got != noise.ID {
		t.Fatalf("old-a link secured with %q, want %q", got, noise.ID)
	}
	s, err := old.NewStream(ctx, a.ID(), a.protocolID(dataProto))
	if err != nil {
		t.Fatalf("data stream over Noise: %v", err)
	}
	msg := "from an older member"
	frame := binary.AppendUvarint(nil, uint64(len(msg)))
	if _, err := s.Write(append(frame, msg...)); err != nil {
		t.Fatalf("write data frame: %v", err)
	}
	waitFor(t, 10*time.Second, "a receives the older member's message", func() bool { return in.has(old.ID(), msg) })
	_ = s.Close()

	// We dial an older member: TLS is refused, Noise is agreed.
	old2 := noiseOnlyHost(t)
	if err := a.host.Connect(ctx, peer.AddrInfo{ID: old2.ID(), Addrs: old2.Addrs()}); err != nil {
		t.Fatalf("a dialling a noise-only member: %v", err)
	}
	if got := securityWith(a.host, old2.ID()); got != noise.ID {
		t.Fatalf("a-old2 link secured with %q, want %q", got, noise.ID)
	}
}
