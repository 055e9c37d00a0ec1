package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// `fog chat open` in a real terminal (tmux): it shows another node's post
// as it comes, and a line typed into it reaches the other node.
func TestChatOpenInTmux(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed (make test installs it as root with apt-get): the terminal chat is not tested")
	}
	d, ctx := testDevnet(t, 2, time.Minute)
	run := fogOn(t, ctx, d)
	run(1, "chat", "join", "lobby")

	sock := fmt.Sprintf("fogtest-%d", os.Getpid())
	tmux := func(args ...string) string {
		out, err := exec.Command("tmux", append([]string{"-L", sock}, args...)...).CombinedOutput()
		require.NoError(t, err, "tmux %v: %s", args, out)
		return string(out)
	}
	cmdline := fmt.Sprintf("env FOG_TEST_MAIN=1 %s --path %s chat open lobby", os.Args[0], d.dirs[0])
	tmux("new-session", "-d", "-s", "chat", "-x", "100", "-y", "20", cmdline)
	defer exec.Command("tmux", "-L", sock, "kill-server").Run()

	// within is how long a screen or a history may take to show a line:
	// the TUI polls every 500 ms, gossip takes a few hundred.
	within := func(what string, f func() bool) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !f(); {
			require.True(t, time.Now().Before(deadline), what)
			time.Sleep(100 * time.Millisecond)
		}
	}
	screen := func() string { return tmux("capture-pane", "-p", "-t", "chat") }
	within("the chat opens", func() bool { return strings.Contains(screen(), "channel lobby") })
	// A post the topic's young mesh misses comes by the history sync
	// (every 2 s on a devnet), within the wait below.
	run(1, "chat", "post", "lobby", "hello from node1")
	within("node1's post appears", func() bool { return strings.Contains(screen(), "hello from node1") })

	tmux("send-keys", "-t", "chat", "-l", "typed in tmux")
	tmux("send-keys", "-t", "chat", "Enter")
	within("the typed line reaches node1", func() bool {
		return strings.Contains(run(1, "chat", "history", "lobby"), "typed in tmux")
	})
	tmux("send-keys", "-t", "chat", "Escape")
	within("Esc leaves", func() bool {
		return exec.Command("tmux", "-L", sock, "has-session", "-t", "chat").Run() != nil
	})
}
