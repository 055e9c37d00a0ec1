package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/fog-compute/fog/node"
)

func (a *app) configCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Show and change config.toml, checked as at start-up",
		Long: `config reads and changes the data directory's config.toml. Keys are dotted
(api.listen, compute.price, p2p.bootstrap); set checks the result as the
node does at start-up, with the same messages, and leaves the file alone if
it is wrong. A running node uses the new value once restarted.`,
		Example: "  fog config show\n  fog config get api.listen\n  fog config set compute.price 5\n" +
			"  fog config set p2p.bootstrap '[\"/ip4/192.0.2.7/tcp/4001/p2p/12D3KooW...\"]'",
	}
	load := func() (node.DataDir, node.Config, error) {
		dir, err := a.dataDir()
		if err != nil {
			return "", node.Config{}, err
		}
		c, err := dir.LoadConfig()
		return dir, c, withPath(err, a.path)
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "show",
		Short: "Print the configuration in force: config.toml with every default filled in",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, c, err := load()
			if err != nil {
				return err
			}
			return a.print(c, func(w io.Writer) error {
				b, err := node.MarshalConfig(c)
				if err != nil {
					return err
				}
				_, err = w.Write(b)
				return err
			})
		},
	}, &cobra.Command{
		Use:   "get KEY",
		Short: "Print one key's value (or a section's keys)",
		Args:  exactArgs(1, "a key such as api.listen"),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, c, err := load()
			if err != nil {
				return err
			}
			v, err := node.ConfigValue(c, args[0])
			if err != nil {
				return usageError(cmd, err)
			}
			return a.print(map[string]string{"key": args[0], "value": v}, func(w io.Writer) error {
				_, err := fmt.Fprintln(w, v)
				return err
			})
		},
	}, &cobra.Command{
		Use:   "set KEY VALUE",
		Short: "Set one key in config.toml, checked as at start-up",
		Args:  exactArgs(2, "a key and a value"),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := a.dataDir()
			if err != nil {
				return err
			}
			c, err := dir.SetConfig(args[0], args[1])
			if errors.Is(err, node.ErrConfig) {
				return usageError(cmd, err)
			} else if err != nil {
				return withPath(err, a.path)
			}
			v, err := node.ConfigValue(c, args[0])
			if err != nil {
				return err
			}
			return a.print(map[string]string{"key": args[0], "value": v}, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "%s = %s\nrestart the node for it to take effect\n", args[0], v)
				return err
			})
		},
	})
	return cmd
}

func (a *app) shutdownCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "shutdown",
		Short: "Stop the running node gracefully, as SIGTERM does",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var r node.ShutdownResult
			if err := a.call(cmd.Context(), "node.shutdown", nil, &r); err != nil {
				return err
			}
			return a.print(r, func(w io.Writer) error {
				_, err := fmt.Fprintln(w, "the node is shutting down")
				return err
			})
		},
	}
}
