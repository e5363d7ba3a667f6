package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/geocache/geocache/geo"
)

// membersPath is the node's HTTP member list.
const membersPath = "/v1/members"

// Bounds on what a (possibly misbehaving) node can make us hold.
const (
	maxMembersBody = 4 << 20
	maxMembers     = 1024
)

// member is one node as a member list describes it.
type member struct {
	id     string
	region string
	coords *geo.Coordinates
	resp   string // dialable host:port
	http   string // base URL, "" when unknown
	state  string
	viewOK bool // the list says it serves and is reachable
}

// fetchMembers asks the node at base for its member list.
func (c *Client) fetchMembers(ctx context.Context, base string) ([]member, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.HTTPTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+membersPath, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	if c.cfg.HTTPToken != "" {
		req.Header.Set("Authorization", "Bearer "+c.cfg.HTTPToken)
	}
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxMembersBody+1))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", membersPath, resp.Status)
	}
	if len(body) > maxMembersBody {
		return nil, fmt.Errorf("GET %s: body over %d bytes", membersPath, maxMembersBody)
	}
	return parseMembers(body, base)
}

// parseMembers decodes a member list leniently, since the endpoint's shape
// may evolve: either a JSON array of members or an object with a "members"
// array (and optionally "self", the answering node's id). Per member it
// reads "id" or "peer_id", "region", "lat"/"lon", "resp", "http", "state",
// "connected" and "reachable"; unknown fields are ignored and a member
// that cannot be used (no RESP address) is skipped. from is the base URL
// the list came from: it fills in the host of addresses published as
// wildcards (":6379", "0.0.0.0:6379") for the answering node itself.
func parseMembers(body []byte, from string) ([]member, error) {
	body = bytes.TrimSpace(body)
	var raw []json.RawMessage
	var self string
	switch {
	case len(body) > 0 && body[0] == '[':
		if err := json.Unmarshal(body, &raw); err != nil {
			return nil, fmt.Errorf("member list: %w", err)
		}
	case len(body) > 0 && body[0] == '{':
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(body, &obj); err != nil {
			return nil, fmt.Errorf("member list: %w", err)
		}
		if err := json.Unmarshal(obj["members"], &raw); err != nil {
			return nil, fmt.Errorf("member list: no \"members\" array: %w", err)
		}
		self = jsonString(obj, "self")
	default:
		return nil, errors.New("member list: not a JSON array or object")
	}
	fromHost := ""
	if u, err := url.Parse(from); err == nil {
		fromHost = u.Hostname()
	}
	seen := make(map[string]bool, len(raw))
	var out []member
	for _, r := range raw {
		if len(out) == maxMembers {
			break
		}
		var f map[string]json.RawMessage
		if json.Unmarshal(r, &f) != nil {
			continue
		}
		m := member{
			id:     jsonString(f, "id"),
			region: jsonString(f, "region"),
			state:  strings.ToLower(jsonString(f, "state")),
		}
		if m.id == "" {
			m.id = jsonString(f, "peer_id")
		}
		isSelf := m.state == "self" || (self != "" && m.id == self)
		// A wildcard host can be completed from the member's own HTTP
		// address, or, for the answering node, from the URL we asked.
		fallback := ""
		if isSelf {
			fallback = fromHost
		}
		if h := jsonString(f, "http"); h != "" {
			if u, err := resolveHTTP(h, fallback); err == nil {
				m.http = u
				if pu, err := url.Parse(u); err == nil {
					fallback = pu.Hostname()
				}
			}
		} else if isSelf {
			m.http = from
		}
		addr, err := resolveRESP(jsonString(f, "resp"), fallback)
		if err != nil {
			continue
		}
		m.resp = addr
		if m.id == "" {
			m.id = addr
		}
		if seen[m.id] {
			continue
		}
		seen[m.id] = true
		lat, okLat := jsonFloat(f, "lat")
		lon, okLon := jsonFloat(f, "lon")
		// (0, 0) is what a node that did not configure coordinates
		// publishes; no data centre sits in the Gulf of Guinea.
		if c, err := geo.NewCoordinates(lat, lon); okLat && okLon && err == nil && (lat != 0 || lon != 0) {
			m.coords = &c
		}
		m.viewOK = healthyState(m.state) && jsonBoolOr(f, "reachable", true) && jsonBoolOr(f, "connected", true)
		out = append(out, m)
	}
	return out, nil
}

// healthyState reports whether a member state means "serving". Node
// records use joining/serving/leaving; the HTTP API's view uses
// self/connected/disconnected; an absent state is taken as serving.
func healthyState(s string) bool {
	switch s {
	case "", "serving", "self", "connected":
		return true
	}
	return false
}

// resolveRESP turns a published RESP address into a dialable host:port.
// It accepts "host:port", "redis://host:port" and wildcard hosts (":6379",
// "0.0.0.0:6379", "[::]:6379"), which take fallbackHost.
func resolveRESP(s, fallbackHost string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", errors.New("no RESP address")
	}
	if i := strings.Index(s, "://"); i >= 0 {
		u, err := url.Parse(s)
		if err != nil {
			return "", err
		}
		s = u.Host
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", err
	}
	if p, err := strconv.Atoi(port); err != nil || p <= 0 || p > 65535 {
		return "", fmt.Errorf("bad port in %q", s)
	}
	if wildcard(host) {
		if fallbackHost == "" || wildcard(fallbackHost) {
			return "", fmt.Errorf("wildcard address %q and no host to substitute", s)
		}
		host = fallbackHost
	}
	if !validHost(host) {
		return "", fmt.Errorf("bad host in %q", s)
	}
	return net.JoinHostPort(host, port), nil
}

// validHost accepts a DNS name or an IP address (IPv6 without brackets).
func validHost(h string) bool {
	if h == "" || strings.ContainsAny(h, " \t\r\n/[]@?#%\\") {
		return false
	}
	return !strings.Contains(h, ":") || net.ParseIP(h) != nil
}

// resolveHTTP normalises a published HTTP address to a base URL,
// substituting fallbackHost for a wildcard host.
func resolveHTTP(s, fallbackHost string) (string, error) {
	base, err := normalizeBaseURL(s)
	if err != nil {
		return "", err
	}
	u, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	if wildcard(u.Hostname()) {
		if fallbackHost == "" || wildcard(fallbackHost) {
			return "", fmt.Errorf("wildcard address %q and no host to substitute", s)
		}
		u.Host = net.JoinHostPort(fallbackHost, u.Port())
		if u.Port() == "" {
			u.Host = fallbackHost
			if strings.Contains(fallbackHost, ":") {
				u.Host = "[" + fallbackHost + "]"
			}
		}
	}
	return u.String(), nil
}

func wildcard(host string) bool {
	if host == "" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsUnspecified()
}

func jsonString(f map[string]json.RawMessage, k string) string {
	var s string
	if json.Unmarshal(f[k], &s) != nil {
		return ""
	}
	return s
}

func jsonFloat(f map[string]json.RawMessage, k string) (float64, bool) {
	var v float64
	if raw, ok := f[k]; !ok || json.Unmarshal(raw, &v) != nil {
		return 0, false
	}
	return v, true
}

func jsonBoolOr(f map[string]json.RawMessage, k string, def bool) bool {
	var v bool
	if raw, ok := f[k]; !ok || json.Unmarshal(raw, &v) != nil {
		return def
	}
	return v
}
