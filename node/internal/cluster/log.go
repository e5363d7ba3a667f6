package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
)

// minLevel wraps a slog.Handler and drops records below min. Libraries such
// as gossipsub log every slow-subscriber drop at Info; we count those in
// Stats instead.
type minLevel struct {
	min slog.Level
	h   slog.Handler
}

var _ slog.Handler = minLevel{}

func (m minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= m.min && m.h.Enabled(ctx, l)
}
func (m minLevel) Handle(ctx context.Context, r slog.Record) error { return m.h.Handle(ctx, r) }
func (m minLevel) WithAttrs(a []slog.Attr) slog.Handler {
	return minLevel{m.min, m.h.WithAttrs(a)}
}
func (m minLevel) WithGroup(g string) slog.Handler { return minLevel{m.min, m.h.WithGroup(g)} }

// crdtLogger adapts slog to the go-log StandardLogger that go-ds-crdt
// wants. go-ds-crdt logs routine progress at Info, so Info maps to Debug.
type crdtLogger struct{ l *slog.Logger }

func (c crdtLogger) Debug(a ...any)            { c.l.Debug(fmt.Sprint(a...)) }
func (c crdtLogger) Debugf(f string, a ...any) { c.l.Debug(fmt.Sprintf(f, a...)) }
func (c crdtLogger) Info(a ...any)             { c.l.Debug(fmt.Sprint(a...)) }
func (c crdtLogger) Infof(f string, a ...any)  { c.l.Debug(fmt.Sprintf(f, a...)) }
func (c crdtLogger) Warn(a ...any)             { c.l.Warn(fmt.Sprint(a...)) }
func (c crdtLogger) Warnf(f string, a ...any)  { c.l.Warn(fmt.Sprintf(f, a...)) }
func (c crdtLogger) Error(a ...any)            { c.error(fmt.Sprint(a...)) }
func (c crdtLogger) Errorf(f string, a ...any) { c.error(fmt.Sprintf(f, a...)) }

// error demotes what go-ds-crdt calls errors but is routine for us: its
// workers report "context canceled" on every normal Close (Debug), and a
// head whose DAG nodes cannot be fetched — before dagFetchTimeout, or
// because the peer holding them hung up; its author is gone or unreachable,
// it is retried at the next rebroadcast — is a Warn.
func (c crdtLogger) error(msg string) {
	switch {
	case strings.Contains(msg, context.Canceled.Error()):
		c.l.Debug(msg)
	case strings.Contains(msg, context.DeadlineExceeded.Error()),
		// The same, when the peer holding the nodes hangs up first (a shutdown of a pair
		// while a head is being fetched: TestCloseLogsNoError under load).
		strings.Contains(msg, "failed to fetch all nodes"):
		c.l.Warn(msg)
	default:
		c.l.Error(msg)
	}
}

// Fatal and Panic are never used by go-ds-crdt; they must not exit the
// embedding process, so they log at Error and panic respectively.
func (c crdtLogger) Fatal(a ...any)            { c.l.Error(fmt.Sprint(a...)) }
func (c crdtLogger) Fatalf(f string, a ...any) { c.l.Error(fmt.Sprintf(f, a...)) }
func (c crdtLogger) Panic(a ...any)            { panic(fmt.Sprint(a...)) }
func (c crdtLogger) Panicf(f string, a ...any) { panic(fmt.Sprintf(f, a...)) }
