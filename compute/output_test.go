package compute_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"github.com/fog-compute/fog/internal/await"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/compute"
	"github.com/fog-compute/fog/compute/computetest"
	"github.com/fog-compute/fog/compute/runner"
	"github.com/fog-compute/fog/compute/wasm"
	"github.com/fog-compute/fog/compute/wire"
	"github.com/fog-compute/fog/p2p"
)

// chatterSpec is a task that writes "first\n" (and "warn\n" on stderr),
// sleeps d on the real clock, then writes "second\n".
func chatterSpec(t testing.TB, d time.Duration) (compute.Spec, []byte) {
	mod := module(t, "chatter")
	return compute.Spec{Module: wasm.IDOf(mod), Clock: true, Stdin: binary.LittleEndian.AppendUint64(nil, uint64(d))}, mod
}

// A running task's output is seen by its submitter while it runs, from a
// remote provider (Output messages) as from its own runner, and the final
// output is the result's.
func TestLiveOutput(t *testing.T) {
	for _, tt := range []struct {
		name      string
		offer     []bool
		wantLocal bool // the run shown is this node's
	}{
		{"remote provider", []bool{false, true}, false},
		{"this node", []bool{true}, true},
		{"this node and a provider", []bool{true, true}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			nw := newNetwork(t, computetest.NetworkConfig{Nodes: len(tt.offer), Seed: 11,
				Configure: priced(tt.offer, make([]uint64, len(tt.offer)))})
			ctx := testCtx(t)
			svc := nw.Nodes[0].Compute()
			// Long enough that the task still runs when its first line is
			// seen: it is asserted below, not assumed.
			spec, mod := chatterSpec(t, 3*time.Second)
			for _, o := range tt.offer {
				if o {
					spec.Replicas++
				}
			}
			id, err := svc.Submit(ctx, spec, mod)
			require.NoError(t, err)

			var live compute.Output
			await.Until(t, 10*time.Second, svc.Changed, func() bool {
				live, err = svc.Output(ctx, id, 0, 0)
				require.NoError(t, err)
				return live.Live && len(live.Stdout) > 0 && len(live.Stderr) > 0
			})
			assert.Equal(t, compute.StateRunning, live.State, "seen while the task runs")
			assert.Equal(t, "first\n", string(live.Stdout))
			assert.Equal(t, "warn\n", string(live.Stderr))
			st, err := svc.Status(ctx, id)
			require.NoError(t, err)
			require.Greater(t, len(st.Attempts), live.Attempt)
			assert.Equal(t, tt.wantLocal, st.Attempts[live.Attempt].Local, "the run shown")
			// From an offset: only what is new.
			next, err := svc.Output(ctx, id, len(live.Stdout), len(live.Stderr))
			require.NoError(t, err)
			if next.State == compute.StateRunning {
				assert.Empty(t, next.Stdout)
				assert.Empty(t, next.Stderr)
			}

			res, err := svc.Wait(ctx, id)
			require.NoError(t, err)
			require.Equal(t, compute.StateDone, res.State, res.Error)
			assert.Equal(t, "first\nsecond\n", string(res.Stdout))
			final, err := svc.Output(ctx, id, len(live.Stdout), 0)
			require.NoError(t, err)
			assert.False(t, final.Live)
			assert.Equal(t, compute.StateDone, final.State)
			assert.Equal(t, "second\n", string(final.Stdout), "the result's remainder")
			assert.Equal(t, "warn\n", string(final.Stderr))
		})
	}
}

// readUntilResult reads a task stream's messages until its result and
// returns the Output messages among them.
func readUntilResult(t *testing.T, r io.Reader) []*wire.OutputMsg {
	t.Helper()
	br := bufio.NewReader(r)
	var outs []*wire.OutputMsg
	for {
		m, err := wire.ReadMessage(br, 1<<20)
		require.NoError(t, err)
		switch m := m.(type) {
		case *wire.OutputMsg:
			outs = append(outs, m)
		case *wire.ResultMsg:
			return outs
		case *wire.RefuseMsg:
			t.Fatalf("refused: %s", m.Reason)
		}
	}
}

// A provider streams output only to a submitter that negotiated 1.1.0: a
// 1.0.0 peer, which cannot decode Output, never gets one.
func TestOutputOnlyForNewPeers(t *testing.T) {
	nw := newNetwork(t, computetest.NetworkConfig{Nodes: 1, Seed: 12})
	ctx := testCtx(t)
	provider := nw.Nodes[0]
	spec, mod := chatterSpec(t, 600*time.Millisecond)
	_, err := provider.Blob.Store().Put(ctx, mod)
	require.NoError(t, err)
	h, _, err := nw.Gossip.AddHost()
	require.NoError(t, err)
	require.NoError(t, nw.Gossip.Connect(ctx, h, provider.Host))
	for _, tt := range []struct {
		version p2p.Version
		want    bool
	}{
		{p2p.Version{Major: 1, Minor: 1}, true},
		{p2p.Version{Major: 1}, false},
	} {
		t.Run(tt.version.String(), func(t *testing.T) {
			st, err := h.NewStream(ctx, provider.ID(), wire.Protocol.ID(tt.version))
			require.NoError(t, err)
			defer st.Close()
			sub := &wire.SubmitMsg{TaskID: "v" + string(rune('a'+tt.version.Minor)), Spec: wasm.Spec{
				Module: spec.Module, Stdin: spec.Stdin, Clock: true,
				Limits: wasm.Limits{MemoryPages: 16, WallTime: 10 * time.Second, OutputBytes: 1024},
			}}
			require.NoError(t, wire.WriteMessage(st, sub))
			outs := readUntilResult(t, st)
			if !tt.want {
				assert.Empty(t, outs)
				return
			}
			require.NotEmpty(t, outs)
			var stdout, stderr []byte
			for _, o := range outs {
				assert.Equal(t, uint64(len(stdout)), o.StdoutOffset)
				assert.Equal(t, uint64(len(stderr)), o.StderrOffset)
				stdout, stderr = append(stdout, o.Stdout...), append(stderr, o.Stderr...)
			}
			// What was streamed before the result: at least the first line
			// (written 600 ms before the second); the second too if a flush
			// fell between it and the task's end, which a loaded machine
			// allows.
			assert.Contains(t, []string{"first\n", "first\nsecond\n"}, string(stdout))
			assert.Equal(t, "warn\n", string(stderr))
		})
	}
}

// outputFrame encodes an Output by hand, without the encoder's checks.
func outputFrame(outOff uint64, out []byte, errOff uint64, errb []byte) []byte {
	body := binary.AppendUvarint(nil, outOff)
	body = binary.AppendUvarint(body, uint64(len(out)))
	body = append(body, out...)
	body = binary.AppendUvarint(body, errOff)
	body = binary.AppendUvarint(body, uint64(len(errb)))
	body = append(body, errb...)
	return append(binary.AppendUvarint([]byte{byte(wire.TypeOutput)}, uint64(len(body))), body...)
}

// A provider whose Output leaves a gap, exceeds the task's output limit
// or is larger than the protocol allows is cut off: its attempt fails and
// its result is never taken.
func TestHostileOutputCutOff(t *testing.T) {
	chunk := bytes.Repeat([]byte{'x'}, 16)
	for _, tt := range []struct {
		name   string
		frames [][]byte
	}{
		{"gap", [][]byte{outputFrame(0, []byte("ab"), 0, nil), outputFrame(5, []byte("c"), 0, nil)}},
		{"beyond the output limit", func() (fs [][]byte) {
			for i := range 8 { // 128 bytes of a 100-byte limit
				fs = append(fs, outputFrame(uint64(i*len(chunk)), chunk, 0, nil))
			}
			return fs
		}()},
		{"oversized chunk", [][]byte{outputFrame(0, make([]byte, wire.MaxOutputChunk+1), 0, nil)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			nw := newNetwork(t, computetest.NetworkConfig{Nodes: 1, Seed: 13, Configure: func(_ int, c *compute.Config) {
				c.Offer, c.ProviderWait = false, 300*time.Millisecond
			}})
			ctx := testCtx(t)
			_, err := nw.AddHostile(ctx, computetest.HostileConfig{Cores: 8, Price: 1,
				Answer: func(*wire.SubmitMsg) *wire.ResultMsg {
					return &wire.ResultMsg{State: wire.StateDone, Kind: compute.KindCompleted,
						Output: runner.EncodeResult(wasm.Result{Stdout: []byte("taken")})}
				},
				Preface: func(*wire.SubmitMsg) [][]byte { return tt.frames },
			})
			require.NoError(t, err)
			svc := nw.Nodes[0].Compute()
			id, err := svc.Submit(ctx, compute.Spec{Stdin: []byte("x"), Limits: compute.Limits{OutputBytes: 100}}, module(t, "echo"))
			require.NoError(t, err)
			res, err := svc.Wait(ctx, id)
			require.NoError(t, err)
			assert.Equal(t, compute.StateFailed, res.State)
			assert.Empty(t, res.Stdout, "the cut-off provider's result was not taken")
			st, err := svc.Status(ctx, id)
			require.NoError(t, err)
			require.NotEmpty(t, st.Attempts)
			assert.Equal(t, compute.AttemptFailed, st.Attempts[0].State)
			assert.Contains(t, st.Attempts[0].Error, "output")
		})
	}
}
