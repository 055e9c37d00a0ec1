//go:build !linux

package store

import "errors"

// freeSpace is not measured outside Linux: CheckSpace lets every write try.
func freeSpace(string) (uint64, bool, error) {
	return 0, false, errors.New("store: free space not measured on this system")
}
