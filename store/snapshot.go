package store

import (
	"fmt"
	"io"
)

// Snapshot copies every key of db, as committed at this instant, into a new
// DB opened with cfg, which must describe an empty database (typically
// InMemoryConfig). Tests and the simulator use it to model a crash: the copy
// is what survived, and writes made to db afterwards are not in it. The
// caller owns the returned DB and must Close it.
func (db *DB) Snapshot(cfg Config) (*DB, error) {
	if err := db.acquire(); err != nil {
		return nil, err
	}
	defer db.release()
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		_, err := db.bdb.Backup(pw, 0)
		pw.CloseWithError(err)
		errc <- err
	}()
	cp, err := Open(cfg)
	if err != nil {
		pr.CloseWithError(err)
		<-errc
		return nil, err
	}
	if err := cp.bdb.Load(pr, 256); err != nil {
		pr.CloseWithError(err)
		<-errc
		_ = cp.Close()
		return nil, fmt.Errorf("store: snapshot: load: %w", err)
	}
	if err := <-errc; err != nil {
		_ = cp.Close()
		return nil, fmt.Errorf("store: snapshot: backup: %w", err)
	}
	return cp, nil
}
