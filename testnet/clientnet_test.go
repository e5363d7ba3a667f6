package testnet

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"testing"
	"time"
)

// TestClientNetRoutesThroughTheEmulator: a region's dialer reaches a node's RESP address only
// through its relay front, on the link between the client's region and the node's, with that
// link's delay; anything else is refused.
func TestClientNetRoutesThroughTheEmulator(t *testing.T) {
	t.Parallel()
	m, err := DefaultMatrix().First(2)
	if err != nil {
		t.Fatal(err)
	}
	sub := byte(100 + time.Now().UnixNano()%150)
	c := &Cluster{cfg: ClusterConfig{Matrix: m, Subnet: sub}, Emu: NewEmulator()}
	t.Cleanup(func() { c.Emu.Close() })
	for i, r := range m.Regions {
		n := &Node{Name: r.Name + "-1", Region: r.Name, Index: i,
			IP:      netip.AddrFrom4([4]byte{127, sub, 2, byte(i + 1)}),
			FrontIP: netip.AddrFrom4([4]byte{127, sub, 1, byte(i + 1)}), ports: DefaultPorts()}
		echoServer(t, n.RESP())
		echoServer(t, netip.AddrPortFrom(n.IP, n.ports.HTTP).String())
		c.Nodes = append(c.Nodes, n)
	}
	cn, err := NewClientNet(c)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	far := c.Nodes[1] // eu-west, from us-east clients
	conn, err := cn.Dialer("us-east")(ctx, "tcp", far.RESP())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	fmt.Fprint(conn, "ping")
	buf := make([]byte, 4)
	if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo through the front: %q %v", buf, err)
	}
	if rtt, want := time.Since(start), m.RTT("us-east", "eu-west"); rtt < want {
		t.Fatalf("round trip %v, below the emulated %v: the connection did not cross the emulator", rtt, want)
	}
	found := false
	for _, l := range c.Emu.Stats().Links {
		if l.From == "clients@us-east" && l.To == "eu-west-1/resp" {
			found = l.Bytes == 4 && l.Delay == m.OneWay("us-east", "eu-west")
		}
	}
	if !found {
		t.Fatalf("no link clients@us-east -> eu-west-1/resp carrying 4 bytes with the one-way delay: %+v", c.Emu.Stats().Links)
	}
	if _, err := cn.Dialer("us-east")(ctx, "tcp", "127.0.0.1:6379"); err == nil || cn.Refused() != 1 {
		t.Fatalf("dial to a non-node address: %v, refused %d; want refused", err, cn.Refused())
	}
	if node, region := cn.RegionOf(far.RESP()); node != "eu-west-1" || region != "eu-west" {
		t.Fatalf("RegionOf = %s %s", node, region)
	}
}
