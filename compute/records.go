package compute

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fog-compute/fog/compute/placement"
	"github.com/fog-compute/fog/compute/runner"
	"github.com/fog-compute/fog/compute/wire"
	"github.com/fog-compute/fog/internal/binenc"
)

// The submitter's records, kept in the store:
//
//   - the task, as the payload of its job in the submission queue
//     (encodeSpec: compact binary, as stdin may be large);
//   - each attempt, under /compute/<SubmitNamespace>.attempt.<task>/<n>
//     (encodeAttempt), written before it is sent and when it ends;
//   - the outcome, as the job's result when it finishes (encodeOutcome).
//
// An attempt and an outcome are a uvarint length, a JSON document of
// their metadata, and the raw output of the answer they carry (runner's
// encoding), so that output is stored as it came, not base64-inflated.

const specVersion = 1

// encodeSpec encodes a resolved spec:
//
//	version byte (1) | flags byte (1: crash policy fail)
//	replicas, quorum, max price, deadline (unix ms) uvarint
//	priority (zigzag) varint | strategy string | task (runner.EncodeTask)
func encodeSpec(s *Spec) ([]byte, error) {
	task, err := runner.EncodeTask(runner.Task{Spec: s.wasm()})
	if err != nil {
		return nil, fmt.Errorf("compute: %w", err)
	}
	b := make([]byte, 0, len(task)+64)
	var flags byte
	if s.CrashPolicy == CrashFail {
		flags |= 1
	}
	b = append(b, specVersion, flags)
	b = binary.AppendUvarint(b, uint64(s.Replicas))
	b = binary.AppendUvarint(b, uint64(s.Quorum))
	b = binary.AppendUvarint(b, s.MaxPrice)
	b = binenc.AppendTime(b, s.Deadline)
	b = binary.AppendVarint(b, int64(s.Priority))
	b = binenc.AppendString(b, string(s.Strategy))
	return binenc.AppendBytes(b, task), nil
}

// decodeSpec decodes encodeSpec's output.
func decodeSpec(b []byte) (Spec, error) {
	var s Spec
	d := binenc.NewReader(b, ErrCorrupt)
	if d.Byte() != specVersion {
		d.Fail("spec version")
	}
	flags := d.Byte()
	if flags&^1 != 0 {
		d.Fail("spec flags")
	}
	s.CrashPolicy = CrashRerun
	if flags&1 != 0 {
		s.CrashPolicy = CrashFail
	}
	s.Replicas = int(min(d.Uvarint(), maxReplicas+1))
	s.Quorum = int(min(d.Uvarint(), maxReplicas+1))
	s.MaxPrice = d.Uvarint()
	s.Deadline = d.Time()
	s.Priority = d.Int32("priority")
	s.Strategy = placement.Strategy(d.String(32))
	task := d.Bytes()
	d.End()
	if d.Err() != nil {
		return Spec{}, fmt.Errorf("compute: task record: %w", d.Err())
	}
	t, err := runner.DecodeTask(task)
	if err != nil {
		return Spec{}, fmt.Errorf("%w: task record: %v", ErrCorrupt, err)
	}
	w := t.Spec
	s.Module, s.Args, s.Env, s.Stdin = w.Module, w.Args, w.Env, w.Stdin
	s.Limits = limitsOf(w.Limits)
	s.Scratch, s.Clock, s.Random = w.Scratch, w.Clock, w.Random
	if err := s.Validate(); err != nil {
		return Spec{}, fmt.Errorf("%w: task record: %v", ErrCorrupt, err)
	}
	return s, nil
}

// attemptRecord is an attempt as stored.
type attemptRecord struct {
	N        int          `json:"n"`
	Provider peer.ID      `json:"provider"`
	Local    bool         `json:"local,omitempty"`
	State    AttemptState `json:"state"`
	Error    string       `json:"error,omitempty"`
	// Lost says a failed attempt may have run at its provider.
	Lost    bool      `json:"lost,omitempty"`
	Hash    string    `json:"hash,omitempty"`
	Started time.Time `json:"started"`
	Ended   time.Time `json:"ended,omitzero"`
	// The answer, once answered: the provider's result message without
	// its output, which follows the JSON.
	ResultState wire.State `json:"result_state,omitempty"`
	Kind        Kind       `json:"kind,omitempty"`
	Reason      string     `json:"reason,omitempty"`
	Signature   []byte     `json:"signature,omitempty"`
	Output      []byte     `json:"-"`
}

func (a *attemptRecord) answer() *wire.ResultMsg {
	return &wire.ResultMsg{State: a.ResultState, Kind: a.Kind, Reason: a.Reason, Output: a.Output, Signature: a.Signature}
}

// outcomeRecord is a finished task's outcome as stored in its job's
// result; Output (the accepted answer's output) follows the JSON.
type outcomeRecord struct {
	Error       string    `json:"error,omitempty"`
	Attempts    []Attempt `json:"attempts"`
	Refusals    int       `json:"refusals,omitempty"`
	Kind        Kind      `json:"kind,omitempty"`
	Agreed      bool      `json:"agreed"`
	Hash        string    `json:"hash,omitempty"`
	Providers   []peer.ID `json:"providers,omitempty"`
	Answers     []Answer  `json:"answers,omitempty"`
	Disagreeing []peer.ID `json:"disagreeing,omitempty"`
	Output      []byte    `json:"-"`
}

// encodeWithTail stores meta as JSON with its uvarint length, then tail
// as it is (an output, which JSON would inflate by a third).
func encodeWithTail(meta any, tail []byte) ([]byte, error) {
	j, err := json.Marshal(meta)
	if err != nil {
		return nil, fmt.Errorf("compute: encode record: %w", err)
	}
	return append(binenc.AppendBytes(make([]byte, 0, binary.MaxVarintLen64+len(j)+len(tail)), j), tail...), nil
}

// decodeWithTail decodes encodeWithTail's output into meta and returns
// the tail (aliasing b; nil if empty). The length must be minimal, so that
// a record has one encoding.
func decodeWithTail(b []byte, meta any) (tail []byte, err error) {
	d := binenc.NewReader(b, ErrCorrupt)
	j := d.Bytes()
	if err := d.Err(); err != nil {
		return nil, fmt.Errorf("compute: record: %w", err)
	}
	if err := json.Unmarshal(j, meta); err != nil {
		return nil, fmt.Errorf("compute: record: %w: %w", ErrCorrupt, err)
	}
	if tail = d.Rest(); len(tail) == 0 {
		tail = nil
	}
	return tail, nil
}

func encodeAttempt(a *attemptRecord) ([]byte, error) { return encodeWithTail(a, a.Output) }

func decodeAttempt(b []byte) (*attemptRecord, error) {
	a := &attemptRecord{}
	out, err := decodeWithTail(b, a)
	if err != nil {
		return nil, err
	}
	a.Output = out
	return a, nil
}

func encodeOutcome(o *outcomeRecord) ([]byte, error) { return encodeWithTail(o, o.Output) }

func decodeOutcome(b []byte) (*outcomeRecord, error) {
	o := &outcomeRecord{}
	out, err := decodeWithTail(b, o)
	if err != nil {
		return nil, err
	}
	o.Output = out
	return o, nil
}
