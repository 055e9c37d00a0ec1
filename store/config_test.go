package store

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConfigValidate(t *testing.T) {
	require.NoError(t, DefaultConfig("/some/dir").Validate())
	require.NoError(t, InMemoryConfig().Validate())

	tests := []struct {
		field  string
		mutate func(*Config)
	}{
		{"Path", func(c *Config) { c.Path = "" }},
		{"Path", func(c *Config) { c.InMemory = true }},
		{"MemTableSize", func(c *Config) { c.MemTableSize = 1<<20 - 1 }},
		{"MemTableSize", func(c *Config) { c.MemTableSize = 2 << 30 }},
		{"NumMemtables", func(c *Config) { c.NumMemtables = 0 }},
		{"BlockCacheSize", func(c *Config) { c.BlockCacheSize = -1 }},
		{"IndexCacheSize", func(c *Config) { c.IndexCacheSize = -1 }},
		{"ValueLogFileSize", func(c *Config) { c.ValueLogFileSize = 1<<20 - 1 }},
		{"ValueLogFileSize", func(c *Config) { c.ValueLogFileSize = 2 << 30 }},
		{"NumCompactors", func(c *Config) { c.NumCompactors = 1 }},
		{"GCInterval", func(c *Config) { c.GCInterval = -time.Second }},
		{"GCDiscardRatio", func(c *Config) { c.GCDiscardRatio = 0 }},
		{"GCDiscardRatio", func(c *Config) { c.GCDiscardRatio = 1 }},
	}
	for _, tc := range tests {
		cfg := DefaultConfig("/some/dir")
		tc.mutate(&cfg)
		err := cfg.Validate()
		require.ErrorIs(t, err, ErrConfig, tc.field)
		assert.Contains(t, err.Error(), tc.field)
		assert.True(t, strings.HasPrefix(err.Error(), "store: "), err.Error())
		_, err = Open(cfg)
		require.ErrorIs(t, err, ErrConfig, "Open validates")
	}

	mem := InMemoryConfig()
	mem.Path = "/x"
	require.ErrorIs(t, mem.Validate(), ErrConfig)
}

func TestBadgerOptions(t *testing.T) {
	// The limits Badger derives from the memtable size must hold for every
	// valid size, or Badger refuses to open (or worse, see maxValueSize).
	for _, size := range []int64{1 << 20, 2 << 20, 3<<20 + 17, 16 << 20, 64 << 20, 1 << 30} {
		for _, inMemory := range []bool{false, true} {
			cfg := DefaultConfig("/x")
			if inMemory {
				cfg = InMemoryConfig()
			}
			cfg.MemTableSize = size
			thr := cfg.valueThreshold()
			assert.Positive(t, thr)
			assert.LessOrEqual(t, thr, int64(1<<20))
			assert.Less(t, thr, cfg.maxBatchSize())
			assert.Less(t, cfg.maxValueSize(), thr, "values stay below the value-log threshold")
		}
	}
	o := InMemoryConfig().badgerOptions()
	assert.True(t, o.InMemory)
	assert.False(t, o.SyncWrites)
	o = DefaultConfig("/x").badgerOptions()
	assert.True(t, o.SyncWrites)
	assert.Equal(t, "/x", o.Dir)
}

// recorder is a slog.Handler that keeps records.
type recorder struct {
	level slog.Level
	mu    sync.Mutex
	recs  []slog.Record
}

func (r *recorder) Enabled(_ context.Context, l slog.Level) bool { return l >= r.level }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, rec.Clone())
	return nil
}
func (r *recorder) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &attrRecorder{r: r, attrs: attrs}
}
func (r *recorder) WithGroup(string) slog.Handler { return r }

type attrRecorder struct {
	r     *recorder
	attrs []slog.Attr
}

func (a *attrRecorder) Enabled(ctx context.Context, l slog.Level) bool { return a.r.Enabled(ctx, l) }
func (a *attrRecorder) Handle(ctx context.Context, rec slog.Record) error {
	rec = rec.Clone()
	rec.AddAttrs(a.attrs...)
	return a.r.Handle(ctx, rec)
}
func (a *attrRecorder) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &attrRecorder{r: a.r, attrs: append(append([]slog.Attr{}, a.attrs...), attrs...)}
}
func (a *attrRecorder) WithGroup(string) slog.Handler { return a }

func (r *recorder) records() []slog.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]slog.Record(nil), r.recs...)
}

func TestLoggerLevels(t *testing.T) {
	open := func(level slog.Level) *recorder {
		rec := &recorder{level: level}
		cfg := DefaultConfig(t.TempDir())
		cfg.Logger = slog.New(rec)
		db, err := Open(cfg)
		require.NoError(t, err)
		require.NoError(t, db.Close())
		return rec
	}
	// Opening and closing makes Badger log info lines ("All 0 tables
	// opened", ...), which are routine: Debug, not Info.
	debug := open(slog.LevelDebug)
	require.NotEmpty(t, debug.records())
	for _, r := range debug.records() {
		assert.Equal(t, slog.LevelDebug, r.Level, r.Message)
		var component string
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "component" {
				component = a.Value.String()
			}
			return true
		})
		assert.Equal(t, "badger", component)
		assert.Equal(t, strings.TrimSpace(r.Message), r.Message)
	}
	assert.Empty(t, open(slog.LevelInfo).records(), "a quiet open and close logs nothing at Info")

	// Warnings and errors keep their level.
	rec := &recorder{level: slog.LevelInfo}
	l := newBadgerLogger(slog.New(rec))
	l.Warningf("w %d\n", 1)
	l.Errorf("e %d", 2)
	l.Infof("i")
	l.Debugf("d")
	got := rec.records()
	require.Len(t, got, 2)
	assert.Equal(t, slog.LevelWarn, got[0].Level)
	assert.Equal(t, "w 1", got[0].Message)
	assert.Equal(t, slog.LevelError, got[1].Level)
}
