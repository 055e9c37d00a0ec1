package main

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/fog-compute/fog/node"
	"github.com/fog-compute/fog/store"
)

func (a *app) repairCmd() *cobra.Command {
	var opts store.RepairOptions
	var quiet bool
	cmd := &cobra.Command{
		Use:   "repair",
		Short: "Recover a damaged store: keep what verifies, report what was lost",
		Long: `repair rebuilds the node's store (the Badger database in <data dir>/store)
from what verifies, after 'fog run' refused to start because a file of it is
damaged. Stop the node first: repair takes the store's lock and refuses to
run while the node holds it.

It reads every table block by block, skipping blocks whose checksum fails,
every memtable log entry by entry (keeping the entries that verify before and
after a damaged stretch), and every value in the value log it needs,
checking its checksum. Without a MANIFEST it reads every table in the
directory. For each key it keeps the newest version it could read, unless
that is a deletion or has expired, and writes the keys into a new store.

Nothing is deleted: the original directory is moved aside to
<data dir>/store.damaged-<time> (or --backup), with every damaged file in it,
and the new store takes its place. Remove the backup once the node runs well;
to undo, stop the node and move the backup back to <data dir>/store.

The report lists every file with its state, and counts per subsystem (the
first segment of the key: /compute, /dht, /p2p ...) the keys kept and the
entries (key versions) lost. Damage whose entries cannot be counted (a table
without its index, a damaged stretch of a log) is listed as such. "maybe
stale" counts kept keys whose newest version may have been in a damaged
block: they hold an older value. --dry-run reports all this without writing
or moving anything. See docs/store.md.`,
		Example: `  fog repair --dry-run
  fog repair
  fog repair --path /srv/fog --backup /mnt/spare/fog-store-damaged --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := a.dataDir()
			if err != nil {
				return err
			}
			cfg, err := dir.LoadConfig()
			if errors.Is(err, node.ErrNotInitialized) {
				cfg, err = node.DefaultConfig(), nil // the store may outlive its config
			}
			if err != nil {
				return err
			}
			ctx, stop := signalContext(cmd.Context(), a.errOut)
			defer stop()
			prog, done := a.progress(quiet)
			if prog != nil {
				opts.Progress = prog
			}
			rep, err := node.RepairStore(ctx, dir, cfg, opts, node.NewLogger(a.errOut, cfg.Log))
			done()
			if errors.Is(err, store.ErrLocked) {
				return fmt.Errorf("%w (is `%s` still running?)", err, a.fogCmd("run"))
			}
			if err != nil {
				return err
			}
			return a.print(rep, func(w io.Writer) error { return printRepair(w, rep, a.path) })
		},
	}
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "read and report only: write and move nothing")
	cmd.Flags().StringVar(&opts.Backup, "backup", "", "where to move the original store (default <data dir>/store.damaged-<time>)")
	cmd.Flags().BoolVar(&quiet, "quiet", false, "no progress on stderr")
	return cmd
}

// printRepair writes the human report.
func printRepair(w io.Writer, rep *store.RepairReport, path string) error {
	fmt.Fprintf(w, "checked %d files in %s: ", len(rep.Files), rep.Path)
	if rep.Damaged == 0 {
		fmt.Fprintln(w, "no damage found")
	} else {
		fmt.Fprintf(w, "%d damaged\n", rep.Damaged)
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	for _, f := range rep.Files {
		if f.Status == "ok" && f.Note == "" {
			continue
		}
		what := f.Damage
		if f.Lost > 0 {
			what += fmt.Sprintf("; %d entries lost", f.Lost)
		}
		if f.Note != "" {
			what = strings.TrimPrefix(what+"; "+f.Note, "; ")
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", f.File, f.Kind, f.Status, what)
	}
	tw.Flush()
	fmt.Fprintf(w, "kept %d keys%s\n", rep.KeptTotal(), bySubsystem(rep.Kept))
	fmt.Fprintf(w, "lost %d entries%s\n", rep.LostTotal(), bySubsystem(rep.Lost))
	if n := len(rep.MaybeStale); n > 0 {
		total := 0
		for _, v := range rep.MaybeStale {
			total += v
		}
		fmt.Fprintf(w, "maybe stale (kept at an older version) %d keys%s\n", total, bySubsystem(rep.MaybeStale))
	}
	for _, u := range rep.Unknown {
		fmt.Fprintf(w, "also lost, uncounted: %s\n", u)
	}
	if rep.DryRun {
		_, err := fmt.Fprintf(w, "dry run: nothing was written or moved; repair with: %s\n", fogLine(path, "repair"))
		return err
	}
	fmt.Fprintf(w, "the original files are in %s (remove them once the node runs well)\n", rep.Backup)
	_, err := fmt.Fprintf(w, "start the node with: %s\n", fogLine(path, "run"))
	return err
}

// bySubsystem formats counts as ": /compute 12, /dht 3".
func bySubsystem(m map[string]int) string {
	if len(m) == 0 {
		return ""
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return ": " + strings.Join(parts, ", ")
}
