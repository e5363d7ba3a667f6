package cluster

import (
	"fmt"
	goyamux "github.com/libp2p/go-yamux/v5"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/pnet"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	libp2ptls "github.com/libp2p/go-libp2p/p2p/security/tls"
	libp2pquic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	"github.com/multiformats/go-multiaddr"
)

// newHost builds the single libp2p host of a Cluster: TCP (QUIC optional),
// TLS 1.3 (Noise as the fallback), yamux, our gater, an optional private-network key, resource limits
// sized for a busy cache, and none of the public-network machinery (relay,
// hole punching, NAT port mapping, address discovery, metrics registry).
func newHost(cfg *Config, key crypto.PrivKey, g *Gater) (host.Host, error) {
	rm, err := newResourceManager()
	if err != nil {
		return nil, err
	}
	opts := []libp2p.Option{
		libp2p.Identity(key),
		libp2p.ListenAddrStrings(cfg.ListenAddrs...),
		libp2p.Transport(tcp.NewTCPTransport, tcp.DisableReuseport()),
		// TLS 1.3 first: with AES-NI its AES-GCM costs well under half of Noise's
		// ChaCha20-Poly1305 per byte, and a write flood encrypts every delta once per member.
		// Noise stays offered so that a member of an older version (Noise only) still
		// connects: the dialer proposes TLS, and falls back to Noise when it is refused.
		libp2p.Security(libp2ptls.ID, libp2ptls.New),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Muxer(yamux.ID, muxer()),
		libp2p.ConnectionGater(g),
		libp2p.ResourceManager(rm),
		// Never trim: the cluster is small and every connection is wanted.
		libp2p.ConnectionManager(connmgr.NullConnMgr{}),
		libp2p.DisableRelay(),
		libp2p.DisableMetrics(), // the default registers on the global Prometheus registry
		libp2p.DisableIdentifyAddressDiscovery(),
		libp2p.ForceReachabilityPrivate(), // no AutoNAT dial-back probes
		libp2p.Ping(true),
		libp2p.UserAgent("geocache-cluster"),
	}
	if cfg.EnableQUIC {
		opts = append(opts, libp2p.Transport(libp2pquic.NewTransport))
	}
	if len(cfg.ClusterKey) > 0 {
		opts = append(opts, libp2p.PrivateNetwork(pnet.PSK(cfg.ClusterKey)))
	}
	if len(cfg.AnnounceAddrs) > 0 {
		announce := make([]multiaddr.Multiaddr, 0, len(cfg.AnnounceAddrs))
		for _, s := range cfg.AnnounceAddrs {
			m, err := multiaddr.NewMultiaddr(s)
			if err != nil {
				rm.Close()
				return nil, fmt.Errorf("cluster: announce address %q: %w", s, err)
			}
			announce = append(announce, m)
		}
		opts = append(opts, libp2p.AddrsFactory(func([]multiaddr.Multiaddr) []multiaddr.Multiaddr {
			return announce
		}))
	}
	h, err := libp2p.New(opts...)
	if err != nil {
		rm.Close()
		return nil, fmt.Errorf("cluster: libp2p host: %w", err)
	}
	return h, nil
}

// newResourceManager starts from libp2p's auto-scaled defaults (memory
// bounded at 1/8 of RAM, connections and file descriptors scaled to the
// machine) and lifts the stream-count limits. The defaults allow only a few
// dozen inbound streams per protocol per peer, which a busy cache exceeds
// with concurrent sync sessions and read-throughs; the gater already keeps
// strangers out, so within the cluster only the memory and connection
// bounds matter.
func newResourceManager() (network.ResourceManager, error) {
	limits := rcmgr.DefaultLimits
	libp2p.SetDefaultServiceLimits(&limits)
	scaled := limits.AutoScale()

	streams := rcmgr.ResourceLimits{
		Streams:         rcmgr.Unlimited,
		StreamsInbound:  rcmgr.Unlimited,
		StreamsOutbound: rcmgr.Unlimited,
	}
	// Scopes below the system one also get unlimited memory: the system
	// (and transient) memory limit is the one bound that matters.
	streamsAndMemory := streams
	streamsAndMemory.Memory = rcmgr.Unlimited64
	partial := rcmgr.PartialLimitConfig{
		System:              streams,
		Transient:           streams,
		ServiceDefault:      streamsAndMemory,
		ServicePeerDefault:  streamsAndMemory,
		ProtocolDefault:     streamsAndMemory,
		ProtocolPeerDefault: streamsAndMemory,
		PeerDefault:         streamsAndMemory,
		Conn:                rcmgr.ResourceLimits{Memory: rcmgr.Unlimited64},
		Stream:              rcmgr.ResourceLimits{Memory: rcmgr.Unlimited64},
	}
	rm, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(partial.Build(scaled)))
	if err != nil {
		return nil, fmt.Errorf("cluster: resource manager: %w", err)
	}
	return rm, nil
}

// maxStreamWindow bounds what a peer may send on one stream before we read it. libp2p raises
// yamux's window to 16 MiB, so a receiver that applies a write flood more slowly than it
// arrives held up to 16 MiB per stream (and the sender's queue never filled to drop and
// count). 4 MiB still carries 40 MB/s per stream at 100 ms of round trip.
const maxStreamWindow = 4 << 20

// muxer is libp2p's yamux transport with maxStreamWindow.
func muxer() *yamux.Transport {
	cfg := *(*goyamux.Config)(yamux.DefaultTransport)
	cfg.MaxStreamWindowSize = maxStreamWindow
	return (*yamux.Transport)(&cfg)
}
