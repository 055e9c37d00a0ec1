package token

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCoreImportsNoIO holds the package to its shape: it is the ledger's
// deterministic core, so nothing it depends on may do the node's I/O. The
// gossip, the store and the network are the shells' (token/ledgerstore, token/ledgersvc).
// It runs `go list -deps` on this package.
func TestCoreImportsNoIO(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	out, err := exec.Command(goTool, "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list: %v (no go tool here)", err)
	}
	deps := strings.Fields(string(out))
	require.Contains(t, deps, "golang.org/x/crypto/blake2b", "go list must list the dependencies")
	forbidden := []string{
		"github.com/libp2p/go-libp2p-pubsub",
		"github.com/dgraph-io/badger",
		"github.com/ipfs/go-datastore",
		"github.com/libp2p/go-libp2p/core/host",
		"github.com/libp2p/go-libp2p/core/network",
		"github.com/libp2p/go-libp2p/p2p/",
		"github.com/fog-compute/fog/store",
		"github.com/fog-compute/fog/gossip",
		"github.com/fog-compute/fog/token/ledgerstore",
	}
	for _, d := range deps {
		for _, f := range forbidden {
			assert.False(t, strings.HasPrefix(d, f), "the ledger core depends on %s", d)
		}
	}
}

// TestCoreReadsNoClock checks that no non-test file of the package reads
// the clock or waits: time comes in as arguments (Node.Tick, Node.ProcessVote),
// so two Nodes given the same inputs do the same thing.
func TestCoreReadsNoClock(t *testing.T) {
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	banned := map[string]bool{
		"Now": true, "Since": true, "Until": true, "Sleep": true, "After": true,
		"AfterFunc": true, "NewTimer": true, "NewTicker": true, "Tick": true,
	}
	fset := token.NewFileSet()
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		require.NoError(t, err)
		checked++
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == "time" && banned[sel.Sel.Name] {
				t.Errorf("%s: time.%s: the core must take time as an argument", fset.Position(sel.Pos()), sel.Sel.Name)
			}
			return true
		})
	}
	require.Positive(t, checked)
}
