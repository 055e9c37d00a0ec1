package compute_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/compute"
	"github.com/fog-compute/fog/compute/blob"
	"github.com/fog-compute/fog/compute/computetest"
	"github.com/fog-compute/fog/compute/placement"
	"github.com/fog-compute/fog/compute/runner"
	"github.com/fog-compute/fog/compute/wasm"
	"github.com/fog-compute/fog/compute/wire"
	"github.com/fog-compute/fog/gossip"
	"github.com/fog-compute/fog/internal/await"
)

func module(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name + ".wasm")
	require.NoError(t, err)
	return b
}

func newNetwork(t *testing.T, cfg computetest.NetworkConfig) *computetest.Network {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	nw, err := computetest.NewNetwork(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, nw.Close()) })
	return nw
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// sleepSpec is a task that sleeps d on the real clock, costing no CPU.
func sleepSpec(t testing.TB, d time.Duration) (compute.Spec, []byte) {
	mod := module(t, "sleep")
	return compute.Spec{Module: wasm.IDOf(mod), Clock: true, Stdin: binary.LittleEndian.AppendUint64(nil, uint64(d))}, mod
}

// priced gives node i price prices[i] and offers compute where offer[i].
func priced(offer []bool, prices []uint64) func(int, *compute.Config) {
	return func(i int, c *compute.Config) {
		c.Offer, c.Price = offer[i], prices[i]
	}
}

// runningAt waits until node n runs a task.
func runningAt(t *testing.T, n *computetest.Node) {
	t.Helper()
	await.Until(t, 10*time.Second, n.Compute().Changed, func() bool {
		_, r := n.Compute().Load()
		return r > 0
	})
}

func ids(nodes ...*computetest.Node) []peer.ID {
	out := make([]peer.ID, len(nodes))
	for i, n := range nodes {
		out[i] = n.ID()
	}
	return out
}

func TestSubmitReplicas(t *testing.T) {
	nw := newNetwork(t, computetest.NetworkConfig{Nodes: 3, Seed: 1})
	ctx := testCtx(t)
	svc := nw.Nodes[0].Compute()
	for _, replicas := range []int{1, 3} {
		id, err := svc.Submit(ctx, compute.Spec{Stdin: []byte("hello"), Replicas: replicas}, module(t, "echo"))
		require.NoError(t, err)
		res, err := svc.Wait(ctx, id)
		require.NoError(t, err)
		require.Equal(t, compute.StateDone, res.State, res.Error)
		assert.Equal(t, "hello", string(res.Stdout))
		assert.Equal(t, compute.KindCompleted, res.Kind)
		assert.True(t, res.Agreed)
		assert.Len(t, res.Providers, replicas)
		assert.Empty(t, res.Disagreeing)
		if replicas == 3 {
			// A 3-node network runs 3 replicas: the submitter is one.
			assert.ElementsMatch(t, ids(nw.Nodes...), res.Providers)
			local := 0
			for _, a := range res.Answers {
				if a.Local {
					local++
				}
			}
			assert.Equal(t, 1, local)
		}
		st, err := svc.Status(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, compute.StateDone, st.State)
		assert.Len(t, st.Attempts, replicas)
		for _, a := range st.Attempts {
			assert.Equal(t, compute.AttemptAnswered, a.State)
			assert.Equal(t, res.ResultHash, a.ResultHash)
		}
	}
	list, err := svc.List(ctx, compute.ListFilter{State: compute.StateDone})
	require.NoError(t, err)
	assert.Len(t, list, 2)
	assert.Equal(t, uint64(2), svc.Stats().Done)
	// Newest first, so a limit keeps the newest: the 3-replica task.
	newest, err := svc.List(ctx, compute.ListFilter{Limit: 1})
	require.NoError(t, err)
	require.Len(t, newest, 1)
	assert.Equal(t, list[0].ID, newest[0].ID)
	assert.Equal(t, 3, newest[0].Replicas)
}

// A remote provider killed while it runs a task: the task completes on
// another provider (crash policy rerun) or is reported failed (crash
// policy fail); it is never lost.
func TestProviderCrash(t *testing.T) {
	for _, policy := range []compute.CrashPolicy{compute.CrashRerun, compute.CrashFail} {
		t.Run(string(policy), func(t *testing.T) {
			nw := newNetwork(t, computetest.NetworkConfig{Nodes: 3, Seed: 2,
				Configure: priced([]bool{false, true, true}, []uint64{0, 10, 20})})
			ctx := testCtx(t)
			svc := nw.Nodes[0].Compute()
			spec, mod := sleepSpec(t, time.Second)
			spec.Strategy, spec.CrashPolicy = placement.LowestPrice, policy
			id, err := svc.Submit(ctx, spec, mod)
			require.NoError(t, err)
			runningAt(t, nw.Nodes[1]) // the cheapest took it
			require.NoError(t, nw.Crash(1))

			res, err := svc.Wait(ctx, id)
			require.NoError(t, err)
			st, err := svc.Status(ctx, id)
			require.NoError(t, err)
			require.NotEmpty(t, st.Attempts)
			assert.Equal(t, nw.Nodes[1].ID(), st.Attempts[0].Provider)
			assert.Equal(t, compute.AttemptFailed, st.Attempts[0].State)
			if policy == compute.CrashRerun {
				require.Equal(t, compute.StateDone, res.State, res.Error)
				assert.Equal(t, "awake\n", string(res.Stdout))
				assert.Equal(t, ids(nw.Nodes[2]), res.Providers)
				require.Len(t, st.Attempts, 2)
			} else {
				require.Equal(t, compute.StateFailed, res.State)
				assert.Contains(t, res.Error, "lost")
				assert.Len(t, st.Attempts, 1)
			}
			rec, ok := svc.Provider(nw.Nodes[1].ID())
			require.True(t, ok)
			assert.Equal(t, uint64(1), rec.Failures)
		})
	}
}

// A provider that returns a wrong output, validly signed by itself, is
// outvoted with replicas 3 and noted as disagreeing.
func TestLyingProviderOutvoted(t *testing.T) {
	nw := newNetwork(t, computetest.NetworkConfig{Nodes: 3, Seed: 3,
		Configure: priced([]bool{true, true, true}, []uint64{100, 200, 300})})
	ctx := testCtx(t)
	liar, err := nw.AddHostile(ctx, computetest.HostileConfig{Cores: 8, Price: 1,
		Answer: func(m *wire.SubmitMsg) *wire.ResultMsg {
			return &wire.ResultMsg{State: wire.StateDone, Kind: compute.KindCompleted,
				Output: runner.EncodeResult(wasm.Result{Stdout: []byte("42, trust me")})}
		}})
	require.NoError(t, err)
	svc := nw.Nodes[0].Compute()
	id, err := svc.Submit(ctx, compute.Spec{Stdin: []byte("the truth"), Replicas: 3, Strategy: placement.LowestPrice}, module(t, "echo"))
	require.NoError(t, err)
	res, err := svc.Wait(ctx, id)
	require.NoError(t, err)
	require.Equal(t, compute.StateDone, res.State, res.Error)
	assert.Equal(t, int64(1), liar.Submits())
	assert.True(t, res.Agreed)
	assert.Equal(t, "the truth", string(res.Stdout))
	assert.ElementsMatch(t, ids(nw.Nodes[0], nw.Nodes[1]), res.Providers)
	assert.Equal(t, []peer.ID{liar.ID()}, res.Disagreeing)
	require.Len(t, res.Answers, 3)
	for _, a := range res.Answers {
		if a.Provider == liar.ID() {
			assert.False(t, a.Agreed)
			assert.Equal(t, "42, trust me", string(a.Stdout))
			assert.NotEqual(t, res.ResultHash, a.ResultHash)
		} else {
			assert.True(t, a.Agreed)
		}
	}
	rec, ok := svc.Provider(liar.ID())
	require.True(t, ok)
	assert.Equal(t, uint64(1), rec.Disagreed)
	assert.Equal(t, uint64(0), rec.Agreed)
	honest, ok := svc.Provider(nw.Nodes[1].ID())
	require.True(t, ok)
	assert.Equal(t, uint64(1), honest.Agreed)
}

func TestWrongModuleHash(t *testing.T) {
	nw := newNetwork(t, computetest.NetworkConfig{Nodes: 2, Seed: 4})
	ctx := testCtx(t)
	// At Submit: the bytes given must be the module named.
	echo := module(t, "echo")
	_, err := nw.Nodes[0].Compute().Submit(ctx, compute.Spec{Module: wasm.IDOf([]byte("other"))}, echo)
	require.ErrorIs(t, err, compute.ErrModule)
	require.ErrorIs(t, err, wasm.ErrHashMismatch)

	// At a provider: a submitter serving other bytes for the module it
	// names is refused with the reason.
	h, _, err := nw.Gossip.AddHost()
	require.NoError(t, err)
	require.NoError(t, nw.Gossip.Connect(ctx, h, nw.Nodes[1].Host))
	claimed := wasm.IDOf(echo)
	h.SetStreamHandler(blob.Protocol.IDs()[0], func(st network.Stream) {
		defer st.Close()
		req := make([]byte, blob.RequestLen)
		if _, err := io.ReadFull(st, req); err != nil {
			return
		}
		bogus := append([]byte{}, echo...)
		bogus[len(bogus)-1] ^= 0xff
		_, _ = st.Write(blob.Header{Status: blob.StatusFound, Length: uint64(len(bogus))}.Marshal())
		_, _ = st.Write(bogus)
	})
	defer h.RemoveStreamHandler(blob.Protocol.IDs()[0])
	st, err := wire.Protocol.Open(ctx, h, nw.Nodes[1].ID())
	require.NoError(t, err)
	defer st.Reset()
	require.NoError(t, wire.WriteMessage(st, &wire.SubmitMsg{TaskID: "evil", Spec: wasm.Spec{Module: claimed}}))
	m, err := wire.ReadMessage(bufio.NewReader(st), 1<<16)
	require.NoError(t, err)
	refuse, ok := m.(*wire.RefuseMsg)
	require.True(t, ok, "%T", m)
	assert.Equal(t, wire.RefuseHash, refuse.Code)
	assert.Contains(t, refuse.Reason, "hash mismatch")
	assert.Equal(t, uint64(1), nw.Nodes[1].Compute().Stats().Refused["module-hash"])
	q, r := nw.Nodes[1].Compute().Load()
	assert.Zero(t, q+r, "nothing was queued")
}

// A provider without room refuses; the task waits in the submitter's
// queue until one frees up, or fails at its deadline if none does.
func TestCapacityWaitsForRoom(t *testing.T) {
	nw := newNetwork(t, computetest.NetworkConfig{Nodes: 3, Seed: 5, Configure: func(i int, c *compute.Config) {
		c.Offer = i == 1
		c.Cores, c.MaxQueuedPerCore = 1, 0 // node 1 holds one task at a time
	}})
	ctx := testCtx(t)
	a, b := nw.Nodes[0].Compute(), nw.Nodes[2].Compute()
	long, mod := sleepSpec(t, 800*time.Millisecond)
	idA, err := a.Submit(ctx, long, mod)
	require.NoError(t, err)
	runningAt(t, nw.Nodes[1])

	// Another submitter's task is refused as busy and waits.
	idB, err := b.Submit(ctx, compute.Spec{Stdin: []byte("B")}, module(t, "echo"))
	require.NoError(t, err)
	await.Until(t, 5*time.Second, b.Changed, func() bool {
		st, err := b.Status(ctx, idB)
		return err == nil && st.Waiting != "" && st.Refusals > 0
	})
	assert.GreaterOrEqual(t, nw.Nodes[1].Compute().Stats().Refused["busy"], uint64(1))
	// The submitter's own second task is not even offered: its attempt
	// there fills the provider.
	idC, err := a.Submit(ctx, compute.Spec{Stdin: []byte("C")}, module(t, "echo"))
	require.NoError(t, err)
	await.Until(t, 5*time.Second, a.Changed, func() bool {
		st, err := a.Status(ctx, idC)
		return err == nil && strings.Contains(st.Waiting, "full")
	})

	for _, w := range []struct {
		svc *compute.Service
		id  compute.TaskID
		out string
	}{{a, idA, "awake\n"}, {b, idB, "B"}, {a, idC, "C"}} {
		res, err := w.svc.Wait(ctx, w.id)
		require.NoError(t, err)
		require.Equal(t, compute.StateDone, res.State, res.Error)
		assert.Equal(t, w.out, string(res.Stdout))
	}

	// With the provider busy past a task's deadline, the task fails then,
	// while the task that keeps the provider busy still runs.
	longer, mod := sleepSpec(t, 3*time.Second)
	idA, err = a.Submit(ctx, longer, mod)
	require.NoError(t, err)
	runningAt(t, nw.Nodes[1])
	short := compute.Spec{Stdin: []byte("D"), Deadline: time.Now().Add(300 * time.Millisecond)}
	idD, err := b.Submit(ctx, short, module(t, "echo"))
	require.NoError(t, err)
	res, err := b.Wait(ctx, idD)
	require.NoError(t, err)
	assert.Equal(t, compute.StateFailed, res.State)
	assert.Contains(t, res.Error, "deadline")
	stA, err := a.Status(ctx, idA)
	require.NoError(t, err)
	assert.False(t, stA.State.Terminal(), "failed at its deadline, not after the long task")
	// Not waited out: cancelled.
	_, err = a.Cancel(ctx, idA)
	require.NoError(t, err)
	res, err = a.Wait(ctx, idA)
	require.NoError(t, err)
	assert.Equal(t, compute.StateCancelled, res.State)
}

// A submitter that restarts, cleanly or after a crash, while its task
// runs remotely re-attaches to the attempt: the task runs once and its
// result arrives.
func TestSubmitterRestartReattaches(t *testing.T) {
	for _, crash := range []bool{false, true} {
		t.Run(map[bool]string{false: "clean", true: "crash"}[crash], func(t *testing.T) {
			testSubmitterRestart(t, crash)
		})
	}
}

func testSubmitterRestart(t *testing.T, crash bool) {
	nw := newNetwork(t, computetest.NetworkConfig{Nodes: 2, Seed: 6, Configure: priced([]bool{false, true}, []uint64{0, 1})})
	ctx := testCtx(t)
	spec, mod := sleepSpec(t, 700*time.Millisecond)
	id, err := nw.Nodes[0].Compute().Submit(ctx, spec, mod)
	require.NoError(t, err)
	runningAt(t, nw.Nodes[1])
	if crash {
		require.NoError(t, nw.CrashRestartCompute(ctx, 0))
	} else {
		require.NoError(t, nw.RestartCompute(ctx, 0))
	}
	svc := nw.Nodes[0].Compute()
	res, err := svc.Wait(ctx, id)
	require.NoError(t, err)
	require.Equal(t, compute.StateDone, res.State, res.Error)
	assert.Equal(t, "awake\n", string(res.Stdout))
	assert.Equal(t, ids(nw.Nodes[1]), res.Providers)
	assert.Equal(t, uint64(1), svc.Stats().Reattached)
	assert.Equal(t, uint64(1), nw.Nodes[1].Compute().Stats().Accepted, "the provider ran it once")
	st, err := svc.Status(ctx, id)
	require.NoError(t, err)
	require.Len(t, st.Attempts, 1)
	assert.Equal(t, compute.AttemptAnswered, st.Attempts[0].State)
}

// A node running its own task restarts: the run, requeued in its
// execution queue, is re-attached and completes.
func TestLocalRunSurvivesRestart(t *testing.T) {
	nw := newNetwork(t, computetest.NetworkConfig{Nodes: 1, Seed: 12})
	ctx := testCtx(t)
	spec, mod := sleepSpec(t, 500*time.Millisecond)
	id, err := nw.Nodes[0].Compute().Submit(ctx, spec, mod)
	require.NoError(t, err)
	runningAt(t, nw.Nodes[0])
	require.NoError(t, nw.CrashRestartCompute(ctx, 0))
	svc := nw.Nodes[0].Compute()
	res, err := svc.Wait(ctx, id)
	require.NoError(t, err)
	require.Equal(t, compute.StateDone, res.State, res.Error)
	assert.Equal(t, ids(nw.Nodes[0]), res.Providers)
	assert.Equal(t, uint64(1), svc.Stats().Reattached)
}

// Cancelling a task cancels its attempts at their providers.
func TestCancelPropagates(t *testing.T) {
	nw := newNetwork(t, computetest.NetworkConfig{Nodes: 3, Seed: 7})
	ctx := testCtx(t)
	svc := nw.Nodes[0].Compute()
	spec, mod := sleepSpec(t, 20*time.Second)
	spec.Replicas = 3
	id, err := svc.Submit(ctx, spec, mod)
	require.NoError(t, err)
	for _, n := range nw.Nodes {
		runningAt(t, n)
	}
	_, err = svc.Cancel(ctx, id)
	require.NoError(t, err)
	res, err := svc.Wait(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, compute.StateCancelled, res.State)
	// The cancel reached the providers: none still runs the 20 s task.
	for _, n := range nw.Nodes {
		await.Until(t, 5*time.Second, n.Compute().Changed, func() bool {
			q, r := n.Compute().Load()
			return q+r == 0
		}, "node %d still runs it", n.Index)
	}
	st, err := svc.Status(ctx, id)
	require.NoError(t, err)
	for _, a := range st.Attempts {
		assert.Equal(t, compute.AttemptCancelled, a.State)
	}
	_, err = svc.Cancel(ctx, id)
	assert.ErrorIs(t, err, compute.ErrFinished)
}

// A task nobody can take waits, and can be cancelled while it waits.
func TestWaitingTaskCancelled(t *testing.T) {
	nw := newNetwork(t, computetest.NetworkConfig{Nodes: 2, Seed: 8, Configure: priced([]bool{false, true}, []uint64{0, 500})})
	ctx := testCtx(t)
	svc := nw.Nodes[0].Compute()
	id, err := svc.Submit(ctx, compute.Spec{MaxPrice: 100}, module(t, "echo"))
	require.NoError(t, err)
	await.Until(t, 5*time.Second, svc.Changed, func() bool {
		st, err := svc.Status(ctx, id)
		return err == nil && strings.Contains(st.Waiting, "price")
	})
	_, err = svc.Result(ctx, id)
	assert.ErrorIs(t, err, compute.ErrNotFinished)
	_, err = svc.Cancel(ctx, id)
	require.NoError(t, err)
	res, err := svc.Wait(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, compute.StateCancelled, res.State)
	assert.Empty(t, res.Providers)
}

// A provider refuses a task beyond its limits; the submitter does not
// offer it there again.
func TestProviderLimitsRefused(t *testing.T) {
	nw := newNetwork(t, computetest.NetworkConfig{Nodes: 2, Seed: 9, Configure: func(i int, c *compute.Config) {
		c.Offer = i == 1
		if i == 1 {
			c.MaxLimits.WallTime, c.DefaultLimits.WallTime = time.Second, time.Second
		}
	}})
	ctx := testCtx(t)
	svc := nw.Nodes[0].Compute()
	spec := compute.Spec{Limits: compute.Limits{WallTime: 5 * time.Second}, Deadline: time.Now().Add(time.Second)}
	id, err := svc.Submit(ctx, spec, module(t, "echo"))
	require.NoError(t, err)
	res, err := svc.Wait(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, compute.StateFailed, res.State)
	assert.Contains(t, res.Error, "deadline")
	assert.Equal(t, uint64(1), nw.Nodes[1].Compute().Stats().Refused["limits"])
	st, err := svc.Status(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, 1, st.Refusals)
}

// A task whose memory limit exceeds the memory a node gives its tasks
// (Config.Memory) is refused by that node as a provider, and not run by it
// as its own candidate, even within MaxLimits.
func TestMemoryBeyondNodeRefused(t *testing.T) {
	nw := newNetwork(t, computetest.NetworkConfig{Nodes: 2, Seed: 19, Configure: func(_ int, c *compute.Config) {
		c.Memory = 64 << 20
	}})
	ctx := testCtx(t)
	svc := nw.Nodes[0].Compute()
	spec := compute.Spec{Limits: compute.Limits{MemoryPages: 2048}, Deadline: time.Now().Add(time.Second)}
	require.LessOrEqual(t, spec.Limits.MemoryPages, compute.TestConfig().MaxLimits.MemoryPages)
	id, err := svc.Submit(ctx, spec, module(t, "echo"))
	require.NoError(t, err)
	res, err := svc.Wait(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, compute.StateFailed, res.State)
	assert.Contains(t, res.Error, "deadline")
	assert.Empty(t, res.Providers)
	assert.Equal(t, uint64(1), nw.Nodes[1].Compute().Stats().Refused["limits"])

	// Within Memory, the same task runs.
	spec = compute.Spec{Limits: compute.Limits{MemoryPages: 1024}, Stdin: []byte("fits")}
	id, err = svc.Submit(ctx, spec, module(t, "echo"))
	require.NoError(t, err)
	res, err = svc.Wait(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, "fits", string(res.Stdout))
}

// Replicas that all reach the wall-time limit agree on it.
func TestTimeoutAgreed(t *testing.T) {
	nw := newNetwork(t, computetest.NetworkConfig{Nodes: 3, Seed: 10})
	ctx := testCtx(t)
	svc := nw.Nodes[0].Compute()
	loop, err := os.ReadFile("wasm/testdata/loop.wasm")
	require.NoError(t, err)
	id, err := svc.Submit(ctx, compute.Spec{Replicas: 3, Limits: compute.Limits{WallTime: 100 * time.Millisecond}}, loop)
	require.NoError(t, err)
	res, err := svc.Wait(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, compute.StateFailed, res.State)
	assert.Equal(t, compute.KindTimeout, res.Kind)
	assert.True(t, res.Agreed)
	assert.Len(t, res.Providers, 3)
	assert.Contains(t, res.Error, wasm.ErrTimeout.Error())
}

func TestSubmitChecks(t *testing.T) {
	nw := newNetwork(t, computetest.NetworkConfig{Nodes: 1, Seed: 11})
	ctx := testCtx(t)
	svc := nw.Nodes[0].Compute()
	echo := module(t, "echo")
	cfg := compute.TestConfig()
	for name, spec := range map[string]compute.Spec{
		"too many replicas":  {Replicas: 17},
		"quorum above":       {Replicas: 2, Quorum: 3},
		"memory above max":   {Limits: compute.Limits{MemoryPages: cfg.MaxLimits.MemoryPages + 1}},
		"stdin above max":    {Stdin: make([]byte, cfg.MaxStdinBytes+1)},
		"deadline passed":    {Deadline: time.Now().Add(-time.Second)},
		"unknown strategy":   {Strategy: "closest"},
		"NUL in an argument": {Args: []string{"a\x00"}},
	} {
		_, err := svc.Submit(ctx, spec, echo)
		assert.ErrorIs(t, err, compute.ErrInvalidSpec, name)
	}
	_, err := svc.Submit(ctx, compute.Spec{Module: wasm.IDOf([]byte("nobody has it"))}, nil)
	assert.ErrorIs(t, err, compute.ErrModule)
	_, err = svc.Status(ctx, "nosuchtask")
	assert.ErrorIs(t, err, compute.ErrNotFound)
	_, err = svc.Wait(ctx, "Not An ID")
	assert.ErrorIs(t, err, compute.ErrNotFound)
	// A single node that offers compute runs its own task.
	id, err := svc.Submit(ctx, compute.Spec{Stdin: []byte("alone")}, echo)
	require.NoError(t, err)
	res, err := svc.Wait(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, "alone", string(res.Stdout))
	assert.Equal(t, ids(nw.Nodes[0]), res.Providers)
	require.NoError(t, svc.Health(ctx))
}

// Providers crash while tasks run on them: every task still reaches a
// terminal state, and with crash policy rerun every one completes.
func TestChurn(t *testing.T) {
	nw := newNetwork(t, computetest.NetworkConfig{Nodes: 6, Seed: 13, Configure: func(i int, c *compute.Config) {
		c.Offer = i != 0
	}})
	ctx := testCtx(t)
	svc := nw.Nodes[0].Compute()
	spec, mod := sleepSpec(t, 150*time.Millisecond)
	spec.Strategy = placement.RoundRobin
	var tasks []compute.TaskID
	for range 60 {
		id, err := svc.Submit(ctx, spec, mod)
		require.NoError(t, err)
		tasks = append(tasks, id)
	}
	runningAt(t, nw.Nodes[2])
	runningAt(t, nw.Nodes[4])
	require.NoError(t, nw.Crash(2))
	require.NoError(t, nw.Crash(4))
	done := 0
	for _, id := range tasks {
		res, err := svc.Wait(ctx, id)
		require.NoError(t, err)
		require.True(t, res.State.Terminal())
		if res.State == compute.StateDone {
			done++
		}
	}
	assert.Equal(t, len(tasks), done)
	assert.Positive(t, svc.Stats().Lost)
}

// The submitter restarts without the module of a task a provider is
// running (evicted, or lost with a store in memory): it re-attaches the
// attempt and fetches the module back from that provider.
func TestRestartFetchesLostModule(t *testing.T) {
	nw := newNetwork(t, computetest.NetworkConfig{Nodes: 2, Seed: 11, Configure: priced([]bool{false, true}, []uint64{0, 1})})
	ctx := testCtx(t)
	spec, mod := sleepSpec(t, 700*time.Millisecond)
	id, err := nw.Nodes[0].Compute().Submit(ctx, spec, mod)
	require.NoError(t, err)
	runningAt(t, nw.Nodes[1])
	require.NoError(t, nw.StopCompute(0))
	require.NoError(t, nw.Nodes[0].Blob.Store().Delete(spec.Module))
	require.NoError(t, nw.StartCompute(ctx, 0))
	svc := nw.Nodes[0].Compute()
	res, err := svc.Wait(ctx, id)
	require.NoError(t, err)
	require.Equal(t, compute.StateDone, res.State, res.Error)
	assert.Equal(t, "awake\n", string(res.Stdout))
	assert.Equal(t, uint64(1), svc.Stats().Reattached)
	assert.True(t, nw.Nodes[0].Blob.Store().Has(spec.Module), "fetched back")
}

// A task waiting for room whose module is lost and held by nobody fails
// with the reason, instead of being placed without its module.
func TestRestartFailsUnfetchableModule(t *testing.T) {
	nw := newNetwork(t, computetest.NetworkConfig{Nodes: 2, Seed: 12, Configure: priced([]bool{false, true}, []uint64{0, 500})})
	ctx := testCtx(t)
	svc := nw.Nodes[0].Compute()
	mod := module(t, "echo")
	id, err := svc.Submit(ctx, compute.Spec{MaxPrice: 100}, mod)
	require.NoError(t, err)
	await.Until(t, 5*time.Second, svc.Changed, func() bool {
		st, err := svc.Status(ctx, id)
		return err == nil && strings.Contains(st.Waiting, "price")
	})
	require.NoError(t, nw.StopCompute(0))
	require.NoError(t, nw.Nodes[0].Blob.Store().Delete(wasm.IDOf(mod)))
	require.NoError(t, nw.StartCompute(ctx, 0))
	res, err := nw.Nodes[0].Compute().Wait(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, compute.StateFailed, res.State)
	assert.Contains(t, res.Error, "could not be fetched")
}

// A task that needs more distinct providers than exist fails after
// Config.ProviderWait, saying how many there are, instead of waiting out
// its deadline; with enough for its quorum it completes. It runs in a
// synctest bubble on the default ProviderWait: the task loop's clock is the
// bubble's, so the test checks when the task fails without waiting for it.
func TestTooFewProviders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wait := compute.DefaultConfig().ProviderWait
		nw := newNetwork(t, computetest.NetworkConfig{Nodes: 2, Seed: 7,
			Configure: func(_ int, c *compute.Config) { c.ProviderWait = wait }})
		ctx := testCtx(t)
		svc := nw.Nodes[0].Compute()

		begin := time.Now()
		id, err := svc.Submit(ctx, compute.Spec{Stdin: []byte("hi"), Replicas: 3, Quorum: 3, Deadline: time.Now().Add(time.Hour)}, module(t, "echo"))
		require.NoError(t, err)
		res, err := svc.Wait(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, compute.StateFailed, res.State)
		assert.Equal(t, wait, time.Since(begin), "failed ProviderWait after it was submitted")
		assert.Contains(t, res.Error, "too few providers: 2 offer compute for this task with 3 replicas")
		assert.False(t, res.Agreed)
		assert.Len(t, res.Answers, 2, "the answers it got are kept")
		assert.Empty(t, res.Disagreeing, "no answer is called a disagreement")

		id, err = svc.Submit(ctx, compute.Spec{Stdin: []byte("hi"), Replicas: 3, Quorum: 2}, module(t, "echo"))
		require.NoError(t, err)
		res, err = svc.Wait(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, compute.StateDone, res.State, res.Error)
		assert.True(t, res.Agreed)
	})
}

// A scratch task is placed only on providers whose advert says they run
// scratch tasks (gossip.RuntimeWasmScratch), never on the submitter itself
// when it does not, and a provider that does not run them refuses one
// sent to it anyway, saying why.
func TestScratchPlacedOnlyWhereAccepted(t *testing.T) {
	nw := newNetwork(t, computetest.NetworkConfig{Nodes: 4, Seed: 12, Configure: func(i int, c *compute.Config) {
		c.Scratch = i == 3
	}})
	ctx := testCtx(t)
	for _, n := range nw.Nodes {
		e, ok := nw.Nodes[0].Gossip.Directory().Get(n.ID())
		require.True(t, ok)
		assert.Equal(t, n.Index == 3, slices.Contains(e.Advert.Runtimes, gossip.RuntimeWasmScratch), "node %d's advert", n.Index)
	}
	scratch, err := os.ReadFile("wasm/testdata/scratch.wasm") // writes /scratch/out.txt, prints "/scratch"
	require.NoError(t, err)
	svc := nw.Nodes[0].Compute()
	for range 4 {
		id, err := svc.Submit(ctx, compute.Spec{Module: wasm.IDOf(scratch), Scratch: true}, scratch)
		require.NoError(t, err)
		res, err := svc.Wait(ctx, id)
		require.NoError(t, err)
		require.Equal(t, compute.StateDone, res.State, res.Error)
		assert.Equal(t, "/scratch\n", string(res.Stdout))
		assert.Equal(t, ids(nw.Nodes[3]), res.Providers)
		assert.False(t, res.NonDeterministic)
	}
	// Tasks without scratch still go anywhere, the submitter included.
	id, err := svc.Submit(ctx, compute.Spec{Stdin: []byte("x"), Replicas: 4}, module(t, "echo"))
	require.NoError(t, err)
	res, err := svc.Wait(ctx, id)
	require.NoError(t, err)
	require.Equal(t, compute.StateDone, res.State, res.Error)
	assert.ElementsMatch(t, ids(nw.Nodes...), res.Providers)

	// Sent to a provider that does not run them: refused, with the reason.
	h, _, err := nw.Gossip.AddHost()
	require.NoError(t, err)
	require.NoError(t, nw.Gossip.Connect(ctx, h, nw.Nodes[1].Host))
	st, err := wire.Protocol.Open(ctx, h, nw.Nodes[1].ID())
	require.NoError(t, err)
	defer st.Reset()
	require.NoError(t, wire.WriteMessage(st, &wire.SubmitMsg{TaskID: "s", Spec: wasm.Spec{Module: wasm.IDOf(scratch), Scratch: true}}))
	m, err := wire.ReadMessage(bufio.NewReader(st), 1<<16)
	require.NoError(t, err)
	refuse, ok := m.(*wire.RefuseMsg)
	require.True(t, ok, "%T", m)
	assert.Equal(t, wire.RefuseLimits, refuse.Code)
	assert.Contains(t, refuse.Reason, "/scratch")
	q, r := nw.Nodes[1].Compute().Load()
	assert.Zero(t, q+r, "nothing was queued")

	// With no provider that runs scratch tasks, the task waits and says why.
	none := newNetwork(t, computetest.NetworkConfig{Nodes: 2, Seed: 13, Configure: func(i int, c *compute.Config) {
		c.Scratch = false
	}})
	svc = none.Nodes[0].Compute()
	id, err = svc.Submit(ctx, compute.Spec{Module: wasm.IDOf(scratch), Scratch: true}, scratch)
	require.NoError(t, err)
	await.Until(t, 10*time.Second, svc.Changed, func() bool {
		st, err := svc.Status(ctx, id)
		return err == nil && strings.Contains(st.Waiting, "runs scratch tasks")
	})
	status, err := svc.Status(ctx, id)
	require.NoError(t, err)
	assert.Empty(t, status.Attempts, "no provider was tried")
	_, err = svc.Cancel(ctx, id)
	require.NoError(t, err)
}
