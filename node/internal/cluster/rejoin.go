package cluster

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/core/sec"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	"github.com/multiformats/go-multiaddr"
)

// Rejoining. A member restarted without its data directory comes back with
// a new peer id at its old address, and a join address may omit the peer id
// altogether. Both are handled the same way: we dial the address expecting
// some id (the old one, or a placeholder nobody holds), the handshake (TLS
// or Noise alike) fails with sec.ErrPeerIDMismatch carrying the id that actually answered,
// and we adopt that id: it still has to pass the gater (allow-list) and the
// private-network key, which is checked before the handshake even starts.

// joinTarget is one parsed Join entry.
type joinTarget struct {
	ai  *peer.AddrInfo // ID empty when the address carries no /p2p part
	url string         // an HTTP(S) URL of a member's API, instead of ai
}

// parseJoin parses a Join entry: a full multiaddr (with /p2p/<id>), a
// plain one (the id is learnt by dialling), or the http(s):// URL of any
// member's HTTP API (its /v1/members lists its peer id and addresses).
func parseJoin(s string) (joinTarget, error) {
	if strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://") {
		u, err := url.Parse(s)
		if err != nil || u.Host == "" {
			return joinTarget{}, fmt.Errorf("not a URL with a host: %q", s)
		}
		return joinTarget{url: strings.TrimSuffix(s, "/")}, nil
	}
	m, err := multiaddr.NewMultiaddr(s)
	if err != nil {
		return joinTarget{}, fmt.Errorf("not a multiaddr (want /ip4/HOST/tcp/PORT[/p2p/ID] or http://HOST:PORT): %w", err)
	}
	addr, id := peer.SplitAddr(m)
	if addr == nil {
		return joinTarget{}, errors.New("no transport address before /p2p (want /ip4/HOST/tcp/PORT[/p2p/ID])")
	}
	return joinTarget{ai: &peer.AddrInfo{ID: id, Addrs: []multiaddr.Multiaddr{addr}}}, nil
}

// ValidateJoin reports whether s is a valid Join entry, saying what is
// wrong with it when it is not.
func ValidateJoin(s string) error {
	_, err := parseJoin(s)
	return err
}

// placeholderID returns a fresh peer id that nobody holds the key of, so a
// dial expecting it always ends in a peer-id mismatch that names the peer
// actually listening.
func placeholderID() (peer.ID, error) {
	_, pub, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return "", err
	}
	return peer.IDFromPublicKey(pub)
}

// addJoinTargets registers the Join entries in the table: full addresses
// under their peer id, the others under placeholders.
func (c *Cluster) addJoinTargets() error {
	for _, s := range c.cfg.Join {
		jt, _ := parseJoin(s) // validated
		id := peer.ID("")
		if jt.ai != nil {
			id = jt.ai.ID
		}
		probe := id == ""
		if probe {
			var err error
			if id, err = placeholderID(); err != nil {
				return fmt.Errorf("cluster: join placeholder: %w", err)
			}
			c.gater.addProbe(id)
		} else if id == c.id {
			continue
		}
		if jt.ai != nil {
			c.host.Peerstore().AddAddrs(id, jt.ai.Addrs, peerstore.PermanentAddrTTL)
		}
		c.table.mu.Lock()
		st := c.table.get(id)
		st.seed, st.probe = true, probe
		c.table.mu.Unlock()
		if jt.url != "" {
			c.urls.Store(id, jt.url)
		}
	}
	return nil
}

// mismatch extracts, from a failed dial, the peer that answered at an
// address where we expected another one.
func mismatch(err error) (actual peer.ID, addr multiaddr.Multiaddr, ok bool) {
	var de *swarm.DialError
	if errors.As(err, &de) {
		for _, te := range de.DialErrors {
			var pm sec.ErrPeerIDMismatch
			if errors.As(te.Cause, &pm) && pm.Actual != "" {
				return pm.Actual, te.Address, true
			}
		}
	}
	var pm sec.ErrPeerIDMismatch
	if errors.As(err, &pm) && pm.Actual != "" {
		return pm.Actual, nil, true
	}
	return "", nil, false
}

// adopt handles a dial of old that reached actual at addr: actual is
// remembered at addr (it is dialled from now on, as a seed), old is marked
// as replaced so it is not redialled while actual is connected, and actual
// is dialled now. It reports whether the connection to actual succeeded.
func (c *Cluster) adopt(ctx context.Context, old, actual peer.ID, addrs []multiaddr.Multiaddr) bool {
	c.table.mu.Lock()
	ost := c.table.get(old)
	probe := ost.probe
	prev := ost.replacedBy
	changed := prev != actual
	ost.replacedBy = actual
	c.table.mu.Unlock()
	if actual == c.id {
		if changed {
			c.log.Info("join address is our own", "addrs", addrs)
		}
		return false
	}
	if !c.gater.Allowed(actual) {
		c.gater.refused.Add(1)
		c.warnPeer(old, "peer at a member's address is not on the allow-list", "expected", old, "actual", actual, "addrs", addrs)
		return false
	}
	if changed {
		if probe {
			c.log.Info("join address answered", "peer_id", actual, "addrs", addrs)
		} else {
			c.c.identityChanges.Add(1)
			c.log.Info("member restarted with a new identity", "old", old, "new", actual, "addrs", addrs)
		}
	}
	c.host.Peerstore().AddAddrs(actual, addrs, peerstore.PermanentAddrTTL)
	c.table.mu.Lock()
	c.table.get(actual).seed = true
	c.table.mu.Unlock()
	if !c.connect(ctx, actual) {
		return false
	}
	if changed && !probe {
		// The old identity's process is gone: its address answers as someone else. Forget it
		// now rather than after ForgetAfter, so it stops showing as a member (INFO, /v1/members,
		// clients); Forget's rules keep causal stability safe (docs/design.md).
		c.goFn(func() {
			if err := c.Forget(c.ctx, old); err != nil && !errors.Is(err, ErrUnknownMember) {
				c.log.Debug("forget a replaced identity", "old", old, "err", err)
			}
		})
	}
	c.table.mu.Lock()
	n, since := ost.failures, ost.failSince
	ost.failures = 0
	c.table.mu.Unlock()
	if n > 0 {
		what := "member reachable again"
		if probe {
			what = "join address reachable again"
		}
		c.log.Info(what, "remote", actual, "addrs", addrs, "attempts", n,
			"down_for", time.Since(since).Round(time.Millisecond).String())
	}
	return true
}

// resolveURL asks a member's HTTP API who it is: GET <url>/v1/members and
// return the peer id and addresses of the entry marked self.
func (c *Cluster) resolveURL(ctx context.Context, u string) (peer.ID, []multiaddr.Multiaddr, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.DialTimeout)
	defer cancel()
	pu, err := url.Parse(u)
	if err != nil {
		return "", nil, err
	}
	// http://TOKEN@host:port carries the member's --http-token.
	token := ""
	if pu.User != nil {
		token = pu.User.Username()
		if pw, ok := pu.User.Password(); ok {
			token = pw
		}
		pu.User = nil
	}
	u = pu.String()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u+"/v1/members", nil)
	if err != nil {
		return "", nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", nil, fmt.Errorf("GET %s/v1/members: %s", u, resp.Status)
	}
	var body struct {
		Members []struct {
			ID   string   `json:"id"`
			Self bool     `json:"self"`
			P2P  []string `json:"p2p"`
		} `json:"members"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body); err != nil {
		return "", nil, fmt.Errorf("GET %s/v1/members: %w", u, err)
	}
	for _, m := range body.Members {
		if !m.Self {
			continue
		}
		id, err := peer.Decode(m.ID)
		if err != nil {
			return "", nil, fmt.Errorf("GET %s/v1/members: bad peer id: %w", u, err)
		}
		var addrs []multiaddr.Multiaddr
		for _, s := range m.P2P {
			if ma, err := multiaddr.NewMultiaddr(s); err == nil {
				if a, _ := peer.SplitAddr(ma); a != nil {
					addrs = append(addrs, a)
				}
			}
		}
		if len(addrs) == 0 {
			return "", nil, fmt.Errorf("GET %s/v1/members: the member lists no libp2p address (is clustering on?)", u)
		}
		return id, addrs, nil
	}
	return "", nil, fmt.Errorf("GET %s/v1/members: no entry marked self", u)
}
