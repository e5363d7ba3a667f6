package main

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/geocache/geocache/node"
)

// nodeConfig maps the daemon's configuration onto the node's.
func nodeConfig(cfg Config, log *slog.Logger) (node.Config, error) {
	nc := node.Config{
		Version:       buildVersion(),
		MaxMemory:     int64(cfg.MaxMemory),
		MaxEntries:    cfg.MaxEntries,
		MaxKeySize:    int(cfg.MaxKeySize),
		MaxValueSize:  int(cfg.MaxValueSize),
		DefaultTTL:    cfg.DefaultTTL,
		Region:        cfg.Region,
		Lat:           cfg.Lat,
		Lon:           cfg.Lon,
		ListenAddrs:   cfg.P2PListen,
		AnnounceAddrs: cfg.P2PAnnounce,
		Join:          cfg.Join,
		DataDir:       cfg.DataDir,
		ClusterName:   cfg.ClusterName,
		AllowPeers:    cfg.Peers,
		Logger:        log,
	}
	// The flag's 0 turns periodic saves off; the node's 0 means its default.
	nc.SaveInterval, nc.SaveAfterWrites = cfg.SaveInterval, cfg.SaveAfterWrites
	if nc.SaveInterval == 0 {
		nc.SaveInterval = -1
	}
	if cfg.SaveInterval < 0 || cfg.SaveAfterWrites < 0 {
		return nc, errors.New("--save-interval and --save-after-writes must not be negative")
	}
	nc.ForgetAfter = cfg.ForgetAfter
	if nc.ForgetAfter == 0 {
		nc.ForgetAfter = -1 // never
	}
	if off := cfg.ClockOffset; off != 0 {
		nc.Now = func() time.Time { return time.Now().Add(off) }
	}
	if cfg.ClusterKey != "" {
		// The node wants 32 bytes; any secret string shared by the members derives them.
		k := sha256.Sum256([]byte(cfg.ClusterKey))
		nc.ClusterKey = k[:]
	}
	if len(cfg.P2PListen) == 0 && (len(cfg.Join) > 0 || len(cfg.Peers) > 0 || cfg.ClusterKey != "") {
		return nc, errors.New("--join, --peer and --cluster-key need a --p2p-listen address")
	}
	return nc, nil
}

// p2pStatus describes the replication listener for the start-up banner.
func p2pStatus(n *node.Node) string {
	addrs := n.P2PAddrs()
	if len(addrs) == 0 {
		return "disabled (no --p2p-listen): a single node, not replicating"
	}
	return strings.Join(addrs, " ")
}

// checkExposure refuses to serve a client API on a non-loopback address without credentials,
// or to listen for replication on one without a cluster key or allow-list, unless told to: a
// cache reachable from the network without a password is an open door.
func checkExposure(cfg Config) error {
	if cfg.AllowInsecureRemote {
		return nil
	}
	if cfg.RESPListen != "" && cfg.Password == "" && len(cfg.Users) == 0 && !isLoopback(cfg.RESPListen) {
		return fmt.Errorf("refusing to serve RESP on %s without credentials: anyone who can reach it could "+
			"read and write the cache. Set --password (or GEOCACHE_PASSWORD) or --user, listen on a loopback "+
			"address, or pass --allow-insecure-remote to accept unauthenticated clients from the network",
			cfg.RESPListen)
	}
	if cfg.HTTPListen != "" && len(cfg.HTTPTokens) == 0 && !isLoopback(cfg.HTTPListen) {
		return fmt.Errorf("refusing to serve HTTP on %s without credentials: anyone who can reach it could "+
			"read and write the cache. Set --http-token (or GEOCACHE_HTTP_TOKEN), listen on a loopback "+
			"address, or pass --allow-insecure-remote to accept unauthenticated clients from the network",
			cfg.HTTPListen)
	}
	if cfg.ClusterKey == "" && len(cfg.Peers) == 0 {
		for _, a := range cfg.P2PListen {
			if !isLoopbackMultiaddr(a) {
				return fmt.Errorf("refusing to listen for replication on %s without a cluster key or peer allow-list: "+
					"any host that can reach it could join the cluster and write to the cache. Set --cluster-key "+
					"(or GEOCACHE_CLUSTER_KEY) on every member or list them with --peer, listen on a loopback "+
					"address, or pass --allow-insecure-remote to accept any peer", a)
			}
		}
	}
	return nil
}

// isLoopbackMultiaddr reports whether a libp2p listen address (/ip4/127.0.0.1/tcp/7379) is
// reachable from this machine only. Anything it cannot tell (a DNS name other than localhost,
// an unknown protocol) counts as remote; a malformed address is left for the node to reject.
func isLoopbackMultiaddr(ma string) bool {
	parts := strings.Split(ma, "/")
	if len(parts) < 3 || parts[0] != "" {
		return true // malformed: the node reports it
	}
	switch parts[1] {
	case "ip4", "ip6":
		ip := net.ParseIP(parts[2])
		return ip != nil && ip.IsLoopback()
	case "dns", "dns4", "dns6":
		return parts[2] == "localhost"
	}
	return false
}

// isLoopback reports whether a listen address is reachable from this machine only. An empty
// host means every interface; a host name other than localhost is not resolved and counts as
// remote.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
