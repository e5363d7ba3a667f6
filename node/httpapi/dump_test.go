package httpapi_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/geocache/geocache/node"
	"github.com/geocache/geocache/node/httpapi"
)

var (
	_ httpapi.Dumper  = (*node.Node)(nil)
	_ httpapi.Locator = (*node.Node)(nil)
)

func TestDump(t *testing.T) {
	n := newNode(t, nil)
	ctx := context.Background()
	r, _ := n.Set(ctx, "a", []byte("1"), node.SetOptions{})
	n.Set(ctx, "gone", []byte("x"), node.SetOptions{})
	n.Delete(ctx, "gone")
	srv := newAPI(t, n, httpapi.Config{})
	resp, body := do(t, "GET", srv.URL+"/v1/dump", "", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	got := map[string]map[string]any{}
	for _, line := range strings.Split(strings.TrimSpace(body), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("bad line %q: %v", line, err)
		}
		got[m["key"].(string)] = m
	}
	if len(got) != 2 {
		t.Fatalf("dump has %d registers, want 2: %s", len(got), body)
	}
	if got["a"]["value_b64"] != "MQ==" || got["a"]["version"] != r.Version.String() || got["a"]["deleted"] != false {
		t.Fatalf("a = %v", got["a"])
	}
	if got["gone"]["deleted"] != true {
		t.Fatalf("gone = %v", got["gone"])
	}
}

func TestNearest(t *testing.T) {
	n := newNode(t, nil)
	srv := newAPI(t, n, httpapi.Config{})
	resp, body := do(t, "GET", srv.URL+"/v1/nearest?lat=51.5&lon=-0.1&count=2", "", nil)
	var out []map[string]any
	if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &out) != nil || len(out) != 1 || out[0]["region"] != "eu-west" {
		t.Fatalf("nearest: %d %s", resp.StatusCode, body)
	}
	for bad, msg := range map[string]string{
		"":                     "lat and lon must be degrees",
		"?lat=91&lon=0":        "lat and lon must be degrees",
		"?lat=x&lon=1":         "lat and lon must be degrees",
		"?lat=1&lon=1&count=0": `count must be 1..1000, got "0"`,
	} {
		// Errors are JSON, as everywhere in the API.
		resp, body := do(t, "GET", srv.URL+"/v1/nearest"+bad, "", nil)
		var e map[string]string
		if resp.StatusCode != 400 || resp.Header.Get("Content-Type") != "application/json" ||
			json.Unmarshal([]byte(body), &e) != nil || !strings.HasPrefix(e["error"], msg) {
			t.Fatalf("nearest%s: %d %s %q, want 400 and a JSON error %q", bad, resp.StatusCode,
				resp.Header.Get("Content-Type"), body, msg)
		}
	}
}
