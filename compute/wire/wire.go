package wire

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/fog-compute/fog/compute/runner"
	"github.com/fog-compute/fog/compute/wasm"
	"github.com/fog-compute/fog/internal/binenc"
	"github.com/fog-compute/fog/p2p"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// Protocol is the task protocol, /fog/task/1.1.0 and /fog/task/1.0.0. See
// the package documentation for its messages and conversations. 1.1.0
// adds Output, which a provider sends only on a stream that negotiated
// 1.1.0 or later (CarriesOutput), so that a 1.0.0 submitter never sees it.
var Protocol = p2p.MustProtocol("task", outputVersion, p2p.Version{Major: 1})

// outputVersion is the first version of the task protocol with Output.
var outputVersion = p2p.Version{Major: 1, Minor: 1}

// CarriesOutput reports whether a stream that negotiated protocol id may
// carry Output messages (version 1.1.0 or later).
func CarriesOutput(id protocol.ID) bool {
	v, ok := Protocol.VersionOf(id)
	return ok && !v.Less(outputVersion)
}

// ErrMalformed is returned (wrapped) for bytes that are not a valid
// message of the task protocol, and for a peer that breaks the protocol's
// conversation.
var ErrMalformed = errors.New("wire: malformed message")

// Limits of the protocol's fields.
const (
	// MaxReasonLen bounds the reason of a refusal or a result.
	MaxReasonLen = 1024
	// MaxSignatureLen bounds a result's signature (an Ed25519 signature is
	// 64 bytes; RSA-4096 512).
	MaxSignatureLen = 1024
	// MaxOutputChunk bounds each stream's bytes in one Output message.
	MaxOutputChunk = 16 << 10
	// MaxFrameLimit is the largest body length a frame may announce; a
	// reader also applies its own, smaller, limit before reading the body.
	MaxFrameLimit = 256 << 20
	// MaxTaskIDLen bounds a task ID.
	MaxTaskIDLen = 64
)

// ValidTaskID reports whether s may name a task: 1 to MaxTaskIDLen
// characters among lowercase letters, digits and '-'.
func ValidTaskID(s string) bool {
	if len(s) == 0 || len(s) > MaxTaskIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// State is how a provider's run of a task ended, as a Result says it.
type State string

// The states a Result carries.
const (
	StateDone      State = "done"
	StateFailed    State = "failed"
	StateCancelled State = "cancelled"
)

// Kind classifies a provider's answer. Only answers of the same kind can
// agree (see ResultHash).
type Kind string

// The kinds of answer.
const (
	// KindCompleted: the guest ran to its end (exit code, output, and
	// whether it trapped).
	KindCompleted Kind = "completed"
	// KindTimeout: the guest reached its wall-time limit.
	KindTimeout Kind = "timeout"
	// KindMemory: the guest needed more memory than its limit.
	KindMemory Kind = "memory-limit"
	// KindOutput: the guest wrote more than its output limit.
	KindOutput Kind = "output-limit"
	// KindInvalid: the module or spec could not run at all.
	KindInvalid Kind = "invalid"
)

// maxOutputOffset bounds an Output's offsets: no task's output is larger
// than a frame.
const maxOutputOffset = MaxFrameLimit

// MsgType is the first byte of a frame.
type MsgType uint8

// The message types. Submit, Attach and Cancel go from a submitter to a
// provider; Accept, Refuse, Status, Output and Result back.
const (
	TypeSubmit MsgType = 1
	TypeAttach MsgType = 2
	TypeCancel MsgType = 3
	TypeAccept MsgType = 4
	TypeRefuse MsgType = 5
	TypeStatus MsgType = 6
	TypeResult MsgType = 7
	TypeOutput MsgType = 8 // since 1.1.0
)

// Message is one message of the task protocol.
type Message interface {
	// Type returns the message's type byte.
	Type() MsgType
	appendBody(b []byte) []byte
}

// SubmitMsg offers a task to a provider.
type SubmitMsg struct {
	// TaskID names the task on its submitter (the stream's remote peer).
	TaskID string
	// Priority orders the provider's queue.
	Priority int32
	// CrashFail asks the provider's queue to fail the task, rather than
	// run it again, if the provider crashes while it runs.
	CrashFail bool
	// MaxPrice is the most the submitter pays per CPU-second (0: any).
	MaxPrice uint64
	// Deadline is when the task is of no more use (zero: none); the
	// provider fails it if it is still queued then. Millisecond precision.
	Deadline time.Time
	// Spec is the run: module ID, args, env, stdin, limits, flags. Its
	// encoding is runner.EncodeTask's, without module code; it is made
	// once (see Task), so Spec must not change after the message was
	// encoded or decoded, except through SetSpec.
	Spec wasm.Spec

	task []byte // Spec encoded (set by the decoder and by encoding)
}

// Task returns the message's Spec in runner.EncodeTask's encoding: the
// payload of the job that runs it. It is encoded on the first call (or
// was kept by the decoder).
func (m *SubmitMsg) Task() ([]byte, error) {
	if m.task == nil {
		t, err := runner.EncodeTask(runner.Task{Spec: m.Spec})
		if err != nil {
			return nil, fmt.Errorf("wire: %w", err)
		}
		m.task = t
	}
	return m.task, nil
}

// SetSpec replaces the message's Spec and its encoding.
func (m *SubmitMsg) SetSpec(s wasm.Spec) error {
	m.Spec, m.task = s, nil
	_, err := m.Task()
	return err
}

// AttachMsg asks a provider for the status and result of a task it
// accepted from the same submitter earlier (after a broken stream or the
// submitter's restart).
type AttachMsg struct{ TaskID string }

// CancelMsg asks a provider to cancel a task of the same submitter. On a
// stream that carries the task it names, it is sent after Submit or
// Attach; on a fresh stream it is the first message.
type CancelMsg struct{ TaskID string }

// AcceptMsg tells the submitter that the provider holds the task; Status
// and Result follow.
type AcceptMsg struct{}

// RefuseCode says why a provider refused a task.
type RefuseCode uint8

// The refusal codes.
const (
	// RefuseBusy: the provider has no room now (queue full, too many
	// streams); RetryAfter hints when to try again.
	RefuseBusy RefuseCode = 1
	// RefuseLimits: the task asks for more than the provider allows
	// (memory, beyond MaxLimits or Config.Memory; wall time, output, stdin).
	RefuseLimits RefuseCode = 2
	// RefusePrice: the provider asks more than the task's MaxPrice.
	RefusePrice RefuseCode = 3
	// RefuseModule: the provider could not obtain the module.
	RefuseModule RefuseCode = 4
	// RefuseHash: the bytes served for the module do not hash to its ID.
	RefuseHash RefuseCode = 5
	// RefuseMalformed: the message broke the protocol.
	RefuseMalformed RefuseCode = 6
	// RefuseNotOffering: the node does not run tasks for others.
	RefuseNotOffering RefuseCode = 7
	// RefuseShutdown: the node is shutting down.
	RefuseShutdown RefuseCode = 8
	// RefuseUnknown: Attach or Cancel named a task the provider does not
	// hold for this submitter.
	RefuseUnknown RefuseCode = 9
	// RefuseDeadline: the task's deadline has passed.
	RefuseDeadline RefuseCode = 10
)

var refuseNames = map[RefuseCode]string{
	RefuseBusy: "busy", RefuseLimits: "limits", RefusePrice: "price", RefuseModule: "module",
	RefuseHash: "module-hash", RefuseMalformed: "malformed", RefuseNotOffering: "not-offering",
	RefuseShutdown: "shutdown", RefuseUnknown: "unknown-task", RefuseDeadline: "deadline",
}

// String names the code.
func (c RefuseCode) String() string {
	if s, ok := refuseNames[c]; ok {
		return s
	}
	return fmt.Sprintf("refuse(%d)", uint8(c))
}

// Transient reports whether the refusal may not hold later: the provider
// may be asked again for the same task.
func (c RefuseCode) Transient() bool { return c == RefuseBusy || c == RefuseShutdown }

// RefuseMsg refuses a task, with a reason for people and a hint of when
// to try again.
type RefuseMsg struct {
	Code       RefuseCode
	RetryAfter time.Duration // millisecond precision
	Reason     string
}

// StatusMsg reports the task's state at the provider: sent when it
// changes and every Config.StatusInterval while the task is not finished,
// so that a silent provider is noticed.
type StatusMsg struct {
	// Running is false while the task is queued.
	Running bool
}

// OutputMsg carries output a running task wrote since the last one (a
// preview: it is not signed, comes from one provider, and the signed
// result remains the authority). A provider sends it every
// Config.OutputInterval while the task runs and has written more, only on
// a stream of version 1.1.0 or later. Each
// chunk starts at its offset in the stream's whole output and holds at
// most MaxOutputChunk bytes.
type OutputMsg struct {
	StdoutOffset, StderrOffset uint64
	Stdout, Stderr             []byte
}

// ResultMsg is the provider's answer, signed with its identity key.
type ResultMsg struct {
	// State is the provider's job state: done, failed or cancelled.
	State State
	// Kind classifies the answer; empty for a run that did not produce one
	// (cancelled, or failed for a reason of the provider's own).
	Kind Kind
	// Reason says why a failed or cancelled run did not complete.
	Reason string
	// Output is the run's wasm.Result in runner.EncodeResult's encoding;
	// empty if the run produced none.
	Output []byte
	// Signature signs SigningBytes with the provider's identity key.
	Signature []byte
}

// Type implements Message.
func (*SubmitMsg) Type() MsgType { return TypeSubmit }

// Type implements Message.
func (*AttachMsg) Type() MsgType { return TypeAttach }

// Type implements Message.
func (*CancelMsg) Type() MsgType { return TypeCancel }

// Type implements Message.
func (*AcceptMsg) Type() MsgType { return TypeAccept }

// Type implements Message.
func (*RefuseMsg) Type() MsgType { return TypeRefuse }

// Type implements Message.
func (*StatusMsg) Type() MsgType { return TypeStatus }

// Type implements Message.
func (*ResultMsg) Type() MsgType { return TypeResult }

// Type implements Message.
func (*OutputMsg) Type() MsgType { return TypeOutput }

// On the wire, a State and a Kind are one byte each.
var (
	wireStates = []State{"", StateDone, StateFailed, StateCancelled}
	wireKinds  = []Kind{"", KindCompleted, KindTimeout, KindMemory, KindOutput, KindInvalid}
)

func stateByte(s State) byte {
	for i, v := range wireStates {
		if v == s && i > 0 {
			return byte(i)
		}
	}
	return 0
}

func kindByte(k Kind) byte {
	for i, v := range wireKinds {
		if v == k {
			return byte(i)
		}
	}
	return 0xff
}

func (m *SubmitMsg) appendBody(b []byte) []byte {
	b = binenc.AppendString(b, m.TaskID)
	b = binary.AppendVarint(b, int64(m.Priority))
	var crash byte
	if m.CrashFail {
		crash = 1
	}
	b = append(b, crash)
	b = binary.AppendUvarint(b, m.MaxPrice)
	b = binenc.AppendTime(b, m.Deadline)
	return binenc.AppendBytes(b, m.task)
}

func (m *AttachMsg) appendBody(b []byte) []byte { return binenc.AppendString(b, m.TaskID) }
func (m *CancelMsg) appendBody(b []byte) []byte { return binenc.AppendString(b, m.TaskID) }
func (*AcceptMsg) appendBody(b []byte) []byte   { return b }

func (m *RefuseMsg) appendBody(b []byte) []byte {
	b = append(b, byte(m.Code))
	b = binary.AppendUvarint(b, uint64(max(m.RetryAfter, 0)/time.Millisecond))
	return binenc.AppendString(b, m.Reason)
}

func (m *StatusMsg) appendBody(b []byte) []byte {
	if m.Running {
		return append(b, 1)
	}
	return append(b, 0)
}

func (m *OutputMsg) appendBody(b []byte) []byte {
	b = binary.AppendUvarint(b, m.StdoutOffset)
	b = binenc.AppendBytes(b, m.Stdout)
	b = binary.AppendUvarint(b, m.StderrOffset)
	return binenc.AppendBytes(b, m.Stderr)
}

func (m *ResultMsg) appendBody(b []byte) []byte {
	b = append(b, stateByte(m.State), kindByte(m.Kind))
	b = binenc.AppendString(b, m.Reason)
	b = binenc.AppendBytes(b, m.Output)
	return binenc.AppendBytes(b, m.Signature)
}

// EncodeMessage returns m as one frame:
//
//	type   byte (MsgType)
//	length uvarint, the body's size
//	body   the message's fields, as the package documentation lists them
//
// It fails for a message that DecodeMessage would reject (an invalid task
// ID, a reason or signature too long, a Submit whose spec cannot be
// encoded), so that a node never sends what its peers must refuse.
func EncodeMessage(m Message) ([]byte, error) {
	if err := checkMessage(m); err != nil {
		return nil, err
	}
	if s, ok := m.(*SubmitMsg); ok {
		if _, err := s.Task(); err != nil {
			return nil, err
		}
	}
	body := m.appendBody(make([]byte, 0, 64))
	if len(body) > MaxFrameLimit {
		return nil, fmt.Errorf("%w: %d-byte body exceeds %d", ErrMalformed, len(body), MaxFrameLimit)
	}
	b := make([]byte, 0, 1+binary.MaxVarintLen64+len(body))
	b = append(b, byte(m.Type()))
	return binenc.AppendBytes(b, body), nil
}

// checkMessage applies the decoder's field rules to a message about to be
// encoded.
func checkMessage(m Message) error {
	bad := func(f string, a ...any) error { return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(f, a...)) }
	switch m := m.(type) {
	case *SubmitMsg:
		if !ValidTaskID(m.TaskID) {
			return bad("task ID %q", m.TaskID)
		}
	case *AttachMsg:
		if !ValidTaskID(m.TaskID) {
			return bad("task ID %q", m.TaskID)
		}
	case *CancelMsg:
		if !ValidTaskID(m.TaskID) {
			return bad("task ID %q", m.TaskID)
		}
	case *RefuseMsg:
		if refuseNames[m.Code] == "" {
			return bad("refusal code %d", m.Code)
		}
		if len(m.Reason) > MaxReasonLen {
			return bad("reason of %d bytes", len(m.Reason))
		}
	case *ResultMsg:
		if stateByte(m.State) == 0 {
			return bad("result state %q", m.State)
		}
		if kindByte(m.Kind) == 0xff {
			return bad("result kind %q", m.Kind)
		}
		if len(m.Reason) > MaxReasonLen || len(m.Signature) > MaxSignatureLen {
			return bad("reason of %d or signature of %d bytes", len(m.Reason), len(m.Signature))
		}
		if len(m.Output) > 0 {
			if _, err := runner.DecodeResult(m.Output); err != nil {
				return bad("result output: %v", err)
			}
		}
	case *OutputMsg:
		if len(m.Stdout) > MaxOutputChunk || len(m.Stderr) > MaxOutputChunk {
			return bad("output chunks of %d and %d bytes", len(m.Stdout), len(m.Stderr))
		}
		if m.StdoutOffset > maxOutputOffset || m.StderrOffset > maxOutputOffset {
			return bad("output offsets %d and %d", m.StdoutOffset, m.StderrOffset)
		}
	case *AcceptMsg, *StatusMsg:
	default:
		return bad("unknown message %T", m)
	}
	return nil
}

// WriteMessage encodes m and writes it to w in one Write.
func WriteMessage(w io.Writer, m Message) error {
	b, err := EncodeMessage(m)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// FrameTooLargeError is ReadMessage's error for a frame whose announced
// body exceeds the reader's limit; the body has not been read.
type FrameTooLargeError struct {
	Type        MsgType
	Size, Limit uint64
}

// Error says how large the frame was and what the limit is.
func (e *FrameTooLargeError) Error() string {
	return fmt.Sprintf("wire: %d-byte message of type %d exceeds the limit of %d", e.Size, e.Type, e.Limit)
}

// Unwrap makes the error match ErrMalformed.
func (e *FrameTooLargeError) Unwrap() error { return ErrMalformed }

// ReadMessage reads one frame from r and decodes it. It refuses a body
// longer than limit before reading it (*FrameTooLargeError), and allocates
// no more than the body's announced size, which it reads only as it
// arrives. An EOF before the first byte is io.EOF itself.
func ReadMessage(r *bufio.Reader, limit int) (Message, error) {
	t, err := r.ReadByte()
	if err != nil {
		return nil, err
	}
	n, err := readUvarint(r)
	if err != nil {
		return nil, err
	}
	if n > uint64(limit) || n > MaxFrameLimit {
		return nil, &FrameTooLargeError{Type: MsgType(t), Size: n, Limit: uint64(min(limit, MaxFrameLimit))}
	}
	body, err := readFull(r, int(n))
	if err != nil {
		return nil, err
	}
	return decodeBody(MsgType(t), body)
}

// readFull reads n bytes, growing its buffer as they arrive so that a peer
// announcing a large body and sending little costs little memory.
func readFull(r io.Reader, n int) ([]byte, error) {
	const step = 64 << 10
	b := make([]byte, 0, min(n, step))
	for len(b) < n {
		if len(b) == cap(b) {
			nb := make([]byte, len(b), min(n, 2*cap(b)))
			copy(nb, b)
			b = nb
		}
		k, err := io.ReadFull(r, b[len(b):cap(b)])
		b = b[:len(b)+k]
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("%w: truncated body: %w", ErrMalformed, err)
		}
	}
	return b, nil
}

// readUvarint reads a minimal uvarint.
func readUvarint(r io.ByteReader) (uint64, error) {
	var x uint64
	for i := 0; i < binary.MaxVarintLen64; i++ {
		c, err := r.ReadByte()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return 0, fmt.Errorf("%w: truncated length: %w", ErrMalformed, err)
		}
		if i == binary.MaxVarintLen64-1 && c > 1 {
			break
		}
		x |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			if c == 0 && i > 0 {
				return 0, fmt.Errorf("%w: length not minimal", ErrMalformed)
			}
			return x, nil
		}
	}
	return 0, fmt.Errorf("%w: length overflows 64 bits", ErrMalformed)
}

// DecodeMessage decodes one whole frame (as EncodeMessage makes it, with
// nothing after it). It never panics; it accepts only canonical
// encodings, so DecodeMessage and EncodeMessage are inverses.
func DecodeMessage(b []byte) (Message, error) {
	if len(b) < 2 {
		return nil, fmt.Errorf("%w: frame of %d bytes", ErrMalformed, len(b))
	}
	d := binenc.NewReader(b, ErrMalformed)
	d.Skip(1)
	n := d.Uvarint()
	if d.Err() != nil {
		return nil, d.Err()
	}
	if n != uint64(d.Len()) {
		return nil, fmt.Errorf("%w: frame announces %d bytes, carries %d", ErrMalformed, n, d.Len())
	}
	return decodeBody(MsgType(b[0]), d.Rest())
}

// decodeBody decodes the body of a message of type t.
func decodeBody(t MsgType, body []byte) (Message, error) {
	d := reader{binenc.NewReader(body, ErrMalformed)}
	var m Message
	switch t {
	case TypeSubmit:
		s := &SubmitMsg{TaskID: d.taskID()}
		s.Priority = d.Int32("priority")
		switch d.Byte() {
		case 0:
		case 1:
			s.CrashFail = true
		default:
			d.Fail("crash policy")
		}
		s.MaxPrice = d.Uvarint()
		s.Deadline = d.Time()
		s.task = d.Bytes()
		if d.Err() == nil {
			task, err := runner.DecodeTask(s.task)
			switch {
			case err != nil:
				d.FailErr("task", err)
			case len(task.Code) > 0:
				d.Fail("task carries module code")
			default:
				s.Spec = task.Spec
			}
		}
		m = s
	case TypeAttach:
		m = &AttachMsg{TaskID: d.taskID()}
	case TypeCancel:
		m = &CancelMsg{TaskID: d.taskID()}
	case TypeAccept:
		m = &AcceptMsg{}
	case TypeRefuse:
		r := &RefuseMsg{Code: RefuseCode(d.Byte())}
		if d.Err() == nil && refuseNames[r.Code] == "" {
			d.Fail("refusal code")
		}
		ms := d.Uvarint()
		if ms > uint64(math.MaxInt64/time.Millisecond) {
			d.Fail("retry-after overflows")
		}
		r.RetryAfter = time.Duration(ms) * time.Millisecond
		r.Reason = d.String(MaxReasonLen)
		m = r
	case TypeStatus:
		switch d.Byte() {
		case 0:
			m = &StatusMsg{}
		case 1:
			m = &StatusMsg{Running: true}
		default:
			d.Fail("status")
		}
	case TypeOutput:
		o := &OutputMsg{}
		o.StdoutOffset = d.Uvarint()
		o.Stdout = d.Bytes()
		o.StderrOffset = d.Uvarint()
		o.Stderr = d.Bytes()
		switch {
		case d.Err() != nil:
		case len(o.Stdout) > MaxOutputChunk || len(o.Stderr) > MaxOutputChunk:
			d.Fail("output chunk too long")
		case o.StdoutOffset > maxOutputOffset || o.StderrOffset > maxOutputOffset:
			d.Fail("output offset out of range")
		}
		m = o
	case TypeResult:
		r := &ResultMsg{}
		st, k := d.Byte(), d.Byte()
		if d.Err() == nil && (st == 0 || int(st) >= len(wireStates) || int(k) >= len(wireKinds)) {
			d.Fail("result state or kind")
		}
		if d.Err() == nil {
			r.State, r.Kind = wireStates[st], wireKinds[k]
		}
		r.Reason = d.String(MaxReasonLen)
		r.Output = d.Bytes()
		r.Signature = d.Bytes()
		if d.Err() == nil && len(r.Signature) > MaxSignatureLen {
			d.Fail("signature too long")
		}
		if d.Err() == nil && len(r.Output) > 0 {
			if _, err := runner.DecodeResult(r.Output); err != nil {
				d.FailErr("result output", err)
			}
		}
		m = r
	default:
		return nil, fmt.Errorf("%w: unknown message type %d", ErrMalformed, t)
	}
	d.End()
	if d.Err() != nil {
		return nil, d.Err()
	}
	return m, nil
}

// reader decodes the primitives of the protocol; the first error sticks.
type reader struct{ *binenc.Reader }

func (d reader) taskID() string {
	s := d.String(MaxTaskIDLen)
	if d.Err() == nil && !ValidTaskID(s) {
		d.Fail("invalid task ID")
	}
	return s
}
