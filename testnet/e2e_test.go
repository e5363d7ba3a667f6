package testnet

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testLog adapts t.Log to an io.Writer for progress lines.
type testLog struct{ t *testing.T }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// geocacheBinary builds cmd/geocache into a temporary directory, or returns
// $GEOCACHE_TESTNET_BIN when set (a prebuilt binary).
func geocacheBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("GEOCACHE_TESTNET_BIN"); p != "" {
		return p
	}
	bin := filepath.Join(t.TempDir(), "geocache")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/geocache/geocache/cmd/geocache")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/geocache: %v\n%s", err, out)
	}
	help, _ := exec.Command(bin, "--help").CombinedOutput()
	for _, flag := range []string{"--p2p-announce", "--clock-offset", "--join", "--data-dir"} {
		if !strings.Contains(string(help), flag) {
			t.Fatalf("cmd/geocache has no %s flag; the test network needs it (see docs/testnet.md)", flag)
		}
	}
	return bin
}

// TestCIScenario runs the short CI scenario end to end: real geocache processes behind the WAN
// emulator, a partition with heal, a kill -9 with restart, the checker and the report.
func TestCIScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test network (builds cmd/geocache and runs 3 real nodes for about a minute): skipped with -short")
	}
	bin := geocacheBinary(t)
	sc, err := LookupScenario("ci")
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	res, err := RunScenario(ctx, RunConfig{Binary: bin, Out: out, Progress: testLog{t}, ConvergeTimeout: 30 * time.Second}, sc)
	if res == nil {
		t.Fatalf("scenario did not start: %v", err)
	}
	if err != nil {
		t.Errorf("scenario did not complete: %v", err)
	}
	if err := WriteReport(out, "go test ./testnet -run TestCIScenario", res); err != nil {
		t.Fatal(err)
	}
	for _, v := range res.Check.Violations {
		t.Errorf("violation: %s", v)
	}
	if !res.Converged {
		t.Errorf("no agreement after the final heal")
	}
	if len(res.Audit.Bypasses) > 0 || res.AuditErr != "" {
		t.Errorf("nodes bypassed the emulator: %+v (%s)", res.Audit.Bypasses, res.AuditErr)
	}
	// The instruments must have measured something, or the test proves nothing.
	if res.Check.AckedWrites < 100 || res.Check.ExactVersions == 0 || res.Check.Judged == 0 {
		t.Errorf("too little checked: %+v", res.Check)
	}
	if len(res.Lag) != 6 {
		t.Errorf("lag pairs = %d, want 6", len(res.Lag))
	}
	for _, l := range res.Lag {
		if l.Lag.Count == 0 || l.Early > 0 {
			t.Errorf("lag %s -> %s: %d probes, %d faster than the one-way delay %v (a bypass)", l.From, l.To,
				l.Lag.Count, l.Early, l.OneWay)
		}
	}
	if res.Emu.Unclassified != 0 || len(res.Emu.Links) != 6 {
		t.Errorf("emulator: %d unattributed connections, %d links", res.Emu.Unclassified, len(res.Emu.Links))
	}
	for _, l := range res.Emu.Links {
		if l.Bytes == 0 {
			t.Errorf("link %s -> %s carried nothing", l.From, l.To)
		}
	}
	oneWay := map[[2]string]time.Duration{}
	var slowest time.Duration
	for _, l := range res.Lag {
		oneWay[[2]string{l.From, l.To}] = l.OneWay
		slowest = max(slowest, l.OneWay)
	}
	var warm, ready bool
	for _, m := range res.Measures {
		warm = warm || strings.Contains(m.Name, "caught up")
		// A round of writes must have crossed the slowest link before the scenario started.
		ready = ready || (m.Name == "gossip ready after connect" && m.Value >= slowest && slowest > 0)
	}
	if !warm {
		t.Errorf("no warm-up measured: %+v", res.Measures)
	}
	if !ready {
		t.Errorf("no gossip readiness measured: %+v", res.Measures)
	}
	if len(res.Probes) == 0 {
		t.Errorf("no per-probe record")
	}
	for _, p := range res.Probes {
		if d, ok := oneWay[[2]string{p.From, p.To}]; !ok || p.Lag < d || p.SetRTT <= 0 {
			t.Errorf("probe %+v: lag below the one-way delay %v, or an unknown pair", p, d)
			break
		}
	}
	if t.Failed() {
		b, _ := os.ReadFile(filepath.Join(out, "report.md"))
		t.Logf("report:\n%s", b)
	}
}
