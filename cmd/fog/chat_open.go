package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/spf13/cobra"

	"github.com/fog-compute/fog/chat"
	"github.com/fog-compute/fog/node"
)

func (a *app) chatOpenCmd() *cobra.Command {
	var dmFlag bool
	cmd := &cobra.Command{
		Use:   "open CHANNEL|PEER",
		Short: "Chat interactively in a channel or with a peer",
		Long: `Open a terminal chat: new messages appear as they come, and each line you
type is sent when you press Enter. CHANNEL is a channel (joined if this node
is not in it yet); a peer ID, a name with a fingerprint (alice#1a2b3c4d), or
any name with --dm opens a conversation with that person. Esc or Ctrl-C
leaves.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			target := args[0]
			_, isPeer := peer.Decode(target)
			dm := dmFlag || isPeer == nil || strings.Contains(target, "#")
			m := &chatModel{a: a, ctx: cmd.Context(), target: target, dm: dm}
			if err := m.open(); err != nil {
				return err
			}
			p := tea.NewProgram(m, tea.WithContext(cmd.Context()), tea.WithOutput(a.out))
			_, err := p.Run()
			if err != nil && cmd.Context().Err() != nil {
				return nil
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&dmFlag, "dm", false, "the argument is a person's name, not a channel")
	return cmd
}

// chatModel is the terminal chat: the lines shown, the line being typed,
// and where new messages come from.
type chatModel struct {
	a      *app
	ctx    context.Context
	target string
	dm     bool
	peer   peer.ID // dm: the resolved peer
	lines  []string
	input  []rune
	seen   map[string]bool
	after  uint64 // dm: inbox seq seen
	status string
	width  int
	height int
}

// chatPoll is the tick that fetches new messages.
type chatPoll struct{}

// chatLines are new lines fetched.
type chatLines struct {
	lines []string
	err   error
}

// open resolves the target: joins the channel, or finds the peer.
func (m *chatModel) open() error {
	m.seen = map[string]bool{}
	if m.dm {
		var es []chat.Entry
		if err := m.a.call(m.ctx, "chat.whois", node.ChatNameParams{Name: m.target}, &es); err != nil {
			return err
		}
		if len(es) != 1 {
			names := make([]string, len(es))
			for i, e := range es {
				names[i] = e.String()
			}
			return fmt.Errorf("%q is %d people: %s; name one with its fingerprint", m.target, len(es), strings.Join(names, ", "))
		}
		m.peer = es[0].Peer
		m.status = fmt.Sprintf("direct messages with %s (end to end encrypted)", es[0])
		// Only messages from now on and the last few are shown.
		var ms []node.ChatMessage
		if err := m.a.call(m.ctx, "chat.inbox", node.MixInboxParams{}, &ms); err != nil {
			return err
		}
		m.lines = append(m.lines, m.dmLines(ms)...)
		return nil
	}
	if !chatValidChannel(m.target) {
		return usageError(nil, fmt.Errorf("%q is neither a channel name (a-z, 0-9, _ and -) nor a peer; for a person's name use --dm", m.target))
	}
	var js []struct {
		Name string `json:"name"`
	}
	if err := m.a.call(m.ctx, "chat.channels", nil, &js); err != nil {
		return err
	}
	in := false
	for _, j := range js {
		in = in || j.Name == m.target
	}
	if !in {
		if err := m.a.call(m.ctx, "chat.join", node.ChatChannelParams{Channel: m.target}, nil); err != nil {
			return err
		}
	}
	m.status = "channel " + m.target
	lines, err := m.fetch()
	m.lines = append(m.lines, lines...)
	return err
}

func (m *chatModel) dmLines(ms []node.ChatMessage) []string {
	var out []string
	for _, c := range ms {
		m.after = max(m.after, c.Seq)
		if c.From == m.peer {
			out = append(out, fmt.Sprintf("%s %s: %s", c.Sent.Local().Format(time.TimeOnly), c.Name, c.Text))
		}
	}
	return out
}

// fetch returns the lines not shown yet.
func (m *chatModel) fetch() ([]string, error) {
	if m.dm {
		var ms []node.ChatMessage
		if err := m.a.call(m.ctx, "chat.inbox", node.MixInboxParams{After: m.after}, &ms); err != nil {
			return nil, err
		}
		return m.dmLines(ms), nil
	}
	var ps []node.ChatPost
	if err := m.a.call(m.ctx, "chat.history", node.ChatChannelParams{Channel: m.target, Limit: 200}, &ps); err != nil {
		return nil, err
	}
	var out []string
	for _, p := range ps {
		if m.seen[p.ID] {
			continue
		}
		m.seen[p.ID] = true
		text := p.Text
		if !p.Readable {
			text = "(encrypted)"
		}
		out = append(out, fmt.Sprintf("%s %s: %s", p.Time.Local().Format(time.TimeOnly), p.Name, text))
	}
	return out, nil
}

func (m *chatModel) poll() tea.Cmd {
	return tea.Tick(500*time.Millisecond, func(time.Time) tea.Msg { return chatPoll{} })
}

// Init starts polling for new messages.
func (m *chatModel) Init() tea.Cmd { return m.poll() }

// Update handles keys, polls and their results.
func (m *chatModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
	case chatPoll:
		return m, func() tea.Msg {
			lines, err := m.fetch()
			return chatLines{lines: lines, err: err}
		}
	case chatLines:
		m.lines = append(m.lines, msg.lines...)
		if msg.err != nil {
			m.status = "error: " + errorText(msg.err)
		}
		return m, m.poll()
	case tea.KeyMsg:
		switch msg.Type {
		case tea.KeyCtrlC, tea.KeyEsc:
			return m, tea.Quit
		case tea.KeyEnter:
			text := strings.TrimSpace(string(m.input))
			m.input = m.input[:0]
			if text == "" {
				return m, nil
			}
			return m, func() tea.Msg { return m.send(text) }
		case tea.KeyBackspace:
			if len(m.input) > 0 {
				m.input = m.input[:len(m.input)-1]
			}
		case tea.KeyRunes, tea.KeySpace:
			m.input = append(m.input, msg.Runes...)
			if msg.Type == tea.KeySpace && len(msg.Runes) == 0 {
				m.input = append(m.input, ' ')
			}
		}
	}
	return m, nil
}

// send sends a typed line and returns what to show.
func (m *chatModel) send(text string) tea.Msg {
	var err error
	if m.dm {
		var r node.ChatSendResult
		err = m.a.call(m.ctx, "chat.send", node.ChatSendParams{To: m.peer.String(), Text: text}, &r)
		if err == nil {
			return chatLines{lines: []string{fmt.Sprintf("%s you: %s", time.Now().Format(time.TimeOnly), text)}}
		}
	} else {
		err = m.a.call(m.ctx, "chat.post", node.ChatChannelParams{Channel: m.target, Text: text}, nil)
		if err == nil {
			return chatLines{} // it comes back through the history
		}
	}
	return chatLines{err: err}
}

// View shows the newest lines that fit, the status and the input line.
func (m *chatModel) View() string {
	h := m.height - 3
	if h < 1 {
		h = 20
	}
	lines := m.lines
	if len(lines) > h {
		lines = lines[len(lines)-h:]
	}
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	for range h - len(lines) {
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "-- %s -- Enter sends, Esc leaves\n> %s", m.status, string(m.input))
	return b.String()
}
