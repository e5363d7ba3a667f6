package testnet

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"
)

// ClientNet puts clients in regions: every connection a region's clients open to a node's RESP or
// HTTP address crosses the WAN emulator, with the one-way delay between the client's region and
// the node's (the intra-region delay to a node of their own region). The nodes' client addresses
// get relay fronts of their own ("<node>/resp", "<node>/http" on the node's front IP), and the
// clients of region r dial from their own loopback address 127.S.3.(r+1), which the emulator
// attributes to "clients@<region>". A region's Dialer maps a node's real address (as the member
// list gives it) to its front and refuses anything else, so no client connection can go around
// the emulator.
type ClientNet struct {
	c       *Cluster
	fronts  map[string]string // real node address -> relay front
	src     map[string]netip.Addr
	refused atomic.Uint64
}

// clientNode is the emulator name of a region's clients.
func clientNode(region string) string { return "clients@" + region }

// NewClientNet adds the client fronts and links to a running cluster's emulator.
func NewClientNet(c *Cluster) (*ClientNet, error) {
	cn := &ClientNet{c: c, fronts: map[string]string{}, src: map[string]netip.Addr{}}
	m := c.Matrix()
	sub := c.cfg.Subnet
	for i, r := range m.Regions {
		ip := netip.AddrFrom4([4]byte{127, sub, 3, byte(i + 1)})
		cn.src[r.Name] = ip
		c.Emu.SetSourceIP(ip, clientNode(r.Name))
	}
	for _, n := range c.Nodes {
		for _, ep := range []struct {
			kind string
			port uint16
		}{{"resp", n.ports.RESP}, {"http", n.ports.HTTP}} {
			name := n.Name + "/" + ep.kind
			front := netip.AddrPortFrom(n.FrontIP, ep.port).String()
			if err := c.Emu.AddNode(name, front, netip.AddrPortFrom(n.IP, ep.port).String()); err != nil {
				return nil, err
			}
			cn.fronts[netip.AddrPortFrom(n.IP, ep.port).String()] = front
			for _, r := range m.Regions {
				c.Emu.SetDelay(clientNode(r.Name), name, m.OneWay(r.Name, n.Region), m.Jitter)
				c.Emu.SetDelay(name, clientNode(r.Name), m.OneWay(n.Region, r.Name), m.Jitter)
			}
		}
	}
	return cn, nil
}

// Dialer returns the dial function of region's clients (for client.Config.Dialer and
// http.Transport.DialContext).
func (cn *ClientNet) Dialer(region string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	src, ok := cn.src[region]
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		front, known := cn.fronts[addr]
		if !ok || !known || !strings.HasPrefix(network, "tcp") {
			cn.refused.Add(1)
			return nil, fmt.Errorf("testnet: clients of %q have no route to %s (not a node's client address)", region, addr)
		}
		d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, 0)), Timeout: 2 * time.Second}
		return d.DialContext(ctx, "tcp4", front)
	}
}

// HTTPClient returns an HTTP client for region's clients (member lists), routed like Dialer.
func (cn *ClientNet) HTTPClient(region string) *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: cn.Dialer(region), MaxIdleConnsPerHost: 2,
		IdleConnTimeout: 30 * time.Second, DisableCompression: true, Proxy: nil}}
}

// newRESPConn wraps a connection opened by a ClientNet dialer.
func newRESPConn(conn net.Conn) *respConn {
	return &respConn{c: conn, r: bufio.NewReader(conn), w: bufio.NewWriter(conn)}
}

// Refused counts dials to addresses that are not a node's client address (must stay 0: a client
// tried to reach something the emulator does not carry).
func (cn *ClientNet) Refused() uint64 { return cn.refused.Load() }

// RegionOf names the node and region a real client address belongs to ("" if none).
func (cn *ClientNet) RegionOf(addr string) (node, region string) {
	for _, n := range cn.c.Nodes {
		if n.RESP() == addr || strings.TrimPrefix(n.HTTP(), "http://") == addr {
			return n.Name, n.Region
		}
	}
	return "", ""
}
