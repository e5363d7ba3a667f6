package testnet

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestFullRestartScenario stops every node (SIGTERM: each saves its cache snapshot) and starts
// them all again: each must serve the keys it held from its own snapshot (no peer was up to
// fetch them from), and the checker must find nothing wrong afterwards.
func TestFullRestartScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test network (builds cmd/geocache and runs 3 real nodes for about 30 s): skipped with -short")
	}
	bin := geocacheBinary(t)
	sc, err := LookupScenario("fullrestart")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	res, err := RunScenario(ctx, RunConfig{Binary: bin, Out: t.TempDir(), Progress: testLog{t}, ConvergeTimeout: 30 * time.Second}, sc)
	if res == nil {
		t.Fatalf("scenario did not start: %v", err)
	}
	if err != nil {
		t.Errorf("scenario did not complete: %v", err)
	}
	for _, v := range res.Check.Violations {
		t.Errorf("violation: %s", v)
	}
	if !res.Converged {
		t.Errorf("no agreement after the restart")
	}
	warm := 0
	for _, m := range res.Measures {
		if strings.HasPrefix(m.Name, "warm restart ") {
			warm++
		}
	}
	if warm != len(res.Nodes) || warm == 0 {
		t.Errorf("warm check ran on %d of %d nodes: %+v", warm, len(res.Nodes), res.Measures)
	}
	if res.Check.AckedWrites < 50 {
		t.Errorf("too little checked: %+v", res.Check)
	}
}
