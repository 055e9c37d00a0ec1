package store

import (
	"fmt"
	"syscall"
)

// CheckSpace returns an error wrapping ErrNoSpace (and syscall.ENOSPC or
// syscall.EROFS) when the data directory's filesystem is mounted read-only
// or has less than Config.MinFreeBytes free, nil otherwise. Every write of
// the store calls it first; a package that writes through Badger directly
// (DB.Badger) calls it before each commit. It costs one statfs(2).
func (db *DB) CheckSpace() error {
	if db.cfg.InMemory || db.cfg.MinFreeBytes == 0 {
		return nil
	}
	free, readOnly, err := freeSpace(db.cfg.Path)
	switch {
	case err != nil:
		return nil // unknown: let the write try
	case readOnly:
		return fmt.Errorf("%w: %s is on a read-only filesystem: %w", ErrNoSpace, db.cfg.Path, syscall.EROFS)
	case free < uint64(db.cfg.MinFreeBytes):
		return fmt.Errorf("%w: %.1f MiB free on the filesystem of %s, writes need %.1f MiB: %w",
			ErrNoSpace, float64(free)/mib, db.cfg.Path, float64(db.cfg.MinFreeBytes)/mib, syscall.ENOSPC)
	}
	return nil
}
