package resp

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/geocache/geocache/node"
)

// Persister is implemented by a Backend that saves its cache to disk (as *node.Node does with
// Config.DataDir); SAVE, BGSAVE, LASTSAVE, INFO persistence and the LOADING reply use it.
// Save may block for the length of a save; the other methods must not block.
type Persister interface {
	Save(ctx context.Context) error
	BGSave() error
	LastSave() time.Time
	Loading() bool
	PersistenceStats() node.PersistenceStats
}

// errLoading is Redis's reply to a command that needs the dataset while it loads.
const errLoading = "LOADING Redis is loading the dataset in memory"

// allowedWhileLoading lists the commands Redis flags "loading": they answer while the dataset
// loads; every other command gets errLoading.
var allowedWhileLoading = map[string]bool{
	"ping": true, "echo": true, "hello": true, "auth": true, "select": true, "quit": true,
	"reset": true, "info": true, "time": true, "lastsave": true, "command": true,
	"command|count": true, "command|info": true, "command|docs": true, "command|list": true,
	"config|get": true, "client|id": true, "client|getname": true, "client|setname": true,
	"client|setinfo": true, "client|info": true, "client|list": true,
}

// refuseWhileLoading reports (and answers) a command that must wait for the dataset.
func (s *Server) refuseWhileLoading(c *client, cmd *command) bool {
	// Loading first: it is an atomic load, the map look-up a hash of the name on every command.
	if s.persist == nil || !s.persist.Loading() || allowedWhileLoading[cmd.name] {
		return false
	}
	c.out = appendError(c.out, errLoading)
	return true
}

// persistError maps a persistence error to Redis's reply.
func persistError(err error) string {
	switch {
	case errors.Is(err, node.ErrSaveInProgress):
		return "ERR Background save already in progress"
	case errors.Is(err, node.ErrLoading):
		return errLoading
	}
	return backendError(err)
}

// cmdSave serves SAVE: the snapshot is written before the reply. The node keeps serving other
// connections meanwhile (it never forks and never holds a lock for long), so only this one
// waits, off the event loop.
func cmdSave(ctx context.Context, s *Server, c *client, _ [][]byte) {
	if s.persist == nil {
		c.out = appendError(c.out, "ERR no data directory: start geocache with --data-dir to persist the cache")
		return
	}
	run := func(ctx context.Context) {
		if err := s.persist.Save(ctx); err != nil {
			c.out = appendError(c.out, persistError(err))
			return
		}
		c.out = appendSimple(c.out, "OK")
	}
	if c.loop != nil {
		c.wait = &waitRequest{run: run}
		return
	}
	run(ctx)
}

// cmdBGSave serves BGSAVE [SCHEDULE].
func cmdBGSave(_ context.Context, s *Server, c *client, argv [][]byte) {
	schedule := false
	switch {
	case len(argv) == 2 && equalFold(argv[1], "schedule"):
		schedule = true
	case len(argv) > 1:
		c.out = appendError(c.out, "ERR syntax error")
		return
	}
	if s.persist == nil {
		c.out = appendError(c.out, "ERR no data directory: start geocache with --data-dir to persist the cache")
		return
	}
	err := s.persist.BGSave()
	switch {
	case err == nil:
		c.out = appendSimple(c.out, "Background saving started")
	case schedule && errors.Is(err, node.ErrSaveInProgress):
		// Redis would start another save after this one; the one running already holds every
		// write made before it started, which is what SCHEDULE is used for (a fresh backup).
		c.out = appendSimple(c.out, "Background saving scheduled")
	default:
		c.out = appendError(c.out, persistError(err))
	}
}

// cmdLastSave serves LASTSAVE: unix seconds of the last successful save (the start before one).
func cmdLastSave(_ context.Context, s *Server, c *client, _ [][]byte) {
	t := s.started
	if s.persist != nil {
		t = s.persist.LastSave()
	}
	c.out = appendInt(c.out, t.Unix())
}

// writePersistenceInfo writes INFO's persistence section with Redis's field names. Fields
// about forks and copy-on-write are 0: a save streams the store without forking.
func (s *Server) writePersistenceInfo(b *strings.Builder, line func(string, any)) {
	var st node.PersistenceStats
	last := s.started
	if s.persist != nil {
		st = s.persist.PersistenceStats()
		last = st.LastSave
	}
	b.WriteString("# Persistence\r\n")
	line("loading", b2i(st.Loading))
	line("async_loading", 0)
	line("current_cow_peak", 0)
	line("current_cow_size", 0)
	line("current_cow_size_age", 0)
	line("current_fork_perc", "0.00")
	line("current_save_keys_processed", 0)
	line("current_save_keys_total", 0)
	line("rdb_changes_since_last_save", st.ChangesSinceSave)
	line("rdb_bgsave_in_progress", b2i(st.SaveInProgress))
	line("rdb_last_save_time", last.Unix())
	status := "ok"
	if !st.LastSaveOK && st.Enabled {
		status = "err"
	}
	line("rdb_last_bgsave_status", status)
	lastSec, curSec := int64(-1), int64(-1)
	if st.Saves+st.Failures > 0 {
		lastSec = int64(st.LastSaveDuration / time.Second)
	}
	if st.SaveInProgress {
		curSec = int64(time.Since(st.SaveStarted) / time.Second)
	}
	line("rdb_last_bgsave_time_sec", lastSec)
	line("rdb_current_bgsave_time_sec", curSec)
	line("rdb_saves", st.Saves)
	line("rdb_last_cow_size", 0)
	line("rdb_last_load_keys_expired", st.LoadedExpired)
	line("rdb_last_load_keys_loaded", st.LoadedKeys)
	line("aof_enabled", 0)
	line("aof_rewrite_in_progress", 0)
	line("aof_rewrite_scheduled", 0)
	line("aof_last_rewrite_time_sec", -1)
	line("aof_current_rewrite_time_sec", -1)
	line("aof_last_bgrewrite_status", "ok")
	line("aof_rewrites", 0)
	line("aof_rewrites_consecutive_failures", 0)
	line("aof_last_write_status", "ok")
	line("aof_last_cow_size", 0)
	line("module_fork_in_progress", 0)
	line("module_fork_last_cow_size", 0)
	// geocache's own: the snapshot behind the rdb_ fields.
	line("snapshot_enabled", b2i(st.Enabled))
	line("snapshot_last_save_duration_sec", strconv.FormatFloat(st.LastSaveDuration.Seconds(), 'f', 3, 64))
	line("snapshot_last_save_bytes", st.LastSaveBytes)
	line("snapshot_last_save_keys", st.LastSaveKeys)
	line("snapshot_save_failures", st.Failures)
	line("snapshot_last_load_duration_sec", strconv.FormatFloat(st.LoadDuration.Seconds(), 'f', 3, 64))
	if st.LoadError != "" {
		line("snapshot_last_load_error", strings.NewReplacer("\r", " ", "\n", " ").Replace(st.LoadError))
	}
}
