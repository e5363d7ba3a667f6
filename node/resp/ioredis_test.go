package resp_test

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/geocache/geocache/node/resp"
)

// TestIORedis drives the server with ioredis, unchanged (testdata/ioredis/multi.js): multi(),
// WATCH, EXECABORT and a script. .ci/run installs it (npm ci in testdata/ioredis); where it is
// required (GEOCACHE_REQUIRE_REDIS) and missing, the test fails.
func TestIORedis(t *testing.T) {
	t.Parallel()
	dir := filepath.Join("testdata", "ioredis")
	_, errNode := exec.LookPath("node")
	_, errMod := os.Stat(filepath.Join(dir, "node_modules", "ioredis"))
	if errNode != nil || errMod != nil {
		if os.Getenv("GEOCACHE_REQUIRE_REDIS") != "" {
			t.Fatalf("node and ioredis are required (npm ci --prefix %s): node: %v, ioredis: %v", dir, errNode, errMod)
		}
		t.Skipf("node or ioredis missing (npm ci --prefix %s)", dir)
	}
	addr, _, _ := startGeocache(t, resp.Config{}, nil)
	host, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command("node", "multi.js", host, port)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("ioredis: %v\n%s", err, out)
	}
}
