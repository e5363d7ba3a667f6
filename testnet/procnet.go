package testnet

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// This file reads the kernel's TCP socket tables (/proc/net/tcp, /proc/net/tcp6) and the file
// descriptors of processes (/proc/<pid>/fd) to answer two questions no socket API answers for
// TCP: which process owns the other end of a loopback connection (how the relay tells which node
// dialled it), and whether any two node processes are connected to each other directly (a bypass
// of the emulator). Linux only; the testnet runs nowhere else.

// tcpSocket is one row of /proc/net/tcp{,6}.
type tcpSocket struct {
	local, remote netip.AddrPort
	state         int // 1 = ESTABLISHED, 10 = LISTEN
	inode         uint64
}

const tcpEstablished = 1

// readTCPTable returns every IPv4 and IPv6 TCP socket of the network namespace.
func readTCPTable() ([]tcpSocket, error) {
	var out []tcpSocket
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		rows, err := readTCPFile(f)
		if err != nil && !(f == "/proc/net/tcp6" && errors.Is(err, os.ErrNotExist)) {
			return nil, err
		}
		out = append(out, rows...)
	}
	return out, nil
}

func readTCPFile(path string) ([]tcpSocket, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []tcpSocket
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	first := true
	for sc.Scan() {
		if first { // header
			first = false
			continue
		}
		s, err := parseTCPLine(sc.Text())
		if err != nil {
			return nil, fmt.Errorf("testnet: %s: %w", path, err)
		}
		out = append(out, s)
	}
	return out, sc.Err()
}

// parseTCPLine parses "sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...".
func parseTCPLine(line string) (tcpSocket, error) {
	f := strings.Fields(line)
	if len(f) < 10 {
		return tcpSocket{}, fmt.Errorf("short line %q", line)
	}
	local, err := parseHexAddr(f[1])
	if err != nil {
		return tcpSocket{}, err
	}
	remote, err := parseHexAddr(f[2])
	if err != nil {
		return tcpSocket{}, err
	}
	st, err := strconv.ParseUint(f[3], 16, 8)
	if err != nil {
		return tcpSocket{}, fmt.Errorf("state %q: %w", f[3], err)
	}
	inode, err := strconv.ParseUint(f[9], 10, 64)
	if err != nil {
		return tcpSocket{}, fmt.Errorf("inode %q: %w", f[9], err)
	}
	return tcpSocket{local: local, remote: remote, state: int(st), inode: inode}, nil
}

// parseHexAddr parses the kernel's "0100007F:1F90" form: the address as 32-bit words in host
// (little-endian) order, the port big-endian. IPv4-mapped IPv6 addresses are unmapped.
func parseHexAddr(s string) (netip.AddrPort, error) {
	h, p, ok := strings.Cut(s, ":")
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("address %q", s)
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("port %q: %w", p, err)
	}
	raw, err := hex.DecodeString(h)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.AddrPort{}, fmt.Errorf("address %q", h)
	}
	b := make([]byte, len(raw))
	for i := 0; i < len(raw); i += 4 {
		binary.LittleEndian.PutUint32(b[i:], binary.BigEndian.Uint32(raw[i:]))
	}
	a, _ := netip.AddrFromSlice(b)
	return netip.AddrPortFrom(a.Unmap(), uint16(port)), nil
}

// socketInodes returns the inodes of the sockets process pid has open.
func socketInodes(pid int) (map[uint64]bool, error) {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := make(map[uint64]bool, len(ents))
	for _, e := range ents {
		l, err := os.Readlink(dir + "/" + e.Name())
		if err != nil {
			continue // closed meanwhile
		}
		if rest, ok := strings.CutPrefix(l, "socket:["); ok {
			if n, err := strconv.ParseUint(strings.TrimSuffix(rest, "]"), 10, 64); err == nil {
				out[n] = true
			}
		}
	}
	return out, nil
}

// socketOwner returns which of pids owns the TCP socket with the given local and remote
// addresses, or an error.
func socketOwner(local, remote netip.AddrPort, pids []int) (int, error) {
	table, err := readTCPTable()
	if err != nil {
		return 0, err
	}
	var inode uint64
	for _, s := range table {
		if s.local == local && s.remote == remote {
			inode = s.inode
			break
		}
	}
	if inode == 0 {
		return 0, fmt.Errorf("testnet: no socket %s -> %s", local, remote)
	}
	for _, pid := range pids {
		inodes, err := socketInodes(pid)
		if err == nil && inodes[inode] {
			return pid, nil
		}
	}
	return 0, fmt.Errorf("testnet: socket %s -> %s is not owned by a known process", local, remote)
}

// Bypass is a TCP connection between two node processes that does not go through the emulator.
type Bypass struct {
	From   string `json:"from"` // node names
	To     string `json:"to"`
	Local  string `json:"local"` // addresses as seen by From
	Remote string `json:"remote"`
}

// ConnAudit is the result of inspecting every TCP connection of the node processes.
type ConnAudit struct {
	Relayed  int      `json:"relayed"`  // node connections whose other end is this (the testnet) process
	Bypasses []Bypass `json:"bypasses"` // node-to-node connections: must be empty
	Foreign  []string `json:"foreign"`  // node connections to something that is neither a node nor us
}

// auditConnections classifies every established TCP connection of the given node processes
// (pid -> node name) by the owner of its other end.
func auditConnections(nodes map[int]string) (ConnAudit, error) {
	var a ConnAudit
	table, err := readTCPTable()
	if err != nil {
		return a, err
	}
	owner := map[uint64]string{} // inode -> node name, or "" for us
	self, err := socketInodes(os.Getpid())
	if err != nil {
		return a, err
	}
	for ino := range self {
		owner[ino] = ""
	}
	for pid, name := range nodes {
		inodes, err := socketInodes(pid)
		if err != nil {
			continue // exited
		}
		for ino := range inodes {
			owner[ino] = name
		}
	}
	type ends struct{ local, remote netip.AddrPort }
	byEnds := make(map[ends]tcpSocket, len(table))
	for _, s := range table {
		if s.state == tcpEstablished {
			byEnds[ends{s.local, s.remote}] = s
		}
	}
	for _, s := range table {
		name, ok := owner[s.inode]
		if s.state != tcpEstablished || !ok || name == "" {
			continue
		}
		peer, found := byEnds[ends{s.remote, s.local}]
		if !found {
			a.Foreign = append(a.Foreign, fmt.Sprintf("%s: %s -> %s", name, s.local, s.remote))
			continue
		}
		switch other, known := owner[peer.inode]; {
		case known && other == "":
			a.Relayed++
		case known:
			a.Bypasses = append(a.Bypasses, Bypass{From: name, To: other, Local: s.local.String(), Remote: s.remote.String()})
		default:
			a.Foreign = append(a.Foreign, fmt.Sprintf("%s: %s -> %s (unknown process)", name, s.local, s.remote))
		}
	}
	return a, nil
}
