package main

import (
	"fmt"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/fog-compute/fog/node"
)

func (a *app) eventsCmd() *cobra.Command {
	var filter []string
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Follow the running node's events: peers, tasks, relays, messages",
		Long: `Follow the running node's live events until Ctrl-C: peers connecting and
disconnecting, tasks changing state, relay directories closing, capacity
offers, mix and chat messages received. The first event, stream.opened, says
the stream is live.

With --json each event is one JSON object per line, with at least "type"
and "time" (RFC 3339) and the event's details under "data".`,
		Example: "  fog events\n  fog events --json --filter peer,task",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, f := range filter {
				if !slices.Contains(node.EventCategories, f) {
					return usageError(cmd, fmt.Errorf("--filter: unknown category %q (want some of %s)", f, strings.Join(node.EventCategories, ",")))
				}
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
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return c.Events(ctx, filter, func(ev node.StreamedEvent) error {
				if a.json {
					_, err := fmt.Fprintf(a.out, "%s\n", ev.Raw)
					return err
				}
				data := ""
				if len(ev.Data) > 0 && string(ev.Data) != "null" {
					data = " " + string(ev.Data)
				}
				_, err := fmt.Fprintf(a.out, "%s  %-18s%s\n", ev.Time.Local().Format("15:04:05.000"), ev.Type, data)
				return err
			})
		},
	}
	cmd.Flags().StringSliceVar(&filter, "filter", nil, "only these categories: "+strings.Join(node.EventCategories, ","))
	return cmd
}
