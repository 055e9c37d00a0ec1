package queue

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/fog-compute/fog/internal/binenc"
)

// recordVersion is the first byte of every job record.
const recordVersion = 1

// A job record, the value of key <ns>.job/<id>, is:
//
//	version   byte (1)
//	state     byte
//	policy    byte
//	flags     byte (bit 0: cancel requested)
//	priority  varint
//	seq, attempts, max attempts       uvarint
//	deadline, created, started, finished  varint (Unix ns; 0 is the zero time)
//	id, owner, payload, result, error     uvarint length, bytes
//
// The decoder is strict: unknown versions, states, policies or flags,
// truncated fields and trailing bytes are ErrCorrupt.

const flagCancelRequested = 1

// appendJob appends the record of j to dst.
func appendJob(dst []byte, j *Job) []byte {
	var flags byte
	if j.CancelRequested {
		flags |= flagCancelRequested
	}
	dst = append(dst, recordVersion, byte(j.State), byte(j.CrashPolicy), flags)
	dst = binary.AppendVarint(dst, int64(j.Priority))
	dst = binary.AppendUvarint(dst, j.Seq)
	dst = binary.AppendUvarint(dst, uint64(j.Attempts))
	dst = binary.AppendUvarint(dst, uint64(j.MaxAttempts))
	for _, t := range [...]time.Time{j.Deadline, j.Created, j.Started, j.Finished} {
		dst = binary.AppendVarint(dst, unixNano(t))
	}
	dst = binenc.AppendString(dst, j.ID)
	dst = binenc.AppendString(dst, j.Owner)
	dst = binenc.AppendBytes(dst, j.Payload)
	dst = binenc.AppendBytes(dst, j.Result)
	return binenc.AppendString(dst, j.Error)
}

// recordSize is len(appendJob(nil, j)), computed without encoding.
func recordSize(j *Job) int {
	n := 4 + varintLen(int64(j.Priority)) + uvarintLen(j.Seq) +
		uvarintLen(uint64(j.Attempts)) + uvarintLen(uint64(j.MaxAttempts))
	for _, t := range [...]time.Time{j.Deadline, j.Created, j.Started, j.Finished} {
		n += varintLen(unixNano(t))
	}
	for _, l := range [...]int{len(j.ID), len(j.Owner), len(j.Payload), len(j.Result), len(j.Error)} {
		n += uvarintLen(uint64(l)) + l
	}
	return n
}

// decodeJob decodes a record made by appendJob. Payload and Result alias b.
func decodeJob(b []byte) (Job, error) {
	var j Job
	if len(b) < 4 {
		return j, fmt.Errorf("%w: %d bytes", ErrCorrupt, len(b))
	}
	if b[0] != recordVersion {
		return j, fmt.Errorf("%w: version %d", ErrCorrupt, b[0])
	}
	j.State, j.CrashPolicy = State(b[1]), CrashPolicy(b[2])
	if !j.State.valid() || j.CrashPolicy > CrashFail || b[3]&^flagCancelRequested != 0 {
		return j, fmt.Errorf("%w: header %x", ErrCorrupt, b[:4])
	}
	j.CancelRequested = b[3]&flagCancelRequested != 0
	d := binenc.NewReader(b, ErrCorrupt)
	d.Skip(4)
	j.Priority = d.Int32("priority")
	j.Seq = d.Uvarint()
	j.Attempts = d.Uint32("attempts")
	j.MaxAttempts = d.Uint32("max attempts")
	for _, t := range [...]*time.Time{&j.Deadline, &j.Created, &j.Started, &j.Finished} {
		*t = fromUnixNano(d.Varint())
	}
	j.ID = string(d.Bytes())
	j.Owner = string(d.Bytes())
	j.Payload = d.Bytes()
	j.Result = d.Bytes()
	j.Error = string(d.Bytes())
	d.End()
	if d.Err() != nil {
		return Job{}, d.Err()
	}
	return j, nil
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

func varintLen(v int64) int {
	u := uint64(v) << 1
	if v < 0 {
		u = ^u
	}
	return uvarintLen(u)
}

// The live index holds the queued and running jobs in the order the queue
// serves them. Its keys are <ns>.live/<hex of order>, where order is 12
// bytes that sort as the queue serves jobs (priority descending, then seq
// ascending). Its values hold what changes while a job is live, so that
// starting, requeueing or flagging a job rewrites only this small value,
// not the job record (which, for a live job, stays as Enqueue wrote it):
//
//	state     byte (queued or running)
//	flags     byte (bit 0: cancel requested)
//	attempts  uvarint
//	started, deadline  varint (Unix ns; 0 none)
//	id        the rest

const orderLen = 12

// order returns the sort key of (priority, seq).
func order(prio int32, seq uint64) [orderLen]byte {
	var o [orderLen]byte
	// Flipping the sign bit makes the uint32 order the int32 order;
	// complementing makes it descending.
	binary.BigEndian.PutUint32(o[:4], ^(uint32(prio) ^ 0x80000000))
	binary.BigEndian.PutUint64(o[4:], seq)
	return o
}

// parseOrder inverts order from its hex form.
func parseOrder(s string) (prio int32, seq uint64, err error) {
	var o [orderLen]byte
	if len(s) != 2*orderLen {
		return 0, 0, fmt.Errorf("%w: live key %q", ErrCorrupt, s)
	}
	if _, err := hex.Decode(o[:], []byte(s)); err != nil {
		return 0, 0, fmt.Errorf("%w: live key %q: %v", ErrCorrupt, s, err)
	}
	return int32(^binary.BigEndian.Uint32(o[:4]) ^ 0x80000000), binary.BigEndian.Uint64(o[4:]), nil
}

// live is the mutable state of a live job, the value of its live key.
type live struct {
	state    State
	cancel   bool
	attempts uint32
	started  int64 // Unix ns
	deadline int64 // Unix ns
	id       string
}

func (l *live) encode() []byte {
	b := make([]byte, 2, 2+3*binary.MaxVarintLen64+len(l.id))
	b[0] = byte(l.state)
	if l.cancel {
		b[1] = flagCancelRequested
	}
	b = binary.AppendUvarint(b, uint64(l.attempts))
	b = binary.AppendVarint(b, l.started)
	b = binary.AppendVarint(b, l.deadline)
	return append(b, l.id...)
}

func decodeLive(b []byte) (live, error) {
	var l live
	if len(b) < 2 || (b[0] != byte(StateQueued) && b[0] != byte(StateRunning)) || b[1]&^flagCancelRequested != 0 {
		return l, fmt.Errorf("%w: live value %x", ErrCorrupt, b[:min(len(b), 2)])
	}
	l.state = State(b[0])
	l.cancel = b[1]&flagCancelRequested != 0
	d := binenc.NewReader(b, ErrCorrupt)
	d.Skip(2)
	l.attempts = d.Uint32("attempts")
	l.started = d.Varint()
	l.deadline = d.Varint()
	if d.Err() != nil {
		return live{}, d.Err()
	}
	if d.Len() == 0 {
		return live{}, fmt.Errorf("%w: live value without an ID", ErrCorrupt)
	}
	l.id = string(d.Rest())
	return l, nil
}

// overlay applies a live job's state to its record.
func (l *live) overlay(j *Job) {
	j.State = l.state
	j.CancelRequested = l.cancel
	j.Attempts = l.attempts
	j.Started = fromUnixNano(l.started)
}
