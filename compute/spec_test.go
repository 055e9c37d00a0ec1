package compute

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/compute/placement"
	"github.com/fog-compute/fog/compute/runner"
	"github.com/fog-compute/fog/compute/wasm"
)

func TestSpecValidate(t *testing.T) {
	ok := Spec{Module: wasm.IDOf([]byte("m"))}
	require.NoError(t, ok.Validate())
	tests := []struct {
		field  string
		change func(*Spec)
	}{
		{"module", func(s *Spec) { s.Module = wasm.ModuleID{} }},
		{"replicas", func(s *Spec) { s.Replicas = maxReplicas + 1 }},
		{"replicas", func(s *Spec) { s.Replicas = -1 }},
		{"quorum", func(s *Spec) { s.Replicas, s.Quorum = 3, 4 }},
		{"quorum", func(s *Spec) { s.Quorum = -1 }},
		{"limits.wall_time", func(s *Spec) { s.Limits.WallTime = -time.Second }},
		{"limits.output_bytes", func(s *Spec) { s.Limits.OutputBytes = -1 }},
		{"stdin", func(s *Spec) { s.Stdin = make([]byte, maxStdinLimit+1) }},
		{"strategy", func(s *Spec) { s.Strategy = "nearest" }},
		{"crash_policy", func(s *Spec) { s.CrashPolicy = "retry" }},
		{"args[1]", func(s *Spec) { s.Args = []string{"a", "b\x00"} }},
		{"env", func(s *Spec) { s.Env = map[string]string{"A=B": "c"} }},
		{"env", func(s *Spec) { s.Env = map[string]string{"": "c"} }},
		{"env", func(s *Spec) { s.Env = map[string]string{"A": "\x00"} }},
		{"args", func(s *Spec) { s.Args = []string{strings.Repeat("x", maxArgsLimit)} }},
	}
	for _, tt := range tests {
		s := ok
		tt.change(&s)
		err := s.Validate()
		require.ErrorIs(t, err, ErrInvalidSpec, tt.field)
		var se *SpecError
		require.ErrorAs(t, err, &se, tt.field)
		assert.Equal(t, tt.field, se.Field)
		assert.Equal(t, "compute: invalid task spec: "+se.Field+": "+se.Reason, err.Error())
	}
	s := ok
	s.Replicas, s.Quorum = 4, 0
	assert.Equal(t, 3, s.quorum(), "a majority of 4")
	s.Replicas = 0
	assert.Equal(t, 1, s.replicas())
	assert.Equal(t, 1, s.quorum())
}

func TestSpecJSON(t *testing.T) {
	s := sampleSpec()
	b, err := json.Marshal(s)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"module":"`+s.Module.String()+`"`)
	var back Spec
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, s.Module, back.Module)
	assert.Equal(t, s.Args, back.Args)
	assert.Equal(t, s.Strategy, back.Strategy)
	assert.True(t, s.Deadline.Equal(back.Deadline))
	require.Error(t, json.Unmarshal([]byte(`{"module":"xyz"}`), &back))
	require.NoError(t, json.Unmarshal([]byte(`{"stdin":"aGk="}`), &back))
	assert.Equal(t, wasm.ModuleID{}, back.Module)
	assert.Equal(t, "hi", string(back.Stdin))
}

func TestSpecRecordRoundTrip(t *testing.T) {
	s := sampleSpec()
	b, err := encodeSpec(&s)
	require.NoError(t, err)
	back, err := decodeSpec(b)
	require.NoError(t, err)
	assert.Equal(t, s.Module, back.Module)
	assert.Equal(t, s.Args, back.Args)
	assert.Equal(t, s.Env, back.Env)
	assert.Equal(t, s.Stdin, back.Stdin)
	assert.Equal(t, s.Limits, back.Limits)
	assert.Equal(t, s.Random, back.Random)
	assert.Equal(t, []any{s.Replicas, s.Quorum, s.MaxPrice, s.Priority, s.Strategy, s.CrashPolicy},
		[]any{back.Replicas, back.Quorum, back.MaxPrice, back.Priority, back.Strategy, back.CrashPolicy})
	assert.True(t, s.Deadline.Equal(back.Deadline))
	_, err = decodeSpec(append(b, 0))
	assert.ErrorIs(t, err, ErrCorrupt)
	_, err = decodeSpec(b[:len(b)-1])
	assert.ErrorIs(t, err, ErrCorrupt)
	// a record that decodes but holds an invalid spec is corrupt, not a
	// caller's invalid spec
	bad := s
	bad.Strategy = "nearest"
	b, err = encodeSpec(&bad)
	require.NoError(t, err)
	_, err = decodeSpec(b)
	assert.ErrorIs(t, err, ErrCorrupt)
	assert.NotErrorIs(t, err, ErrInvalidSpec)
}

func TestRecordsRoundTrip(t *testing.T) {
	out := runner.EncodeResult(wasm.Result{Stdout: []byte("x")})
	_, p := testKey(t, 5)
	a := &attemptRecord{N: 3, Provider: p, State: AttemptAnswered, Kind: KindCompleted, Reason: "r", Signature: []byte{1, 2}, Output: out, Lost: true}
	b, err := encodeAttempt(a)
	require.NoError(t, err)
	back, err := decodeAttempt(b)
	require.NoError(t, err)
	assert.Equal(t, a, back)
	o := &outcomeRecord{Agreed: true, Kind: KindCompleted, Hash: "ab", Output: out, Answers: []Answer{{Provider: p, Kind: KindCompleted}}, Providers: []peer.ID{p}}
	b, err = encodeOutcome(o)
	require.NoError(t, err)
	ob, err := decodeOutcome(b)
	require.NoError(t, err)
	assert.Equal(t, o, ob)
	_, err = decodeOutcome([]byte{200})
	assert.ErrorIs(t, err, ErrCorrupt)
	_, err = decodeOutcome([]byte{1, '['})
	assert.ErrorIs(t, err, ErrCorrupt)
	// a length written in more bytes than it needs is not the record's
	// encoding
	_, k := binary.Uvarint(b)
	long := append(append(bytes.Clone(b[:k]), 0), b[k:]...)
	long[k-1] |= 0x80
	_, err = decodeOutcome(long)
	assert.ErrorIs(t, err, ErrCorrupt)
}

func TestConfigValidate(t *testing.T) {
	require.NoError(t, DefaultConfig().Validate())
	require.NoError(t, TestConfig().Validate())
	tests := []struct {
		field  string
		change func(*Config)
	}{
		{"Cores", func(c *Config) { c.Cores = 0 }},
		{"MaxQueuedPerCore", func(c *Config) { c.MaxQueuedPerCore = -1 }},
		{"Prefetch", func(c *Config) { c.Prefetch = -1 }},
		{"MaxLimits", func(c *Config) { c.MaxLimits.WallTime = 0 }},
		{"DefaultLimits", func(c *Config) { c.DefaultLimits.MemoryPages = 0 }},
		{"DefaultLimits", func(c *Config) { c.DefaultLimits.WallTime = c.MaxLimits.WallTime + 1 }},
		{"MaxStdinBytes", func(c *Config) { c.MaxStdinBytes = maxStdinLimit + 1 }},
		{"MaxArgsBytes", func(c *Config) { c.MaxArgsBytes = -1 }},
		{"ExecNamespace", func(c *Config) { c.ExecNamespace = "Exec" }},
		{"SubmitNamespace", func(c *Config) { c.SubmitNamespace = "" }},
		{"SubmitNamespace", func(c *Config) { c.SubmitNamespace = c.ExecNamespace }},
		{"ResultTTL", func(c *Config) { c.ResultTTL = 0 }},
		{"MaxInFlight", func(c *Config) { c.MaxInFlight = 0 }},
		{"MaxWaiting", func(c *Config) { c.MaxWaiting = 0 }},
		{"MaxRetries", func(c *Config) { c.MaxRetries = -1 }},
		{"DefaultDeadline", func(c *Config) { c.DefaultDeadline = 0 }},
		{"StatusInterval", func(c *Config) { c.StatusInterval = 0 }},
		{"OutputInterval", func(c *Config) { c.OutputInterval = 0 }},
		{"IdleTimeout", func(c *Config) { c.IdleTimeout = c.StatusInterval }},
		{"FetchTimeout", func(c *Config) { c.FetchTimeout = 0 }},
		{"AcceptTimeout", func(c *Config) { c.AcceptTimeout = c.FetchTimeout }},
		{"AttemptSlack", func(c *Config) { c.AttemptSlack = 0 }},
		{"StragglerGrace", func(c *Config) { c.StragglerGrace = -1 }},
		{"CancelTimeout", func(c *Config) { c.CancelTimeout = 0 }},
		{"RetryAfter", func(c *Config) { c.RetryAfter = 0 }},
		{"MaxStreams", func(c *Config) { c.MaxStreams = 0 }},
		{"MaxStreamsPerPeer", func(c *Config) { c.MaxStreamsPerPeer = c.MaxStreams + 1 }},
		{"MaxPendingPerPeer", func(c *Config) { c.MaxPendingPerPeer = 0 }},
		{"MaxPendingPerPeer", func(c *Config) { c.MaxPendingPerPeer = c.MaxStreamsPerPeer + 1 }},
		{"StreamLifetime", func(c *Config) { c.StreamLifetime = c.MaxLimits.WallTime }},
		{"MaxProviderRecords", func(c *Config) { c.MaxProviderRecords = 0 }},
		{"Clock", func(c *Config) { c.Clock = nil }},
		{"Memory", func(c *Config) { c.Memory = uint64(c.DefaultLimits.MemoryPages)*wasm.PageSize - 1 }},
		{"DefaultStrategy", func(c *Config) { c.DefaultStrategy = "" }},
		{"Breaker.Threshold", func(c *Config) { c.Breaker.Threshold = 0 }},
	}
	for _, tt := range tests {
		c := DefaultConfig()
		tt.change(&c)
		err := c.Validate()
		require.ErrorIs(t, err, ErrConfig, tt.field)
		assert.Contains(t, err.Error(), tt.field)
	}
}

func TestParse(t *testing.T) {
	for _, s := range placement.Strategies() {
		assert.True(t, s.Known(), s)
	}
	assert.False(t, Strategy("fastest").Known())
	id, err := ParseTaskID("33lhqtmqbu8um396fldstege34")
	require.NoError(t, err)
	assert.Equal(t, TaskID("33lhqtmqbu8um396fldstege34"), id)
	for _, bad := range []string{"", "UPPER", "a/b", strings.Repeat("a", maxTaskIDLen+1)} {
		_, err := ParseTaskID(bad)
		assert.ErrorIs(t, err, ErrInvalidSpec, bad)
	}
	// Generated IDs are valid and sort by time.
	a, b := newTaskID(time.Unix(1, 0)), newTaskID(time.Unix(2, 0))
	assert.True(t, validTaskID(string(a)))
	assert.Less(t, string(a), string(b))
	assert.True(t, StateDone.Terminal())
	assert.False(t, StateRunning.Terminal())
}
