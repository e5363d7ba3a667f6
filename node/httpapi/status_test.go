package httpapi_test

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/geocache/geocache/node"
	"github.com/geocache/geocache/node/httpapi"
)

// statusCluster starts three nodes over real libp2p on loopback, joined through the first, then
// closes the third (it announces that it leaves) and writes on the first two. It serves the
// first node's API with a fast sampler and returns its URL.
func statusCluster(t *testing.T) string {
	t.Helper()
	mk := func(region string, join []string) *node.Node {
		n, err := node.New(node.Config{Region: region, ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}, Join: join,
			Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close() })
		return n
	}
	a := mk("eu-west", nil)
	b := mk("us-east", a.P2PAddrs())
	c := mk("ap-south", a.P2PAddrs())
	waitUntil(t, "a sees b and c serving", func() bool { return countState(a, "serving") == 3 })
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "a sees c leave", func() bool { return countState(a, "left") == 1 })

	api, err := httpapi.New(a, httpapi.Config{SampleInterval: 100 * time.Millisecond, SampleWindow: time.Minute,
		Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { api.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)

	// Writes on both live nodes: a's are local, b's reach a by replication.
	for i := range 50 {
		for _, n := range []*node.Node{a, b} {
			if _, err := n.Set(context.Background(), fmt.Sprintf("%s-%d", n.Region(), i), []byte("v"), node.SetOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitUntil(t, "b's writes applied on a", func() bool { return a.ReplicationStats().DeltasApplied >= 50 })
	// The charts show a rise of both lines once a sample after the writes is in the ring.
	waitUntil(t, "the charts show the writes", func() bool {
		_, body := do(t, "GET", srv.URL+"/", "", nil)
		return polylineRises(body, "local") && polylineRises(body, "from peers")
	})
	return srv.URL
}

func countState(n *node.Node, state string) int {
	count := 0
	for _, m := range n.Members() {
		if m.State == state && (m.Self || m.Reachable || state == "left") {
			count++
		}
	}
	return count
}

// waitUntil polls cond until it holds, failing the test after a deadline generous enough for a
// loaded machine (it asserts what happens, not how fast).
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			t.Fatalf("timed out waiting until %s", what)
		case <-tick.C:
		}
	}
}

var pointsRE = regexp.MustCompile(`data-series="([^"]+)"[^>]*points="([^"]*)"`)

// polylineRises reports whether the named series has a point above the chart's baseline.
func polylineRises(html, name string) bool {
	for _, m := range pointsRE.FindAllStringSubmatch(html, -1) {
		if m[1] != name {
			continue
		}
		for _, p := range strings.Fields(m[2]) {
			_, y, _ := strings.Cut(p, ",")
			if v, err := strconv.ParseFloat(y, 64); err == nil && v < 104 { // baseline: 120-16
				return true
			}
		}
	}
	return false
}

func TestStatusPageHTML(t *testing.T) {
	t.Parallel()
	url := statusCluster(t)
	resp, body := do(t, "GET", url+"/", "", nil)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{
		`data-state="serving" data-self="true"`, `<td>us-east</td><td class="state serving">serving</td><td class="link">connected</td>`,
		`<td>ap-south</td><td class="state left">left</td>`, `id="writes"`, `id="replication"`,
		`data-series="sent"`, `data-series="received"`, " ago</td>",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("status page lacks %q", want)
		}
	}
	if !regexp.MustCompile(`id="memory">[0-9.]+ (B|KiB|MiB)[< ]`).MatchString(body) {
		t.Error("memory is not shown in binary units")
	}
	if strings.Contains(body, "http://") || strings.Contains(body, "https://") {
		t.Error("status page refers to another site; it must be self-contained")
	}
}

// chromium returns the headless browser, or skips; with GEOCACHE_REQUIRE_CHROMIUM=1 (CI) its
// absence fails the test.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("GEOCACHE_REQUIRE_CHROMIUM") == "1" {
		t.Fatal("chromium not found and GEOCACHE_REQUIRE_CHROMIUM=1 (Debian package chromium)")
	}
	t.Skip("chromium is not installed (Debian package chromium); the status page's browser test needs it")
	return ""
}

// runChromium runs headless Chromium with args and returns its standard output.
func runChromium(t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	all := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--no-first-run", "--disable-extensions", "--disable-background-networking",
		"--user-data-dir=" + t.TempDir()}, args...)
	cmd := exec.CommandContext(ctx, bin, all...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
	}
	return stdout.Bytes()
}

func TestStatusPageInChromium(t *testing.T) {
	t.Parallel()
	bin := chromium(t)
	url := statusCluster(t) + "/"

	shot := filepath.Join(t.TempDir(), "status.png")
	runChromium(t, bin, "--hide-scrollbars", "--window-size=1200,900", "--screenshot="+shot, url)
	raw, err := os.ReadFile(shot)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 1200 || b.Dy() != 900 {
		t.Fatalf("screenshot is %v, want 1200x900", b)
	}
	// Not blank: a page with text and charts has many distinct colours.
	colours := map[uint32]bool{}
	for y := 0; y < img.Bounds().Dy(); y += 3 {
		for x := 0; x < img.Bounds().Dx(); x += 3 {
			r, g, b, _ := img.At(x, y).RGBA()
			colours[r>>8<<16|g>>8<<8|b>>8] = true
		}
	}
	if len(colours) < 8 {
		t.Fatalf("screenshot has %d colours: blank page?", len(colours))
	}
	if dir := os.Getenv("GEOCACHE_STATUS_SCREENSHOT"); dir != "" { // keep it to look at
		os.WriteFile(filepath.Join(dir, "status.png"), raw, 0o644)
	}

	// The DOM after the refresh script ran (virtual time runs its timers at once): the page was
	// fetched again and swapped in, and still shows the members and the charts.
	dom := string(runChromium(t, bin, "--virtual-time-budget=6000", "--dump-dom", url))
	m := regexp.MustCompile(`<body[^>]*data-updates="(\d+)"`).FindStringSubmatch(dom)
	if m == nil {
		t.Fatalf("no data-updates on body:\n%s", truncate(dom))
	}
	if n, _ := strconv.Atoi(m[1]); n < 1 {
		t.Fatalf("refresh script did not update the page (data-updates=%s)", m[1])
	}
	if strings.Contains(dom, `<span id="stale">`) {
		t.Fatal("page says it is not refreshing")
	}
	rows := regexp.MustCompile(`<tr class="member" data-state="(\w+)"`).FindAllStringSubmatch(dom, -1)
	var states []string
	for _, r := range rows {
		states = append(states, r[1])
	}
	// This node first, then the others by peer id.
	if len(states) != 3 || states[0] != "serving" || !slices.Contains(states[1:], "serving") || !slices.Contains(states[1:], "left") {
		t.Fatalf("member states %v, want serving (self), then serving and left", states)
	}
	if n := strings.Count(dom, `<polyline class="series"`); n != 4 {
		t.Fatalf("%d chart lines, want 4", n)
	}
	if !polylineRises(dom, "local") || !polylineRises(dom, "from peers") {
		t.Fatal("the write chart does not show the writes")
	}
}

func truncate(s string) string {
	if len(s) > 2000 {
		return s[:2000] + "…"
	}
	return s
}
