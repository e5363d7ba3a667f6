package main

import (
	"context"
	"log/slog"

	golog "github.com/ipfs/go-log/v2"
	"github.com/libp2p/go-libp2p/gologshim"
	"go.uber.org/zap/zapcore"
)

// routeLibraryLogs sends go-libp2p's own logs (and those of the fx framework it starts with)
// and those of the IPFS libraries under the catalog (go-log: bitswap, the DAG service) through
// our logger at debug level: they describe library internals (three lines for a busy
// replication port, say) that the node already reports, once, as its own error. Both libraries
// read their output from a process-wide setting: the only globals the daemon sets.
func routeLibraryLogs(log *slog.Logger) {
	gologshim.SetDefaultHandler(asDebug{log.Handler().WithAttrs([]slog.Attr{slog.String("component", "libp2p")})})
	golog.SetPrimaryCore(slogCore{h: asDebug{log.Handler().WithAttrs([]slog.Attr{slog.String("component", "ipfs")})}})
}

// slogCore is a zapcore.Core (what go-log logs through) writing to a slog.Handler.
type slogCore struct {
	h slog.Handler
}

var _ zapcore.Core = slogCore{}

// Enabled reports the levels the core takes. Info and above always are: go-log narrows its
// loggers with zap.IncreaseLevel (to its own level, error by default, or fatal), which checks that
// the core enables that level and otherwise prints "failed to IncreaseLevel" on standard error at
// every start. Write drops what the handler does not take at debug; debug entries, the frequent
// ones, are refused here when the handler would drop them.
func (c slogCore) Enabled(l zapcore.Level) bool {
	return l >= zapcore.InfoLevel || c.h.Enabled(context.Background(), slog.LevelDebug)
}

func (c slogCore) With(fields []zapcore.Field) zapcore.Core {
	return slogCore{h: c.h.WithAttrs(attrs(fields))}
}

func (c slogCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c slogCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	if !c.h.Enabled(context.Background(), slog.LevelDebug) {
		return nil
	}
	r := slog.NewRecord(e.Time, slog.LevelDebug, e.Message, 0)
	if e.LoggerName != "" {
		r.AddAttrs(slog.String("logger", e.LoggerName))
	}
	r.AddAttrs(attrs(fields)...)
	return c.h.Handle(context.Background(), r)
}

func (c slogCore) Sync() error { return nil }

// attrs converts zap fields to slog attributes.
func attrs(fields []zapcore.Field) []slog.Attr {
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range fields {
		f.AddTo(enc)
	}
	out := make([]slog.Attr, 0, len(enc.Fields))
	for k, v := range enc.Fields {
		out = append(out, slog.Any(k, v))
	}
	return out
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
