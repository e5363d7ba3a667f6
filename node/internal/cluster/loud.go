package cluster

import (
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/multiformats/go-multiaddr"
)

// Loud failures: a member we cannot reach, a handshake we refuse and a
// member we lose or regain are each logged (warn for failures, info for
// recoveries) and counted. A peer that stays down is logged on the first
// failure, then at most every warnEvery, and once more when it recovers.

// warnEvery spaces repeated warnings about the same peer.
const warnEvery = 30 * time.Second

// maxLimited bounds the rate limiter's memory: strangers are unbounded.
const maxLimited = 1024

// limiter remembers when a warning keyed by a peer was last logged.
type limiter struct {
	mu   sync.Mutex
	last map[peer.ID]time.Time
}

// allow reports whether a warning about p may be logged now.
func (l *limiter) allow(p peer.ID, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last == nil || len(l.last) >= maxLimited {
		l.last = make(map[peer.ID]time.Time)
	}
	if t, ok := l.last[p]; ok && now.Sub(t) < warnEvery {
		return false
	}
	l.last[p] = now
	return true
}

// warnPeer logs a warning about p, at most every warnEvery.
func (c *Cluster) warnPeer(p peer.ID, msg string, args ...any) {
	if c.warned.allow(p, time.Now()) {
		c.log.Warn(msg, args...)
	}
}

// onStranger is the gater's hook for a refused handshake with a peer not
// on the allow-list. It runs on a libp2p goroutine: log and return.
func (c *Cluster) onStranger(dir network.Direction, p peer.ID, addr multiaddr.Multiaddr) {
	c.warnPeer(p, "refused a peer that is not on the allow-list", "remote", p, "addr", addr, "direction", dir.String())
}

// dialFailed counts and (rate-limited) logs a failed dial of p.
func (c *Cluster) dialFailed(p peer.ID, err error) {
	c.c.dialFailures.Add(1)
	reason := dialReason(err)
	if reason == reasonHandshake || reason == reasonHandshakeClosed {
		c.c.handshakeFailures.Add(1)
	}
	now := time.Now()
	c.table.mu.Lock()
	st := c.table.get(p)
	st.failures++
	if st.failures == 1 {
		st.failSince = now
	}
	n, since, probe := st.failures, st.failSince, st.probe
	logIt := n == 1 || now.Sub(st.failLog) >= warnEvery
	if logIt {
		st.failLog = now
	}
	c.table.mu.Unlock()
	if !logIt {
		return
	}
	what := "cannot reach member"
	if probe {
		what = "cannot reach join address"
	}
	args := []any{"reason", reason, "attempts", n, "err", err}
	if !probe {
		args = append([]any{"remote", p}, args...)
	}
	if addrs := c.host.Peerstore().Addrs(p); len(addrs) > 0 {
		args = append(args, "addrs", addrs)
	}
	if n > 1 {
		args = append(args, "failing_for", now.Sub(since).Round(time.Second).String())
	}
	c.log.Warn(what, args...)
}

const (
	reasonHandshake       = "handshake failed (different cluster key, or not a geocache node?)"
	reasonHandshakeClosed = "connection closed during the handshake (different cluster key, refused by the peer's allow-list, or a proxy with nothing behind it)"
)

// dialReason names the usual causes of a failed dial in a few words.
func dialReason(err error) string {
	s := err.Error()
	switch {
	case strings.Contains(s, "connection refused"):
		return "connection refused (nothing listens there)"
	case strings.Contains(s, "failed to negotiate security protocol") &&
		(strings.Contains(s, "connection reset") || strings.Contains(s, "EOF")):
		return reasonHandshakeClosed
	case strings.Contains(s, "failed to negotiate security protocol"),
		strings.Contains(s, "failed to setup private network"):
		return reasonHandshake
	case strings.Contains(s, "gater"):
		return "refused by our allow-list or a partition (Block)"
	case strings.Contains(s, "no addresses"), strings.Contains(s, "no good addresses"):
		return "no known address"
	case strings.Contains(s, "timeout"), strings.Contains(s, "deadline exceeded"):
		return "timeout"
	case strings.Contains(s, "/v1/members"):
		return "join URL did not answer with a member"
	}
	return "dial error"
}

// linkUp records a new connection to p and logs the end of a failure run
// or of a loss.
func (c *Cluster) linkUp(p peer.ID, now time.Time) {
	c.table.mu.Lock()
	st := c.table.get(p)
	n, since, lost := st.failures, st.failSince, st.lost
	st.failures, st.lost = 0, false
	c.table.mu.Unlock()
	if lost {
		c.c.membersRegained.Add(1)
	}
	switch {
	case n > 0:
		c.log.Info("member reachable again", "remote", p, "attempts", n, "down_for", now.Sub(since).Round(time.Millisecond).String())
	case lost:
		c.log.Info("member reconnected", "remote", p)
	}
}

// linkDown records the loss of our connection to p; a known member that
// did not announce it was leaving is counted as lost.
func (c *Cluster) linkDown(p peer.ID) {
	c.table.mu.Lock()
	st := c.table.get(p)
	lost := st.known && !departed(st.rec.State) && st.leftMs == 0 && !st.lost
	if lost {
		st.lost = true
	}
	region := st.rec.Region
	c.table.mu.Unlock()
	if lost && !c.closed.Load() {
		c.c.membersLost.Add(1)
		c.log.Info("lost connection to member", "remote", p, "region", region)
	}
}
