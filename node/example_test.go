package node_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/fog-compute/fog/node"
)

// Start a node in a fresh data directory and ask it for its status over
// its own JSON-RPC API, as the fog command does.
func Example() {
	tmp, _ := os.MkdirTemp("", "fog-example-")
	defer os.RemoveAll(tmp)
	dir := node.DataDir(filepath.Join(tmp, "fog"))

	cfg := node.TestConfig() // loopback, ports chosen by the OS
	if _, err := node.Init(dir, cfg); err != nil {
		fmt.Println(err)
		return
	}
	n, err := node.Start(context.Background(), cfg, node.Options{Dir: dir, Logger: node.NewLogger(io.Discard, cfg.Log)})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer n.Close()

	c, _ := node.Dial(dir)
	defer c.Close()
	var st node.Status
	if err := c.Call(context.Background(), "node.status", nil, &st); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(st.PeerID == n.Host().ID().String(), st.Version)
	// Output: true 0.1.0
}
