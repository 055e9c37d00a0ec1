package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/creachadair/jrpc2"
	"github.com/spf13/cobra"
)

// The exit codes of fog, in one place; `fog --help` and README.md list them.
const (
	// exitOK: the command did what was asked (with --wait: the task ran and
	// its program exited 0).
	exitOK = 0
	// exitFailed: fog could not do it: the daemon is not running, the node
	// refused, the network failed, or a task ended without a result of its
	// program (no quorum, deadline, cancelled).
	exitFailed = 1
	// exitUsage: the command line is wrong: an unknown command or flag, a
	// missing argument, a flag value fog or the node refuses.
	exitUsage = 2
	// exitTaskFailed: the task ran and failed: its program exited non-zero,
	// trapped, or was stopped at one of its limits.
	exitTaskFailed = 3
	// exitInterrupted: interrupted by Ctrl-C (SIGINT) or SIGTERM.
	exitInterrupted = 130
)

// exitCodesHelp is the list printed by `fog --help`.
const exitCodesHelp = `Exit codes:
  0    done (with --wait: the task's program exited 0)
  1    fog could not do it (daemon not running, refused, no result)
  2    usage error (unknown command or flag, bad argument or flag value)
  3    the task ran and failed (non-zero exit, trap, or a limit reached)
  130  interrupted (Ctrl-C)`

// exitError carries the exit code an error ends fog with.
type exitError struct {
	code int
	err  error
	// hint is printed on a line of its own after the error.
	hint string
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageError marks err as a mistake in the command line of cmd.
func usageError(cmd *cobra.Command, err error) error {
	if err == nil {
		return nil
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return err
	}
	hint := ""
	if cmd != nil {
		hint = fmt.Sprintf("Run '%s --help' for usage.", cmd.CommandPath())
	}
	return &exitError{code: exitUsage, err: err, hint: hint}
}

// errInterrupted is the cause of a context ended by SIGINT or SIGTERM.
var errInterrupted = errors.New("interrupted")

// exitCode is the code fog exits with after err.
func exitCode(err error) int {
	var ee *exitError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ee):
		return ee.code
	case errors.Is(err, errInterrupted):
		return exitInterrupted
	}
	return exitFailed
}

// errorText is the reason fog prints for err: the daemon's message for an
// API error, otherwise the error's own text, line by line as it was written.
func errorText(err error) string {
	var je *jrpc2.Error
	if errors.As(err, &je) {
		// The error wrapping the API's may add context before it.
		if outer := err.Error(); strings.HasSuffix(outer, je.Error()) && outer != je.Error() {
			return strings.TrimSuffix(outer, je.Error()) + je.Message
		}
		return je.Message
	}
	return strings.TrimRight(err.Error(), "\n")
}

// printError writes err as fog reports it on standard error: "fog: " and
// its first line, its other lines as they are, then the hint if any.
func printError(w io.Writer, err error) {
	fmt.Fprintf(w, "fog: %s\n", errorText(err))
	var ee *exitError
	if errors.As(err, &ee) && ee.hint != "" {
		fmt.Fprintln(w, ee.hint)
	}
}

// strictGroups makes every command that only groups others (fog task, fog
// dht, …) refuse an unknown subcommand with a usage error and suggestions,
// where cobra would print help and exit 0; run alone, such a command prints
// its help. It also marks the errors of every command's argument check as
// usage errors.
func strictGroups(c *cobra.Command) {
	for _, sub := range c.Commands() {
		strictGroups(sub)
	}
	if c.HasSubCommands() && !c.Runnable() {
		// Typos up to two edits away (cobra's default, which SuggestionsFor
		// only applies when set).
		c.SuggestionsMinimumDistance = 2
		c.Args = func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return nil
			}
			msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
			if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
				msg += "\nDid you mean this?\n\t" + strings.Join(s, "\n\t")
			}
			return errors.New(msg)
		}
		c.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
	}
	if check := c.Args; check != nil {
		c.Args = func(cmd *cobra.Command, args []string) error {
			return usageError(cmd, check(cmd, args))
		}
	}
}
