package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/geocache/geocache/geo"
)

// Config configures a Client. The zero value of every field but Seeds means
// the default in its comment; New never modifies the caller's Config.
type Config struct {
	// Seeds are HTTP base URLs of any cluster nodes ("http://10.0.0.1:8080";
	// a missing scheme means http). Required. The client asks them for the
	// member list and learns every node's RESP address from it, so one live
	// seed is enough; list several so that start-up survives a dead seed.
	Seeds []string

	// Username and Password authenticate RESP connections (AUTH). Default
	// none.
	Username string
	Password string

	// HTTPToken is sent as "Authorization: Bearer <token>" to the member
	// list endpoint. Default none.
	HTTPToken string

	// TLS, when set, is used for RESP connections (probes and commands).
	// Default plain TCP. HTTPS seeds use HTTPClient's transport.
	TLS *tls.Config

	// ProbeInterval is how often every node is PINGed to measure RTT and
	// health. Default 1s. It bounds how long a dead node stays selected
	// when no command notices it, and how soon a recovered nearer node is
	// used again (RecoverProbes × ProbeInterval); shorter costs one PING
	// per node per interval.
	ProbeInterval time.Duration

	// ProbeTimeout bounds one probe (dial, AUTH and PING). Default 1s. A
	// node slower than this counts as down; it must exceed the largest RTT
	// you expect to a node you would still want to use.
	ProbeTimeout time.Duration

	// RecoverProbes is how many probes in a row a node that failed must
	// answer before it is used again. Default 2. Higher avoids flapping
	// onto a node that is crash-looping, at the cost of a later failback.
	RecoverProbes int

	// SwitchRatio damps switching between healthy nodes: the client moves
	// from its current node to a nearer one only if the nearer one's RTT
	// is below SwitchRatio × the current RTT. Default 0.8, in (0, 1]. Lower
	// ignores bigger differences; 1 always follows the nearest. A current
	// node that fails or turns unhealthy is left at once regardless.
	SwitchRatio float64

	// RefreshInterval is how often the member list is fetched again, to
	// learn joined and departed nodes and their states. Default 10s.
	RefreshInterval time.Duration

	// HTTPTimeout bounds one member list request. Default 2s.
	HTTPTimeout time.Duration

	// DialTimeout, ReadTimeout and WriteTimeout bound command connections
	// (go-redis options). Default 1s each. A command that hits one of them
	// fails over to the next node, so they should be well below what the
	// application can wait, and above the slowest command it sends.
	DialTimeout  time.Duration
	ReadTimeout  time.Duration
	WriteTimeout time.Duration

	// MaxAttempts is how many nodes one call tries, nearest first, when
	// the connection fails (refused, reset, timeout). Default 3. Replies
	// from the server (including errors) are never retried.
	MaxAttempts int

	// Location is where the client runs, if known. Default unknown. It is
	// only used to order nodes the client has not measured (by an RTT
	// estimated from distance, see geo.EstimateRTT) in Nodes().
	Location *geo.Coordinates

	// Tracker configures RTT smoothing (geo.TrackerConfig). Default: the geo
	// defaults, with MaxAge 5 × ProbeInterval so that a node not measured
	// for five intervals has no RTT.
	Tracker geo.TrackerConfig

	// HTTPClient fetches the member list. Default: a private client whose
	// idle connections Close closes. HTTPTimeout bounds each request
	// either way.
	HTTPClient *http.Client

	// Dialer, when set, opens the TCP connection of every RESP connection
	// the client makes, probes and command clients alike (with TLS set, the
	// handshake runs on top of it). Default: a net.Dialer. It lets an
	// application route connections through a proxy, a tunnel or a test
	// network (cmd/testnet sends them through its WAN emulator). It is
	// called concurrently and should honour ctx. The member list requests
	// use HTTPClient; give it a Transport with a DialContext to route them
	// too.
	Dialer func(ctx context.Context, network, addr string) (net.Conn, error)

	// RedisOptions, when set, is called with the options of every command
	// client (one per node) before it is created, to set anything else
	// go-redis offers (pool size, client name, protocol). It must not
	// block; it runs on the client's goroutines. Default none.
	RedisOptions func(*redis.Options)

	// probeDistance, set only by this package's tests (export_test.go), is added to every
	// probe's measured round trip: the emulated distance of a fake node, so that tests of
	// nearest-node selection need not make a loopback server wait to look far away.
	probeDistance func(addr string) time.Duration

	// Logger receives node switches (Info) and discovery failures (Warn).
	// Default slog.Default().
	Logger *slog.Logger
}

// DefaultConfig returns the defaults, spelled out, with the given seeds.
func DefaultConfig(seeds ...string) Config {
	return Config{
		Seeds:           seeds,
		ProbeInterval:   time.Second,
		ProbeTimeout:    time.Second,
		RecoverProbes:   2,
		SwitchRatio:     0.8,
		RefreshInterval: 10 * time.Second,
		HTTPTimeout:     2 * time.Second,
		DialTimeout:     time.Second,
		ReadTimeout:     time.Second,
		WriteTimeout:    time.Second,
		MaxAttempts:     3,
	}
}

// maxSeeds bounds the seed list; discovery tries them in turn.
const maxSeeds = 64

func (c Config) withDefaults() (Config, error) {
	d := DefaultConfig()
	if len(c.Seeds) == 0 {
		return c, errors.New("client: no seeds")
	}
	if len(c.Seeds) > maxSeeds {
		return c, fmt.Errorf("client: at most %d seeds, got %d", maxSeeds, len(c.Seeds))
	}
	seeds := make([]string, len(c.Seeds))
	for i, s := range c.Seeds {
		u, err := normalizeBaseURL(s)
		if err != nil {
			return c, fmt.Errorf("client: seed %q: %w", s, err)
		}
		seeds[i] = u
	}
	c.Seeds = seeds // a copy: the caller's slice is untouched
	for _, f := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"ProbeInterval", &c.ProbeInterval, d.ProbeInterval},
		{"ProbeTimeout", &c.ProbeTimeout, d.ProbeTimeout},
		{"RefreshInterval", &c.RefreshInterval, d.RefreshInterval},
		{"HTTPTimeout", &c.HTTPTimeout, d.HTTPTimeout},
		{"DialTimeout", &c.DialTimeout, d.DialTimeout},
		{"ReadTimeout", &c.ReadTimeout, d.ReadTimeout},
		{"WriteTimeout", &c.WriteTimeout, d.WriteTimeout},
	} {
		if *f.v < 0 {
			return c, fmt.Errorf("client: %s must not be negative, got %v", f.name, *f.v)
		}
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	switch {
	case c.RecoverProbes < 0:
		return c, fmt.Errorf("client: RecoverProbes must not be negative, got %d", c.RecoverProbes)
	case c.MaxAttempts < 0:
		return c, fmt.Errorf("client: MaxAttempts must not be negative, got %d", c.MaxAttempts)
	case c.SwitchRatio < 0 || c.SwitchRatio > 1 || c.SwitchRatio != c.SwitchRatio:
		return c, fmt.Errorf("client: SwitchRatio must be in (0, 1], got %v", c.SwitchRatio)
	case c.Location != nil && !c.Location.Valid():
		return c, fmt.Errorf("client: Location: %w", c.Location.Validate())
	}
	if c.RecoverProbes == 0 {
		c.RecoverProbes = d.RecoverProbes
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = d.MaxAttempts
	}
	if c.SwitchRatio == 0 {
		c.SwitchRatio = d.SwitchRatio
	}
	if c.Location != nil {
		loc := *c.Location
		c.Location = &loc
	}
	if c.Tracker.MaxAge == 0 {
		c.Tracker.MaxAge = 5 * c.ProbeInterval
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}

// normalizeBaseURL checks an HTTP base URL and returns it without a
// trailing slash, adding "http://" when there is no scheme.
func normalizeBaseURL(s string) (string, error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("scheme %q is not http or https", u.Scheme)
	}
	if u.Host == "" {
		return "", errors.New("no host")
	}
	if h := u.Hostname(); h != "" && !validHost(h) {
		return "", fmt.Errorf("bad host %q", h)
	}
	u.RawQuery, u.Fragment = "", ""
	return strings.TrimRight(u.String(), "/"), nil
}
