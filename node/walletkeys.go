package node

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/fog-compute/fog/internal/durable"
	"github.com/fog-compute/fog/token"
)

// walletKeys are the wallet's account keys other than the node's identity:
// one file per account in the data directory's wallet/, named after the
// account in hex and holding the key's 32-byte seed in hex, mode 0600.
// A key is on disk (file and directory synced) before it is used or
// returned; keys are never logged.
type walletKeys struct {
	dir  string // "" for a node without a data directory: keys refused
	mu   sync.Mutex
	keys map[token.Account]ed25519.PrivateKey
}

const walletKeySuffix = ".key"

// openWalletKeys loads the keys in dir's wallet/, if any. A file that is
// not a key of the account it names is an error: the wallet would
// otherwise silently lose an account.
func openWalletKeys(dir DataDir) (*walletKeys, error) {
	w := &walletKeys{keys: map[token.Account]ed25519.PrivateKey{}}
	if dir == "" {
		return w, nil
	}
	w.dir = dir.Wallet()
	ents, err := os.ReadDir(w.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return w, nil
	}
	if err != nil {
		return nil, fmt.Errorf("node: wallet keys: %w", err)
	}
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), walletKeySuffix)
		if !ok || e.IsDir() {
			continue // a temporary file of a write cut short, or not ours
		}
		body, err := os.ReadFile(filepath.Join(w.dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("node: wallet keys: %w", err)
		}
		seed, err := hex.DecodeString(strings.TrimSpace(string(body)))
		if err != nil || len(seed) != ed25519.SeedSize {
			return nil, fmt.Errorf("node: wallet key %s: not a hex Ed25519 seed", e.Name())
		}
		key := ed25519.NewKeyFromSeed(seed)
		a := token.AccountOf(key.Public().(ed25519.PublicKey))
		if a.String() != name {
			return nil, fmt.Errorf("node: wallet key %s holds the key of account %s", e.Name(), a)
		}
		w.keys[a] = key
	}
	return w, nil
}

// create makes a new random key and stores it.
func (w *walletKeys) create() (token.Account, error) {
	seed := make([]byte, ed25519.SeedSize)
	if _, err := rand.Read(seed); err != nil {
		return token.Account{}, err
	}
	a, _, err := w.add(seed)
	return a, err
}

// add stores the key of seed, unless the wallet holds it already, and
// reports whether it was new.
func (w *walletKeys) add(seed []byte) (token.Account, bool, error) {
	if len(seed) != ed25519.SeedSize {
		return token.Account{}, false, fmt.Errorf("a seed is %d bytes, not %d", ed25519.SeedSize, len(seed))
	}
	key := ed25519.NewKeyFromSeed(seed)
	a := token.AccountOf(key.Public().(ed25519.PublicKey))
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.keys[a]; ok {
		return a, false, nil
	}
	if w.dir == "" {
		return token.Account{}, false, errors.New("this node has no data directory to keep wallet keys in")
	}
	if err := writeKey(w.dir, a.String()+walletKeySuffix, []byte(hex.EncodeToString(seed)+"\n")); err != nil {
		return token.Account{}, false, fmt.Errorf("node: wallet key: %w", err)
	}
	w.keys[a] = key
	return a, true, nil
}

// key returns account a's key, if the wallet holds it.
func (w *walletKeys) key(a token.Account) (ed25519.PrivateKey, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	k, ok := w.keys[a]
	return k, ok
}

// accounts lists the accounts held, sorted.
func (w *walletKeys) accounts() []token.Account {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]token.Account, 0, len(w.keys))
	for a := range w.keys {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// writeKey writes a key file, mode 0600, whole or not at all after a
// crash.
func writeKey(dir, name string, body []byte) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return durable.WriteFile(dir, name, name+".tmp*", body, 0o600)
}
