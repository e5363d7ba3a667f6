package httpapi_test

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"slices"
	"testing"

	"github.com/geocache/geocache/node/httpapi"
)

// GET of a hash answers a JSON object, of a set a JSON array, of a sorted set an array of
// {member, score}, with the version and type in the headers.
func TestGetCollectionsAsJSON(t *testing.T) {
	n := newNode(t, nil)
	srv := newAPI(t, n, httpapi.Config{})
	ctx := context.Background()
	if _, err := n.HSet(ctx, "session:1", map[string][]byte{"user": []byte("ada"), "cart": []byte("3")}); err != nil {
		t.Fatal(err)
	}
	n.SAdd(ctx, "tags", "go", "crdt")
	n.ZAdd(ctx, "board", "b", 2)
	n.ZAdd(ctx, "board", "a", 10)
	n.ZAdd(ctx, "board", "top", math.Inf(1))

	resp, body := do(t, "GET", srv.URL+"/v1/keys/session:1", "", nil)
	var h map[string]string
	if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &h) != nil || len(h) != 2 || h["user"] != "ada" || h["cart"] != "3" {
		t.Fatalf("hash: %d %q", resp.StatusCode, body)
	}
	if resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("X-Geocache-Type") != "hash" || resp.Header.Get("ETag") == "" {
		t.Fatalf("hash headers: %v", resp.Header)
	}
	// Conditional GET with the ETag.
	if resp2, _ := do(t, "GET", srv.URL+"/v1/keys/session:1", "", map[string]string{"If-None-Match": resp.Header.Get("ETag")}); resp2.StatusCode != http.StatusNotModified {
		t.Fatalf("If-None-Match: %d", resp2.StatusCode)
	}

	resp, body = do(t, "GET", srv.URL+"/v1/keys/tags", "", nil)
	var s []string
	if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &s) != nil || !slices.Equal(s, []string{"crdt", "go"}) {
		t.Fatalf("set: %d %q", resp.StatusCode, body)
	}

	resp, body = do(t, "GET", srv.URL+"/v1/keys/board", "", nil)
	if resp.StatusCode != 200 || body != `[{"member":"b","score":2},{"member":"a","score":10},{"member":"top","score":"inf"}]`+"\n" {
		t.Fatalf("zset: %d %q", resp.StatusCode, body)
	}
	if resp.Header.Get("X-Geocache-Type") != "zset" {
		t.Fatalf("zset type header %q", resp.Header.Get("X-Geocache-Type"))
	}

	// HEAD carries the headers without the body.
	resp, body = do(t, "HEAD", srv.URL+"/v1/keys/tags", "", nil)
	if resp.StatusCode != 200 || body != "" || resp.Header.Get("X-Geocache-Type") != "set" {
		t.Fatalf("HEAD: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	// An emptied collection is absent.
	n.SRem(ctx, "tags", "go", "crdt")
	if resp, _ := do(t, "GET", srv.URL+"/v1/keys/tags", "", nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("emptied set: %d", resp.StatusCode)
	}
}
