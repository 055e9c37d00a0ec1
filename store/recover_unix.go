//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package store

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// removeTornLogs deletes the empty log files a crash can leave in dir.
//
// Badger v4.9.6 creates a memtable's write-ahead log (NNNNN.mem) or a value
// log (NNNNNN.vlog) empty and then sizes it; a process killed in between
// leaves a zero-length file, and Badger then refuses to open the directory
// ("while opening memtables ... Create a new file"). An empty file holds no
// data, so deleting it loses nothing. This runs only while holding the same
// flock Badger takes on dir: if another process has the database open, the
// files are its own and are left alone (Open then fails with ErrLocked).
func removeTornLogs(dir string, log *slog.Logger) error {
	d, err := os.Open(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // a new database
	}
	if err != nil {
		return fmt.Errorf("store: open %q: %w", dir, err)
	}
	defer d.Close()
	if err := syscall.Flock(int(d.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil // open elsewhere; Badger reports it
		}
		return fmt.Errorf("store: lock %q: %w", dir, err)
	}
	defer syscall.Flock(int(d.Fd()), syscall.LOCK_UN) //nolint:errcheck // closing d unlocks anyway

	entries, err := d.ReadDir(-1)
	if err != nil {
		return fmt.Errorf("store: read %q: %w", dir, err)
	}
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || !(strings.HasSuffix(name, ".mem") || strings.HasSuffix(name, ".vlog")) {
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
