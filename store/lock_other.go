//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package store

import "errors"

// lockDir is unsupported where flock is unavailable: without Badger's lock
// the store cannot tell whether another process has the directory open, so
// Open skips its checks of the files (Badger opens them as before) and
// Repair refuses to run.
func lockDir(string) (func(), error) { return nil, errors.ErrUnsupported }
