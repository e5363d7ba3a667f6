package cluster

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/multiformats/go-multiaddr"
)

// Errors returned by the package.
var (
	// ErrClosed is returned by calls made after Close.
	ErrClosed = errors.New("cluster: closed")
	// ErrTooLarge is returned by Publish when the message would exceed
	// Config.MaxMessageSize; gossipsub would otherwise drop it silently.
	ErrTooLarge = errors.New("cluster: message too large")
)

// Config configures a Cluster. The zero value of every field selects the
// default documented on it; New never mutates the caller's Config.
type Config struct {
	// ClusterName namespaces the gossip topics ("<name>/deltas/1",
	// "<name>/catalog/1") and stream protocols ("/<name>/<proto>").
	// Default "geocache". Nodes with different names do not exchange data.
	ClusterName string

	// DataDir, when set, persists the identity key (DataDir/identity.key,
	// Ed25519, mode 0600, generated when missing) and the catalog
	// (LevelDB in DataDir/catalog). Empty (default) keeps both in memory:
	// a new identity on every start.
	DataDir string

	// Identity, when set, is the host key and takes precedence over the key
	// in DataDir. Tests and embedders that manage keys themselves use it.
	Identity crypto.PrivKey

	// ListenAddrs are the multiaddrs to listen on.
	// Default ["/ip4/127.0.0.1/tcp/0"].
	ListenAddrs []string

	// AnnounceAddrs, when set, replaces the listen addresses in what we
	// tell peers (identify, our catalog record). Needed behind relays or
	// port forwards such as the testnet WAN emulator.
	AnnounceAddrs []string

	// EnableQUIC adds the QUIC transport (listen on a /udp/.../quic-v1
	// address to use it). Off by default: TCP is enough on our networks
	// and libp2p private networks (ClusterKey) do not support QUIC.
	EnableQUIC bool

	// Join lists addresses of any existing members: full multiaddrs
	// (/ip4/H/tcp/P/p2p/<id>), multiaddrs without the /p2p part (the id is
	// learnt by dialling), or the http(s)://host:port URL of a member's
	// HTTP API (its /v1/members names its id and libp2p addresses). They
	// are dialled, with backoff, until connected, and redialled whenever
	// the link drops; the rest of the cluster is learnt from the catalog.
	// Unreachable join peers do not make New fail; they are logged.
	Join []string

	// AllowPeers is the peer allow-list. When empty and ClusterKey is
	// empty, any peer may connect (development mode, logged as a warning).
	// When set, it is authoritative: join peers must be on it too.
	AllowPeers []peer.ID

	// ClusterKey, when set, must be 32 bytes: a libp2p private-network
	// pre-shared key. Peers without it cannot even complete a handshake.
	ClusterKey []byte

	// Self is our initial catalog record. PeerID, Addrs (when empty) and
	// UpdatedMs are filled in by the cluster.
	Self Record

	// Logger receives the package's logs. Default slog.Default().
	Logger *slog.Logger

	// PingInterval is how often the RTT to every connected peer is
	// measured (libp2p ping). Default 1s. Shorter reacts faster to route
	// changes at the cost of one small stream per peer per interval.
	PingInterval time.Duration

	// ReconnectMin and ReconnectMax bound the per-peer exponential backoff
	// of redials to known members that are not connected. Redials never
	// give up: a partition of any length heals by itself. Defaults 250ms
	// and 1s: a healed partition or a restarted member reconnects within
	// ReconnectMax (plus jitter), at the cost of one dial per unreachable
	// member every second. (With 10 s, the testnet measured 5.4-7.1 s from
	// a heal to agreement; with 2 s, gossip to a restarted seed resumed
	// 1.6-3.1 s after its restart, over the 3 s target.)
	ReconnectMin, ReconnectMax time.Duration

	// DialTimeout bounds one dial attempt. Default 5s.
	DialTimeout time.Duration

	// CatalogRebroadcast is how often the catalog re-announces its DAG
	// heads (go-ds-crdt RebroadcastInterval). Heads are also announced to
	// every peer as soon as it can receive them, so this is only a safety
	// net. Default 10s.
	CatalogRebroadcast time.Duration

	// RecordRefresh is how often our record is rewritten with a fresh
	// UpdatedMs even when nothing changed. Every write adds a node to the
	// catalog DAG forever, so keep it slow; liveness comes from
	// connections, not from this timestamp. Default 10m; negative disables.
	RecordRefresh time.Duration

	// ForgetAfter, when positive, forgets a member (Forget) that has not been connected for
	// this long; a member never connected since New counts from New. Default 0: members are
	// forgotten only by Forget. See node.Config.ForgetAfter for the choice of horizon.
	ForgetAfter time.Duration

	// NoRelay turns the catalog's gossip forwarding off (data messages are never relayed:
	// they go from the publisher straight to each member it is connected to, direct.go, and a
	// member cut off from the publisher catches up through the caller's anti-entropy). By
	// default (false) every member is a gossipsub direct peer and forwards each catalog
	// message it receives to the others.
	NoRelay bool

	// MaxMessageSize bounds one data message (Publish).
	// Default 4 MiB (a 1 MiB value plus batch overhead fits). Larger data
	// must go over a stream.
	MaxMessageSize int

	// OutboundQueue is the per-member data send queue length (and gossipsub's, for the
	// catalog); when full, messages to that member are dropped and counted
	// (Stats.DroppedOutbound).
	// Default 4096 (the gossipsub default of 32 drops under modest load).
	OutboundQueue int

	// PublishWait is how long Publish waits for room in a member's full data send queue
	// before it drops the message for that member. A member that reads more slowly than this
	// node writes then paces the writer (back-pressure) instead of losing writes that
	// anti-entropy must repair at a far higher cost; one that takes nothing for this long
	// is dropped at once until it takes its queue again, so a stalled member costs a
	// publisher one wait, not one per message. Default 1 s; negative: never wait.
	PublishWait time.Duration
}

// DefaultConfig returns a Config with every default filled in.
func DefaultConfig() Config {
	return Config{
		ClusterName:        "geocache",
		ListenAddrs:        []string{"/ip4/127.0.0.1/tcp/0"},
		Logger:             slog.Default(),
		PingInterval:       time.Second,
		ReconnectMin:       250 * time.Millisecond,
		ReconnectMax:       time.Second,
		DialTimeout:        5 * time.Second,
		CatalogRebroadcast: 10 * time.Second,
		RecordRefresh:      10 * time.Minute,
		MaxMessageSize:     4 << 20,
		OutboundQueue:      4096,
		PublishWait:        time.Second,
	}
}

// withDefaults returns a deep-enough copy of cfg with zero fields defaulted.
func (cfg Config) withDefaults() Config {
	d := DefaultConfig()
	if cfg.ClusterName == "" {
		cfg.ClusterName = d.ClusterName
	}
	if len(cfg.ListenAddrs) == 0 {
		cfg.ListenAddrs = d.ListenAddrs
	}
	if cfg.Logger == nil {
		cfg.Logger = d.Logger
	}
	if cfg.PingInterval == 0 {
		cfg.PingInterval = d.PingInterval
	}
	if cfg.ReconnectMin == 0 {
		cfg.ReconnectMin = d.ReconnectMin
	}
	if cfg.ReconnectMax == 0 {
		cfg.ReconnectMax = d.ReconnectMax
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = d.DialTimeout
	}
	if cfg.CatalogRebroadcast == 0 {
		cfg.CatalogRebroadcast = d.CatalogRebroadcast
	}
	if cfg.RecordRefresh == 0 {
		cfg.RecordRefresh = d.RecordRefresh
	}
	if cfg.MaxMessageSize == 0 {
		cfg.MaxMessageSize = d.MaxMessageSize
	}
	if cfg.OutboundQueue == 0 {
		cfg.OutboundQueue = d.OutboundQueue
	}
	if cfg.PublishWait == 0 {
		cfg.PublishWait = d.PublishWait
	}
	// Copy slices so later changes by the caller cannot reach us.
	cfg.ListenAddrs = append([]string(nil), cfg.ListenAddrs...)
	cfg.AnnounceAddrs = append([]string(nil), cfg.AnnounceAddrs...)
	cfg.Join = append([]string(nil), cfg.Join...)
	cfg.AllowPeers = append([]peer.ID(nil), cfg.AllowPeers...)
	cfg.ClusterKey = append([]byte(nil), cfg.ClusterKey...)
	cfg.Self.Addrs = append([]string(nil), cfg.Self.Addrs...)
	return cfg
}

// validate checks a defaulted config.
func (cfg *Config) validate() error {
	if strings.ContainsAny(cfg.ClusterName, "/ \t\n") {
		return fmt.Errorf("cluster: invalid ClusterName %q: no slashes or spaces", cfg.ClusterName)
	}
	if n := len(cfg.ClusterKey); n != 0 && n != 32 {
		return fmt.Errorf("cluster: ClusterKey must be 32 bytes, got %d", n)
	}
	if len(cfg.ClusterKey) != 0 && cfg.EnableQUIC {
		return errors.New("cluster: QUIC cannot be used with a ClusterKey (libp2p private networks are TCP only)")
	}
	for _, s := range append(append([]string(nil), cfg.ListenAddrs...), cfg.AnnounceAddrs...) {
		if _, err := multiaddr.NewMultiaddr(s); err != nil {
			return fmt.Errorf("cluster: bad address %q: %w", s, err)
		}
	}
	for _, s := range cfg.Join {
		if _, err := parseJoin(s); err != nil {
			return fmt.Errorf("cluster: join %s: %w", s, err)
		}
	}
	if cfg.PingInterval < 0 || cfg.ReconnectMin < 0 || cfg.ReconnectMax < cfg.ReconnectMin ||
		cfg.DialTimeout < 0 || cfg.CatalogRebroadcast < 0 || cfg.ForgetAfter < 0 {
		return errors.New("cluster: negative interval or ReconnectMax < ReconnectMin")
	}
	if cfg.MaxMessageSize < 1024 || cfg.OutboundQueue < 0 {
		return errors.New("cluster: MaxMessageSize must be >= 1024 and queue sizes positive")
	}
	if cfg.Self.State != "" && !validState(cfg.Self.State) {
		return fmt.Errorf("cluster: invalid state %q", cfg.Self.State)
	}
	return nil
}
