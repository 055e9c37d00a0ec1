//go:build !linux

package wasm

import "errors"

// errNoMap: memory mapping is used on Linux only; elsewhere linear memories
// are Go slices (see memory).
var errNoMap = errors.New("wasm: memory mapping is not supported on this platform")

// mapMemory fails: see errNoMap.
func mapMemory(uint64) ([]byte, error) { return nil, errNoMap }

// unmapMemory is never called, as mapMemory never succeeds.
func unmapMemory([]byte) error { return errNoMap }
