package main

import (
	"bytes"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/fog-compute/fog/compute"
	"github.com/fog-compute/fog/internal/clock"
)

// An answer is called a disagreement only when a quorum agreed on another.
func TestPrintOutcomeMarks(t *testing.T) {
	ans := func(agreed bool) answerSummary {
		return answerSummary{Provider: "p", Agreed: agreed, Kind: compute.KindCompleted, ResultHash: "abcdef0123456789"}
	}
	for _, tc := range []struct {
		name string
		o    taskOutcome
		want []string
		not  []string
	}{
		{"agreed with a dissenter", taskOutcome{State: compute.StateDone, Agreed: true, Replicas: 3, Quorum: 2, Answers: []answerSummary{ans(true), ans(true), ans(false)}},
			[]string{"2/3 replicas agreed (quorum 2)", "DISAGREED"}, nil},
		{"one answer, no quorum", taskOutcome{State: compute.StateFailed, Replicas: 3, Quorum: 3, Error: "too few providers", Answers: []answerSummary{ans(false)}},
			[]string{"1/3 replicas answered, no quorum (3 needed)", "no quorum"}, []string{"DISAGREED", "agreed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			a := &app{out: &b, errOut: io.Discard, clk: clock.Real()}
			assert.NoError(t, a.printOutcome(&b, tc.o))
			for _, s := range tc.want {
				assert.Contains(t, b.String(), s)
			}
			for _, s := range tc.not {
				assert.NotContains(t, b.String(), s)
			}
		})
	}
}
