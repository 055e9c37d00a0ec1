//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package store

import "log/slog"

// removeTornLogs is a no-op where flock is unavailable: without Badger's
// lock it cannot tell a crash's leftovers from another process's files.
func removeTornLogs(string, *slog.Logger) error { return nil }
