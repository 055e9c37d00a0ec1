package store

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
)

// levelTrace is below slog's Debug: Badger's debug lines (one per write
// batch, per memtable flush) are too many for Debug.
const levelTrace = slog.LevelDebug - 4

// badgerLogger adapts a *slog.Logger to badger.Logger.
type badgerLogger struct {
	l *slog.Logger
}

func newBadgerLogger(l *slog.Logger) *badgerLogger {
	if l == nil {
		return nil
	}
	return &badgerLogger{l: l.With("component", "badger")}
}

func (b *badgerLogger) Errorf(format string, args ...any) { b.log(slog.LevelError, format, args) }

func (b *badgerLogger) Warningf(format string, args ...any) { b.log(slog.LevelWarn, format, args) }

// Infof logs at Debug: Badger's info lines are routine (files opened,
// compactions, replay progress).
func (b *badgerLogger) Infof(format string, args ...any) { b.log(slog.LevelDebug, format, args) }

func (b *badgerLogger) Debugf(format string, args ...any) { b.log(levelTrace, format, args) }

func (b *badgerLogger) log(level slog.Level, format string, args []any) {
	ctx := context.Background()
	if !b.l.Enabled(ctx, level) {
		return // do not pay for formatting lines nobody reads
	}
	b.l.Log(ctx, level, strings.TrimSpace(fmt.Sprintf(format, args...)))
}
