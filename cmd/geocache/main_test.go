package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the test binary act as the daemon, for the signal test.
func TestMain(m *testing.M) {
	if os.Getenv("GEOCACHE_TEST_RUN_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestConfigPrecedence(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "geocache.yaml")
	os.WriteFile(file, []byte(`
region: from-file
lat: 48.85
lon: 2.35
max-memory: 64MiB
default-ttl: 1h
join: [/ip4/10.0.0.1/tcp/7379/p2p/12D3KooWBen88rE78BWjSKfaD4KxfB3x1j3GeNHuQYXEJM6QpDBY, /ip4/10.0.0.2/tcp/7379/p2p/12D3KooWKuksLVLSkwcp4aoZA74QyAPXYpAxoSM5X23zAwwyKx9J]
user: ["alice:pw1"]
resp-listen: 127.0.0.1:7000
`), 0o600)
	cfg, err := loadConfig([]string{"--config", file, "--region=from-flag", "--max-entries", "5",
		"--join", "/ip4/10.0.0.9/tcp/7379/p2p/12D3KooWDBwRrAmoyxTQ72k5Ccj3iKsvPqNpwyQtKfVeDhm2Aho8"},
		env(map[string]string{"GEOCACHE_REGION": "from-env", "GEOCACHE_LAT": "1.5",
			"GEOCACHE_USER": "bob:pw2, carol:pw3", "GEOCACHE_IDLE_TIMEOUT": "30s"}), func() {})
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"region: flag over env over file", cfg.Region, "from-flag"},
		{"lat: env over file", cfg.Lat, 1.5},
		{"lon: file", cfg.Lon, 2.35},
		{"max-memory: file, with a unit", cfg.MaxMemory, ByteSize(64 << 20)},
		{"default-ttl: file", cfg.DefaultTTL, time.Hour},
		{"max-entries: flag", cfg.MaxEntries, 5},
		{"idle-timeout: env", cfg.IdleTimeout, 30 * time.Second},
		{"join: the flag replaces the file's list", strings.Join(cfg.Join, " "), "/ip4/10.0.0.9/tcp/7379/p2p/12D3KooWDBwRrAmoyxTQ72k5Ccj3iKsvPqNpwyQtKfVeDhm2Aho8"},
		{"user: the env replaces the file's list", strings.Join(cfg.Users, " "), "bob:pw2 carol:pw3"},
		{"resp-listen: file", cfg.RESPListen, "127.0.0.1:7000"},
		{"http-listen: default", cfg.HTTPListen, "127.0.0.1:8080"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("regoin: typo\n"), 0o600)
	badTTL := filepath.Join(dir, "badttl.yaml")
	os.WriteFile(badTTL, []byte("default-ttl: 5\n"), 0o600)
	for _, c := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--nosuch"}, nil, "unknown flag --nosuch"},
		{[]string{"stray"}, nil, "unexpected argument"},
		{[]string{"--region"}, nil, "needs a value"},
		{[]string{"--max-memory", "lots"}, nil, "not a size"},
		{[]string{"--idle-timeout", "5"}, nil, "not a duration"},
		{[]string{"--lat", "91"}, nil, "--lat must be within"},
		{[]string{"--tls-cert", "x.pem"}, nil, "go together"},
		{[]string{"--user", "nopassword"}, nil, "NAME:PASSWORD"},
		{[]string{"--http-token", "short"}, nil, "at least 16"},
		{[]string{"--log-level", "loud"}, nil, "--log-level"},
		{nil, map[string]string{"GEOCACHE_MAX_CLIENTS": "many"}, "GEOCACHE_MAX_CLIENTS: not an integer"},
		{[]string{"--config", bad}, nil, "line 1: unknown key regoin (keys are the flag names"},
		{[]string{"--config", badTTL}, nil, "line 1: cannot unmarshal !!int `5` into a duration"},
		// The RESP server needs room for the largest argument plus 128KiB: caught here, with the
		// flag names, rather than by resp.New with its field names.
		{[]string{"--max-value-size", "64KiB", "--max-request-size", "200KiB"}, nil,
			"--max-request-size (200KiB) must be at least 256KiB"},
		{[]string{"--config", filepath.Join(dir, "missing.yaml")}, nil, "reading the configuration file"},
	} {
		_, err := loadConfig(c.args, env(c.env), func() {})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("loadConfig(%q, %v) = %v, want an error containing %q", c.args, c.env, err, c.want)
		}
	}
}

func TestByteSize(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]ByteSize{"1048576": 1 << 20, "512KiB": 512 << 10, "256MiB": 256 << 20,
		"2GB": 2e9, "1g": 1 << 30, "1.5MiB": 3 << 19, "10 kb": 10000} {
		var b ByteSize
		if err := b.UnmarshalText([]byte(in)); err != nil || b != want {
			t.Errorf("%q = %d, %v; want %d", in, b, err, want)
		}
	}
	for _, in := range []string{"", "MiB", "-1", "5 parsecs"} {
		var b ByteSize
		if err := b.UnmarshalText([]byte(in)); err == nil {
			t.Errorf("%q parsed as %d", in, b)
		}
	}
	if s := ByteSize(256 << 20).String(); s != "256MiB" {
		t.Errorf("String = %q", s)
	}
}

func TestHelpIsCompleteAndGrouped(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	code := run(context.Background(), func() {}, []string{"--help"}, env(nil), &out, io.Discard)
	if code != 0 {
		t.Fatalf("--help exit code %d", code)
	}
	help := out.String()
	for _, g := range groups {
		if !strings.Contains(help, "\n"+g+":\n") {
			t.Errorf("help lacks the group %q", g)
		}
	}
	for _, o := range options() {
		if !strings.Contains(help, "--"+o.name) || !strings.Contains(help, envName(o.name)) {
			t.Errorf("help lacks --%s or %s", o.name, envName(o.name))
		}
	}
	for _, want := range []string{"--version", "SIGTERM", "(default 127.0.0.1:6379)", "(default 256MiB)"} {
		if !strings.Contains(help, want) {
			t.Errorf("help lacks %q", want)
		}
	}
}

func TestRefusesRemoteListenWithoutCredentials(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args []string
		want string // "" means accepted
	}{
		{[]string{"--resp-listen", "0.0.0.0:0", "--http-listen", ""}, "refusing to serve RESP on 0.0.0.0:0 without credentials"},
		{[]string{"--resp-listen", ":0", "--http-listen", ""}, "--allow-insecure-remote"},
		{[]string{"--resp-listen", "", "--http-listen", "[::]:0"}, "refusing to serve HTTP on [::]:0 without credentials"},
		{[]string{"--resp-listen", "0.0.0.0:0", "--http-listen", "", "--password", "pw"}, ""},
		{[]string{"--resp-listen", "", "--http-listen", "0.0.0.0:0", "--http-token", "0123456789abcdef"}, ""},
		{[]string{"--resp-listen", "0.0.0.0:0", "--http-listen", "0.0.0.0:0", "--allow-insecure-remote"}, ""},
		{[]string{"--resp-listen", "localhost:0", "--http-listen", "[::1]:0"}, ""},
		// libp2p: a routable listen address needs a cluster key or an allow-list.
		{[]string{"--p2p-listen", "/ip4/0.0.0.0/tcp/7379"}, "refusing to listen for replication on /ip4/0.0.0.0/tcp/7379 without a cluster key"},
		{[]string{"--p2p-listen", "/ip4/127.0.0.1/tcp/7379", "--p2p-listen", "/ip6/::/tcp/7379"}, "--allow-insecure-remote to accept any peer"},
		{[]string{"--p2p-listen", "/dns4/cache.example.com/tcp/7379"}, "without a cluster key"},
		{[]string{"--p2p-listen", "/ip4/0.0.0.0/tcp/7379", "--cluster-key", "s3cret"}, ""},
		{[]string{"--p2p-listen", "/ip4/0.0.0.0/tcp/7379", "--peer", "12D3KooWA"}, ""},
		{[]string{"--p2p-listen", "/ip4/0.0.0.0/tcp/7379", "--allow-insecure-remote"}, ""},
		{[]string{"--p2p-listen", "/ip4/127.8.2.1/tcp/7379", "--p2p-listen", "/ip6/::1/tcp/7379", "--p2p-listen", "/dns/localhost/tcp/1"}, ""},
	} {
		cfg, err := loadConfig(c.args, env(nil), func() {})
		if err != nil {
			t.Fatal(err)
		}
		err = checkExposure(cfg)
		if (c.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%v: %v, want %q", c.args, err, c.want)
		}
	}
}

// startDaemon runs the daemon in-process on free ports and returns its banner.
func startDaemon(t *testing.T, args ...string) (banner string, stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	all := append([]string{"--resp-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
		"--p2p-listen", "/ip4/127.0.0.1/tcp/0", "--log-level", "warn"}, args...)
	go func() {
		done <- run(ctx, func() {}, all, env(nil), pw, io.Discard)
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	var lines []string
	for len(lines) < 4 && sc.Scan() {
		lines = append(lines, sc.Text())
	}
	go io.Copy(io.Discard, pr)
	if len(lines) < 4 {
		cancel()
		t.Fatalf("daemon did not start: %q (exit %d)", lines, <-done)
	}
	var once sync.Once
	code := 0
	stop = func() int {
		once.Do(func() { cancel(); code = <-done })
		return code
	}
	t.Cleanup(func() { stop() })
	return strings.Join(lines, "\n"), stop
}

var addrRE = regexp.MustCompile(`RESP\s+(\S+)[\s\S]*HTTP\s+(\S+)[\s\S]*libp2p\s+(\S+)`)

func TestRunServesAndShutsDown(t *testing.T) {
	t.Parallel()
	banner, stop := startDaemon(t, "--region", "eu-west", "--lat", "48.8", "--lon", "2.3")
	m := addrRE.FindStringSubmatch(banner)
	if m == nil || !strings.Contains(banner, "region eu-west (48.8, 2.3)") || !strings.Contains(banner, "libp2p") ||
		!strings.Contains(banner, "single node (in memory)") {
		t.Fatalf("banner:\n%s", banner)
	}
	respAddr, httpURL := m[1], m[2]
	c, err := net.Dial("tcp", respAddr)
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("*3\r\n$3\r\nSET\r\n$5\r\nhello\r\n$5\r\nworld\r\n"))
	r := bufio.NewReader(c)
	if line, _ := r.ReadString('\n'); line != "+OK\r\n" {
		t.Fatalf("SET: %q", line)
	}
	resp, err := http.Get(httpURL + "/v1/keys/hello")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "world" {
		t.Fatalf("HTTP GET: %q", body)
	}
	resp, err = http.Get(httpURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(metrics), "geocache_resp_commands_total 1") {
		t.Errorf("metrics lack the RESP counters:\n%.2000s", metrics)
	}
	if code := stop(); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	// The connection is closed and nothing listens any more.
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := r.ReadByte(); err != io.EOF {
		t.Fatalf("RESP connection after shutdown: %v", err)
	}
	if _, err := net.Dial("tcp", respAddr); err == nil {
		t.Fatal("RESP still listening")
	}
}

// respDo sends one command and reads a one-line reply (or a bulk string's payload).
func respDo(t *testing.T, r *bufio.Reader, c net.Conn, args ...string) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte(b.String())); err != nil {
		t.Fatal(err)
	}
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(line, "$") && line != "$-1\r\n" {
		payload, _ := r.ReadString('\n')
		return strings.TrimSuffix(payload, "\r\n")
	}
	return strings.TrimSuffix(line, "\r\n")
}

// TestTwoDaemonsReplicate starts two daemons, the second joining the first, and checks that a
// write on one is read on the other and that WAIT sees the acknowledgement.
func TestTwoDaemonsReplicate(t *testing.T) {
	t.Parallel()
	bannerA, _ := startDaemon(t, "--region", "eu-west", "--cluster-key", "test-secret")
	ma := addrRE.FindStringSubmatch(bannerA)
	if ma == nil || !strings.Contains(ma[3], "/p2p/") {
		t.Fatalf("banner A:\n%s", bannerA)
	}
	bannerB, _ := startDaemon(t, "--region", "us-east", "--cluster-key", "test-secret", "--join", ma[3],
		"--max-memory", "256KiB")
	mb := addrRE.FindStringSubmatch(bannerB)
	if mb == nil || !strings.Contains(bannerB, "joining the cluster") {
		t.Fatalf("banner B:\n%s", bannerB)
	}
	ca, err := net.Dial("tcp", ma[1])
	if err != nil {
		t.Fatal(err)
	}
	defer ca.Close()
	cb, err := net.Dial("tcp", mb[1])
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Close()
	ra, rb := bufio.NewReader(ca), bufio.NewReader(cb)
	if got := respDo(t, ra, ca, "SET", "greeting", "hello from eu-west"); got != "+OK" {
		t.Fatalf("SET on A: %q", got)
	}
	if got := respDo(t, ra, ca, "WAIT", "1", "5000"); got != ":1" {
		t.Fatalf("WAIT 1 on A: %q", got)
	}
	if got := respDo(t, rb, cb, "GET", "greeting"); got != "hello from eu-west" {
		t.Fatalf("GET on B after WAIT: %q", got)
	}
	// B evicts the key under memory pressure; GET reads it through from A (off B's event
	// loop), and the connection stays usable for pipelined commands after it.
	big := strings.Repeat("x", 1000)
	for i := 0; respDo(t, rb, cb, "EXISTS", "greeting") == ":1"; i++ {
		if i > 2000 {
			t.Fatal("greeting never evicted on B")
		}
		respDo(t, rb, cb, "SET", fmt.Sprint("fill", i), big)
	}
	if got := respDo(t, rb, cb, "GET", "greeting"); got != "hello from eu-west" {
		t.Fatalf("GET on B after eviction (read-through): %q", got)
	}
	if got := respDo(t, rb, cb, "GET", "nowhere"); got != "(nil)" && got != "$-1" {
		t.Fatalf("GET of an absent key on B: %q", got)
	}
	if got := respDo(t, rb, cb, "PING"); got != "+PONG" {
		t.Fatalf("PING after read-through: %q", got)
	}
	info := ""
	waitFor(t, func() bool {
		resp, err := http.Get(mb[2] + "/v1/members")
		if err != nil {
			return false
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		info = string(b)
		return strings.Contains(info, `"region": "eu-west"`) && strings.Contains(info, `"resp": "`+ma[1]+`"`)
	})
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 15s")
		}
		<-tick.C
	}
}

func TestClusterFlagsNeedAListenAddress(t *testing.T) {
	t.Parallel()
	var stderr strings.Builder
	code := run(context.Background(), func() {}, []string{"--resp-listen", "127.0.0.1:0", "--http-listen", "",
		"--p2p-listen", "", "--join", "/ip4/10.0.0.1/tcp/7379/p2p/12D3KooWBen88rE78BWjSKfaD4KxfB3x1j3GeNHuQYXEJM6QpDBY"}, env(nil), io.Discard, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "need a --p2p-listen") {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
}

// TestSignalShutdown runs the real main in a child process and stops it with SIGTERM.
func TestSignalShutdown(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(os.Args[0], "--resp-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
		"--p2p-listen", "/ip4/127.0.0.1/tcp/0", "--shutdown-timeout", "5s")
	cmd.Env = append(os.Environ(), "GEOCACHE_TEST_RUN_MAIN=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(out)
	if !sc.Scan() || !strings.Contains(sc.Text(), "ready") {
		t.Fatalf("no banner: %q %s", sc.Text(), stderr.String())
	}
	go io.Copy(io.Discard, out)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- cmd.Wait() }()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no exit within 10s of SIGTERM")
	}
	if !strings.Contains(stderr.String(), "stopped") {
		t.Errorf("logs lack the shutdown: %s", stderr.String())
	}
	if strings.Contains(stderr.String(), "level=ERROR") {
		t.Errorf("a normal shutdown logged an ERROR: %s", stderr.String())
	}
}

func TestEnvironmentEmptyValues(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "geocache.yaml")
	os.WriteFile(file, []byte("region: from-file\njoin: [/ip4/10.0.0.1/tcp/7379/p2p/12D3KooWBen88rE78BWjSKfaD4KxfB3x1j3GeNHuQYXEJM6QpDBY]\n"), 0o600)
	cfg, err := loadConfig([]string{"--config", file}, env(map[string]string{
		// An empty listen address disables the listener, as the empty flag does.
		"GEOCACHE_HTTP_LISTEN": "", "GEOCACHE_P2P_LISTEN": "", "GEOCACHE_RESP_LISTEN": "",
		// Any other empty variable counts as unset: the file's or the default value stays.
		"GEOCACHE_REGION": "", "GEOCACHE_JOIN": "", "GEOCACHE_LOG_LEVEL": "", "GEOCACHE_MAX_CLIENTS": "",
		"GEOCACHE_ALLOW_INSECURE_REMOTE": "", "GEOCACHE_DEFAULT_TTL": "",
	}), func() {})
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"http-listen", cfg.HTTPListen, ""},
		{"resp-listen", cfg.RESPListen, ""},
		{"p2p-listen", len(cfg.P2PListen), 0},
		{"region", cfg.Region, "from-file"},
		{"join", strings.Join(cfg.Join, ","), "/ip4/10.0.0.1/tcp/7379/p2p/12D3KooWBen88rE78BWjSKfaD4KxfB3x1j3GeNHuQYXEJM6QpDBY"},
		{"log-level", cfg.LogLevel, "info"},
		{"max-clients", cfg.MaxClients, 10000},
		{"allow-insecure-remote", cfg.AllowInsecureRemote, false},
		{"default-ttl", cfg.DefaultTTL, time.Duration(0)},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestAnnounceAddresses(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--resp-announce", "cache.example.com"}, "--resp-announce wants HOST:PORT"},
		{[]string{"--http-announce", "cache.example.com:8080"}, "--http-announce wants a URL"},
		{[]string{"--http-announce", "ftp://cache.example.com"}, "--http-announce wants a URL"},
	} {
		if _, err := loadConfig(c.args, env(nil), func() {}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want an error containing %q", c.args, err, c.want)
		}
	}
	banner, _ := startDaemon(t, "--resp-announce", "cache.example.com:6379",
		"--http-announce", "https://cache.example.com:8443/")
	m := addrRE.FindStringSubmatch(banner)
	if m == nil {
		t.Fatalf("banner:\n%s", banner)
	}
	resp, err := http.Get(m[2] + "/v1/members")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`"resp": "cache.example.com:6379"`, `"http": "https://cache.example.com:8443"`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/v1/members lacks %s:\n%s", want, body)
		}
	}
}

func TestBannerOnEveryInterface(t *testing.T) {
	t.Parallel()
	banner, _ := startDaemon(t, "--resp-listen", "0.0.0.0:0", "--http-listen", "0.0.0.0:0",
		"--allow-insecure-remote")
	// The hints must work when pasted: a listener on every interface is reached on loopback.
	if !regexp.MustCompile(`redis-cli -h 127\.0\.0\.1 -p \d+`).MatchString(banner) ||
		!regexp.MustCompile(`curl http://127\.0\.0\.1:\d+/v1/keys/hello`).MatchString(banner) {
		t.Fatalf("banner hints:\n%s", banner)
	}
}

// The banner says where the data lives: with --data-dir it is not "in memory".
func TestBannerWithDataDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	banner, _ := startDaemon(t, "--data-dir", dir)
	if strings.Contains(banner, "in memory") || !strings.Contains(banner, "single node (data in "+dir+")") {
		t.Fatalf("banner with --data-dir:\n%s", banner)
	}
}
