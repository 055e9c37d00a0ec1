package sim

import (
	"context"
	_ "embed"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fog-compute/fog/compute"
	"github.com/fog-compute/fog/internal/clock"
)

// The scenario's tasks (sources in compute/testdata): echo copies stdin to
// stdout; sleep sleeps the little-endian nanoseconds on its stdin, really
// when the task has the clock.
var (
	//go:embed assets/echo.wasm
	echoWasm []byte
	//go:embed assets/sleep.wasm
	sleepWasm []byte
)

// ComputeScenario boots a network in which every node offers compute,
// submits tasks from random running nodes while nodes churn, and checks
// that every task reaches a terminal state and how many succeed before
// their deadline.
type ComputeScenario struct {
	// Network is the simulated network.
	Network Config
	// Tasks is how many tasks to submit, spread evenly over Duration.
	Tasks    int
	Duration time.Duration
	// Replicas is how many providers run each task.
	Replicas int
	// SleepShare is the share of tasks that sleep (really, with the
	// clock) between SleepMin and SleepMax instead of echoing: long tasks,
	// so crashes hit running work.
	SleepShare         float64
	SleepMin, SleepMax time.Duration
	// Deadline is each task's deadline after its submission.
	Deadline time.Duration
	// Churn is the fraction of nodes leaving per minute while tasks are
	// submitted; each comes back after ChurnDowntime; CrashShare of the
	// departures are crashes.
	Churn         float64
	ChurnDowntime time.Duration
	CrashShare    float64
	// BootTimeout bounds the boot.
	BootTimeout time.Duration
}

// DefaultComputeScenario returns a scenario of n nodes, 500 tasks over two
// minutes, a fifth of them sleeping 0.5–2 s, 60 s deadlines, no churn.
func DefaultComputeScenario(n int) ComputeScenario {
	return ComputeScenario{
		Network:       DefaultConfig(n),
		Tasks:         500,
		Duration:      2 * time.Minute,
		Replicas:      1,
		SleepShare:    0.2,
		SleepMin:      500 * time.Millisecond,
		SleepMax:      2 * time.Second,
		Deadline:      time.Minute,
		ChurnDowntime: 30 * time.Second,
		CrashShare:    0.5,
		BootTimeout:   10 * time.Minute,
	}
}

// ComputeResult is what a ComputeScenario measured.
type ComputeResult struct {
	Nodes    int     `json:"nodes"`
	Seed     uint64  `json:"seed"`
	Churn    float64 `json:"churn_per_min"`
	Replicas int     `json:"replicas"`
	// Submitted counts accepted submissions; SubmitErrors those refused.
	Submitted    int `json:"submitted"`
	SubmitErrors int `json:"submit_errors"`
	// Terminal counts tasks that reached done, failed or cancelled;
	// TerminalRate is Terminal/Submitted.
	Terminal     int     `json:"terminal"`
	TerminalRate float64 `json:"terminal_rate"`
	// Succeeded counts tasks done before their deadline; SuccessRate is
	// Succeeded/Submitted.
	Succeeded   int            `json:"succeeded"`
	SuccessRate float64        `json:"success_rate"`
	Failed      map[string]int `json:"failed,omitempty"`
	// Retried counts tasks that needed more attempts than replicas.
	Retried int `json:"retried"`
	// LatencyMs: submission to outcome, over succeeded tasks.
	LatencyMsP50 float64 `json:"latency_ms_p50"`
	LatencyMsP99 float64 `json:"latency_ms_p99"`
	Departures   int     `json:"departures,omitempty"`
	BootSeconds  float64 `json:"boot_seconds"`
	RunSeconds   float64 `json:"run_seconds"`
}

type submitted struct {
	id       compute.TaskID
	node     int
	at       time.Time
	deadline time.Time
}

// Run runs the scenario.
func (s ComputeScenario) Run(ctx context.Context, progress Progress) (ComputeResult, error) {
	clk := s.Network.Clock
	if clk == nil {
		return ComputeResult{}, fmt.Errorf("%w: Network.Clock is nil", ErrConfig)
	}
	progress = orNoProgress(progress)
	begin := clk.Now()
	if s.Tasks < 1 || s.Duration <= 0 || s.Deadline <= 0 || s.Replicas < 1 {
		return ComputeResult{}, errors.New("sim: tasks, duration, deadline and replicas must be positive")
	}
	cfg := s.Network
	cfg.Node.Compute.Offer = true
	res := ComputeResult{Nodes: cfg.Nodes, Seed: cfg.Seed, Churn: s.Churn, Replicas: s.Replicas, Failed: map[string]int{}}
	nw, err := New(cfg)
	if err != nil {
		return res, err
	}
	defer nw.Close()
	bootStart := clk.Now()
	if err := Boot(ctx, nw, s.BootTimeout, progress); err != nil {
		return res, err
	}
	// Directories fill within one advert interval.
	progress.Phase("filling capacity directories", cfg.Nodes)
	for done := 0; done < cfg.Nodes; {
		done = 0
		for _, nd := range nw.Nodes() {
			if nd.Running().Gossip().Directory().Len() >= cfg.Nodes*9/10 {
				done++
			}
		}
		if done < cfg.Nodes {
			if err := sleepCtx(ctx, clk, 200*time.Millisecond); err != nil {
				return res, err
			}
		}
	}
	progress.Step(cfg.Nodes)
	res.BootSeconds = clock.Since(clk, bootStart).Seconds()

	var departures atomic.Int64
	cctx, stopChurn := context.WithCancel(ctx)
	var churnWG sync.WaitGroup
	if s.Churn > 0 {
		churnWG.Add(1)
		go func() {
			defer churnWG.Done()
			churn(cctx, nw, s.Churn, s.ChurnDowntime, s.CrashShare, &departures)
		}()
	}
	progress.Phase("submitting tasks", s.Tasks)
	tasks := s.submit(ctx, nw, &res, progress)
	stopChurn()
	churnWG.Wait() // restarts every node still down
	res.Departures = int(departures.Load())
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	progress.Phase("waiting for every task to end", len(tasks))
	s.collect(ctx, nw, tasks, &res, progress)
	res.RunSeconds = clock.Since(clk, begin).Seconds()
	return res, ctx.Err()
}

// submit submits the tasks at an even pace from random running nodes.
func (s ComputeScenario) submit(ctx context.Context, nw *Network, res *ComputeResult, progress Progress) []submitted {
	clk := s.Network.Clock
	var out []submitted
	tick := clk.NewTicker(max(s.Duration/time.Duration(s.Tasks), time.Millisecond))
	defer tick.Stop()
	for k := 0; k < s.Tasks && ctx.Err() == nil; k++ {
		<-tick.C()
		var src int
		var sleep bool
		var d time.Duration
		nw.Rand(func(r *rand.Rand) {
			src = r.IntN(len(nw.Nodes()))
			sleep = r.Float64() < s.SleepShare
			d = s.SleepMin + time.Duration(r.Int64N(int64(s.SleepMax-s.SleepMin)+1))
		})
		nd := nw.Node(src).Running()
		if nd == nil {
			k-- // pick another submitter; a node that is down submits nothing
			continue
		}
		spec := compute.Spec{Replicas: s.Replicas, Deadline: clk.Now().Add(s.Deadline), Args: []string{"task"}}
		code := echoWasm
		if sleep {
			code = sleepWasm
			spec.Clock = true
			spec.Stdin = binary.LittleEndian.AppendUint64(nil, uint64(d))
			spec.Limits.WallTime = d + 5*time.Second
		} else {
			spec.Stdin = []byte(fmt.Sprintf("task %d\n", k))
		}
		id, err := nd.Compute().Submit(ctx, spec, code)
		progress.Step(1)
		if err != nil {
			res.SubmitErrors++
			continue
		}
		res.Submitted++
		out = append(out, submitted{id: id, node: src, at: clk.Now(), deadline: spec.Deadline})
	}
	return out
}

// collect waits until every task has ended or its deadline (plus a grace)
// has passed, and tallies the outcomes.
func (s ComputeScenario) collect(ctx context.Context, nw *Network, tasks []submitted, res *ComputeResult, progress Progress) {
	clk := s.Network.Clock
	pending := append([]submitted(nil), tasks...)
	var lat []float64
	last := clk.Now()
	for _, t := range tasks {
		if t.deadline.After(last) {
			last = t.deadline
		}
	}
	giveUp := last.Add(30 * time.Second)
	for len(pending) > 0 && ctx.Err() == nil && clk.Now().Before(giveUp) {
		keep := pending[:0]
		for _, t := range pending {
			nd := nw.Node(t.node).Running()
			if nd == nil {
				keep = append(keep, t)
				continue
			}
			st, err := nd.Compute().Status(ctx, t.id)
			if err != nil || !st.State.Terminal() {
				keep = append(keep, t)
				continue
			}
			progress.Step(1)
			res.Terminal++
			if len(st.Attempts) > s.Replicas {
				res.Retried++
			}
			if st.State == compute.StateDone && !st.Finished.After(t.deadline) {
				res.Succeeded++
				lat = append(lat, float64(st.Finished.Sub(t.at))/float64(time.Millisecond))
			} else {
				reason := string(st.State)
				if st.Error != "" {
					reason += ": " + truncate(st.Error, 80)
				}
				res.Failed[reason]++
			}
		}
		pending = keep
		if len(pending) > 0 {
			_ = sleepCtx(ctx, clk, 250*time.Millisecond)
		}
	}
	for range pending {
		res.Failed["no terminal state"]++
	}
	if res.Submitted > 0 {
		res.TerminalRate = float64(res.Terminal) / float64(res.Submitted)
		res.SuccessRate = float64(res.Succeeded) / float64(res.Submitted)
	}
	sort.Float64s(lat)
	if len(lat) > 0 {
		res.LatencyMsP50, res.LatencyMsP99 = Percentile(lat, 50), Percentile(lat, 99)
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
