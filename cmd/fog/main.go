// Command fog runs a fog node and talks to a running one.
//
//	fog init            create a node in the data dir (~/.fog, FOG_PATH or --path)
//	fog run             run the node until SIGINT/SIGTERM
//	fog repair          recover a damaged store (node stopped)
//	fog status | peers | connect | id | version
//	fog devnet --nodes N   run N nodes on loopback to try fog
//
// Run `fog help` or `fog CMD --help` for the flags of each command; the exit
// codes are listed in exit.go and by `fog --help`.
package main

import (
	"context"
	"io"
	"os"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// run executes fog with args, reports an error on errOut and returns the
// code to exit with.
func run(ctx context.Context, args []string, out, errOut io.Writer) int {
	root := newRootCmd(out, errOut)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err != nil {
		path := ""
		if f := root.PersistentFlags().Lookup("path"); f != nil {
			path = f.Value.String()
		}
		printError(errOut, withPath(err, path))
	}
	return exitCode(err)
}
