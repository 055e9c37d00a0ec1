package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/fog-compute/fog/files"
	"github.com/fog-compute/fog/node"
)

func (a *app) fileCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "file",
		Short: "Share and fetch files (UnixFS over Bitswap, as IPFS does)",
		Long: `A shared file is cut into 256 KiB blocks linked by a UnixFS DAG, kept in the
node's store and named by its root CID (CIDv1, as 'ipfs add --cid-version=1'
names it). Other nodes, and IPFS clients connected to this node, fetch it
with Bitswap from every peer that has it at once, verifying every block;
a fetch that is interrupted resumes from the blocks already stored. The
node announces the files it keeps in the DHT. See docs/files.md.`,
	}
	cmd.AddCommand(a.fileShareCmd(), a.fileGetCmd(), a.fileLsCmd(), a.fileRmCmd(), a.fileStatusCmd())
	return cmd
}

func (a *app) fileShareCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "share PATH",
		Short: "Share a file: import it, pin it, announce it; prints its CID",
		Long: `Share a file: the node reads it, cuts it into blocks, pins it and announces
it in the DHT; the command prints its CID. While the node reads a large
file, the command shows its progress (bytes read, speed) on the terminal.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			abs, err := filepath.Abs(args[0])
			if err != nil {
				return err
			}
			if _, err := os.Stat(abs); err != nil {
				return usageError(cmd, err)
			}
			var r node.FileShareResult
			ctx, cancel := context.WithCancel(cmd.Context())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- a.callWait(ctx, "file.share", node.FileShareParams{Path: abs}, &r) }()
			if err := a.awaitShare(ctx, abs, done); err != nil {
				return err
			}
			return a.print(r, func(w io.Writer) error {
				fmt.Fprintln(w, r.CID)
				return nil
			})
		},
	}
}

// awaitShare shows the progress of the node's share of path until done
// gives the share call's end, with a bar on a terminal and a line every
// few seconds elsewhere (none with --json). It returns the call's error.
func (a *app) awaitShare(ctx context.Context, path string, done <-chan error) error {
	bar := a.newBar()
	if bar != nil {
		defer bar.Exit()
	}
	tick := a.clk.NewTicker(transferPoll)
	defer tick.Stop()
	var printed time.Time
	poll := true
	for {
		select {
		case err := <-done:
			return err
		case <-tick.C():
		}
		if !poll || (bar == nil && a.json) {
			continue
		}
		var shares []files.ShareProgress
		if err := a.call(ctx, "file.shares", nil, &shares); err != nil {
			poll = false // a node without file.shares: the share goes on
			continue
		}
		for _, sh := range shares {
			if sh.Path != path {
				continue
			}
			desc := fmt.Sprintf("chunking, %s/s", humanBytes(int64(sh.Speed)))
			switch {
			case bar != nil:
				bar.ChangeMax64(max(sh.Size, 1))
				bar.Describe(desc)
				_ = bar.Set64(min(sh.Read, max(sh.Size, 1)))
			case a.clk.Now().Sub(printed) >= 2*time.Second:
				printed = a.clk.Now()
				fmt.Fprintf(a.errOut, "%s: %s of %s read, %s\n", filepath.Base(path), humanBytes(sh.Read), humanBytes(sh.Size), desc)
			}
			break
		}
	}
}

// newBar returns a progress bar on the terminal, or nil when errOut is
// not one or with --json.
func (a *app) newBar() *progressbar.ProgressBar {
	f, ok := a.errOut.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) || a.json {
		return nil
	}
	return progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(a.errOut),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
}

func (a *app) fileGetCmd() *cobra.Command {
	var out string
	var from []string
	var detach bool
	cmd := &cobra.Command{
		Use:   "get CID",
		Short: "Fetch a file from every peer that has it, and write it out",
		Long: `Fetch the file CID from the peers the DHT names for it (and --from peers),
from all at once, verifying every block, then write it to -o PATH (default:
the CID, in the current directory). The node does the fetch: this command
shows its progress (bytes, speed, peers) until it ends. Interrupting it
leaves the fetch running in the node ('fog file status CID'); a fetch that
stops (the node restarted, the peers went away) resumes from the blocks
already stored when it is asked again.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				out = args[0]
			}
			abs, err := filepath.Abs(out)
			if err != nil {
				return err
			}
			var t files.Transfer
			p := node.FileGetParams{CID: args[0], Out: abs, Providers: from}
			if err := a.call(cmd.Context(), "file.get", p, &t); err != nil {
				return err
			}
			if !detach {
				if t, err = a.awaitTransfer(cmd.Context(), args[0]); err != nil {
					return err
				}
			}
			if err := a.print(t, func(w io.Writer) error {
				switch t.State {
				case files.StateDone:
					pr := t.Progress
					fmt.Fprintf(w, "got %s: %s to %s in %s (%s fetched from %d peers, %s/s; %s were stored already)\n",
						t.Root, humanBytes(pr.Size), t.Out, humanDuration(pr.Elapsed), humanBytes(pr.Bytes), pr.Peers,
						humanBytes(int64(pr.Speed)), humanBytes(pr.Present))
				case files.StateRunning:
					fmt.Fprintf(w, "fetching %s in the node: see %s\n", t.Root, a.fogCmd("file", "status", t.Root.String()))
				}
				return nil
			}); err != nil {
				return err
			}
			if t.State == files.StateFailed {
				return fmt.Errorf("get %s failed: %s (run it again to resume from the blocks stored)", t.Root, t.Error)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "where to write the file (default: the CID, in the current directory)")
	cmd.Flags().StringArrayVar(&from, "from", nil, "a peer to fetch from besides those the DHT names (multiaddr with /p2p/)")
	cmd.Flags().BoolVar(&detach, "detach", false, "return at once, leaving the fetch to the node")
	return cmd
}

// transferPoll is how often fog file get asks the node for progress.
const transferPoll = 250 * time.Millisecond

// awaitTransfer shows the progress of the node's transfer of c until it
// ends, with a bar on a terminal and a line every few seconds elsewhere.
func (a *app) awaitTransfer(ctx context.Context, c string) (files.Transfer, error) {
	bar := a.newBar()
	if bar != nil {
		defer bar.Exit()
	}
	tick := a.clk.NewTicker(transferPoll)
	defer tick.Stop()
	var printed time.Time
	for {
		var st node.FileStatus
		if err := a.call(ctx, "file.status", node.FileCIDParams{CID: c}, &st); err != nil {
			return files.Transfer{}, err
		}
		if st.Transfer == nil {
			return files.Transfer{}, errors.New("the node forgot the transfer")
		}
		t := *st.Transfer
		pr := t.Progress
		desc := fmt.Sprintf("%d peers, %s/s", pr.Peers, humanBytes(int64(pr.Speed)))
		switch {
		case bar != nil:
			if pr.Size > 0 {
				bar.ChangeMax64(pr.Size)
			}
			bar.Describe(desc)
			_ = bar.Set64(min(pr.Present+pr.Bytes, max(pr.Size, 1)))
		case !a.json && t.State == files.StateRunning && a.clk.Now().Sub(printed) >= 2*time.Second:
			printed = a.clk.Now()
			fmt.Fprintf(a.errOut, "%s: %s of %s, %s\n", c, humanBytes(pr.Present+pr.Bytes), humanBytes(pr.Size), desc)
		}
		if t.State != files.StateRunning {
			return t, nil
		}
		select {
		case <-ctx.Done():
			return t, ctx.Err()
		case <-tick.C():
		}
	}
}

func (a *app) fileLsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "ls",
		Short: "List the files this node keeps, and its transfers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var r node.FileListResult
			if err := a.call(cmd.Context(), "file.list", nil, &r); err != nil {
				return err
			}
			return a.print(r, func(w io.Writer) error {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "CID\tSIZE\tSTATE\tNAME")
				for _, p := range r.Files {
					state := "complete"
					if !p.Complete {
						state = "partial"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.Root, humanBytes(p.Size), state, p.Name)
				}
				if err := tw.Flush(); err != nil {
					return err
				}
				fmt.Fprintf(w, "%s of blocks stored, limit %s\n", humanBytes(r.StoredBytes), humanBytes(r.MaxStorageBytes))
				return nil
			})
		},
	}
}

func (a *app) fileRmCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "rm CID",
		Short: "Unpin a file and collect the blocks no other file needs",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var r files.GCStats
			if err := a.call(cmd.Context(), "file.remove", node.FileCIDParams{CID: args[0]}, &r); err != nil {
				return err
			}
			return a.print(r, func(w io.Writer) error {
				fmt.Fprintf(w, "removed %s: %d blocks, %s freed\n", args[0], r.Removed, humanBytes(r.Freed))
				return nil
			})
		},
	}
}

func (a *app) fileStatusCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "status CID",
		Short: "Show whether a file is kept, and how its transfer goes",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var st node.FileStatus
			if err := a.call(cmd.Context(), "file.status", node.FileCIDParams{CID: args[0]}, &st); err != nil {
				return err
			}
			return a.print(st, func(w io.Writer) error {
				state := "not pinned"
				switch {
				case st.Pinned && st.Complete:
					state = "complete"
				case st.Pinned:
					state = "partial"
				}
				fmt.Fprintf(w, "%s: %s, %s %s\n", st.CID, state, humanBytes(st.Size), st.Name)
				if t := st.Transfer; t != nil {
					pr := t.Progress
					fmt.Fprintf(w, "transfer %s: %s fetched + %s stored before, %d blocks, %d peers, %s/s, %s\n",
						t.State, humanBytes(pr.Bytes), humanBytes(pr.Present), pr.Blocks, pr.Peers, humanBytes(int64(pr.Speed)), humanDuration(pr.Elapsed))
					if t.Error != "" {
						fmt.Fprintf(w, "error: %s\n", t.Error)
					}
				}
				return nil
			})
		},
	}
}

// humanBytes writes n in B, KiB, MiB or GiB.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, suffix := float64(n), "B"
	for _, s := range []string{"KiB", "MiB", "GiB", "TiB"} {
		if v < unit {
			break
		}
		v /= unit
		suffix = s
	}
	return fmt.Sprintf("%.1f %s", v, suffix)
}
