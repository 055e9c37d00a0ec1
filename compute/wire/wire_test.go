package wire

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/compute/runner"
	"github.com/fog-compute/fog/compute/wasm"
	"github.com/fog-compute/fog/internal/binenc"
)

// sampleMessages returns one message of each type, with non-trivial
// fields.
func sampleMessages() []Message {
	out := runner.EncodeResult(wasm.Result{ExitCode: 3, Stdout: []byte("out"), Stderr: []byte("err"), Usage: wasm.Usage{Wall: time.Millisecond, PeakMemoryBytes: 65536}})
	return []Message{
		&SubmitMsg{
			TaskID: "33lhqtmqbu8um396fldstege34", Priority: -7, CrashFail: true, MaxPrice: 1500,
			Deadline: time.UnixMilli(1_900_000_000_123),
			Spec: wasm.Spec{
				Module: wasm.IDOf([]byte("module")), Args: []string{"prog", "-x"}, Env: map[string]string{"A": "1", "B": ""},
				Stdin: []byte("input"), Limits: wasm.Limits{MemoryPages: 10, WallTime: time.Second, OutputBytes: 4096}, Clock: true,
			},
		},
		&SubmitMsg{TaskID: "a", Spec: wasm.Spec{Module: wasm.IDOf(nil)}},
		&AttachMsg{TaskID: "task-1"},
		&CancelMsg{TaskID: "task-1"},
		&AcceptMsg{},
		&RefuseMsg{Code: RefuseBusy, RetryAfter: 1500 * time.Millisecond, Reason: "compute: busy"},
		&RefuseMsg{Code: RefuseDeadline},
		&StatusMsg{},
		&StatusMsg{Running: true},
		&ResultMsg{State: StateDone, Kind: KindCompleted, Output: out, Signature: bytes.Repeat([]byte{9}, 64)},
		&ResultMsg{State: StateCancelled, Reason: "cancelled while running"},
		&ResultMsg{State: StateFailed, Kind: KindTimeout, Reason: "wasm: wall-time limit exceeded", Output: out},
		&OutputMsg{StdoutOffset: 70000, Stdout: []byte("line 2\n"), Stderr: []byte("warn\n")},
		&OutputMsg{},
	}
}

func TestMessageRoundTrip(t *testing.T) {
	for _, m := range sampleMessages() {
		b, err := EncodeMessage(m)
		require.NoError(t, err)
		got, err := DecodeMessage(b)
		require.NoError(t, err, "%T", m)
		again, err := EncodeMessage(got)
		require.NoError(t, err)
		assert.Equal(t, b, again, "%T: the encoding is canonical", m)
		assert.Equal(t, m.Type(), got.Type())

		// The same through a stream reader, several messages in a row.
		r := bufio.NewReader(bytes.NewReader(append(append([]byte{}, b...), b...)))
		for range 2 {
			got, err := ReadMessage(r, len(b))
			require.NoError(t, err)
			assert.Equal(t, m.Type(), got.Type())
		}
		_, err = ReadMessage(r, len(b))
		assert.ErrorIs(t, err, io.EOF)
	}
	// Fields survive.
	b, err := EncodeMessage(sampleMessages()[0])
	require.NoError(t, err)
	m, err := DecodeMessage(b)
	require.NoError(t, err)
	s := m.(*SubmitMsg)
	assert.Equal(t, int32(-7), s.Priority)
	assert.True(t, s.CrashFail)
	assert.Equal(t, int64(1_900_000_000_123), s.Deadline.UnixMilli())
	assert.Equal(t, []string{"prog", "-x"}, s.Spec.Args)
	assert.Equal(t, "input", string(s.Spec.Stdin))
	assert.True(t, s.Spec.Clock)
}

func TestDecodeMessageRejects(t *testing.T) {
	valid, err := EncodeMessage(&AttachMsg{TaskID: "abc"})
	require.NoError(t, err)
	frame := func(t MsgType, body ...byte) []byte {
		return append([]byte{byte(t), byte(len(body))}, body...)
	}
	withCode, err := runner.EncodeTask(runner.Task{Spec: wasm.Spec{Module: wasm.IDOf([]byte("x"))}, Code: []byte("x")})
	require.NoError(t, err)
	submitWithCode := (&SubmitMsg{TaskID: "a", task: withCode}).appendBody(nil)
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"one byte", []byte{byte(TypeAttach)}},
		{"unknown type", frame(99)},
		{"length beyond the frame", append([]byte{byte(TypeAttach), 9}, valid[2:]...)},
		{"trailing byte", append(append([]byte{}, valid...), 0)},
		{"non-minimal length", []byte{byte(TypeAccept), 0x80, 0x00}},
		{"empty task ID", frame(TypeAttach, 0)},
		{"upper-case task ID", frame(TypeAttach, 1, 'A')},
		{"task ID too long", frame(TypeCancel, append([]byte{65}, bytes.Repeat([]byte{'a'}, 65)...)...)},
		{"unknown refusal", frame(TypeRefuse, 0, 0, 0)},
		{"status byte 2", frame(TypeStatus, 2)},
		{"result state 0", frame(TypeResult, 0, 1, 0, 0, 0)},
		{"result kind 9", frame(TypeResult, 1, 9, 0, 0, 0)},
		{"result output not a result", frame(TypeResult, 1, 1, 0, 1, 7, 0)},
		{"accept with a body", frame(TypeAccept, 0)},
		{"submit carrying code", append([]byte{byte(TypeSubmit), byte(len(submitWithCode))}, submitWithCode...)},
		{"submit with a bad task", frame(TypeSubmit, 1, 'a', 0, 0, 0, 0, 1, 9)},
		{"submit crash policy 2", frame(TypeSubmit, 1, 'a', 0, 2, 0, 0, 0)},
		{"output chunk too long", outputFrame(0, MaxOutputChunk+1, 0, 0)},
		{"output stderr chunk too long", outputFrame(0, 0, 0, MaxOutputChunk+1)},
		{"output offset too large", outputFrame(maxOutputOffset+1, 1, 0, 0)},
		{"output truncated", frame(TypeOutput, 0, 5, 'a')},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeMessage(tt.b)
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrMalformed)
		})
	}
}

// outputFrame builds an Output frame without the encoder's checks.
func outputFrame(outOff uint64, outLen int, errOff uint64, errLen int) []byte {
	m := &OutputMsg{StdoutOffset: outOff, Stdout: bytes.Repeat([]byte{'o'}, outLen), StderrOffset: errOff, Stderr: bytes.Repeat([]byte{'e'}, errLen)}
	return binenc.AppendBytes([]byte{byte(TypeOutput)}, m.appendBody(nil))
}

func TestEncodeOutputRejects(t *testing.T) {
	for _, m := range []*OutputMsg{
		{Stdout: make([]byte, MaxOutputChunk+1)},
		{Stderr: make([]byte, MaxOutputChunk+1)},
		{StderrOffset: maxOutputOffset + 1},
	} {
		_, err := EncodeMessage(m)
		assert.ErrorIs(t, err, ErrMalformed)
	}
	b, err := EncodeMessage(&OutputMsg{Stdout: make([]byte, MaxOutputChunk), Stderr: make([]byte, MaxOutputChunk)})
	require.NoError(t, err)
	m, err := DecodeMessage(b)
	require.NoError(t, err)
	assert.Len(t, m.(*OutputMsg).Stdout, MaxOutputChunk)
}

func TestReadMessageLimits(t *testing.T) {
	b, err := EncodeMessage(&RefuseMsg{Code: RefuseBusy, Reason: strings.Repeat("x", 100)})
	require.NoError(t, err)
	_, err = ReadMessage(bufio.NewReader(bytes.NewReader(b)), 50)
	var tooLarge *FrameTooLargeError
	require.ErrorAs(t, err, &tooLarge)
	assert.Equal(t, uint64(50), tooLarge.Limit)
	assert.ErrorIs(t, err, ErrMalformed)

	// A huge announced length is refused before any allocation.
	huge := []byte{byte(TypeSubmit), 0xff, 0xff, 0xff, 0xff, 0x0f}
	_, err = ReadMessage(bufio.NewReader(bytes.NewReader(huge)), 1<<20)
	require.ErrorAs(t, err, &tooLarge)

	// A truncated body is an error, not a short message.
	_, err = ReadMessage(bufio.NewReader(bytes.NewReader(b[:len(b)-1])), 1<<20)
	assert.ErrorIs(t, err, ErrMalformed)
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)

	// An overlong varint.
	_, err = ReadMessage(bufio.NewReader(bytes.NewReader([]byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f})), 1<<20)
	assert.ErrorIs(t, err, ErrMalformed)
}

func TestEncodeMessageRefusesWhatPeersRefuse(t *testing.T) {
	for _, m := range []Message{
		&AttachMsg{TaskID: "Bad ID"},
		&SubmitMsg{TaskID: ""},
		&RefuseMsg{Code: 0},
		&RefuseMsg{Code: RefuseBusy, Reason: strings.Repeat("x", MaxReasonLen+1)},
		&ResultMsg{State: "running"},
		&ResultMsg{State: StateDone, Kind: "bogus"},
		&ResultMsg{State: StateDone, Signature: make([]byte, MaxSignatureLen+1)},
		&SubmitMsg{TaskID: "a", Spec: wasm.Spec{Limits: wasm.Limits{WallTime: -1}}},
	} {
		_, err := EncodeMessage(m)
		assert.Error(t, err, "%#v", m)
	}
}

func testKey(t testing.TB, seed byte) (crypto.PrivKey, peer.ID) {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(rand.NewChaCha8([32]byte{seed}))
	require.NoError(t, err)
	id, err := peer.IDFromPrivateKey(k)
	require.NoError(t, err)
	return k, id
}

func TestResultSignature(t *testing.T) {
	provKey, prov := testKey(t, 1)
	_, sub := testKey(t, 2)
	_, other := testKey(t, 3)
	out := runner.EncodeResult(wasm.Result{Stdout: []byte("42\n")})
	m := &ResultMsg{State: StateDone, Kind: KindCompleted, Output: out}
	require.NoError(t, m.Sign(provKey, "task", sub))
	res, h, err := m.Verify("task", sub, prov, nil)
	require.NoError(t, err)
	assert.Equal(t, "42\n", string(res.Stdout))
	assert.Equal(t, ResultHash(KindCompleted, &res), h)

	// Through the wire and back, the signature still holds.
	b, err := EncodeMessage(m)
	require.NoError(t, err)
	dm, err := DecodeMessage(b)
	require.NoError(t, err)
	_, _, err = dm.(*ResultMsg).Verify("task", sub, prov, nil)
	require.NoError(t, err)

	// Bound to the task, the submitter and the provider.
	for name, verify := range map[string]func() error{
		"other task":      func() error { _, _, err := m.Verify("task2", sub, prov, nil); return err },
		"other submitter": func() error { _, _, err := m.Verify("task", other, prov, nil); return err },
		"other provider":  func() error { _, _, err := m.Verify("task", sub, other, nil); return err },
	} {
		assert.ErrorIs(t, verify(), ErrBadSignature, name)
	}
	// Any change to the result breaks it.
	changed := *m
	changed.Output = runner.EncodeResult(wasm.Result{Stdout: []byte("43\n")})
	_, _, err = changed.Verify("task", sub, prov, nil)
	assert.ErrorIs(t, err, ErrBadSignature)
	changed = *m
	changed.State = StateFailed
	_, _, err = changed.Verify("task", sub, prov, nil)
	assert.ErrorIs(t, err, ErrBadSignature)
	changed = *m
	changed.Signature = append([]byte{}, m.Signature...)
	changed.Signature[0] ^= 1
	_, _, err = changed.Verify("task", sub, prov, nil)
	assert.ErrorIs(t, err, ErrBadSignature)
	// Garbage output is malformed, not a bad signature.
	changed = *m
	changed.Output = []byte{1, 2, 3}
	_, _, err = changed.Verify("task", sub, prov, nil)
	assert.ErrorIs(t, err, ErrMalformed)
}

func TestResultHash(t *testing.T) {
	base := wasm.Result{ExitCode: 1, Stdout: []byte("a"), Stderr: []byte("b"), Usage: wasm.Usage{Wall: time.Second, PeakMemoryBytes: 1}}
	h := ResultHash(KindCompleted, &base)
	same := base
	same.Usage = wasm.Usage{Wall: time.Hour, PeakMemoryBytes: 99}
	same.NonDeterministic = true
	assert.Equal(t, h, ResultHash(KindCompleted, &same), "usage and the host flag do not count")
	for name, r := range map[string]wasm.Result{
		"exit code":     {ExitCode: 2, Stdout: []byte("a"), Stderr: []byte("b")},
		"stdout":        {ExitCode: 1, Stdout: []byte("A"), Stderr: []byte("b")},
		"stderr":        {ExitCode: 1, Stdout: []byte("a"), Stderr: []byte("B")},
		"moved byte":    {ExitCode: 1, Stdout: []byte("ab"), Stderr: nil},
		"trapped":       {ExitCode: 1, Stdout: []byte("a"), Stderr: []byte("b"), Err: "wasm error: unreachable"},
		"no output too": {ExitCode: 1},
	} {
		assert.NotEqual(t, h, ResultHash(KindCompleted, &r), name)
	}
	assert.NotEqual(t, h, ResultHash(KindOutput, &base), "the kind counts")
	// A timeout's partial output does not count.
	assert.Equal(t, ResultHash(KindTimeout, &base), ResultHash(KindTimeout, &wasm.Result{Stdout: []byte("other")}))
	// Error texts never count.
	trap1 := wasm.Result{Err: "wasm error: unreachable\nstack 1"}
	trap2 := wasm.Result{Err: "wasm error: unreachable\nstack 2"}
	assert.Equal(t, ResultHash(KindCompleted, &trap1), ResultHash(KindCompleted, &trap2))
}

func TestReadUvarint(t *testing.T) {
	for _, tt := range []struct {
		b    []byte
		want uint64
		err  bool
	}{
		{[]byte{0}, 0, false},
		{[]byte{0x7f}, 127, false},
		{[]byte{0x80, 0x01}, 128, false},
		{[]byte{0x80, 0x00}, 0, true},
		{[]byte{0x80}, 0, true},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 1<<64 - 1, false},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}, 0, true},
	} {
		v, err := readUvarint(bytes.NewReader(tt.b))
		if tt.err {
			assert.Error(t, err, "%x", tt.b)
			continue
		}
		require.NoError(t, err, "%x", tt.b)
		assert.Equal(t, tt.want, v)
	}
	assert.False(t, errors.Is(nil, ErrMalformed))
}
