// Package coretest holds a deterministic core to its shape, in the core's
// own tests: NoIO checks with `go list -deps` that nothing the package
// depends on does the node's I/O (gossip, the store, the network), and
// NoClock that no non-test file of it reads the clock or waits. The
// cores (mix/lottery, mix/mixnet, chat/dm, token) call both; see
// docs/architecture.md, "Core and shell".
package coretest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// IO lists the import path prefixes that do a node's I/O: a core depends
// on none of them.
var IO = []string{
	"github.com/libp2p/go-libp2p-pubsub",
	"github.com/dgraph-io/badger",
	"github.com/ipfs/go-datastore",
	"github.com/libp2p/go-libp2p/core/host",
	"github.com/libp2p/go-libp2p/core/network",
	"github.com/libp2p/go-libp2p/p2p/",
	"github.com/fog-compute/fog/store",
	"github.com/fog-compute/fog/gossip",
	"github.com/fog-compute/fog/p2p",
}

// NoIO fails t if the package in the current directory depends on a
// prefix of IO or of more (its own shells, say). must is a package the
// core does depend on, to show that go list listed the dependencies. It
// skips where there is no go tool.
func NoIO(t testing.TB, must string, more ...string) {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	out, err := exec.Command(goTool, "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list: %v (no go tool here)", err)
	}
	deps := strings.Fields(string(out))
	found := false
	for _, d := range deps {
		found = found || d == must
		for _, f := range append(IO[:len(IO):len(IO)], more...) {
			if strings.HasPrefix(d, f) {
				t.Errorf("the core depends on %s", d)
			}
		}
	}
	if !found {
		t.Fatalf("go list -deps does not list %s: it did not list the dependencies", must)
	}
}

// clockCalls are the time package's functions that read the clock or wait.
var clockCalls = map[string]bool{
	"Now": true, "Since": true, "Until": true, "Sleep": true, "After": true,
	"AfterFunc": true, "NewTimer": true, "NewTicker": true, "Tick": true,
}

// NoClock fails t if a non-test file of the package in the current
// directory calls the time package's clock or timers: a core takes the
// time as an argument, so two cores given the same inputs do the same.
func NoClock(t testing.TB) {
	t.Helper()
	noClockIn(t, ".")
}

func noClockIn(t testing.TB, dir string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == "time" && clockCalls[sel.Sel.Name] {
				t.Errorf("%s: time.%s: the core must take time as an argument", fset.Position(sel.Pos()), sel.Sel.Name)
			}
			return true
		})
	}
	if checked == 0 {
		t.Fatal("no Go file in the package")
	}
}
