package node

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"
)

// ErrNoToken means the data directory has no API token (or an empty one).
// A node creates one when it starts; a running node picks up a token
// written into the file.
var ErrNoToken = errors.New("node: no API token")

// ReadToken reads the API token.
func (d DataDir) ReadToken() (string, error) {
	b, err := os.ReadFile(d.Token())
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("%w: %s is missing: `fog run` creates one (restart the node), or write a new token into that file and the running node uses it", ErrNoToken, d.Token())
		}
		return "", fmt.Errorf("node: read token: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("%w: %s is empty: `fog run` replaces it (restart the node), or write a new token into it and the running node uses it", ErrNoToken, d.Token())
	}
	return tok, nil
}

// EnsureToken returns the directory's API token, creating a new random one
// (mode 0600) if the file is missing or empty; created says it did.
func (d DataDir) EnsureToken() (tok string, created bool, err error) {
	tok, err = d.ReadToken()
	if err == nil || !errors.Is(err, ErrNoToken) {
		return tok, false, err
	}
	tok, err = newToken()
	if err != nil {
		return "", false, err
	}
	if err := writeFileSync(d.Token(), []byte(tok+"\n"), 0o600); err != nil {
		return "", false, err
	}
	return tok, true, nil
}

// newToken returns 32 random bytes in hex.
func newToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("node: token: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// apiToken is the API token as the running daemon sees it: the file is
// checked on every request (one stat) and read again when it was replaced
// or changed, so an operator who writes a new token need not restart the
// node. While the file is missing, empty or unreadable, the last token read
// stays valid: the daemon never locks every client out by itself.
type apiToken struct {
	path string
	log  *slog.Logger

	mu     sync.Mutex
	tok    []byte
	seen   fileStamp // of the file tok was read from, or of the last failure
	warned bool      // a failure was logged since the last good read
}

// fileStamp tells whether a file changed: a replaced file (rename over it)
// has another inode, a rewritten one another size or modification time.
type fileStamp struct {
	ok    bool
	ino   uint64
	size  int64
	mtime time.Time
}

func newAPIToken(path, tok string, log *slog.Logger) *apiToken {
	t := &apiToken{path: path, log: log, tok: []byte(tok)}
	t.seen = stampOf(path)
	return t
}

// current returns the token requests must bear now.
func (t *apiToken) current() []byte {
	st := stampOf(t.path)
	t.mu.Lock()
	defer t.mu.Unlock()
	if st == t.seen {
		return t.tok
	}
	t.seen = st
	b, err := os.ReadFile(t.path)
	tok := strings.TrimSpace(string(b))
	switch {
	case err == nil && tok != "":
		if tok != string(t.tok) {
			t.log.Info("api token file changed: using the new token", "path", t.path)
		}
		t.tok, t.warned = []byte(tok), false
	case !t.warned:
		t.warned = true
		reason := "empty"
		if err != nil {
			reason = err.Error()
		}
		t.log.Warn("api token file unusable: keeping the token read before; write a new token into the file", "path", t.path, "reason", reason)
	}
	return t.tok
}

func stampOf(path string) fileStamp {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}
	}
	return fileStamp{ok: true, ino: inode(fi), size: fi.Size(), mtime: fi.ModTime()}
}
