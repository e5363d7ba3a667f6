package main

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/geocache/geocache/node"
	"github.com/geocache/geocache/node/httpapi"
	"github.com/geocache/geocache/node/resp"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3"; otherwise it comes from
// the module's build information.
var version = ""

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return node.Version + "-dev" // built from a checkout: the source's version, marked
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, stop, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr))
}

// run is the daemon: it returns the process exit code. It serves until ctx is done (a signal),
// then shuts down gracefully; stopSignals is called at that point so that a second signal
// kills the process at once.
func run(ctx context.Context, stopSignals func(), args []string, lookupenv func(string) (string, bool), stdout, stderr io.Writer) int {
	cfg, err := loadConfig(args, lookupenv, func() { usage(stdout) })
	switch {
	case errors.Is(err, errHelp):
		return 0
	case errors.Is(err, errVersion):
		fmt.Fprintln(stdout, "geocache", buildVersion())
		return 0
	case err != nil:
		fmt.Fprintln(stderr, "geocache:", err)
		return 2
	}
	log := newLogger(cfg, stderr)
	routeLibraryLogs(log)
	d, err := start(cfg, log)
	if err != nil {
		fmt.Fprintln(stderr, "geocache:", err)
		return 1
	}
	d.banner(stdout)

	select {
	case <-ctx.Done():
		log.Info("shutting down", "deadline", cfg.ShutdownTimeout)
	case err := <-d.failed:
		log.Error("server failed; shutting down", "err", err)
	}
	stopSignals()
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := d.shutdown(sctx); err != nil {
		log.Error("shutdown did not complete in time", "err", err)
		return 1
	}
	log.Info("stopped")
	return 0
}

func newLogger(cfg Config, w io.Writer) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(cfg.LogLevel)) // validated
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// daemon is a running node with its front ends.
type daemon struct {
	cfg      Config
	log      *slog.Logger
	node     *node.Node
	resp     *resp.Server
	respAddr net.Addr
	http     *http.Server
	api      *httpapi.Server
	httpAddr net.Addr
	origin   *origin            // nil without --origin
	stopBG   context.CancelFunc // stops returnMemory
	failed   chan error         // a server stopped on its own
	// stopSampling ends the status page's sampler (nil without HTTP).
	stopSampling context.CancelFunc
	// stopLoadWait ends the wait for the snapshot load (which turns GC pacing back on).
	stopLoadWait context.CancelFunc
	wg           sync.WaitGroup
}

func start(cfg Config, log *slog.Logger) (d *daemon, err error) {
	if err := checkExposure(cfg); err != nil {
		return nil, err
	}
	var tlsCfg *tls.Config
	if cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("loading the TLS certificate: %w", err)
		}
		tlsCfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	nc, err := nodeConfig(cfg, log)
	if err != nil {
		return nil, err
	}
	nc.OnMaxMemory = setMemoryLimit(int64(cfg.MaxMemory), log)
	d = &daemon{cfg: cfg, log: log, failed: make(chan error, 2)}
	if cfg.Origin != "" {
		if d.origin, err = newOrigin(cfg); err != nil {
			return nil, err
		}
		nc.Loader = d.origin.load
		nc.DisableLoadLease = cfg.OriginDedup == "node"
	}

	// Listen first, so that the node publishes its client addresses in the cluster catalog
	// from the start.
	var respLn, httpLn net.Listener
	defer func() {
		if err != nil {
			for _, ln := range []net.Listener{respLn, httpLn} {
				if ln != nil {
					ln.Close()
				}
			}
		}
	}()
	if cfg.RESPListen != "" {
		if respLn, err = net.Listen("tcp", cfg.RESPListen); err != nil {
			return nil, fmt.Errorf("RESP: %w", err)
		}
		d.respAddr = respLn.Addr()
		nc.RESPAddr = cmp.Or(cfg.RESPAnnounce, d.respAddr.String())
		if cfg.RESPAnnounce == "" && isUnspecified(d.respAddr) && len(cfg.P2PListen) > 0 {
			log.Warn("RESP listens on every interface and publishes that to the cluster; set --resp-announce "+
				"so that clients finding nodes with GEOCACHE.NEAREST or /v1/nearest get a reachable address",
				"addr", d.respAddr.String())
		}
	}
	if cfg.HTTPListen != "" {
		if httpLn, err = net.Listen("tcp", cfg.HTTPListen); err != nil {
			return nil, fmt.Errorf("HTTP: %w", err)
		}
		d.httpAddr = httpLn.Addr()
		nc.HTTPAddr = cmp.Or(strings.TrimSuffix(cfg.HTTPAnnounce, "/"), d.httpURL())
		if cfg.HTTPAnnounce == "" && isUnspecified(d.httpAddr) && len(cfg.P2PListen) > 0 {
			log.Warn("HTTP listens on every interface and publishes that to the cluster; set --http-announce "+
				"so that clients finding nodes with /v1/nearest get a reachable URL", "addr", d.httpURL())
		}
	}

	resumeGC := func() {}
	if cfg.DataDir != "" {
		resumeGC = pauseGCForLoad(log)
	}
	if d.node, err = node.New(nc); err != nil {
		resumeGC()
		return nil, err
	}
	loadCtx, stopLoadWait := context.WithCancel(context.Background())
	d.stopLoadWait = stopLoadWait
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		defer resumeGC()
		d.node.WaitLoaded(loadCtx)
	}()
	bg, stopBG := context.WithCancel(context.Background())
	d.stopBG = stopBG
	d.wg.Go(func() { d.returnMemory(bg) })
	// Undo what was started if a later step fails.
	defer func() {
		if err != nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			d.shutdown(ctx)
		}
	}()

	if respLn != nil {
		rc := resp.Config{
			Password:       cfg.Password,
			Users:          users(cfg.Users),
			TLS:            tlsCfg,
			MaxClients:     cfg.MaxClients,
			IdleTimeout:    cfg.IdleTimeout,
			MaxRequestSize: int(cfg.MaxRequestSize),
			MaxBulkLen:     int(maxBulkLen(&cfg)),
			MaxPipeline:    cfg.MaxPipeline,
			EventLoops:     cfg.EventLoops,
			LoopSpin:       cfg.LoopSpin,
			Version:        buildVersion(),
			Logger:         log,
		}
		if cfg.IdleTimeout == 0 {
			rc.IdleTimeout = -1
		}
		if d.resp, err = resp.New(d.node, rc); err != nil {
			return d, err
		}
		ln := respLn
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			if err := d.resp.Serve(ln); !errors.Is(err, resp.ErrServerClosed) {
				d.failed <- fmt.Errorf("RESP: %w", err)
			}
		}()
		respLn = nil // Serve owns it now
	}

	if httpLn != nil {
		hc := httpapi.Config{
			Tokens:      cfg.HTTPTokens,
			MaxBodySize: int64(cfg.MaxValueSize),
			Pprof:       cfg.Pprof,
			Version:     buildVersion(),
			Logger:      log,
		}
		if d.resp != nil {
			hc.Collectors = append(hc.Collectors, respCollector{d.resp})
		}
		if d.api, err = httpapi.New(d.node, hc); err != nil {
			return d, err
		}
		// The status page's rate charts: sampled until shutdown.
		sctx, stop := context.WithCancel(context.Background())
		d.stopSampling = stop
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			d.api.Run(sctx)
		}()
		d.http = &http.Server{
			Handler:           d.api,
			TLSConfig:         tlsCfg,
			ReadHeaderTimeout: 10 * time.Second,
			// A request (headers and body, at most --max-request-size) must arrive within this:
			// a client trickling its body would otherwise hold a connection slot forever.
			ReadTimeout:    30 * time.Second,
			IdleTimeout:    cfg.IdleTimeout,
			MaxHeaderBytes: 64 << 10,
			ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		}
		var ln net.Listener = newLimitListener(httpLn, cfg.MaxClients)
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			var err error
			if tlsCfg != nil {
				err = d.http.ServeTLS(ln, "", "")
			} else {
				err = d.http.Serve(ln)
			}
			if !errors.Is(err, http.ErrServerClosed) {
				d.failed <- fmt.Errorf("HTTP: %w", err)
			}
		}()
		httpLn = nil
	}
	return d, nil
}

// users turns NAME:PASSWORD pairs (validated) into a map.
func users(pairs []string) map[string]string {
	if len(pairs) == 0 {
		return nil
	}
	m := make(map[string]string, len(pairs))
	for _, p := range pairs {
		name, pass, _ := strings.Cut(p, ":")
		m[name] = pass
	}
	return m
}

func (d *daemon) httpURL() string {
	if d.httpAddr == nil {
		return ""
	}
	return d.scheme() + "://" + d.httpAddr.String()
}

func (d *daemon) scheme() string {
	if d.cfg.TLSCert != "" {
		return "https"
	}
	return "http"
}

// isUnspecified reports whether a listener is bound to every interface (0.0.0.0 or ::).
func isUnspecified(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsUnspecified()
}

// dialable is an address to reach a listener from this machine: a listener on every
// interface is reached through loopback.
func dialable(a net.Addr) string {
	if isUnspecified(a) {
		_, port, _ := net.SplitHostPort(a.String())
		return net.JoinHostPort("127.0.0.1", port)
	}
	return a.String()
}

// banner tells where the node listens.
func (d *daemon) banner(w io.Writer) {
	where := "in memory"
	if d.cfg.DataDir != "" {
		where = "data in " + d.cfg.DataDir
	}
	mode := "single node (" + where + ")"
	if len(d.cfg.Join) > 0 {
		mode = "joining the cluster (" + where + ")"
	}
	fmt.Fprintf(w, "geocache %s ready: %s, region %s (%g, %g), replica %s\n",
		buildVersion(), mode, d.cfg.Region, d.cfg.Lat, d.cfg.Lon, d.node.ReplicaID())
	if d.respAddr != nil {
		host, port, _ := net.SplitHostPort(dialable(d.respAddr))
		hint := "redis-cli -h " + host + " -p " + port
		if d.cfg.TLSCert != "" {
			hint += " --tls --insecure"
		}
		fmt.Fprintf(w, "  RESP    %-28s %s\n", d.respAddr, hint)
	} else {
		fmt.Fprintf(w, "  RESP    disabled\n")
	}
	if d.httpAddr != nil {
		hint := "curl "
		if d.cfg.TLSCert != "" {
			hint += "-k "
		}
		fmt.Fprintf(w, "  HTTP    %-28s %s%s/v1/keys/hello\n", d.httpURL(), hint, d.scheme()+"://"+dialable(d.httpAddr))
	} else {
		fmt.Fprintf(w, "  HTTP    disabled\n")
	}
	fmt.Fprintf(w, "  libp2p  %s\n", p2pStatus(d.node))
	if d.origin != nil {
		fmt.Fprintf(w, "  origin  %s (timeout %s, dedup per %s)\n", d.origin.base.Redacted(), d.cfg.OriginTimeout, d.cfg.OriginDedup)
	}
}

// shutdown stops accepting, lets connections finish, then closes the node, which leaves the
// cluster and flushes queued writes to the peers.
func (d *daemon) shutdown(ctx context.Context) error {
	if d.stopLoadWait != nil {
		d.stopLoadWait()
	}
	var errs []error
	var wg sync.WaitGroup
	var mu sync.Mutex
	if d.resp != nil {
		wg.Go(func() {
			if err := d.resp.Shutdown(ctx); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("RESP: %w", err))
				mu.Unlock()
			}
		})
	}
	if d.http != nil {
		// Writes waiting for other regions (?replicas=N) answer now with the count so far, as
		// RESP WAIT does, instead of holding the shutdown until their timeout.
		d.api.ReleaseWaits()
		wg.Go(func() {
			if err := d.http.Shutdown(ctx); err != nil {
				d.http.Close()
				mu.Lock()
				errs = append(errs, fmt.Errorf("HTTP: %w", err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if d.stopSampling != nil {
		d.stopSampling()
	}
	if d.stopBG != nil {
		d.stopBG()
	}
	d.wg.Wait()
	// Close announces the node is leaving, publishes the writes still queued (bounded), and
	// stops replication. It takes no deadline, and closing the libp2p host can outlast ours
	// (a peer that stopped answering), so it is waited for only until the deadline: past it
	// the process exits anyway.
	closed := make(chan error, 1)
	go func() { closed <- d.node.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			errs = append(errs, err)
		}
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("closing the node: %w", ctx.Err()))
	}
	if d.origin != nil {
		d.origin.close()
	}
	return errors.Join(errs...)
}
