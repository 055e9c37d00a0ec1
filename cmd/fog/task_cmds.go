package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/creachadair/jrpc2"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/fog-compute/fog/compute"
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
	cmd.AddCommand(a.taskSubmitCmd(), a.taskStatusCmd(), a.taskListCmd(), a.taskLogsCmd(), a.taskCancelCmd())
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

// taskOutcome is what fog task submit --wait prints with --json.
type taskOutcome struct {
	ID        string          `json:"id"`
	Status    compute.State   `json:"status"`
	Error     string          `json:"error,omitempty"`
	Kind      compute.Kind    `json:"kind,omitempty"`
	ExitCode  uint32          `json:"exit_code"`
	Stdout    string          `json:"stdout"`
	Stderr    string          `json:"stderr"`
	Providers []string        `json:"providers"`
	Agreed    bool            `json:"agreed"`
	Replicas  int             `json:"replicas"`
	Quorum    int             `json:"quorum"`
	WallMS    float64         `json:"wall_ms"`
	Answers   []answerSummary `json:"answers,omitempty"`
}

type answerSummary struct {
	Provider   string       `json:"provider"`
	Agreed     bool         `json:"agreed"`
	Kind       compute.Kind `json:"kind"`
	ExitCode   uint32       `json:"exit_code"`
	ResultHash string       `json:"result_hash"`
}

func outcomeOf(r compute.Result) taskOutcome {
	o := taskOutcome{
		ID: string(r.ID), Status: r.State, Error: r.Error, Kind: r.Kind, ExitCode: r.ExitCode,
		Stdout: string(r.Stdout), Stderr: string(r.Stderr), Providers: []string{}, Agreed: r.Agreed,
		Replicas: r.Replicas, Quorum: r.Quorum, WallMS: float64(r.Usage.WallTime) / float64(time.Millisecond),
	}
	for _, p := range r.Providers {
		o.Providers = append(o.Providers, p.String())
	}
	for _, an := range r.Answers {
		o.Answers = append(o.Answers, answerSummary{Provider: an.Provider.String(), Agreed: an.Agreed, Kind: an.Kind, ExitCode: an.ExitCode, ResultHash: an.ResultHash})
	}
	return o
}

func (a *app) taskSubmitCmd() *cobra.Command {
	var f submitFlags
	cmd := &cobra.Command{
		Use:   "submit MODULE.wasm [-- ARG...]",
		Short: "Submit a task; with --wait, follow it and print its result",
		Example: `  fog task submit examples/bin/wordcount.wasm --stdin README.md --replicas 3 --wait
  fog task submit examples/bin/primes.wasm --wait --json -- 1000000
  echo hello | fog task submit examples/bin/sha256sum.wasm --stdin - --strategy lowest-price --wait`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := f.params(args)
			if err != nil {
				return err
			}
			var sub node.TaskSubmitResult
			if err := a.call(cmd.Context(), "task.submit", p, &sub); err != nil {
				return asFlagError(err)
			}
			if !f.wait {
				return a.print(sub, func(w io.Writer) error {
					fmt.Fprintf(w, "submitted %s\n", sub.ID)
					fmt.Fprintf(w, "follow it with: fog task status %s   (or fog task logs %s --wait)\n", sub.ID, sub.ID)
					return nil
				})
			}
			ctx, stop := signalContext(cmd.Context(), a.errOut)
			defer stop()
			res, err := a.follow(ctx, sub.ID)
			if err != nil {
				return err
			}
			o := outcomeOf(res)
			if err := a.print(o, func(w io.Writer) error { return printOutcome(w, a.errOut, o) }); err != nil {
				return err
			}
			if res.State != compute.StateDone {
				return fmt.Errorf("task %s %s: %s", res.ID, res.State, res.Error)
			}
			return nil
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
	fl.Uint64Var(&f.maxPrice, "max-price", 0, "most micro-credits per CPU-second to pay (0: any)")
	fl.Int32Var(&f.priority, "priority", 0, "higher runs first")
	fl.StringVar(&f.crashPolicy, "crash-policy", "", "rerun (default) or fail: what to do with a run lost to a crashed provider")
	fl.BoolVar(&f.clock, "clock", false, "give the task the real clock (makes it non-deterministic)")
	fl.BoolVar(&f.random, "random", false, "give the task real randomness (makes it non-deterministic)")
	fl.BoolVar(&f.scratch, "scratch", false, "give the task an in-memory scratch filesystem at /scratch (the provider's quota; only providers that accept scratch tasks)")
	fl.BoolVar(&f.wait, "wait", false, "follow the task with a live display and print its result")
	return cmd
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
// the flag the user typed.
func asFlagError(err error) error {
	var je *jrpc2.Error
	if !errors.As(err, &je) || je.Code != jrpc2.InvalidParams {
		return err
	}
	param, reason, ok := strings.Cut(je.Message, ": ")
	if flag := submitFlag(param); ok && flag != "" {
		return fmt.Errorf("%s: %s", flag, reason)
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
func (a *app) follow(ctx context.Context, id compute.TaskID) (compute.Result, error) {
	live := !a.json
	tty := false
	if f, ok := a.errOut.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		tty = true
	}
	spin := []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}
	start := time.Now()
	last := ""
	t := time.NewTicker(150 * time.Millisecond)
	defer t.Stop()
	for i := 0; ; i++ {
		var st compute.Status
		if err := a.call(ctx, "task.status", node.TaskIDParams{ID: string(id)}, &st); err != nil {
			return compute.Result{}, err
		}
		if st.State.Terminal() {
			if tty && live {
				fmt.Fprint(a.errOut, "\r\033[K")
			}
			var res compute.Result
			err := a.call(ctx, "task.result", node.TaskIDParams{ID: string(id), Wait: true}, &res)
			return res, err
		}
		if live {
			line := progressLine(st)
			switch {
			case tty:
				fmt.Fprintf(a.errOut, "\r\033[K%s %s  %s", spin[i%len(spin)], line, time.Since(start).Round(100*time.Millisecond))
			case line != last:
				fmt.Fprintf(a.errOut, "%s %s\n", time.Since(start).Round(100*time.Millisecond), line)
			}
			last = line
		}
		select {
		case <-ctx.Done():
			return compute.Result{}, fmt.Errorf("stopped following %s (it keeps running; see fog task status %s): %w", id, id, ctx.Err())
		case <-t.C:
		}
	}
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
	line := fmt.Sprintf("%s %s: %d/%d replicas", st.ID, st.State, counts[compute.AttemptAnswered], st.Replicas)
	if len(parts) > 0 {
		line += " (" + strings.Join(parts, ", ") + ")"
	}
	if st.Waiting != "" {
		line += "; waiting: " + st.Waiting
	}
	return line
}

func printOutcome(w, errOut io.Writer, o taskOutcome) error {
	fmt.Fprintf(w, "task %s %s", o.ID, o.Status)
	if o.Status == compute.StateDone {
		fmt.Fprintf(w, ", exit code %d", o.ExitCode)
	}
	fmt.Fprintf(w, ", %d/%d replicas agreed (quorum %d), %.0f ms\n", countAgreed(o), o.Replicas, o.Quorum, o.WallMS)
	if o.Error != "" {
		fmt.Fprintf(w, "error: %s\n", o.Error)
	}
	for _, an := range o.Answers {
		mark := "agreed"
		if !an.Agreed {
			mark = "DISAGREED"
		}
		how := fmt.Sprintf("exit %d", an.ExitCode)
		if an.Kind != compute.KindCompleted {
			how = string(an.Kind)
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
		fmt.Fprintf(errOut, "--- stderr\n%s", tailLines(o.Stderr, 20, o.ID))
	}
	return nil
}

// tailLines keeps the last n lines of s, saying how to see the rest.
func tailLines(s string, n int, id string) string {
	lines := strings.SplitAfter(s, "\n")
	if len(lines) <= n+1 {
		return s
	}
	return fmt.Sprintf("(%d lines before these; fog task logs %s shows all)\n%s", len(lines)-n, id, strings.Join(lines[len(lines)-n:], ""))
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
				fmt.Fprintf(w, "task %s %s (module %s, %d replicas, quorum %d, %s)\n", st.ID, st.State, shortHash(st.Module), st.Replicas, st.Quorum, st.Strategy)
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
				fmt.Fprintln(tw, "ID\tSTATE\tREPLICAS\tMODULE\tAGE")
				for _, t := range ts {
					fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", t.ID, t.State, t.Replicas, shortHash(t.Module), humanDuration(time.Since(t.Created)))
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
	var wait bool
	cmd := &cobra.Command{
		Use:   "logs TASK_ID",
		Short: "Print a finished task's standard output (and standard error on stderr)",
		Args:  exactArgs(1, "a task ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var res compute.Result
			ctx, stop := signalContext(cmd.Context(), a.errOut)
			defer stop()
			err := a.callWait(ctx, "task.result", node.TaskIDParams{ID: args[0], Wait: wait}, &res)
			if err != nil {
				var je *jrpc2.Error
				if errors.As(err, &je) && je.Code == node.CodeConflict {
					return errors.New("the task has not finished; add --wait to wait for it")
				}
				return err
			}
			if a.json {
				return a.print(outcomeOf(res), nil)
			}
			a.out.Write(res.Stdout)
			a.errOut.Write(res.Stderr)
			if res.State != compute.StateDone {
				return fmt.Errorf("task %s %s: %s", res.ID, res.State, res.Error)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&wait, "wait", false, "wait for the task to finish")
	return cmd
}

func (a *app) taskCancelCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "cancel TASK_ID",
		Short: "Cancel a task (and its runs on providers)",
		Args:  exactArgs(1, "a task ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var st compute.Status
			if err := a.call(cmd.Context(), "task.cancel", node.TaskIDParams{ID: args[0]}, &st); err != nil {
				return err
			}
			return a.print(st, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "task %s %s\n", st.ID, st.State)
				return err
			})
		},
	}
}
