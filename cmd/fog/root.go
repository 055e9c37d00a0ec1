package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fog-compute/fog/internal/clock"
	"github.com/fog-compute/fog/node"
)

// app holds what every command shares: the data dir flag, output mode and
// the streams to write to.
type app struct {
	path   string
	json   bool
	out    io.Writer
	errOut io.Writer
	// clk is every clock the commands use and give the nodes they
	// start: the binary is the composition root that picks the real one.
	clk clock.Clock
}

func newRootCmd(out, errOut io.Writer) *cobra.Command {
	a := &app{out: out, errOut: errOut, clk: clock.Real()}
	root := &cobra.Command{
		Use:   "fog",
		Short: "fog: a decentralized fog-compute node",
		Long: `fog runs a node of a decentralized fog-compute network: nodes find each
other through a Kademlia DHT, advertise spare compute and run each other's
WebAssembly tasks, with no central coordinator.

A node lives in a data directory: ~/.fog, or $FOG_PATH, or --path.
Start with 'fog init', then 'fog run'; the other commands talk to the
running node through its local JSON-RPC API. To try a small network on this
machine, run 'fog devnet --nodes 5'.

` + exitCodesHelp,
		// cobra prints "fog version <Version>" (a template of our own would
		// bring in text/template and cost the binary 8 MB of dead code).
		Version:       versionOf(node.BuildVersion()),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error { return usageError(cmd, err) })
	root.SetOut(out)
	root.SetErr(errOut)
	root.PersistentFlags().StringVar(&a.path, "path", "", "data directory (default $FOG_PATH or ~/.fog)")
	root.PersistentFlags().BoolVar(&a.json, "json", false, "print JSON instead of text")
	root.AddCommand(
		a.initCmd(), a.runCmd(), a.repairCmd(), a.idCmd(), a.versionCmd(),
		a.statusCmd(), a.peersCmd(), a.connectCmd(), a.disconnectCmd(),
		a.dhtCmd(), a.nodesCmd(), a.taskCmd(), a.relayCmd(), a.mixCmd(), a.chatCmd(), a.walletCmd(), a.stakeCmd(), a.daoCmd(), a.fileCmd(), a.eventsCmd(), a.debugCmd(), a.configCmd(), a.shutdownCmd(), a.devnetCmd(), a.simCmd(),
	)
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	strictGroups(root)
	return root
}

// dataDir resolves --path, FOG_PATH and ~/.fog in that order.
func (a *app) dataDir() (node.DataDir, error) {
	if a.path != "" {
		return node.DataDir(a.path), nil
	}
	return node.DefaultDataDir()
}

// call dials the daemon of the data dir and calls method, giving up after
// two minutes.
func (a *app) call(ctx context.Context, method string, params, result any) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	return a.callWait(ctx, method, params, result)
}

// callWait is call without the time limit, for calls that wait for the
// network (a task's result); Ctrl-C ends them.
func (a *app) callWait(ctx context.Context, method string, params, result any) error {
	dir, err := a.dataDir()
	if err != nil {
		return err
	}
	c, err := node.Dial(dir)
	if err != nil {
		return err
	}
	defer c.Close()
	return c.Call(ctx, method, params, result)
}

// print writes v as indented JSON with --json, or calls human otherwise.
func (a *app) print(v any, human func(io.Writer) error) error {
	if a.json {
		enc := json.NewEncoder(a.out)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	return human(a.out)
}

// fogCmd is a fog command line to suggest to the user: it repeats the
// --path they gave, so that it talks to the same node.
func (a *app) fogCmd(args ...string) string {
	return fogLine(a.path, args...)
}

func fogLine(path string, args ...string) string {
	parts := []string{"fog"}
	if path != "" {
		parts = append(parts, "--path", shellQuote(path))
	}
	for _, s := range args {
		parts = append(parts, shellQuote(s))
	}
	return strings.Join(parts, " ")
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@+,%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// pathError is an error whose message suggests fog commands with the
// --path the user gave.
type pathError struct {
	msg string
	err error
}

func (e *pathError) Error() string { return e.msg }
func (e *pathError) Unwrap() error { return e.err }

// withPath rewrites the fog commands an error suggests (the node package's
// "start it with `fog run`", "run `fog init`") to carry --path.
func withPath(err error, path string) error {
	if err == nil || path == "" {
		return err
	}
	msg := err.Error()
	for _, c := range []string{"run", "init"} {
		msg = strings.ReplaceAll(msg, "`fog "+c+"`", "`"+fogLine(path, c)+"`")
	}
	if msg == err.Error() {
		return err
	}
	return &pathError{msg: msg, err: err}
}

// versionOf is a version with its Go release and platform.
func versionOf(v node.VersionInfo) string {
	return fmt.Sprintf("%s (%s %s/%s)", v.Version, v.Go, v.OS, v.Arch)
}

// humanDuration writes d to the second below an hour (45s, 2m30s, 2m),
// to the minute above (3h05m).
func humanDuration(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d >= time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	case d >= time.Minute && d%time.Minute == 0:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	default:
		return d.String()
	}
}
