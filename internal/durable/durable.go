// Package durable writes files that a crash leaves whole or absent, never
// partial: the bytes go to a synced temporary file in the same directory,
// which is renamed into place, and the directory is synced so that the
// rename itself survives.
package durable

import (
	"fmt"
	"os"
	"path/filepath"
)

// WriteTemp writes data to a new temporary file in dir, named by pattern
// as os.CreateTemp names it, with mode perm, synced; it returns the file's
// path. On an error nothing is left behind.
func WriteTemp(dir, pattern string, data []byte, perm os.FileMode) (string, error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return "", fmt.Errorf("durable: %w", err)
	}
	err = f.Chmod(perm)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return "", fmt.Errorf("durable: %w", err)
	}
	return f.Name(), nil
}

// SyncDir makes the entries of dir (a rename, a removal) durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("durable: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("durable: sync %s: %w", dir, err)
	}
	return nil
}

// WriteFile writes data to dir/name with mode perm through a temporary
// file named by pattern (which a caller that cleans up after a crash can
// recognise), renamed into place, and syncs dir. After a crash dir/name is
// the old file, or absent, or the new one whole.
func WriteFile(dir, name, pattern string, data []byte, perm os.FileMode) error {
	tmp, err := WriteTemp(dir, pattern, data, perm)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("durable: %w", err)
	}
	return SyncDir(dir)
}
