package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/fog-compute/fog/chat"
	"github.com/fog-compute/fog/chat/chatsvc"
	"github.com/fog-compute/fog/node"
)

func (a *app) chatCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "chat",
		Short: "End-to-end encrypted direct messages, channels and nicknames",
		Long: `Direct messages are encrypted end to end (Noise XX between the two nodes'
chat keys, which their identities sign and publish in the DHT). A message
goes over a direct stream when the peer is online, into its mailboxes (kept
by the nodes closest to it in the DHT, for 7 days) when it is not, and
through the mix with --anonymous. Channels are gossip topics with signed
posts and a history that nodes reconcile when they meet. A nickname is a
signed claim, always shown with a fingerprint (alice#1a2b3c4d), so two
people called alice can be told apart. See docs/chat.md.`,
	}
	cmd.AddCommand(a.chatSendCmd(), a.chatInboxCmd(), a.chatJoinCmd(), a.chatLeaveCmd(), a.chatChannelsCmd(),
		a.chatPostCmd(), a.chatHistoryCmd(), a.chatNameCmd(), a.chatWhoisCmd(), a.chatOpenCmd())
	return cmd
}

func (a *app) chatSendCmd() *cobra.Command {
	var anonymous, wait bool
	var file string
	cmd := &cobra.Command{
		Use:   "send PEER|NAME TEXT | send PEER|NAME --file PATH [TEXT]",
		Short: "Send a direct message, or a file's CID to fetch",
		Long: `Send TEXT to a peer (peer ID) or a name (alice, or alice#1a2b3c4d when more
than one person is called alice). It returns at once; with --wait it returns
when the message is delivered, or stored in the recipient's mailboxes, and
says which. --anonymous sends it through the mix, so that the network does
not see who writes to whom.

With --file PATH, the node shares the file first (as fog file share: it is
pinned and announced) and the message carries its CID and the command that
fetches it, "fog file get CID -o NAME", after TEXT if given.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if file != "" {
				return cobra.RangeArgs(1, 2)(cmd, args)
			}
			return cobra.ExactArgs(2)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			text := ""
			if len(args) == 2 {
				text = args[1]
			}
			if file != "" {
				abs, err := filepath.Abs(file)
				if err != nil {
					return usageError(cmd, err)
				}
				if _, err := os.Stat(abs); err != nil {
					return usageError(cmd, fmt.Errorf("--file: %w", err))
				}
				var sh node.FileShareResult
				if err := a.callWait(cmd.Context(), "file.share", node.FileShareParams{Path: abs}, &sh); err != nil {
					return fmt.Errorf("sharing %s: %w", file, err)
				}
				line := fmt.Sprintf("file %s (%d bytes): fog file get %s -o %s", sh.Name, sh.Size, sh.CID, shellQuote(sh.Name))
				text = strings.TrimSpace(text + "\n" + line)
			}
			var r node.ChatSendResult
			p := node.ChatSendParams{To: args[0], Text: text, Anonymous: anonymous, Wait: wait}
			if err := a.callWait(cmd.Context(), "chat.send", p, &r); err != nil {
				return err
			}
			return a.print(r, func(w io.Writer) error {
				switch r.State {
				case "delivered", "read":
					fmt.Fprintf(w, "delivered %s to %s (%s)\n", r.ID, r.To, strings.Join(r.Routes, ", "))
				case "stored":
					fmt.Fprintf(w, "stored %s in %d of %s's mailboxes: it is delivered when they come back\n", r.ID, r.Mailboxes, r.To)
				case "failed":
					return fmt.Errorf("message %s to %s failed: not delivered before it expired", r.ID, r.To)
				default:
					fmt.Fprintf(w, "sent %s to %s (%s)\n", r.ID, r.To, r.State)
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&anonymous, "anonymous", false, "send through the mix network")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait until delivered or stored in the recipient's mailboxes")
	cmd.Flags().StringVar(&file, "file", "", "share this file and send its CID, for the recipient to fetch with fog file get")
	return cmd
}

func (a *app) chatInboxCmd() *cobra.Command {
	var after uint64
	cmd := &cobra.Command{
		Use:   "inbox",
		Short: "List the direct messages received",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var ms []node.ChatMessage
			if err := a.call(cmd.Context(), "chat.inbox", node.MixInboxParams{After: after}, &ms); err != nil {
				return err
			}
			return a.print(ms, func(w io.Writer) error {
				if len(ms) == 0 {
					fmt.Fprintln(w, "no messages")
				}
				for _, m := range ms {
					fmt.Fprintf(w, "#%d %s %s (%s): %s\n", m.Seq, m.Sent.Local().Format(time.DateTime), m.Name, m.Route, m.Text)
				}
				return nil
			})
		},
	}
	cmd.Flags().Uint64Var(&after, "after", 0, "only messages after this sequence number")
	return cmd
}

func (a *app) chatJoinCmd() *cobra.Command {
	var private bool
	var creator string
	var members []string
	cmd := &cobra.Command{
		Use:   "join CHANNEL",
		Short: "Join a channel (or create a private one)",
		Long: `Join the public channel CHANNEL. With --private, create a private channel
whose members are this node and --member peers or names (its posts are
encrypted to them), or, with --creator, join someone's private channel.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !chatValidChannel(args[0]) {
				return usageError(cmd, fmt.Errorf("channel %q: want 1 to 48 of a-z, 0-9, _ and -", args[0]))
			}
			if creator != "" {
				private = true
			}
			var j chatsvc.Joined
			p := node.ChatChannelParams{Channel: args[0], Private: private, Creator: creator, Members: members}
			if err := a.call(cmd.Context(), "chat.join", p, &j); err != nil {
				return err
			}
			return a.print(j, func(w io.Writer) error {
				kind := "public"
				if j.Private {
					kind = "private, created by " + j.Creator.String()
				}
				fmt.Fprintf(w, "joined %s (%s)\n", j.Name, kind)
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&private, "private", false, "create a private channel")
	cmd.Flags().StringVar(&creator, "creator", "", "join this peer's private channel")
	cmd.Flags().StringSliceVar(&members, "member", nil, "a member of the private channel to create (repeatable)")
	return cmd
}

func chatValidChannel(s string) bool {
	if len(s) < 1 || len(s) > 48 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func (a *app) chatLeaveCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "leave CHANNEL",
		Short: "Leave a channel",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var ok bool
			if err := a.call(cmd.Context(), "chat.leave", node.ChatChannelParams{Channel: args[0]}, &ok); err != nil {
				return err
			}
			return a.print(map[string]string{"left": args[0]}, func(w io.Writer) error {
				fmt.Fprintf(w, "left %s\n", args[0])
				return nil
			})
		},
	}
}

func (a *app) chatChannelsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "channels",
		Short: "List the channels this node is in",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var js []chatsvc.Joined
			if err := a.call(cmd.Context(), "chat.channels", nil, &js); err != nil {
				return err
			}
			return a.print(js, func(w io.Writer) error {
				if len(js) == 0 {
					fmt.Fprintln(w, "no channels; join one with 'fog chat join NAME'")
				}
				for _, j := range js {
					kind := "public"
					if j.Private {
						kind = "private (creator " + j.Creator.String() + ")"
					}
					fmt.Fprintf(w, "%s  %s\n", j.Name, kind)
				}
				return nil
			})
		},
	}
}

func (a *app) chatPostCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "post CHANNEL TEXT",
		Short: "Post to a channel",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var id string
			if err := a.call(cmd.Context(), "chat.post", node.ChatChannelParams{Channel: args[0], Text: args[1]}, &id); err != nil {
				return err
			}
			return a.print(map[string]string{"id": id}, func(w io.Writer) error {
				fmt.Fprintf(w, "posted %s to %s\n", id[:16], args[0])
				return nil
			})
		},
	}
}

func (a *app) chatHistoryCmd() *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   "history CHANNEL",
		Short: "Show a channel's history",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var ps []node.ChatPost
			if err := a.call(cmd.Context(), "chat.history", node.ChatChannelParams{Channel: args[0], Limit: limit}, &ps); err != nil {
				return err
			}
			return a.print(ps, func(w io.Writer) error {
				if len(ps) == 0 {
					fmt.Fprintln(w, "no posts")
				}
				for _, p := range ps {
					text := p.Text
					if !p.Readable {
						text = "(encrypted: this node does not hold the key)"
					}
					fmt.Fprintf(w, "%s %s: %s\n", p.Time.Local().Format(time.DateTime), p.Name, text)
				}
				return nil
			})
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 100, "most posts to show")
	return cmd
}

func (a *app) chatNameCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "name NICK",
		Short: "Set this node's nickname (a signed claim)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := chat.ValidateNick(args[0]); err != nil {
				return usageError(cmd, err)
			}
			var e chat.Entry
			if err := a.call(cmd.Context(), "chat.name", node.ChatNameParams{Name: args[0]}, &e); err != nil {
				return err
			}
			return a.print(e, func(w io.Writer) error {
				fmt.Fprintf(w, "you are %s\n", e)
				return nil
			})
		},
	}
}

func (a *app) chatWhoisCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "whois [NAME|PEER]",
		Short: "Show who a name or a peer is (default: this node)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var p node.ChatNameParams
			if len(args) == 1 {
				p.Name = args[0]
			}
			var es []chat.Entry
			if err := a.call(cmd.Context(), "chat.whois", p, &es); err != nil {
				return err
			}
			return a.print(es, func(w io.Writer) error {
				tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tPEER")
				for _, e := range es {
					fmt.Fprintf(tw, "%s\t%s\n", e, e.Peer)
				}
				return tw.Flush()
			})
		},
	}
}
