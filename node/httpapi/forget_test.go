package httpapi_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/geocache/geocache/node"
	"github.com/geocache/geocache/node/httpapi"
)

// leaving is a backend that is not ready for a reason and forgets members by a script.
type leaving struct {
	*node.Node
	why    string
	forgot []string
}

func (l *leaving) Ready() bool                 { return false }
func (l *leaving) ReadyReason() (bool, string) { return false, l.why }
func (l *leaving) Forget(_ context.Context, id string) error {
	switch id {
	case "self":
		return node.ErrForgetSelf
	case "up":
		return fmt.Errorf("%w: up", node.ErrMemberConnected)
	case "gone":
		l.forgot = append(l.forgot, id)
		return nil
	}
	return fmt.Errorf("%w: %s", node.ErrUnknownMember, id)
}

func TestReadyzSaysWhy(t *testing.T) {
	t.Parallel()
	b := &leaving{Node: newNode(t, nil), why: "never reached a member of --join (/ip4/127.0.0.1/tcp/1/p2p/x)"}
	srv := newAPI(t, b, httpapi.Config{})
	resp, body := do(t, "GET", srv.URL+"/readyz", "", nil)
	if resp.StatusCode != 503 || !strings.Contains(body, `"ready": false`) || !strings.Contains(body, `"reason": "never reached a member of --join (/ip4/127.0.0.1/tcp/1/p2p/x)"`) {
		t.Fatalf("readyz: %d %s", resp.StatusCode, body)
	}
	// Liveness stays separate.
	if resp, _ := do(t, "GET", srv.URL+"/healthz", "", nil); resp.StatusCode != 200 {
		t.Fatalf("healthz: %d", resp.StatusCode)
	}
}

func TestForgetMemberEndpoint(t *testing.T) {
	t.Parallel()
	b := &leaving{Node: newNode(t, nil)}
	srv := newAPI(t, b, httpapi.Config{Tokens: []string{"secret"}})
	auth := map[string]string{"Authorization": "Bearer secret"}
	if resp, _ := do(t, "DELETE", srv.URL+"/v1/members/gone", "", nil); resp.StatusCode != 401 || len(b.forgot) != 0 {
		t.Fatalf("without the token: %d, forgot %v", resp.StatusCode, b.forgot)
	}
	for _, tc := range []struct {
		id   string
		code int
		body string
	}{
		{"gone", 200, `"forgotten": "gone"`},
		{"self", 400, "cannot forget this node itself"},
		{"up", 409, "member is connected"},
		{"who", 404, "no such member: who"},
	} {
		resp, body := do(t, "DELETE", srv.URL+"/v1/members/"+tc.id, "", auth)
		if resp.StatusCode != tc.code || !strings.Contains(body, tc.body) {
			t.Errorf("DELETE %s: %d %s, want %d %q", tc.id, resp.StatusCode, body, tc.code, tc.body)
		}
	}
	if fmt.Sprint(b.forgot) != "[gone]" {
		t.Fatalf("forgot %v", b.forgot)
	}
}
