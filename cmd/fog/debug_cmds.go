package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fog-compute/fog/node"
)

// profileTypes maps fog debug profile's --type to the node's pprof names.
var profileTypes = map[string]string{
	"cpu": "profile", "heap": "heap", "allocs": "allocs", "goroutine": "goroutine",
	"block": "block", "mutex": "mutex", "threadcreate": "threadcreate", "trace": "trace",
}

func (a *app) debugCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "debug",
		Short: "Debug the running node: Go profiles from /debug/pprof",
	}
	var (
		seconds int
		out     string
		typ     string
	)
	prof := &cobra.Command{
		Use:   "profile",
		Short: "Save a profile of the running node (CPU by default) for go tool pprof",
		Example: "  fog debug profile --seconds 30 -o cpu.pprof && go tool pprof -http=: cpu.pprof\n" +
			"  fog debug profile --type heap -o heap.pprof",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			name, ok := profileTypes[typ]
			if !ok {
				types := make([]string, 0, len(profileTypes))
				for k := range profileTypes {
					types = append(types, k)
				}
				slices.Sort(types)
				return usageError(cmd, fmt.Errorf("--type %q: want one of %s", typ, strings.Join(types, ", ")))
			}
			if seconds < 1 {
				return usageError(cmd, fmt.Errorf("--seconds %d: want 1 or more", seconds))
			}
			if name != "profile" && name != "trace" {
				seconds = 0 // a snapshot
			}
			dir, err := a.dataDir()
			if err != nil {
				return err
			}
			c, err := node.Dial(dir)
			if err != nil {
				return err
			}
			defer c.Close()
			var w io.Writer = a.out
			var f *os.File
			if out != "" && out != "-" {
				if f, err = os.Create(out); err != nil {
					return err
				}
				w = f
			}
			if seconds > 0 {
				fmt.Fprintf(a.errOut, "profiling for %ds…\n", seconds)
			}
			err = c.Profile(cmd.Context(), name, seconds, w)
			if f != nil {
				if cerr := f.Close(); err == nil {
					err = cerr
				}
				if err != nil {
					os.Remove(out)
					return err
				}
				fmt.Fprintf(a.errOut, "wrote %s\n", out)
			}
			return err
		},
	}
	prof.Flags().IntVar(&seconds, "seconds", 30, "how long a CPU profile or trace runs")
	prof.Flags().StringVarP(&out, "output", "o", "", "file to write (default: standard output)")
	prof.Flags().StringVar(&typ, "type", "cpu", "cpu, heap, allocs, goroutine, block, mutex, threadcreate or trace")
	cmd.AddCommand(prof)
	return cmd
}
