// Command fog runs a fog node and talks to a running one.
//
//	fog init            create a node in the data dir (~/.fog, FOG_PATH or --path)
//	fog run             run the node until SIGINT/SIGTERM
//	fog repair          recover a damaged store (node stopped)
//	fog status | peers | connect | id | version
//	fog devnet --nodes N   run N nodes on loopback to try fog
//
// Run `fog help` or `fog CMD --help` for the flags of each command.
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := newRootCmd(os.Stdout, os.Stderr).Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "fog:", oneLine(err))
		os.Exit(1)
	}
}
