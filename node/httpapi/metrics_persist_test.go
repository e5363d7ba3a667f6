package httpapi_test

import (
	"context"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/geocache/geocache/node"
	"github.com/geocache/geocache/node/httpapi"
)

func TestPersistenceMetrics(t *testing.T) {
	t.Parallel()
	n, err := node.New(node.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	api, err := httpapi.New(n, httpapi.Config{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api)
	defer srv.Close()
	ctx := context.Background()
	n.Set(ctx, "a", []byte("1"), node.SetOptions{})
	n.Set(ctx, "b", []byte("2"), node.SetOptions{})
	if err := n.Save(ctx); err != nil {
		t.Fatal(err)
	}
	n.Set(ctx, "c", []byte("3"), node.SetOptions{})
	size := n.PersistenceStats().LastSaveBytes
	_, body := do(t, "GET", srv.URL+"/metrics", "", nil)
	for _, want := range []string{
		`geocache_snapshot_saves_total{result="ok"} 1`,
		`geocache_snapshot_saves_total{result="failed"} 0`,
		`geocache_snapshot_last_save_entries 2`,
		`geocache_snapshot_changes_since_save 1`,
		`geocache_snapshot_loading 0`,
		"geocache_snapshot_last_save_bytes " + strconv.FormatInt(size, 10),
		"geocache_snapshot_last_save_seconds ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
