package main

import (
	"context"
	"log/slog"

	"github.com/libp2p/go-libp2p/gologshim"
)

// routeLibraryLogs sends go-libp2p's own logs (and those of the fx framework it starts with)
// through our logger at debug level: they describe libp2p internals (three lines for a busy
// replication port, say) that the node already reports, once, as its own error. libp2p reads
// the handler from a process-wide setting, the one global the daemon sets.
func routeLibraryLogs(log *slog.Logger) {
	gologshim.SetDefaultHandler(asDebug{log.Handler().WithAttrs([]slog.Attr{slog.String("component", "libp2p")})})
}

// asDebug logs every record at debug level, whatever level it came with.
type asDebug struct{ h slog.Handler }

var _ slog.Handler = asDebug{}

func (a asDebug) Enabled(ctx context.Context, _ slog.Level) bool {
	return a.h.Enabled(ctx, slog.LevelDebug)
}

func (a asDebug) Handle(ctx context.Context, r slog.Record) error {
	r.Level = slog.LevelDebug
	return a.h.Handle(ctx, r)
}

func (a asDebug) WithAttrs(as []slog.Attr) slog.Handler { return asDebug{a.h.WithAttrs(as)} }
func (a asDebug) WithGroup(g string) slog.Handler       { return asDebug{a.h.WithGroup(g)} }
