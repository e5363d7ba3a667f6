package resp

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"time"
)

// Config configures a Server. The zero value of every field means the default in its comment;
// New never modifies the caller's Config.
type Config struct {
	// Password is the password of the "default" user (Redis requirepass). Default "": no
	// password. When Password or Users is set, clients must AUTH (or HELLO ... AUTH) before
	// any other command.
	Password string

	// Users maps further user names to passwords, for AUTH user pass. Default none. When Users
	// is set and Password is not, the default user is disabled (every client must name a user).
	Users map[string]string

	// TLS, when non-nil, makes Serve speak TLS on every listener it is given.
	TLS *tls.Config

	// MaxClients bounds concurrent connections (Redis maxclients). Default 10000. A connection
	// over the bound gets "-ERR max number of clients reached" and is closed.
	MaxClients int

	// IdleTimeout closes a connection that sent nothing for this long (Redis timeout). Default
	// 5 minutes; negative disables it. A connection blocked in WAIT is not idle.
	IdleTimeout time.Duration

	// WriteTimeout closes a connection whose replies could not be written for this long (a
	// client that stopped reading). Default 30 s; negative disables it.
	WriteTimeout time.Duration

	// MaxBulkLen is the largest single argument accepted (Redis proto-max-bulk-len). Default
	// 8 MiB; larger arguments are a protocol error that closes the connection. Keep it above
	// the backend's largest value so that oversized values get a clean error reply instead.
	MaxBulkLen int

	// MaxRequestSize bounds the bytes of one request, all arguments included (Redis
	// client-query-buffer-limit). Default 32 MiB; a client exceeding it is disconnected. It
	// bounds a connection's input buffer.
	MaxRequestSize int

	// MaxPipeline is how many replies are buffered before they are written out, however many
	// pipelined requests are waiting. Default 1024. Output is also written whenever 64 KiB are
	// buffered, so each connection's reply buffer stays bounded.
	MaxPipeline int

	// EventLoops is how many epoll event loops serve plain TCP connections on Linux, each on
	// its own goroutine. Default half of runtime.GOMAXPROCS(0), at least 1: fewer loops batch
	// more ready sockets per epoll_wait and cost less CPU per request, more loops use more
	// cores. Negative: one goroutine per connection, the portable path, which TLS connections
	// and other platforms always take. Event loops save a syscall and a goroutine switch per
	// request batch.
	EventLoops int

	// LoopSpin is how long an event loop polls without blocking before it sleeps in
	// epoll_wait, yielding its CPU to other runnable threads between polls; it spins only
	// while its recent waits were shorter than this, so an idle or lightly loaded loop never
	// spins. 0 (the default) or negative: never spin. Staying awake saves the client's next
	// write a cross-CPU wake-up of the loop; on a shared, overloaded machine a loop that is
	// always runnable loses the scheduler's wake-up preference instead (docs/benchmarks.md, w46).
	LoopSpin time.Duration

	// ScriptBusyTime is how long a Lua script may run before other clients' commands answer
	// -BUSY and SCRIPT KILL may stop it (Redis's busy-reply-threshold). Default 5 s. Until then
	// other clients' commands wait for the script, as in Redis.
	ScriptBusyTime time.Duration

	// Version is the geocache version reported by INFO. Default "dev".
	Version string

	// Logger receives connection-level logs. Default slog.Default().
	Logger *slog.Logger
}

// DefaultConfig returns the configuration used for zero-valued fields.
func DefaultConfig() Config {
	return Config{
		MaxClients:     10000,
		IdleTimeout:    5 * time.Minute,
		WriteTimeout:   30 * time.Second,
		MaxBulkLen:     8 << 20,
		MaxRequestSize: 32 << 20,
		MaxPipeline:    1024,
		ScriptBusyTime: 5 * time.Second,
		Version:        "dev",
	}
}

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("resp: server closed")

func (c Config) withDefaults() (Config, error) {
	d := DefaultConfig()
	switch {
	case c.MaxClients < 0:
		return c, fmt.Errorf("resp: MaxClients must not be negative, got %d", c.MaxClients)
	case c.MaxBulkLen < 0:
		return c, fmt.Errorf("resp: MaxBulkLen must not be negative, got %d", c.MaxBulkLen)
	case c.MaxRequestSize < 0:
		return c, fmt.Errorf("resp: MaxRequestSize must not be negative, got %d", c.MaxRequestSize)
	case c.MaxPipeline < 0:
		return c, fmt.Errorf("resp: MaxPipeline must not be negative, got %d", c.MaxPipeline)
	case c.ScriptBusyTime < 0:
		return c, fmt.Errorf("resp: ScriptBusyTime must not be negative, got %v", c.ScriptBusyTime)
	}
	for u := range c.Users {
		if u == "" {
			return c, errors.New("resp: empty user name in Users")
		}
	}
	if c.MaxClients == 0 {
		c.MaxClients = d.MaxClients
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = d.IdleTimeout
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = d.WriteTimeout
	}
	if c.MaxBulkLen == 0 {
		c.MaxBulkLen = d.MaxBulkLen
	}
	if c.MaxRequestSize == 0 {
		c.MaxRequestSize = max(d.MaxRequestSize, c.MaxBulkLen+2*inlineMax)
	}
	if c.MaxRequestSize < c.MaxBulkLen+2*inlineMax {
		return c, fmt.Errorf("resp: MaxRequestSize (%d) must exceed MaxBulkLen (%d) by at least %d",
			c.MaxRequestSize, c.MaxBulkLen, 2*inlineMax)
	}
	if c.MaxPipeline == 0 {
		c.MaxPipeline = d.MaxPipeline
	}
	if c.ScriptBusyTime == 0 {
		c.ScriptBusyTime = d.ScriptBusyTime
	}
	if c.EventLoops == 0 {
		c.EventLoops = max(runtime.GOMAXPROCS(0)/2, 1)
	}
	if c.Version == "" {
		c.Version = d.Version
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}
