package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/geocache/geocache/node"
)

// Config is everything the daemon can be told, from flags, GEOCACHE_* environment variables and
// a YAML file (in increasing order of precedence: file, environment, flags). YAML keys are the
// flag names.
type Config struct {
	// General.
	ConfigFile string `yaml:"-"`
	LogLevel   string `yaml:"log-level"`
	LogFormat  string `yaml:"log-format"`

	// Cluster and locality.
	Region      string        `yaml:"region"`
	Lat         float64       `yaml:"lat"`
	Lon         float64       `yaml:"lon"`
	P2PListen   []string      `yaml:"p2p-listen"`
	P2PAnnounce []string      `yaml:"p2p-announce"`
	Join        []string      `yaml:"join"`
	ClusterName string        `yaml:"cluster-name"`
	Peers       []string      `yaml:"peer"`
	ClusterKey  string        `yaml:"cluster-key"`
	DataDir     string        `yaml:"data-dir"`
	ForgetAfter time.Duration `yaml:"forget-after"`

	// Persistence (with DataDir).
	SaveInterval    time.Duration `yaml:"save-interval"`
	SaveAfterWrites int           `yaml:"save-after-writes"`

	// Cache.
	MaxMemory    ByteSize      `yaml:"max-memory"`
	MaxEntries   int           `yaml:"max-entries"`
	MaxKeySize   ByteSize      `yaml:"max-key-size"`
	MaxValueSize ByteSize      `yaml:"max-value-size"`
	DefaultTTL   time.Duration `yaml:"default-ttl"`
	ClockOffset  time.Duration `yaml:"clock-offset"`

	// Origin.
	Origin        string        `yaml:"origin"`
	OriginTimeout time.Duration `yaml:"origin-timeout"`
	OriginTTL     time.Duration `yaml:"origin-ttl"`
	OriginDedup   string        `yaml:"origin-dedup"`

	// Client APIs and security.
	RESPListen          string   `yaml:"resp-listen"`
	HTTPListen          string   `yaml:"http-listen"`
	RESPAnnounce        string   `yaml:"resp-announce"`
	HTTPAnnounce        string   `yaml:"http-announce"`
	Password            string   `yaml:"password"`
	Users               []string `yaml:"user"`
	HTTPTokens          []string `yaml:"http-token"`
	TLSCert             string   `yaml:"tls-cert"`
	TLSKey              string   `yaml:"tls-key"`
	AllowInsecureRemote bool     `yaml:"allow-insecure-remote"`
	Pprof               bool     `yaml:"pprof"`

	// Limits and lifecycle.
	MaxClients      int           `yaml:"max-clients"`
	IdleTimeout     time.Duration `yaml:"idle-timeout"`
	MaxRequestSize  ByteSize      `yaml:"max-request-size"`
	MaxPipeline     int           `yaml:"max-pipeline"`
	EventLoops      int           `yaml:"event-loops"`
	LoopSpin        time.Duration `yaml:"loop-spin"`
	ShutdownTimeout time.Duration `yaml:"shutdown-timeout"`
}

// defaultConfig is a working single node in memory, reachable from this machine only.
func defaultConfig() Config {
	return Config{
		LogLevel:        "info",
		LogFormat:       "text",
		Region:          "local",
		P2PListen:       []string{"/ip4/127.0.0.1/tcp/7379"},
		MaxMemory:       256 << 20,
		MaxKeySize:      16 << 10,
		MaxValueSize:    1 << 20,
		SaveInterval:    time.Minute,
		OriginTimeout:   5 * time.Second,
		ForgetAfter:     24 * time.Hour,
		OriginTTL:       5 * time.Minute,
		OriginDedup:     "cluster",
		RESPListen:      "127.0.0.1:6379",
		HTTPListen:      "127.0.0.1:8080",
		MaxClients:      10000,
		IdleTimeout:     5 * time.Minute,
		MaxRequestSize:  32 << 20,
		MaxPipeline:     1024,
		ShutdownTimeout: 10 * time.Second,
	}
}

// option describes one setting: its flag, environment variable and help.
type option struct {
	name    string // flag name and YAML key
	group   string
	arg     string // placeholder in help; "" for booleans
	help    string
	list    bool // may be repeated (flag) or comma-separated (environment)
	boolean bool
	// emptyDisables: an empty value turns the feature off, so a variable set to "" counts
	// (every other empty variable counts as unset).
	emptyDisables bool
	set           func(c *Config, v string) error
	get           func(c *Config) string // current value, for help
}

// Help groups, in display order.
var groups = []string{"General", "Cluster", "Cache", "Origin", "Client APIs and security", "Limits"}

func options() []option {
	str := func(p func(*Config) *string) (func(*Config, string) error, func(*Config) string) {
		return func(c *Config, v string) error { *p(c) = v; return nil },
			func(c *Config) string { return *p(c) }
	}
	list := func(p func(*Config) *[]string) (func(*Config, string) error, func(*Config) string) {
		return func(c *Config, v string) error { *p(c) = append(*p(c), v); return nil },
			func(c *Config) string { return strings.Join(*p(c), ",") }
	}
	integer := func(p func(*Config) *int) (func(*Config, string) error, func(*Config) string) {
		return func(c *Config, v string) error {
				n, err := strconv.Atoi(v)
				if err != nil {
					return fmt.Errorf("not an integer: %q", v)
				}
				*p(c) = n
				return nil
			},
			func(c *Config) string { return strconv.Itoa(*p(c)) }
	}
	float := func(p func(*Config) *float64) (func(*Config, string) error, func(*Config) string) {
		return func(c *Config, v string) error {
				f, err := strconv.ParseFloat(v, 64)
				if err != nil {
					return fmt.Errorf("not a number: %q", v)
				}
				*p(c) = f
				return nil
			},
			func(c *Config) string { return strconv.FormatFloat(*p(c), 'g', -1, 64) }
	}
	dur := func(p func(*Config) *time.Duration) (func(*Config, string) error, func(*Config) string) {
		return func(c *Config, v string) error {
				d, err := time.ParseDuration(v)
				if err != nil {
					return fmt.Errorf("not a duration (like 90s, 5m, 1h): %q", v)
				}
				*p(c) = d
				return nil
			},
			func(c *Config) string { return p(c).String() }
	}
	size := func(p func(*Config) *ByteSize) (func(*Config, string) error, func(*Config) string) {
		return func(c *Config, v string) error { return p(c).UnmarshalText([]byte(v)) },
			func(c *Config) string { return p(c).String() }
	}
	boolean := func(p func(*Config) *bool) (func(*Config, string) error, func(*Config) string) {
		return func(c *Config, v string) error {
				b, err := strconv.ParseBool(v)
				if err != nil {
					return fmt.Errorf("not a boolean: %q", v)
				}
				*p(c) = b
				return nil
			},
			func(c *Config) string { return strconv.FormatBool(*p(c)) }
	}
	opt := func(name, group, arg, help string, set func(*Config, string) error, get func(*Config) string) option {
		return option{name: name, group: group, arg: arg, help: help, set: set, get: get}
	}
	lst := func(o option) option { o.list = true; return o }
	bl := func(o option) option { o.boolean = true; return o }
	off := func(o option) option { o.emptyDisables = true; return o }
	var o []option
	add := func(x option) { o = append(o, x) }

	s, g := str(func(c *Config) *string { return &c.ConfigFile })
	add(opt("config", "General", "FILE", "YAML configuration file; its keys are the flag names", s, g))
	s, g = str(func(c *Config) *string { return &c.LogLevel })
	add(opt("log-level", "General", "LEVEL", "log level: debug, info, warn or error", s, g))
	s, g = str(func(c *Config) *string { return &c.LogFormat })
	add(opt("log-format", "General", "FORMAT", "log format: text or json", s, g))

	s, g = str(func(c *Config) *string { return &c.Region })
	add(opt("region", "Cluster", "NAME", "this node's region, for example eu-west", s, g))
	s, g = float(func(c *Config) *float64 { return &c.Lat })
	add(opt("lat", "Cluster", "DEGREES", "latitude of this node, for nearest-node selection", s, g))
	s, g = float(func(c *Config) *float64 { return &c.Lon })
	add(opt("lon", "Cluster", "DEGREES", "longitude of this node", s, g))
	s, g = list(func(c *Config) *[]string { return &c.P2PListen })
	add(off(lst(opt("p2p-listen", "Cluster", "MULTIADDR", "libp2p listen address for replication; empty disables", s, g))))
	s, g = list(func(c *Config) *[]string { return &c.P2PAnnounce })
	add(lst(opt("p2p-announce", "Cluster", "MULTIADDR", "address announced to peers instead of the listen addresses (behind NAT or a port forward)", s, g)))
	s, g = list(func(c *Config) *[]string { return &c.Join })
	add(lst(opt("join", "Cluster", "ADDR", "any cluster member to join: its libp2p multiaddr (/p2p/<peer id> optional) or its HTTP URL", s, g)))
	s, g = list(func(c *Config) *[]string { return &c.Peers })
	add(lst(opt("peer", "Cluster", "PEERID", "peer id allowed to connect; default: any peer holding the cluster key", s, g)))
	s, g = str(func(c *Config) *string { return &c.ClusterName })
	add(opt("cluster-name", "Cluster", "NAME", "cluster name; nodes of different clusters never exchange data (default geocache)", s, g))
	s, g = str(func(c *Config) *string { return &c.ClusterKey })
	add(opt("cluster-key", "Cluster", "SECRET", "pre-shared secret every member must hold (any string; prefer GEOCACHE_CLUSTER_KEY)", s, g))
	s, g = str(func(c *Config) *string { return &c.DataDir })
	add(opt("data-dir", "Cluster", "DIR", "directory for the node identity, the cluster catalog and the cache snapshot (saved on shutdown and periodically, loaded at start); default: in memory only", s, g))
	s, g = dur(func(c *Config) *time.Duration { return &c.SaveInterval })
	add(opt("save-interval", "Cluster", "DURATION", "with --data-dir: save the cache snapshot this often when something changed; a kill -9 loses at most this node's writes since (0: only on shutdown, SAVE/BGSAVE and --save-after-writes)", s, g))
	s, g = integer(func(c *Config) *int { return &c.SaveAfterWrites })
	add(opt("save-after-writes", "Cluster", "N", "with --data-dir: also save as soon as N writes (local and replicated) accumulated; 0 disables", s, g))
	s, g = dur(func(c *Config) *time.Duration { return &c.ForgetAfter })
	add(opt("forget-after", "Cluster", "DURATION", "forget a member unreachable this long (at least 1h, the tombstone grace horizon); 0 means never", s, g))

	s, g = size(func(c *Config) *ByteSize { return &c.MaxMemory })
	add(opt("max-memory", "Cache", "SIZE", "memory bound for keys and values (LRU eviction beyond it), like 256MiB or 2GB", s, g))
	s, g = integer(func(c *Config) *int { return &c.MaxEntries })
	add(opt("max-entries", "Cache", "N", "bound on the number of keys; 0 means bounded by memory only", s, g))
	s, g = size(func(c *Config) *ByteSize { return &c.MaxKeySize })
	add(opt("max-key-size", "Cache", "SIZE", "largest key accepted", s, g))
	s, g = size(func(c *Config) *ByteSize { return &c.MaxValueSize })
	add(opt("max-value-size", "Cache", "SIZE", "largest value accepted", s, g))
	s, g = dur(func(c *Config) *time.Duration { return &c.DefaultTTL })
	add(opt("default-ttl", "Cache", "DURATION", "expiry applied to writes that give none; 0 means never", s, g))
	s, g = dur(func(c *Config) *time.Duration { return &c.ClockOffset })
	add(opt("clock-offset", "Cache", "DURATION", "testing only: shift this node's wall clock (e.g. 300ms, -1s) to emulate clock skew", s, g))

	s, g = str(func(c *Config) *string { return &c.Origin })
	add(opt("origin", "Origin", "URL", "HTTP origin that fills misses of GET: a miss of key k fetches URL/<k, path-escaped>; 200 is the value, 404 a miss", s, g))
	s, g = dur(func(c *Config) *time.Duration { return &c.OriginTimeout })
	add(opt("origin-timeout", "Origin", "DURATION", "bound on one origin request; slower is an error to the client", s, g))
	s, g = dur(func(c *Config) *time.Duration { return &c.OriginTTL })
	add(opt("origin-ttl", "Origin", "DURATION", "expiry of loaded values whose response has no Cache-Control max-age; 0 means --default-ttl", s, g))
	s, g = str(func(c *Config) *string { return &c.OriginDedup })
	add(opt("origin-dedup", "Origin", "MODE", "cluster: one origin load per cold key across regions (a lease); node: every node loads for itself", s, g))

	s, g = str(func(c *Config) *string { return &c.RESPListen })
	add(off(opt("resp-listen", "Client APIs and security", "ADDR", "Redis protocol listen address; empty disables", s, g)))
	s, g = str(func(c *Config) *string { return &c.HTTPListen })
	add(off(opt("http-listen", "Client APIs and security", "ADDR", "HTTP API listen address; empty disables", s, g)))
	s, g = str(func(c *Config) *string { return &c.RESPAnnounce })
	add(opt("resp-announce", "Client APIs and security", "HOST:PORT", "RESP address published to the cluster for clients (GEOCACHE.NEAREST, /v1/nearest); default: the listen address", s, g))
	s, g = str(func(c *Config) *string { return &c.HTTPAnnounce })
	add(opt("http-announce", "Client APIs and security", "URL", "HTTP base URL published to the cluster for clients; default: the listen address", s, g))
	s, g = str(func(c *Config) *string { return &c.Password })
	add(opt("password", "Client APIs and security", "PASSWORD", "password of the RESP default user (AUTH password); prefer GEOCACHE_PASSWORD", s, g))
	s, g = list(func(c *Config) *[]string { return &c.Users })
	add(lst(opt("user", "Client APIs and security", "NAME:PASSWORD", "RESP user for AUTH name password", s, g)))
	s, g = list(func(c *Config) *[]string { return &c.HTTPTokens })
	add(lst(opt("http-token", "Client APIs and security", "TOKEN", "bearer token accepted by the HTTP API", s, g)))
	s, g = str(func(c *Config) *string { return &c.TLSCert })
	add(opt("tls-cert", "Client APIs and security", "FILE", "PEM certificate: serve RESP and HTTP over TLS (with --tls-key)", s, g))
	s, g = str(func(c *Config) *string { return &c.TLSKey })
	add(opt("tls-key", "Client APIs and security", "FILE", "PEM private key for --tls-cert", s, g))
	s, g = boolean(func(c *Config) *bool { return &c.AllowInsecureRemote })
	add(bl(opt("allow-insecure-remote", "Client APIs and security", "", "allow listening on a non-loopback address without credentials (RESP, HTTP) or cluster key (libp2p)", s, g)))
	s, g = boolean(func(c *Config) *bool { return &c.Pprof })
	add(bl(opt("pprof", "Client APIs and security", "", "serve Go profiling under /debug/pprof/ on the HTTP API", s, g)))

	s, g = integer(func(c *Config) *int { return &c.MaxClients })
	add(opt("max-clients", "Limits", "N", "concurrent connections, RESP and HTTP each; further RESP clients are refused, further HTTP clients wait", s, g))
	s, g = dur(func(c *Config) *time.Duration { return &c.IdleTimeout })
	add(opt("idle-timeout", "Limits", "DURATION", "close client connections idle this long; 0 disables", s, g))
	s, g = size(func(c *Config) *ByteSize { return &c.MaxRequestSize })
	add(opt("max-request-size", "Limits", "SIZE", "largest RESP request, all arguments included (HTTP bodies are bounded by --max-value-size)", s, g))
	s, g = integer(func(c *Config) *int { return &c.MaxPipeline })
	add(opt("max-pipeline", "Limits", "N", "RESP replies buffered per connection before they are written", s, g))
	s, g = integer(func(c *Config) *int { return &c.EventLoops })
	add(opt("event-loops", "Limits", "N", "epoll loops serving plain-TCP RESP connections (0: half the CPUs, at least 1; -1: a goroutine per connection)", s, g))
	s, g = dur(func(c *Config) *time.Duration { return &c.LoopSpin })
	add(opt("loop-spin", "Limits", "DURATION", "an epoll loop under a steady load polls this long before it sleeps, yielding the CPU between polls; 0 never spins", s, g))
	s, g = dur(func(c *Config) *time.Duration { return &c.ShutdownTimeout })
	add(opt("shutdown-timeout", "Limits", "DURATION", "deadline for a graceful shutdown on SIGINT or SIGTERM", s, g))
	return o
}

// envName is the environment variable of an option: GEOCACHE_ and the flag name in upper case
// with underscores.
func envName(flag string) string {
	return "GEOCACHE_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// errHelp is returned by loadConfig for --help, after writing the usage; errVersion for
// --version.
var (
	errHelp    = errors.New("help requested")
	errVersion = errors.New("version requested")
)

// loadConfig builds the configuration from args (without the program name), the environment
// (looked up with lookupenv, like os.LookupEnv) and the configuration file they name.
func loadConfig(args []string, lookupenv func(string) (string, bool), usage func()) (Config, error) {
	opts := options()
	byName := make(map[string]*option, len(opts))
	for i := range opts {
		byName[opts[i].name] = &opts[i]
	}

	// Command-line values are collected first and applied last, so they win.
	type flagValue struct {
		opt *option
		val string
	}
	var fromFlags []flagValue
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			if i+1 < len(args) {
				return Config{}, fmt.Errorf("unexpected argument %q", args[i+1])
			}
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			return Config{}, fmt.Errorf("unexpected argument %q (flags start with --; see --help)", a)
		}
		name := strings.TrimLeft(a, "-")
		val, hasVal := "", false
		if k, v, ok := strings.Cut(name, "="); ok {
			name, val, hasVal = k, v, true
		}
		if name == "help" || name == "h" {
			usage()
			return Config{}, errHelp
		}
		if name == "version" {
			return Config{}, errVersion
		}
		o, ok := byName[name]
		if !ok {
			return Config{}, fmt.Errorf("unknown flag --%s (see --help)", name)
		}
		if !hasVal {
			if o.boolean {
				val = "true"
			} else {
				if i+1 >= len(args) {
					return Config{}, fmt.Errorf("flag --%s needs a value (%s)", name, o.arg)
				}
				i++
				val = args[i]
			}
		}
		fromFlags = append(fromFlags, flagValue{o, val})
	}

	cfg := defaultConfig()

	// The configuration file: from the flag, else from the environment.
	file, _ := lookupenv(envName("config"))
	for _, fv := range fromFlags {
		if fv.opt.name == "config" {
			file = fv.val
		}
	}
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return Config{}, fmt.Errorf("reading the configuration file: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) { // io.EOF: empty file
			return Config{}, fmt.Errorf("configuration file %s: %s", file, yamlError(err))
		}
		cfg.ConfigFile = file
	}

	// A list given by a later source replaces the earlier one rather than adding to it.
	resetList := func(o *option) {
		switch o.name {
		case "p2p-listen":
			cfg.P2PListen = nil
		case "p2p-announce":
			cfg.P2PAnnounce = nil
		case "join":
			cfg.Join = nil
		case "peer":
			cfg.Peers = nil
		case "user":
			cfg.Users = nil
		case "http-token":
			cfg.HTTPTokens = nil
		}
	}
	for i := range opts {
		o := &opts[i]
		v, ok := lookupenv(envName(o.name))
		if !ok || o.name == "config" || (v == "" && !o.emptyDisables) {
			continue
		}
		if o.list {
			resetList(o)
			for _, part := range strings.Split(v, ",") {
				if part = strings.TrimSpace(part); part != "" {
					if err := o.set(&cfg, part); err != nil {
						return Config{}, fmt.Errorf("%s: %w", envName(o.name), err)
					}
				}
			}
			continue
		}
		if err := o.set(&cfg, v); err != nil {
			return Config{}, fmt.Errorf("%s: %w", envName(o.name), err)
		}
	}
	reset := map[string]bool{}
	for _, fv := range fromFlags {
		if fv.opt.list && !reset[fv.opt.name] {
			resetList(fv.opt)
			reset[fv.opt.name] = true
			if fv.val == "" {
				continue // --join "" clears the list
			}
		}
		if err := fv.opt.set(&cfg, fv.val); err != nil {
			return Config{}, fmt.Errorf("--%s: %w", fv.opt.name, err)
		}
	}
	return cfg, cfg.validate()
}

// yamlError rewords the YAML decoder's messages, which name Go types, in terms of the file's
// keys: "field regoin not found in type main.Config" becomes "unknown key regoin (keys are the
// flag names, see --help)".
func yamlError(err error) string {
	msg := err.Error()
	msg = unknownField.ReplaceAllString(msg, "unknown key $1 (keys are the flag names, see --help)")
	msg = strings.ReplaceAll(msg, "yaml: unmarshal errors:\n  ", "")
	return strings.ReplaceAll(msg, " into time.Duration", " into a duration (like 90s, 5m, 1h)")
}

var unknownField = regexp.MustCompile(`field (\S+) not found in type main\.Config`)

// validate checks values that the node and servers would otherwise reject less clearly.
func (c *Config) validate() error {
	switch {
	case c.LogLevel != "debug" && c.LogLevel != "info" && c.LogLevel != "warn" && c.LogLevel != "error":
		return fmt.Errorf("--log-level must be debug, info, warn or error, got %q", c.LogLevel)
	case c.LogFormat != "text" && c.LogFormat != "json":
		return fmt.Errorf("--log-format must be text or json, got %q", c.LogFormat)
	case c.Lat < -90 || c.Lat > 90:
		return fmt.Errorf("--lat must be within [-90, 90], got %g", c.Lat)
	case c.Lon < -180 || c.Lon > 180:
		return fmt.Errorf("--lon must be within [-180, 180], got %g", c.Lon)
	case c.MaxMemory <= 0:
		return errors.New("--max-memory must be positive")
	case c.MaxEntries < 0:
		return errors.New("--max-entries must not be negative")
	case c.MaxKeySize <= 0 || c.MaxValueSize <= 0:
		return errors.New("--max-key-size and --max-value-size must be positive")
	case c.MaxValueSize > math.MaxInt32:
		return errors.New("--max-value-size must be below 2GiB")
	case c.DefaultTTL < 0:
		return errors.New("--default-ttl must not be negative")
	case c.OriginTimeout <= 0:
		return errors.New("--origin-timeout must be positive")
	case c.ForgetAfter < 0 || (c.ForgetAfter > 0 && c.ForgetAfter < time.Hour):
		return errors.New("--forget-after must be 0 (never) or at least 1h (the tombstone grace horizon)")
	case c.OriginTTL < 0:
		return errors.New("--origin-ttl must not be negative")
	case c.OriginDedup != "cluster" && c.OriginDedup != "node":
		return fmt.Errorf("--origin-dedup must be cluster or node, got %q", c.OriginDedup)
	case (c.TLSCert == "") != (c.TLSKey == ""):
		return errors.New("--tls-cert and --tls-key go together")
	case c.MaxClients <= 0:
		return errors.New("--max-clients must be positive")
	case c.IdleTimeout < 0:
		return errors.New("--idle-timeout must not be negative")
	case c.MaxRequestSize < minRequestSize(c):
		return fmt.Errorf("--max-request-size (%s) must be at least %s: the larger of --max-value-size and --max-key-size plus 192KiB",
			c.MaxRequestSize, minRequestSize(c))
	case c.MaxPipeline <= 0:
		return errors.New("--max-pipeline must be positive")
	case c.ShutdownTimeout <= 0:
		return errors.New("--shutdown-timeout must be positive")
	}
	if c.RESPAnnounce != "" {
		if _, _, err := net.SplitHostPort(c.RESPAnnounce); err != nil {
			return fmt.Errorf("--resp-announce wants HOST:PORT, got %q", c.RESPAnnounce)
		}
	}
	if c.HTTPAnnounce != "" {
		if u, err := url.Parse(c.HTTPAnnounce); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("--http-announce wants a URL like https://cache.example.com:8080, got %q", c.HTTPAnnounce)
		}
	}
	if c.Origin != "" {
		if _, err := parseOrigin(c.Origin); err != nil {
			return fmt.Errorf("--origin: %w", err)
		}
	}
	for _, u := range c.Users {
		name, pass, ok := strings.Cut(u, ":")
		if !ok || name == "" || pass == "" {
			return fmt.Errorf("--user wants NAME:PASSWORD, got %q", redact(u))
		}
	}
	for _, t := range c.HTTPTokens {
		if len(t) < 16 {
			return errors.New("--http-token values must be at least 16 characters")
		}
	}
	for _, j := range c.Join {
		if err := node.ValidateJoin(j); err != nil {
			if u, perr := url.Parse(j); perr == nil && u.User != nil {
				j = u.Redacted() // a join URL may carry an HTTP token
			}
			return fmt.Errorf("--join %s: %w", j, err)
		}
	}
	return nil
}

// maxBulkLen is the largest single RESP argument accepted: room for the largest key or value
// plus 64KiB, so that an oversized value gets a clean error reply rather than a protocol error.
func maxBulkLen(c *Config) ByteSize { return max(c.MaxValueSize, c.MaxKeySize) + 64<<10 }

// minRequestSize is the smallest --max-request-size the RESP server accepts: the largest
// argument plus room for the rest of the request (resp.Config wants 128KiB).
func minRequestSize(c *Config) ByteSize { return maxBulkLen(c) + 128<<10 }

// redact hides the password of a NAME:PASSWORD pair.
func redact(u string) string {
	if name, _, ok := strings.Cut(u, ":"); ok {
		return name + ":***"
	}
	return "***"
}

// ByteSize is a size in bytes that reads "1048576", "512KiB", "256MiB", "1GB" (decimal and
// binary units) or "1g".
type ByteSize int64

// UnmarshalText parses a size.
func (b *ByteSize) UnmarshalText(text []byte) error {
	s := strings.TrimSpace(string(text))
	i := len(s)
	for i > 0 && (s[i-1] < '0' || s[i-1] > '9') {
		i--
	}
	num, unit := s[:i], strings.ToLower(strings.TrimSpace(s[i:]))
	n, err := strconv.ParseFloat(num, 64)
	if err != nil || n < 0 {
		return fmt.Errorf("not a size (like 1048576, 512KiB, 256MiB, 2GB): %q", s)
	}
	mult := map[string]float64{
		"": 1, "b": 1,
		"k": 1 << 10, "kb": 1e3, "kib": 1 << 10,
		"m": 1 << 20, "mb": 1e6, "mib": 1 << 20,
		"g": 1 << 30, "gb": 1e9, "gib": 1 << 30,
		"t": 1 << 40, "tb": 1e12, "tib": 1 << 40,
	}[unit]
	if mult == 0 {
		return fmt.Errorf("unknown size unit %q in %q", unit, s)
	}
	if n*mult > math.MaxInt64 {
		return fmt.Errorf("size too large: %q", s)
	}
	*b = ByteSize(n * mult)
	return nil
}

// String formats b with the largest binary unit that divides it.
func (b ByteSize) String() string {
	for _, u := range []struct {
		s string
		n int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if b >= ByteSize(u.n) && int64(b)%u.n == 0 {
			return strconv.FormatInt(int64(b)/u.n, 10) + u.s
		}
	}
	return strconv.FormatInt(int64(b), 10)
}
