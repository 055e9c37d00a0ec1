package token

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCheckParam(t *testing.T) {
	for _, tt := range []struct {
		param string
		value uint64
		ok    bool
	}{
		{ParamTargetRelays, 1, true},
		{ParamTargetRelays, 100_000, true},
		{ParamTargetRelays, 0, false},
		{ParamTargetRelays, 100_001, false},
		{ParamMinStake, 0, true},
		{ParamMinPrice, 1 << 40, true},
		{ParamEpochLength, 1_000, true},
		{ParamEpochLength, 86_400_000, true},
		{ParamEpochLength, 999, false},
		{ParamEpochLength, 86_400_001, false},
		{"epoch_length", 60, false},
		{"ledger.epoch_length", 60, false},
		{"target_relays", 12, false},
	} {
		err := CheckParam(tt.param, tt.value)
		if tt.ok {
			assert.NoError(t, err, "%s = %d", tt.param, tt.value)
		} else {
			assert.ErrorIs(t, err, ErrInvalid, "%s = %d", tt.param, tt.value)
		}
	}
}

// TestParamsAt is the DAO's apply step: which accepted decisions are in
// force at which epoch.
func TestParamsAt(t *testing.T) {
	base := Params{TargetRelays: 30, MinStake: 0, MinPrice: 0}
	prop := func(param string, value, end, delay uint64) Proposal {
		p := Proposal{Param: param, Value: value, Start: end - 5, End: end, ExecDelay: delay}
		p.Sign(key(0))
		return p
	}
	yes := Result{Quorum: true, Accepted: true}
	no := Result{Quorum: true}
	// Two accepted changes of one parameter at one epoch: the larger ID
	// wins; find which is which.
	tieA, tieB := prop(ParamTargetRelays, 7, 30, 4), prop(ParamTargetRelays, 8, 31, 3)
	if a, b := tieA.ID(), tieB.ID(); bytes.Compare(a[:], b[:]) > 0 {
		tieA, tieB = tieB, tieA
	}
	decisions := []Decision{
		{prop(ParamTargetRelays, 12, 10, 2), yes}, // from 13
		{prop(ParamMinStake, 500, 10, 5), yes},    // from 16
		{prop(ParamMinPrice, 9, 10, 0), yes},      // delay below the minimum (2): never
		{prop(ParamTargetRelays, 99, 12, 2), no},  // rejected: never
		{prop("layers", 5, 10, 2), yes},           // unknown: never
		{prop(ParamTargetRelays, 0, 10, 2), yes},  // out of bounds: never
		{prop(ParamTargetRelays, 20, 17, 3), yes}, // from 21
		{prop(ParamMinPrice, 40, 20, 2), yes},     // from 23
		{tieA, yes}, {tieB, yes},                  // both from 35
	}
	for _, tt := range []struct {
		epoch uint64
		want  Params
	}{
		{0, base},
		{12, base},
		{13, Params{TargetRelays: 12}},
		{15, Params{TargetRelays: 12}},
		{16, Params{TargetRelays: 12, MinStake: 500}},
		{21, Params{TargetRelays: 20, MinStake: 500}},
		{23, Params{TargetRelays: 20, MinStake: 500, MinPrice: 40}},
		{34, Params{TargetRelays: 20, MinStake: 500, MinPrice: 40}},
		{35, Params{TargetRelays: tieB.Value, MinStake: 500, MinPrice: 40}},
		{1 << 60, Params{TargetRelays: tieB.Value, MinStake: 500, MinPrice: 40}},
	} {
		assert.Equal(t, tt.want, ParamsAt(base, decisions, 2, tt.epoch), "epoch %d", tt.epoch)
		// The order the decisions come in does not matter.
		rev := make([]Decision, len(decisions))
		for i, d := range decisions {
			rev[len(decisions)-1-i] = d
		}
		assert.Equal(t, tt.want, ParamsAt(base, rev, 2, tt.epoch), "epoch %d, reversed", tt.epoch)
	}

	at, ok := EffectiveAt(&decisions[0].Proposal, 2)
	assert.True(t, ok)
	assert.Equal(t, uint64(13), at)
	_, ok = EffectiveAt(&decisions[2].Proposal, 2)
	assert.False(t, ok)
}

// TestParamChanges: the accepted changes of one parameter, in the order
// they apply, up to an epoch; others' changes, rejected ones, those out of
// bounds and those with too short a delay are left out.
func TestParamChanges(t *testing.T) {
	prop := func(param string, value, end, delay uint64) Proposal {
		p := Proposal{Param: param, Value: value, Start: end - 5, End: end, ExecDelay: delay}
		p.Sign(key(0))
		return p
	}
	yes := Result{Quorum: true, Accepted: true}
	no := Result{Quorum: true}
	tieA, tieB := prop(ParamEpochLength, 7_000, 30, 4), prop(ParamEpochLength, 8_000, 31, 3)
	if a, b := tieA.ID(), tieB.ID(); bytes.Compare(a[:], b[:]) > 0 {
		tieA, tieB = tieB, tieA
	}
	decisions := []Decision{
		{prop(ParamEpochLength, 300_000, 20, 2), yes}, // from 23
		{prop(ParamEpochLength, 120_000, 10, 2), yes}, // from 13
		{prop(ParamTargetRelays, 12, 10, 2), yes},     // another parameter
		{prop(ParamEpochLength, 60_000, 12, 2), no},   // rejected
		{prop(ParamEpochLength, 10, 12, 2), yes},      // out of bounds
		{prop(ParamEpochLength, 60_000, 12, 1), yes},  // delay below the minimum
		{tieB, yes}, {tieA, yes}, // both from 35: A, then B
	}
	all := []ParamChange{{13, 120_000}, {23, 300_000}, {35, tieA.Value}, {35, tieB.Value}}
	for _, tt := range []struct {
		epoch uint64
		want  []ParamChange
	}{
		{12, nil},
		{13, all[:1]},
		{34, all[:2]},
		{35, all},
		{^uint64(0), all},
	} {
		assert.Equal(t, tt.want, ParamChanges(decisions, 2, ParamEpochLength, tt.epoch), "epoch %d", tt.epoch)
	}
	assert.Equal(t, uint64(tieB.Value), ParamsAt(Params{}, decisions, 2, 35).EpochLength, "the last change is the value in force")
}
