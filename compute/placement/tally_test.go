package placement

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTally(t *testing.T) {
	h1, h2, h3 := [32]byte{1}, [32]byte{2}, [32]byte{3}
	type step struct {
		op   string // launch, answer, fail, lost, refused, stopped
		hash [32]byte
		need int // need() after the step
	}
	tests := []struct {
		name                   string
		replicas, quorum, budg int
		crashFail              bool
		steps                  []step
		decided, stuck         bool
		winner                 [32]byte
	}{
		{"one replica", 1, 1, 5, false, []step{
			{"", h1, 1}, {"launch", h1, 0}, {"answer", h1, 0},
		}, true, false, h1},
		{"three agree", 3, 2, 7, false, []step{
			{"", h1, 3}, {"launch", h1, 2}, {"launch", h1, 1}, {"launch", h1, 0},
			{"answer", h1, 0}, {"answer", h1, 0},
		}, true, false, h1},
		{"a liar is outvoted", 3, 2, 7, false, []step{
			{"launch", h1, 2}, {"launch", h1, 1}, {"launch", h1, 0},
			{"answer", h2, 0}, {"answer", h1, 0}, {"answer", h1, 0},
		}, true, false, h1},
		{"a split needs one more", 3, 2, 7, false, []step{
			{"launch", h1, 2}, {"launch", h1, 1}, {"launch", h1, 0},
			{"answer", h1, 0}, {"answer", h2, 0}, {"answer", h3, 1},
			{"launch", h1, 0}, {"answer", h2, 0},
		}, true, false, h2},
		{"a failure is replaced", 1, 1, 5, false, []step{
			{"launch", h1, 0}, {"fail", h1, 1}, {"launch", h1, 0}, {"answer", h1, 0},
		}, true, false, h1},
		{"a refusal costs no budget", 1, 1, 1, false, []step{
			{"launch", h1, 0}, {"refused", h1, 1}, {"launch", h1, 0}, {"refused", h1, 1},
		}, false, false, [32]byte{}},
		{"the budget runs out", 1, 1, 2, false, []step{
			{"launch", h1, 0}, {"fail", h1, 1}, {"launch", h1, 0}, {"fail", h1, 0},
		}, false, true, [32]byte{}},
		{"a lost run under crash-fail stops everything", 3, 2, 7, true, []step{
			{"launch", h1, 2}, {"launch", h1, 1}, {"launch", h1, 0},
			{"lost", h1, 0}, {"answer", h1, 0}, {"answer", h2, 0},
		}, false, true, [32]byte{}},
		{"under crash-fail the survivors may still agree", 3, 2, 7, true, []step{
			{"launch", h1, 2}, {"launch", h1, 1}, {"launch", h1, 0},
			{"lost", h1, 0}, {"answer", h1, 0}, {"answer", h1, 0},
		}, true, false, h1},
		{"a lost run under rerun is replaced", 1, 1, 5, false, []step{
			{"launch", h1, 0}, {"lost", h1, 1},
		}, false, false, [32]byte{}},
		{"unanimity", 3, 3, 7, false, []step{
			{"launch", h1, 2}, {"launch", h1, 1}, {"launch", h1, 0},
			{"answer", h1, 0}, {"answer", h1, 0}, {"answer", h2, 1},
			{"launch", h1, 0}, {"answer", h1, 0}, // h1 has 3
		}, true, false, h1},
		{"stopped attempts do not count", 3, 2, 7, false, []step{
			{"launch", h1, 2}, {"launch", h1, 1}, {"launch", h1, 0},
			{"answer", h1, 0}, {"answer", h1, 0}, {"stopped", h1, 0},
		}, true, false, h1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ty := NewTally(tt.replicas, tt.quorum, tt.budg)
			for i, s := range tt.steps {
				switch s.op {
				case "launch":
					ty.Launch()
				case "answer":
					ty.Answer(s.hash)
				case "fail":
					ty.Fail(false, tt.crashFail)
				case "lost":
					ty.Fail(true, tt.crashFail)
				case "refused":
					ty.Refused()
				case "stopped":
					ty.Stopped()
				}
				require.Equal(t, s.need, ty.Need(), "step %d (%s)", i, s.op)
			}
			assert.Equal(t, tt.decided, ty.decided)
			assert.Equal(t, tt.stuck, ty.Stuck())
			if tt.decided {
				assert.Equal(t, tt.winner, ty.winner)
			}
		})
	}
}
