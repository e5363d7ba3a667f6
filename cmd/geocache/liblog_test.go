package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// go-log's records reach our handler at debug level with their fields, and not below our level.
func TestSlogCore(t *testing.T) {
	var buf bytes.Buffer
	core := slogCore{h: asDebug{slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})}}
	l := zap.New(core).Named("bitswap").With(zap.String("peer", "p1"))
	l.Error("send failed", zap.Int("n", 3))
	out := buf.String()
	for _, want := range []string{"level=DEBUG", `msg="send failed"`, "logger=bitswap", "peer=p1", "n=3"} {
		if !strings.Contains(out, want) {
			t.Errorf("%q lacks %q", out, want)
		}
	}
	buf.Reset()
	quiet := slogCore{h: asDebug{slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})}}
	if quiet.Enabled(zapcore.DebugLevel) {
		t.Fatal("library debug entries are built for an info-level logger")
	}
	// go-log narrows its loggers with IncreaseLevel: that must not complain on standard error
	// (it printed "failed to IncreaseLevel" at every start), and nothing reaches the handler.
	var zapErrors bytes.Buffer
	l = zap.New(quiet, zap.ErrorOutput(zapcore.AddSync(&zapErrors)))
	for _, lvl := range []zapcore.Level{zapcore.ErrorLevel, zapcore.FatalLevel} {
		l.WithOptions(zap.IncreaseLevel(lvl)).Error("dropped")
	}
	l.Error("dropped")
	if buf.Len() != 0 || zapErrors.Len() != 0 {
		t.Fatalf("wrote %q; zap complained %q", buf.String(), zapErrors.String())
	}
}
