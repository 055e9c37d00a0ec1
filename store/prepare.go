package store

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// errBusy is lockDir's: another DB holds the directory's lock.
var errBusy = errors.New("store: directory is in use")

// prepareDir readies an on-disk data directory for badger.Open: while
// holding Badger's lock on it, it deletes the empty log files a crash can
// leave behind (removeTornLogs) and verifies the database files
// (checkFiles). If another DB holds the lock, it does nothing: Badger then
// fails with ErrLocked. Where locking is unsupported it does nothing either.
func prepareDir(dir string, log *slog.Logger) error {
	release, err := lockDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, errBusy), errors.Is(err, errors.ErrUnsupported):
		return nil
	case err != nil:
		return err
	}
	defer release()
	if err := removeTornLogs(dir, log); err != nil {
		return err
	}
	return checkFiles(dir, log)
}

// removeTornLogs deletes the empty log files a crash can leave in dir; the
// caller holds Badger's lock on dir.
//
// Badger v4.9.6 creates a memtable's write-ahead log (NNNNN.mem) or a value
// log (NNNNNN.vlog) empty and then sizes it; a process killed in between
// leaves a zero-length file, and Badger then refuses to open the directory
// ("while opening memtables ... Create a new file"). An empty file holds no
// data, so deleting it loses nothing.
func removeTornLogs(dir string, log *slog.Logger) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("store: read %q: %w", dir, err)
	}
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || !(strings.HasSuffix(name, memExt) || strings.HasSuffix(name, vlogExt)) {
			continue
		}
		info, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("store: stat %q: %w", name, err)
		}
		if info.Size() != 0 {
			continue
		}
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("store: remove empty log %q: %w", name, err)
		}
		log.Warn("removed an empty log file left by a crash", "file", name)
	}
	return nil
}
