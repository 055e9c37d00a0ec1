package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/creachadair/jrpc2"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/fog-compute/fog/compute"
	"github.com/fog-compute/fog/internal/clock"
	"github.com/fog-compute/fog/node"
)

func (a *app) taskCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "task",
		Short: "Submit WebAssembly tasks to the network and follow them",
		Long: `A task is a WebAssembly module (WASI preview 1, e.g. a Go program built with
GOOS=wasip1 GOARCH=wasm) with its arguments, environment, standard input and
limits. The running node places it on providers from its capacity directory
(itself included when it offers compute), runs it on --replicas distinct
providers and accepts the output a quorum of them agrees on.`,
	}
	cmd.AddCommand(a.taskSubmitCmd(), a.taskStatusCmd(), a.taskListCmd(), a.taskLogsCmd(), a.taskCancelCmd(), a.taskDescribeCmd())
	return cmd
}

// submitFlags are fog task submit's flags.
type submitFlags struct {
	args        []string
	env         []string
	stdin       string
	replicas    int
	quorum      int
	strategy    string
	timeout     time.Duration
	memory      uint32
	output      int64
	deadline    time.Duration
	maxPrice    uint64
	priority    int32
	crashPolicy string
	clock       bool
	random      bool
	scratch     bool
	wait        bool
}

// taskOutcome is what fog task submit --wait and fog task logs print with
// --json.
type taskOutcome struct {
	ID string `json:"id"`
	// State is the task's terminal state (the same name as in task.status
	// and task.list).
	State compute.State `json:"state"`
	Error string        `json:"error,omitempty"`
	Kind  compute.Kind  `json:"kind,omitempty"`
	// ExitCode is the program's exit code; it is absent when the program
	// did not run to its end, and NoExitCode then says why.
	ExitCode   *uint32 `json:"exit_code,omitempty"`
	NoExitCode string  `json:"no_exit_code,omitempty"`
	// GuestError says why the program did not run to its end (a trap, a
	// limit), as the accepting provider reported it.
	GuestError string          `json:"guest_error,omitempty"`
	Stdout     string          `json:"stdout"`
	Stderr     string          `json:"stderr"`
	Providers  []string        `json:"providers"`
	Agreed     bool            `json:"agreed"`
	Replicas   int             `json:"replicas"`
	Quorum     int             `json:"quorum"`
	WallMS     float64         `json:"wall_ms"`
	Answers    []answerSummary `json:"answers,omitempty"`
}

type answerSummary struct {
	Provider string       `json:"provider"`
	Agreed   bool         `json:"agreed"`
	Kind     compute.Kind `json:"kind"`
	// ExitCode is absent when the run did not reach its end (GuestError
	// says why).
	ExitCode   *uint32 `json:"exit_code,omitempty"`
	GuestError string  `json:"guest_error,omitempty"`
	ResultHash string  `json:"result_hash"`
}

// exitCodeOf is a run's exit code, or nil when it has none: the run did
// not complete (a limit stopped it) or the program trapped. wazero reports
// such runs with codes of its own (0xEFFFFFFF for a deadline), which are
// not the program's.
func exitCodeOf(kind compute.Kind, code uint32, guestError string) *uint32 {
	if kind != compute.KindCompleted || guestError != "" {
		return nil
	}
	return &code
}

// noExitCode says why a finished task has no exit code.
func noExitCode(r compute.Result) string {
	switch {
	case !r.Agreed && r.State == compute.StateCancelled:
		return "the task was cancelled before a result was accepted"
	case !r.Agreed && r.Error != "":
		return "no result was accepted: " + r.Error
	case !r.Agreed:
		return "no result was accepted"
	case r.GuestError != "":
		return "the program did not run to its end: " + r.GuestError
	}
	return "the program did not run to its end (" + string(r.Kind) + ")"
}

func outcomeOf(r compute.Result) taskOutcome {
	o := taskOutcome{
		ID: string(r.ID), State: r.State, Error: r.Error, Kind: r.Kind, GuestError: r.GuestError,
		Stdout: string(r.Stdout), Stderr: string(r.Stderr), Providers: []string{}, Agreed: r.Agreed,
		Replicas: r.Replicas, Quorum: r.Quorum, WallMS: float64(r.Usage.WallTime) / float64(time.Millisecond),
	}
	if r.Agreed {
		o.ExitCode = exitCodeOf(r.Kind, r.ExitCode, r.GuestError)
	}
	if o.ExitCode == nil {
		o.NoExitCode = noExitCode(r)
	}
	for _, p := range r.Providers {
		o.Providers = append(o.Providers, p.String())
	}
	for _, an := range r.Answers {
		o.Answers = append(o.Answers, answerSummary{
			Provider: an.Provider.String(), Agreed: an.Agreed, Kind: an.Kind,
			ExitCode: exitCodeOf(an.Kind, an.ExitCode, an.GuestError), GuestError: an.GuestError, ResultHash: an.ResultHash,
		})
	}
	return o
}

// taskExit is the error fog ends with after a finished task: nil when its
// program exited 0; exitTaskFailed when the program ran and failed (a
// non-zero exit, a trap, a limit); exitFailed when no result of the
// program was accepted (no quorum, deadline, cancelled, invalid).
func taskExit(r compute.Result) error {
	o := outcomeOf(r)
	switch {
	case r.State == compute.StateDone && o.ExitCode != nil && *o.ExitCode == 0:
		return nil
	case o.ExitCode != nil:
		return &exitError{code: exitTaskFailed, err: fmt.Errorf("task %s: its program exited with code %d", r.ID, *o.ExitCode)}
	case r.Agreed && r.Kind != compute.KindInvalid:
		return &exitError{code: exitTaskFailed, err: fmt.Errorf("task %s %s: %s", r.ID, r.State, o.NoExitCode)}
	}
	return &exitError{code: exitFailed, err: fmt.Errorf("task %s %s: %s", r.ID, r.State, o.NoExitCode)}
}

func (a *app) taskSubmitCmd() *cobra.Command {
	var f submitFlags
	cmd := &cobra.Command{
		Use:   "submit MODULE.wasm [-- ARG...]",
		Short: "Submit a task; with --wait, follow it and print its result",
		Long: `submit sends a WebAssembly module with its arguments, input and limits to
the running node, which places it on --replicas providers. Limits left out
take the node's defaults; 0 is refused for --replicas, --memory, --timeout,
--output and --deadline, where it would silently mean the default.

Without --wait it prints the task's ID. With --wait it follows the task and
prints its result; fog then exits 0 if the program exited 0, 3 if the
program ran and failed (a non-zero exit, a trap, a limit reached), 1 if no
result of it was accepted (no quorum, deadline, cancelled). Ctrl-C stops
following (exit 130); the task keeps running.`,
		Example: `  fog task submit examples/bin/wordcount.wasm --stdin README.md --replicas 3 --wait
  fog task submit examples/bin/primes.wasm --wait --json -- 1000000
  echo hello | fog task submit examples/bin/sha256sum.wasm --stdin - --strategy lowest-price --wait`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.refuseZero(cmd); err != nil {
				return usageError(cmd, err)
			}
			p, err := f.params(args)
			if err != nil {
				return err
			}
			var sub node.TaskSubmitResult
			if err := a.call(cmd.Context(), "task.submit", p, &sub); err != nil {
				return asFlagError(cmd, err)
			}
			if !f.wait {
				return a.print(sub, func(w io.Writer) error {
					fmt.Fprintf(w, "submitted %s\n", sub.ID)
					fmt.Fprintf(w, "follow it with: %s   (or %s)\n", a.fogCmd("task", "status", string(sub.ID)), a.fogCmd("task", "logs", "-f", string(sub.ID)))
					return nil
				})
			}
			ctx, stop := signalContext(cmd.Context(), a.errOut)
			defer stop()
			res, err := a.follow(ctx, sub.ID, nil)
			if err != nil {
				return err
			}
			o := outcomeOf(res)
			if err := a.print(o, func(w io.Writer) error { return a.printOutcome(w, o) }); err != nil {
				return err
			}
			return taskExit(res)
		},
	}
	fl := cmd.Flags()
	fl.StringSliceVar(&f.args, "args", nil, "arguments after the program name, comma-separated (or give them after --)")
	fl.StringArrayVar(&f.env, "env", nil, "environment variable KEY=VALUE (repeatable)")
	fl.StringVar(&f.stdin, "stdin", "", "file to feed to the task's standard input (- for this command's)")
	fl.IntVar(&f.replicas, "replicas", 1, "run on this many distinct providers")
	fl.IntVar(&f.quorum, "quorum", 0, "how many must agree (default: a majority of replicas)")
	fl.StringVar(&f.strategy, "strategy", "", "least-loaded (default), round-robin, lowest-price, lowest-latency or power-of-two")
	fl.DurationVar(&f.timeout, "timeout", 0, "wall-time limit of one run (default: the node's, 10s)")
	fl.Uint32Var(&f.memory, "memory", 0, "memory limit of one run in MiB (default: the node's, 64)")
	fl.Int64Var(&f.output, "output", 0, "cap on stdout and stderr together, in bytes")
	fl.DurationVar(&f.deadline, "deadline", 0, "fail the task if it has not finished by then, waiting included (default 1h)")
	fl.Uint64Var(&f.maxPrice, "max-price", 0, "most micro-credits to pay each provider (0: an unpaid task); with the ledger, max price × replicas is locked in escrow at submit and each provider of the agreeing quorum is paid max price")
	fl.Int32Var(&f.priority, "priority", 0, "higher runs first")
	fl.StringVar(&f.crashPolicy, "crash-policy", "", "rerun (default) or fail: what to do with a run lost to a crashed provider")
	fl.BoolVar(&f.clock, "clock", false, "give the task the real clock (makes it non-deterministic)")
	fl.BoolVar(&f.random, "random", false, "give the task real randomness (makes it non-deterministic)")
	fl.BoolVar(&f.scratch, "scratch", false, "give the task an in-memory scratch filesystem at /scratch (the provider's quota; only providers that accept scratch tasks)")
	fl.BoolVar(&f.wait, "wait", false, "follow the task with a live display and print its result")
	return cmd
}

// refuseZero refuses an explicit 0 for the flags where 0 would silently
// mean the node's default (or, for --replicas, 1). Negative values are
// left to the node, whose refusal names the flag (asFlagError).
func (f submitFlags) refuseZero(cmd *cobra.Command) error {
	for _, z := range []struct {
		flag, dflt string
		zero       bool
	}{
		{"replicas", "leave it out for 1 replica", f.replicas == 0},
		{"memory", "leave it out for the node's default (64 MiB)", f.memory == 0},
		{"timeout", "leave it out for the node's default (10s)", f.timeout == 0},
		{"output", "leave it out for the node's default", f.output == 0},
		{"deadline", "leave it out for the default (1h)", f.deadline == 0},
	} {
		if z.zero && cmd.Flags().Changed(z.flag) {
			v := cmd.Flags().Lookup(z.flag).Value.String()
			return fmt.Errorf("--%s %s: want a positive value (%s)", z.flag, v, z.dflt)
		}
	}
	return nil
}

// submitFlag names the flag of fog task submit that sets a task.submit
// parameter, or "" if none does alone.
func submitFlag(param string) string {
	switch param {
	case "timeout_seconds":
		return "--timeout"
	case "memory_mib":
		return "--memory"
	case "output_bytes":
		return "--output"
	case "deadline_seconds":
		return "--deadline"
	case "crash_policy", "max_price", "strategy", "replicas", "quorum", "stdin", "env":
		return "--" + strings.ReplaceAll(param, "_", "-")
	}
	return ""
}

// asFlagError rewrites task.submit's "parameter: reason" refusals to name
// the flag the user typed, as usage errors of cmd.
func asFlagError(cmd *cobra.Command, err error) error {
	var je *jrpc2.Error
	if !errors.As(err, &je) || je.Code != jrpc2.InvalidParams {
		return err
	}
	param, reason, ok := strings.Cut(je.Message, ": ")
	if flag := submitFlag(param); ok && flag != "" {
		return usageError(cmd, fmt.Errorf("%s: %s", flag, reason))
	}
	return err
}

// params builds task.submit's parameters: args[0] is the module file, the
// rest are the program's arguments.
func (f submitFlags) params(args []string) (node.TaskSubmitParams, error) {
	module, err := os.ReadFile(args[0])
	if err != nil {
		return node.TaskSubmitParams{}, fmt.Errorf("read module: %w", err)
	}
	p := node.TaskSubmitParams{
		Module: module, Args: append([]string{filepath.Base(args[0])}, f.args...),
		Replicas: f.replicas, Quorum: f.quorum, Strategy: f.strategy,
		MemoryMiB: f.memory, TimeoutSeconds: f.timeout.Seconds(), OutputBytes: f.output,
		DeadlineSeconds: f.deadline.Seconds(), MaxPrice: f.maxPrice, Priority: f.priority,
		CrashPolicy: f.crashPolicy, Clock: f.clock, Random: f.random, Scratch: f.scratch,
	}
	p.Args = append(p.Args, args[1:]...)
	for _, kv := range f.env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return p, fmt.Errorf("--env %q: want KEY=VALUE", kv)
		}
		if p.Env == nil {
			p.Env = map[string]string{}
		}
		p.Env[k] = v
	}
	switch f.stdin {
	case "":
	case "-":
		if p.Stdin, err = io.ReadAll(os.Stdin); err != nil {
			return p, fmt.Errorf("read stdin: %w", err)
		}
	default:
		if p.Stdin, err = os.ReadFile(f.stdin); err != nil {
			return p, fmt.Errorf("read --stdin: %w", err)
		}
	}
	return p, nil
}

// follow shows the task's progress until it ends and returns its result.
// streamed is the output fog task logs -f printed while a task ran: a
// preview, which the task's result may contradict.
type streamed struct {
	attempt        int // the attempt whose output was printed; -1 before any
	stdout, stderr []byte
}

// follow shows a task's progress until it ends and returns its result.
// With out, it also prints the task's output as it is written (task.logs)
// and records what it printed there.
func (a *app) follow(ctx context.Context, id compute.TaskID, out *streamed) (compute.Result, error) {
	live := !a.json
	tty := false
	if f, ok := a.errOut.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		tty = true
	}
	spin := []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}
	start := a.clk.Now()
	last := ""
	t := a.clk.NewTicker(150 * time.Millisecond)
	defer t.Stop()
	for i := 0; ; i++ {
		var st compute.Status
		if err := a.call(ctx, "task.status", node.TaskIDParams{ID: string(id)}, &st); err != nil {
			return compute.Result{}, a.interrupted(ctx, id, err)
		}
		if st.State.Terminal() {
			if tty && live {
				fmt.Fprint(a.errOut, "\r\033[K")
			}
			var res compute.Result
			err := a.call(ctx, "task.result", node.TaskIDParams{ID: string(id), Wait: true}, &res)
			return res, a.interrupted(ctx, id, err)
		}
		if out != nil && st.State == compute.StateRunning {
			if err := a.streamOutput(ctx, id, out, tty && live); err != nil {
				return compute.Result{}, a.interrupted(ctx, id, err)
			}
		}
		if live {
			line := progressLine(st)
			switch {
			case tty:
				fmt.Fprintf(a.errOut, "\r\033[K%s %s  %s", spin[i%len(spin)], line, clock.Since(a.clk, start).Round(100*time.Millisecond))
			case line != last:
				fmt.Fprintf(a.errOut, "%s %s\n", clock.Since(a.clk, start).Round(100*time.Millisecond), line)
			}
			last = line
		}
		select {
		case <-ctx.Done():
			return compute.Result{}, fmt.Errorf("stopped following %s (%w); it keeps running: see %s", id, context.Cause(ctx), a.fogCmd("task", "status", string(id)))
		case <-t.C():
		}
	}
}

// streamOutput prints what a running task wrote since the last call, as
// task.logs previews it. It prints only one attempt's output: if the
// preview moves to another attempt, it stops (the result's output is
// printed at the end).
func (a *app) streamOutput(ctx context.Context, id compute.TaskID, out *streamed, clearLine bool) error {
	var o compute.Output
	p := node.TaskLogsParams{ID: string(id), StdoutOffset: len(out.stdout), StderrOffset: len(out.stderr)}
	if err := a.call(ctx, "task.logs", p, &o); err != nil {
		return err
	}
	if !o.Live || len(o.Stdout)+len(o.Stderr) == 0 {
		return nil
	}
	if out.attempt >= 0 && o.Attempt != out.attempt {
		return nil
	}
	out.attempt = o.Attempt
	if clearLine {
		fmt.Fprint(a.errOut, "\r\033[K")
	}
	a.out.Write(o.Stdout)
	a.errOut.Write(o.Stderr)
	out.stdout = append(out.stdout, o.Stdout...)
	out.stderr = append(out.stderr, o.Stderr...)
	return nil
}

// printRest prints the part of a finished task's output that streaming
// did not: the rest, if what was printed is the start of the result's
// output, or else all of it, after a note that the preview differs.
func (a *app) printRest(w io.Writer, printed, final []byte, name string) {
	if bytes.HasPrefix(final, printed) {
		w.Write(final[len(printed):])
		return
	}
	fmt.Fprintf(a.errOut, "\nfog: the accepted %s differs from the run shown while it ran; here it is in full:\n", name)
	w.Write(final)
}

// interrupted turns the error of a call that Ctrl-C ended into one that
// says the task keeps running (and makes fog exit 130).
func (a *app) interrupted(ctx context.Context, id compute.TaskID, err error) error {
	if err == nil || !errors.Is(context.Cause(ctx), errInterrupted) {
		return err
	}
	return fmt.Errorf("stopped following %s (%w); it keeps running: see %s", id, errInterrupted, a.fogCmd("task", "status", string(id)))
}

// progressLine summarises a task's attempts.
func progressLine(st compute.Status) string {
	counts := map[compute.AttemptState]int{}
	for _, at := range st.Attempts {
		counts[at.State]++
	}
	var parts []string
	for _, s := range []compute.AttemptState{compute.AttemptSent, compute.AttemptQueued, compute.AttemptRunning, compute.AttemptAnswered, compute.AttemptFailed} {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
		}
	}
	line := fmt.Sprintf("%s %s: %d/%s answered", st.ID, st.State, counts[compute.AttemptAnswered], plural(st.Replicas, "replica"))
	if len(parts) > 0 {
		line += " (" + strings.Join(parts, ", ") + ")"
	}
	if st.Waiting != "" {
		line += "; waiting: " + st.Waiting
	}
	return line
}

// printOutcome writes a finished task's outcome for people: the outcome
// and its output on w, its standard error (the last lines) on errOut.
func (a *app) printOutcome(w io.Writer, o taskOutcome) error {
	fmt.Fprintf(w, "task %s %s", o.ID, o.State)
	if o.ExitCode != nil {
		fmt.Fprintf(w, ", exit code %d", *o.ExitCode)
	}
	if o.Agreed {
		fmt.Fprintf(w, ", %d/%s agreed (quorum %d), %.0f ms\n", countAgreed(o), plural(o.Replicas, "replica"), o.Quorum, o.WallMS)
	} else {
		fmt.Fprintf(w, ", %d/%s answered, no quorum (%d needed), %.0f ms\n", len(o.Answers), plural(o.Replicas, "replica"), o.Quorum, o.WallMS)
	}
	if o.Error != "" {
		fmt.Fprintf(w, "error: %s\n", o.Error)
	}
	if o.NoExitCode != "" && o.Error == "" {
		fmt.Fprintf(w, "no exit code: %s\n", o.NoExitCode)
	}
	for _, an := range o.Answers {
		// Without a quorum there is no agreed answer to disagree with.
		mark := "no quorum"
		switch {
		case an.Agreed:
			mark = "agreed"
		case o.Agreed:
			mark = "DISAGREED"
		}
		how := string(an.Kind)
		if an.ExitCode != nil {
			how = fmt.Sprintf("exit %d", *an.ExitCode)
		}
		fmt.Fprintf(w, "  %s  %s  %s  %s\n", an.Provider, mark, how, shortHash(an.ResultHash))
	}
	if o.Stdout != "" {
		fmt.Fprintf(w, "--- stdout\n%s", o.Stdout)
		if !strings.HasSuffix(o.Stdout, "\n") {
			fmt.Fprintln(w)
		}
	}
	if o.Stderr != "" {
		fmt.Fprintf(a.errOut, "--- stderr\n%s", tailLines(o.Stderr, 20, a.fogCmd("task", "logs", o.ID)))
	}
	return nil
}

// tailLines keeps the last n lines of s, saying which command shows all.
func tailLines(s string, n int, all string) string {
	lines := strings.SplitAfter(s, "\n")
	if len(lines) <= n+1 {
		return s
	}
	return fmt.Sprintf("(%d lines before these; %s shows all)\n%s", len(lines)-n, all, strings.Join(lines[len(lines)-n:], ""))
}

// plural is "1 replica", "3 replicas".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func countAgreed(o taskOutcome) int {
	n := 0
	for _, an := range o.Answers {
		if an.Agreed {
			n++
		}
	}
	return n
}

func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

func (a *app) taskStatusCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "status TASK_ID",
		Short: "Show a task's state and its attempts on providers",
		Args:  exactArgs(1, "a task ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var st compute.Status
			if err := a.call(cmd.Context(), "task.status", node.TaskIDParams{ID: args[0]}, &st); err != nil {
				return err
			}
			return a.print(st, func(w io.Writer) error {
				fmt.Fprintf(w, "task %s %s (%s, %s, quorum %d, %s)\n", st.ID, st.State, moduleLabel(st), plural(st.Replicas, "replica"), st.Quorum, st.Strategy)
				if st.Error != "" {
					fmt.Fprintf(w, "error: %s\n", st.Error)
				}
				if st.Waiting != "" {
					fmt.Fprintf(w, "waiting: %s\n", st.Waiting)
				}
				tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "  #\tPROVIDER\tSTATE\tRESULT\tERROR")
				for _, at := range st.Attempts {
					prov := at.Provider.String()
					if at.Local {
						prov += " (this node)"
					}
					fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s\n", at.N, prov, at.State, shortHash(at.ResultHash), at.Error)
				}
				return tw.Flush()
			})
		},
	}
}

func (a *app) taskListCmd() *cobra.Command {
	var p node.TaskListParams
	cmd := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List the tasks this node submitted",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var ts []compute.Status
			if err := a.call(cmd.Context(), "task.list", p, &ts); err != nil {
				return err
			}
			return a.print(ts, func(w io.Writer) error {
				if len(ts) == 0 {
					_, err := fmt.Fprintln(w, "no tasks")
					return err
				}
				tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tSTATE\tREPLICAS\tNAME\tMODULE\tAGE")
				for _, t := range ts {
					name := t.Name
					if name == "" {
						name = "-"
					}
					fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", t.ID, t.State, t.Replicas, name, shortHash(t.Module), humanDuration(clock.Since(a.clk, t.Created)))
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().StringVar(&p.State, "state", "", "only tasks in this state: queued, running, done, failed or cancelled")
	cmd.Flags().IntVar(&p.Limit, "limit", 100, "most tasks to list")
	return cmd
}

func (a *app) taskLogsCmd() *cobra.Command {
	var follow bool
	cmd := &cobra.Command{
		Use:   "logs TASK_ID",
		Short: "Print a finished task's standard output (and standard error on stderr); -f follows a running one, printing its output as it is written",
		Long: `logs prints the standard output of a finished task's accepted run, and its
standard error on this command's standard error. With -f (--follow) it
follows a task still queued or running: its progress on providers is shown
on standard error, and its output is printed as it is written, as one of
its runs streams it (a run on this node, or the first provider to send
output; providers send it every second). That preview is not yet
checked by anyone: when the task ends, the rest of the accepted output is
printed, and if the accepted output differs from what was shown (the
provider shown was outvoted, or failed and another run was accepted), a
note says so and the accepted output is printed in full. Nothing is
printed twice. Providers older than protocol /fog/task/1.1.0 do not
stream output: a task on one prints its output when it ends.

The exit code is fog task submit --wait's: 0 when the program exited 0, 3
when it ran and failed, 1 when no result of it was accepted.`,
		Example: "  fog task logs -f 33ligenq90qohjqc2hs7jp22lk",
		Args:    exactArgs(1, "a task ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var res compute.Result
			var err error
			var printed *streamed
			if follow {
				ctx, stop := signalContext(cmd.Context(), a.errOut)
				defer stop()
				if !a.json {
					printed = &streamed{attempt: -1}
				}
				res, err = a.follow(ctx, compute.TaskID(args[0]), printed)
			} else {
				err = a.call(cmd.Context(), "task.result", node.TaskIDParams{ID: args[0]}, &res)
			}
			if err != nil {
				var je *jrpc2.Error
				if errors.As(err, &je) && je.Code == node.CodeConflict {
					return fmt.Errorf("task %s has not finished; follow it with: %s", args[0], a.fogCmd("task", "logs", "-f", args[0]))
				}
				return err
			}
			if a.json {
				if err := a.print(outcomeOf(res), nil); err != nil {
					return err
				}
				return taskExit(res)
			}
			if printed == nil {
				printed = &streamed{}
			}
			a.printRest(a.out, printed.stdout, res.Stdout, "standard output")
			a.printRest(a.errOut, printed.stderr, res.Stderr, "standard error")
			return taskExit(res)
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "follow a running task, showing its progress and printing its output as it is written")
	cmd.Flags().BoolVar(&follow, "wait", false, "the same as --follow")
	return cmd
}

func (a *app) taskCancelCmd() *cobra.Command {
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "cancel TASK_ID",
		Short: "Cancel a task (and its runs on providers) and print the state it ends in",
		Long: `cancel cancels a task. A queued task ends cancelled at once; a running one
ends when its providers have stopped its runs (or a run finishes first):
cancel waits up to --wait for that and prints the state the task is in
then.`,
		Args: exactArgs(1, "a task ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var st compute.Status
			if err := a.call(cmd.Context(), "task.cancel", node.TaskIDParams{ID: args[0]}, &st); err != nil {
				var je *jrpc2.Error
				if errors.As(err, &je) && je.Code == node.CodeConflict {
					return fmt.Errorf("task %s has already finished: see %s", args[0], a.fogCmd("task", "status", args[0]))
				}
				return err
			}
			if !st.State.Terminal() && wait > 0 {
				ctx, stop := signalContext(cmd.Context(), a.errOut)
				defer stop()
				wctx, cancel := context.WithTimeout(ctx, wait)
				defer cancel()
				var res compute.Result
				err := a.callWait(wctx, "task.result", node.TaskIDParams{ID: args[0], Wait: true}, &res)
				switch {
				case err == nil:
				case errors.Is(context.Cause(ctx), errInterrupted):
					return fmt.Errorf("stopped waiting (%w); the task is being cancelled: see %s", errInterrupted, a.fogCmd("task", "status", args[0]))
				case wctx.Err() == nil:
					return err
				}
				if err := a.call(cmd.Context(), "task.status", node.TaskIDParams{ID: args[0]}, &st); err != nil {
					return err
				}
			}
			return a.print(st, func(w io.Writer) error {
				if st.State.Terminal() {
					_, err := fmt.Fprintf(w, "task %s %s\n", st.ID, st.State)
					return err
				}
				_, err := fmt.Fprintf(w, "task %s cancelling: still %s, its runs on providers are being stopped; see %s\n", st.ID, st.State, a.fogCmd("task", "status", string(st.ID)))
				return err
			})
		},
	}
	cmd.Flags().DurationVar(&wait, "wait", 30*time.Second, "how long to wait for a running task to end (0: do not wait)")
	return cmd
}

func (a *app) taskDescribeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "describe TASK_ID",
		Short: "Show everything about a task: spec, limits, args, providers, attempts, timings",
		Long: `describe shows a task as it was submitted, with the node's defaults filled
in (limits, replicas, quorum, strategy, deadline), where it is, each attempt
on a provider with its timings, and, once it has finished, what its
accepted run did (exit code, output sizes, wall time, peak memory). Its
output itself is shown by fog task logs.`,
		Args: exactArgs(1, "a task ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var d node.TaskDescription
			if err := a.call(cmd.Context(), "task.describe", node.TaskIDParams{ID: args[0]}, &d); err != nil {
				return err
			}
			return a.print(d, func(w io.Writer) error { return printDescription(w, d, a.clk.Now()) })
		},
	}
}

// printDescription writes fog task describe's text.
func printDescription(w io.Writer, d node.TaskDescription, now time.Time) error {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	row := func(k, format string, v ...any) { fmt.Fprintf(tw, "%s:\t%s\n", k, fmt.Sprintf(format, v...)) }
	row("Task", "%s", d.ID)
	row("State", "%s", d.State)
	if d.Error != "" {
		row("Error", "%s", d.Error)
	}
	if d.Waiting != "" {
		row("Waiting", "%s", d.Waiting)
	}
	if d.Name != "" {
		row("Name", "%s", d.Name)
	}
	row("Module", "%s", d.Module)
	row("Args", "%s", strings.Join(quoteAll(d.Args), " "))
	if len(d.Env) > 0 {
		keys := make([]string, 0, len(d.Env))
		for k := range d.Env {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			keys[i] = k + "=" + shellQuote(d.Env[k])
		}
		row("Env", "%s", strings.Join(keys, " "))
	}
	row("Stdin", "%d bytes", d.StdinBytes)
	row("Limits", "memory %d MiB, time %s per run, output %d bytes", d.MemoryMiB, time.Duration(d.TimeoutSeconds*float64(time.Second)), d.OutputBytes)
	host := []string{}
	for _, h := range []struct {
		on   bool
		name string
	}{{d.Clock, "clock"}, {d.Random, "random"}, {d.Scratch, "scratch"}} {
		if h.on {
			host = append(host, h.name)
		}
	}
	if len(host) == 0 {
		row("Host access", "none (deterministic)")
	} else {
		row("Host access", "%s (non-deterministic)", strings.Join(host, ", "))
	}
	price := "any"
	if d.MaxPrice > 0 {
		price = fmt.Sprintf("%d micro-credits per CPU-second", d.MaxPrice)
	}
	row("Placement", "%s, quorum %d, strategy %s, priority %d, max price %s, crash policy %s",
		plural(d.Replicas, "replica"), d.Quorum, d.Strategy, d.Priority, price, d.CrashPolicy)
	row("Created", "%s (%s ago)", d.Created.Local().Format(time.DateTime), humanDuration(now.Sub(d.Created)))
	row("Deadline", "%s", d.Deadline.Local().Format(time.DateTime))
	if !d.Finished.IsZero() {
		row("Finished", "%s (after %s)", d.Finished.Local().Format(time.DateTime), humanDuration(d.Finished.Sub(d.Created)))
	}
	if r := d.Result; r != nil {
		how := string(r.Kind)
		switch {
		case r.ExitCode != nil:
			how = fmt.Sprintf("exit code %d", *r.ExitCode)
		case r.Kind == "":
			how = "no result accepted"
		case r.GuestError != "":
			how += ": " + r.GuestError
		}
		agreed := "agreed by a quorum"
		if !r.Agreed {
			agreed = "no quorum"
		}
		row("Result", "%s, %s", how, agreed)
		if r.Kind != "" {
			cut := ""
			if r.Truncated {
				cut = " (truncated)"
			}
			row("Run", "%s wall time, %s peak memory, %d bytes stdout, %d bytes stderr%s", time.Duration(r.WallMS*float64(time.Millisecond)).Round(time.Millisecond),
				mib(r.PeakMemoryBytes>>20), r.StdoutBytes, r.StderrBytes, cut)
		}
		if len(r.Providers) > 0 {
			ps := make([]string, len(r.Providers))
			for i, p := range r.Providers {
				ps[i] = p.String()
			}
			row("Providers", "%s", strings.Join(ps, " "))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if d.Refusals > 0 {
		fmt.Fprintf(w, "Refusals: %d providers refused it (busy, limits or price)\n", d.Refusals)
	}
	fmt.Fprintln(w, "Attempts:")
	if len(d.Attempts) == 0 {
		fmt.Fprintln(w, "  none yet")
		return nil
	}
	tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  #\tPROVIDER\tSTATE\tKIND\tRESULT\tSTARTED\tTOOK\tERROR")
	for _, at := range d.Attempts {
		prov := at.Provider.String()
		if at.Local {
			prov += " (this node)"
		}
		took := "-"
		if !at.Ended.IsZero() {
			took = at.Ended.Sub(at.Started).Round(time.Millisecond).String()
		}
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", at.N, prov, at.State, at.Kind, shortHash(at.ResultHash),
			at.Started.Local().Format(time.TimeOnly), took, at.Error)
	}
	return tw.Flush()
}

// quoteAll quotes each argument for a shell.
func quoteAll(args []string) []string {
	out := make([]string, len(args))
	for i, s := range args {
		out[i] = shellQuote(s)
	}
	return out
}

// moduleLabel names a task's module for people: its program name, if it
// has one, and the start of its hash.
func moduleLabel(st compute.Status) string {
	if st.Name != "" {
		return fmt.Sprintf("%s, module %s", st.Name, shortHash(st.Module))
	}
	return "module " + shortHash(st.Module)
}
