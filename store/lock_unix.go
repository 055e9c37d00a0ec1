//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package store

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// lockDir takes the exclusive flock Badger takes on dir, without waiting.
// It fails with errBusy if another DB (in this process or another) holds
// it, and with an error wrapping fs.ErrNotExist if dir does not exist.
func lockDir(dir string) (release func(), err error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("store: open %q: %w", dir, err)
	}
	if err := syscall.Flock(int(d.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		d.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, errBusy
		}
		return nil, fmt.Errorf("store: lock %q: %w", dir, err)
	}
	return func() { d.Close() }, nil // closing unlocks
}
