package node

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fog-compute/fog/p2p"
)

// Errors about the data directory.
var (
	// ErrNotInitialized means the data directory has no config; run fog init.
	ErrNotInitialized = errors.New("node: data directory is not initialised (run `fog init`)")
	// ErrAlreadyInitialized means fog init would overwrite an existing node.
	ErrAlreadyInitialized = errors.New("node: data directory is already initialised")
	// ErrNotRunning means no daemon serves the data directory's API.
	ErrNotRunning = errors.New("node: the fog daemon is not running (start it with `fog run`)")
)

// DataDir names the files of a node's data directory.
type DataDir string

// Files in the data directory.
const (
	configFile   = "config.toml"
	identityFile = "identity.key"
	tokenFile    = "api.token"
	addrFile     = "api.addr"
	storeDir     = "store"
	walletDir    = "wallet"
)

// DefaultDataDir returns $FOG_PATH, or ~/.fog.
func DefaultDataDir() (DataDir, error) {
	if p := os.Getenv("FOG_PATH"); p != "" {
		return DataDir(p), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("node: no home directory for ~/.fog (set FOG_PATH): %w", err)
	}
	return DataDir(filepath.Join(home, ".fog")), nil
}

// Config is the path of config.toml.
func (d DataDir) Config() string { return filepath.Join(string(d), configFile) }

// Identity is the path of the identity key.
func (d DataDir) Identity() string { return filepath.Join(string(d), identityFile) }

// Token is the path of the API bearer token.
func (d DataDir) Token() string { return filepath.Join(string(d), tokenFile) }

// Addr is the path of the file where a running daemon writes the address its
// API actually listens on (it differs from api.listen when that has port 0).
func (d DataDir) Addr() string { return filepath.Join(string(d), addrFile) }

// Store is the Badger directory.
func (d DataDir) Store() string { return filepath.Join(string(d), storeDir) }

// Wallet is the directory of the wallet's account keys other than the
// identity, one file per account (wallet.create, wallet.import).
func (d DataDir) Wallet() string { return filepath.Join(string(d), walletDir) }

// InitResult says what Init created.
type InitResult struct {
	Dir    DataDir
	PeerID peer.ID
}

// Init creates a data directory: config.toml from cfg (commented), a new
// Ed25519 identity and an API token, both mode 0600. It refuses to touch a
// directory that already holds a config or identity.
func Init(dir DataDir, cfg Config) (InitResult, error) {
	if err := cfg.Validate(); err != nil {
		return InitResult{}, err
	}
	for _, p := range []string{dir.Config(), dir.Identity()} {
		if _, err := os.Stat(p); err == nil {
			return InitResult{}, fmt.Errorf("%w: %s exists", ErrAlreadyInitialized, p)
		}
	}
	if err := os.MkdirAll(string(dir), 0o700); err != nil {
		return InitResult{}, fmt.Errorf("node: create data dir: %w", err)
	}
	priv, err := p2p.CreateIdentity(dir.Identity())
	if err != nil {
		return InitResult{}, err
	}
	id, err := peer.IDFromPrivateKey(priv)
	if err != nil {
		return InitResult{}, fmt.Errorf("node: peer id: %w", err)
	}
	tok, err := newToken()
	if err != nil {
		return InitResult{}, err
	}
	if err := writeFileSync(dir.Token(), []byte(tok+"\n"), 0o600); err != nil {
		return InitResult{}, err
	}
	body, err := MarshalConfig(cfg)
	if err != nil {
		return InitResult{}, err
	}
	if err := writeFileSync(dir.Config(), body, 0o644); err != nil {
		return InitResult{}, err
	}
	return InitResult{Dir: dir, PeerID: id}, nil
}

// LoadConfig reads the directory's config.toml.
func (d DataDir) LoadConfig() (Config, error) {
	if _, err := os.Stat(d.Config()); errors.Is(err, fs.ErrNotExist) {
		return Config{}, fmt.Errorf("%w: %s missing", ErrNotInitialized, d.Config())
	}
	return LoadConfig(d.Config())
}

// writeFileSync writes a file atomically (temp file, fsync, rename, fsync of
// the directory), so a crash leaves either the old or the new file.
func writeFileSync(path string, data []byte, mode fs.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("node: write %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return fmt.Errorf("node: write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("node: write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("node: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("node: write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("node: write %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
