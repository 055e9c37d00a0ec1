package compute

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/compute/wire"
)

// The output a submitter keeps of a streaming attempt never exceeds the
// task's output limit, whatever a provider sends; chunks that repeat what
// is held add nothing, a gap is refused, and a second attempt's output is
// ignored.
func TestAddOutputBounded(t *testing.T) {
	const limit = 100
	type step struct {
		n       int // attempt number
		m       wire.OutputMsg
		wantErr bool
	}
	x := func(n int) []byte { return bytes.Repeat([]byte{'x'}, n) }
	tests := []struct {
		name             string
		steps            []step
		wantOut, wantErr int
	}{
		{"in order", []step{{m: wire.OutputMsg{Stdout: x(10)}}, {m: wire.OutputMsg{StdoutOffset: 10, Stdout: x(5), Stderr: x(3)}}}, 15, 3},
		{"repeated from 0 after a reattach", []step{{m: wire.OutputMsg{Stdout: x(10)}}, {m: wire.OutputMsg{Stdout: x(12)}}, {m: wire.OutputMsg{StdoutOffset: 4, Stdout: x(4)}}}, 12, 0},
		{"gap", []step{{m: wire.OutputMsg{Stdout: x(10)}}, {m: wire.OutputMsg{StdoutOffset: 11, Stdout: x(1)}, wantErr: true}}, 10, 0},
		{"stderr gap", []step{{m: wire.OutputMsg{StderrOffset: 1, Stderr: x(1)}, wantErr: true}}, 0, 0},
		{"exactly the limit", []step{{m: wire.OutputMsg{Stdout: x(60), Stderr: x(40)}}}, 60, 40},
		{"beyond the limit", []step{{m: wire.OutputMsg{Stdout: x(60), Stderr: x(40)}}, {m: wire.OutputMsg{StdoutOffset: 60, Stdout: x(1)}, wantErr: true}}, 60, 40},
		{"one chunk beyond", []step{{m: wire.OutputMsg{Stdout: x(wire.MaxOutputChunk)}, wantErr: true}}, 0, 0},
		{"another attempt ignored", []step{{m: wire.OutputMsg{Stdout: x(10)}}, {n: 1, m: wire.OutputMsg{Stdout: x(90), Stderr: x(5)}}}, 10, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tk := &task{}
			tk.spec.Limits.OutputBytes = limit
			for i, s := range tt.steps {
				a := &attempt{rec: attemptRecord{N: s.n}}
				err := tk.addOutput(a, &s.m)
				if s.wantErr {
					require.ErrorIs(t, err, errLiveOutput, "step %d", i)
				} else {
					require.NoError(t, err, "step %d", i)
				}
				require.LessOrEqual(t, len(tk.live.stdout)+len(tk.live.stderr), limit)
			}
			assert.Len(t, tk.live.stdout, tt.wantOut)
			assert.Len(t, tk.live.stderr, tt.wantErr)
		})
	}
}
