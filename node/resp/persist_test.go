package resp_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/geocache/geocache/node"
	"github.com/geocache/geocache/node/resp"
)

// SAVE, BGSAVE and LASTSAVE against redis-server, both saving to a temporary directory.
func TestDifferentialPersistence(t *testing.T) {
	redisAddr := startRedis(t, "--dir", t.TempDir())
	steps := []step{
		cmd("SET", "k", "v"),
		cmd("SAVE"),
		cmd("SAVE", "now"),
		cmd("LASTSAVE").anyInt(),
		cmd("LASTSAVE", "x"),
		cmd("BGSAVE", "x"),
		cmd("BGSAVE", "schedule", "x"),
		cmd("BGSAVE"),
	}
	for _, mode := range transports {
		t.Run(mode.name, func(t *testing.T) {
			dir := t.TempDir()
			geoAddr, _, _ := startGeocache(t, resp.Config{EventLoops: mode.loops},
				func(c *node.Config) { c.DataDir = dir })
			red := dialRaw(t, redisAddr)
			waitUntil(t, 10*time.Second, func() bool { return strings.Contains(red.do(t, "INFO", "persistence"), "rdb_bgsave_in_progress:0") })
			geo := dialRaw(t, geoAddr)
			for i, st := range steps {
				want := run(t, red, st)
				got := run(t, geo, st)
				if !equivalent(st, want, got) {
					t.Fatalf("step %d %s:\nredis:    %q\ngeocache: %q", i, st.desc, want, got)
				}
			}
		})
	}
}

// INFO persistence carries every field redis-server's does, in the same order.
func TestInfoPersistenceFields(t *testing.T) {
	redisAddr := startRedis(t)
	dir := t.TempDir()
	geoAddr, _, _ := startGeocache(t, resp.Config{}, func(c *node.Config) { c.DataDir = dir })
	fields := func(info string) []string {
		var out []string
		for _, m := range regexp.MustCompile(`(?m)^([a-z_]+):`).FindAllStringSubmatch(info, -1) {
			out = append(out, m[1])
		}
		return out
	}
	want := fields(dialRaw(t, redisAddr).do(t, "INFO", "persistence"))
	got := fields(dialRaw(t, geoAddr).do(t, "INFO", "persistence"))
	if len(got) < len(want) || strings.Join(got[:len(want)], ",") != strings.Join(want, ",") {
		t.Fatalf("INFO persistence fields:\nredis:    %v\ngeocache: %v", want, got)
	}
	geo := dialRaw(t, geoAddr)
	geo.do(t, "SET", "a", "1")
	if r := geo.do(t, "SAVE"); r != "+OK\r\n" {
		t.Fatalf("SAVE = %q", r)
	}
	info := geo.do(t, "INFO", "persistence")
	for _, f := range []string{"rdb_changes_since_last_save:0\r\n", "rdb_saves:1\r\n", "snapshot_last_save_keys:1\r\n", "rdb_last_bgsave_status:ok\r\n"} {
		if !strings.Contains(info, f) {
			t.Fatalf("INFO persistence lacks %q:\n%s", f, info)
		}
	}
}
