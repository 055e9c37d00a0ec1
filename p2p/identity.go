package p2p

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/libp2p/go-libp2p/core/crypto"
)

// Sentinel errors returned by LoadIdentity and CreateIdentity.
var (
	// ErrKeyMissing means the identity key file does not exist.
	ErrKeyMissing = errors.New("p2p: identity key file is missing")
	// ErrKeyPermissions means the key file is readable or writable by group
	// or others.
	ErrKeyPermissions = errors.New("p2p: identity key file is accessible by group or others")
	// ErrKeyCorrupt means the key file does not hold an Ed25519 private key.
	ErrKeyCorrupt = errors.New("p2p: identity key file is corrupt")
	// ErrKeyExists means CreateIdentity would overwrite an existing key.
	ErrKeyExists = errors.New("p2p: identity key file already exists")
)

// KeyFileMode is the only permission set an identity key file may have.
const KeyFileMode fs.FileMode = 0o600

// CreateIdentity generates a new Ed25519 identity and writes it to path with
// mode 0600, refusing to overwrite an existing file. The file holds the key in
// libp2p's protobuf encoding. The write is synced before CreateIdentity
// returns, so an acknowledged identity survives a crash.
func CreateIdentity(path string) (crypto.PrivKey, error) {
	priv, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("p2p: generate identity: %w", err)
	}
	raw, err := crypto.MarshalPrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("p2p: encode identity: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("p2p: create key dir: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, KeyFileMode)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("%w: %s", ErrKeyExists, path)
		}
		return nil, fmt.Errorf("p2p: create key file: %w", err)
	}
	if _, err := f.Write(raw); err != nil {
		f.Close()
		return nil, fmt.Errorf("p2p: write key file: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("p2p: sync key file: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("p2p: close key file: %w", err)
	}
	return priv, nil
}

// LoadIdentity reads the Ed25519 identity written by CreateIdentity. It
// refuses, with an error wrapping ErrKeyMissing, ErrKeyPermissions or
// ErrKeyCorrupt and naming the file, a key that is missing, readable or
// writable by group or others, or not an Ed25519 private key.
func LoadIdentity(path string) (crypto.PrivKey, error) {
	st, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s (run `fog init` first)", ErrKeyMissing, path)
		}
		return nil, fmt.Errorf("p2p: stat key file %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrKeyCorrupt, path)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %04o, want %04o (chmod 600 %s)", ErrKeyPermissions, path, perm, KeyFileMode, path)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("p2p: read key file %s: %w", path, err)
	}
	priv, err := crypto.UnmarshalPrivateKey(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrKeyCorrupt, path, err)
	}
	if priv.Type() != crypto.Ed25519 {
		return nil, fmt.Errorf("%w: %s holds a %s key, want Ed25519", ErrKeyCorrupt, path, priv.Type())
	}
	return priv, nil
}
