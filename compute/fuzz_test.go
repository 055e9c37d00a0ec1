package compute

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/compute/runner"
	"github.com/fog-compute/fog/compute/wasm"
)

// FuzzDecodeMessage checks that the decoder of the task protocol never
// panics and accepts only canonical frames: whatever it accepts encodes
// back to the same bytes, and a result's verification fails cleanly.
func FuzzDecodeMessage(f *testing.F) {
	for _, m := range sampleMessages() {
		b, err := EncodeMessage(m)
		require.NoError(f, err)
		f.Add(b)
	}
	_, sub := testKey(f, 2)
	_, prov := testKey(f, 1)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMessage(b)
		if err != nil {
			return
		}
		again, err := EncodeMessage(m)
		if err != nil {
			t.Fatalf("decoded %T does not encode: %v", m, err)
		}
		if !bytes.Equal(b, again) {
			t.Fatalf("%T: not canonical:\n%x\n%x", m, b, again)
		}
		if r, ok := m.(*ResultMsg); ok {
			if _, _, err := r.Verify("task", sub, prov, nil); err == nil {
				t.Fatal("a fuzzed signature verified")
			}
		}
	})
}

// FuzzReadMessage checks the stream reader: it never panics, never reads
// a body beyond its limit, and agrees with DecodeMessage on every frame.
func FuzzReadMessage(f *testing.F) {
	var all []byte
	for _, m := range sampleMessages() {
		b, err := EncodeMessage(m)
		require.NoError(f, err)
		f.Add(b)
		all = append(all, b...)
	}
	f.Add(all)
	f.Add([]byte{byte(TypeSubmit), 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		const limit = 4096
		r := bufio.NewReader(bytes.NewReader(b))
		for {
			m, err := ReadMessage(r, limit)
			if err != nil {
				return
			}
			again, err := EncodeMessage(m)
			if err != nil {
				t.Fatalf("decoded %T does not encode: %v", m, err)
			}
			if len(again) > limit+1+10 {
				t.Fatalf("read a %d-byte frame under a limit of %d", len(again), limit)
			}
			if _, err := DecodeMessage(again); err != nil {
				t.Fatalf("DecodeMessage refuses what ReadMessage accepted: %v", err)
			}
		}
	})
}

func sampleSpec() Spec {
	return Spec{
		Module: wasm.IDOf([]byte("m")), Args: []string{"p", "q"}, Env: map[string]string{"K": "v"}, Stdin: []byte("in"),
		Limits: Limits{MemoryPages: 3, WallTime: time.Second, OutputBytes: 100}, Random: true,
		Replicas: 3, Quorum: 2, MaxPrice: 10, Deadline: time.UnixMilli(1_800_000_000_000), Priority: -2,
		Strategy: PowerOfTwo, CrashPolicy: CrashFail,
	}
}

// FuzzDecodeSpec checks the decoder of the submitter's task records.
func FuzzDecodeSpec(f *testing.F) {
	s := sampleSpec()
	b, err := encodeSpec(&s)
	require.NoError(f, err)
	f.Add(b)
	minimal := Spec{Module: wasm.IDOf(nil), Replicas: 1, Quorum: 1, CrashPolicy: CrashRerun}
	b, err = encodeSpec(&minimal)
	require.NoError(f, err)
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := decodeSpec(b)
		if err != nil {
			return
		}
		again, err := encodeSpec(&s)
		if err != nil {
			t.Fatalf("decoded spec does not encode: %v", err)
		}
		s2, err := decodeSpec(again)
		if err != nil {
			t.Fatalf("re-encoded spec does not decode: %v", err)
		}
		if fmt.Sprint(s) != fmt.Sprint(s2) {
			t.Fatalf("round trip changed the spec:\n%v\n%v", s, s2)
		}
	})
}

// FuzzDecodeRecord checks the decoders of the submitter's attempt and
// outcome records.
func FuzzDecodeRecord(f *testing.F) {
	_, p := testKey(f, 5)
	a := &attemptRecord{N: 2, Provider: p, State: AttemptAnswered, Kind: KindCompleted, Output: runner.EncodeResult(wasm.Result{Stdout: []byte("x")})}
	b, err := encodeAttempt(a)
	require.NoError(f, err)
	f.Add(b)
	o := &outcomeRecord{Agreed: true, Kind: KindCompleted, Answers: []Answer{{Provider: p, Kind: KindCompleted}}, Providers: []peer.ID{p}, Output: a.Output}
	b, err = encodeOutcome(o)
	require.NoError(f, err)
	f.Add(b)
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f, '{'})
	f.Fuzz(func(t *testing.T, b []byte) {
		if a, err := decodeAttempt(b); err == nil {
			if _, err := json.Marshal(a); err != nil {
				t.Fatal(err)
			}
			_, _, _ = a.answer().decodeOutput()
		}
		if o, err := decodeOutcome(b); err == nil {
			if _, err := json.Marshal(o); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// TestWriteFuzzCorpus writes the seed corpora under testdata/fuzz when
// FOG_WRITE_CORPUS is set (go test -run TestWriteFuzzCorpus).
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("FOG_WRITE_CORPUS") == "" {
		t.Skip("set FOG_WRITE_CORPUS=1 to rewrite the seed corpora")
	}
	write := func(target, name string, b []byte) {
		dir := filepath.Join("testdata", "fuzz", target)
		require.NoError(t, os.MkdirAll(dir, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", b), 0o644))
	}
	names := []string{"submit", "submit-minimal", "attach", "cancel", "accept", "refuse-busy", "refuse-deadline",
		"status-queued", "status-running", "result-done", "result-cancelled", "result-timeout", "output", "output-empty"}
	var all []byte
	for i, m := range sampleMessages() {
		b, err := EncodeMessage(m)
		require.NoError(t, err)
		write("FuzzDecodeMessage", names[i], b)
		write("FuzzReadMessage", names[i], b)
		all = append(all, b...)
	}
	write("FuzzReadMessage", "all-in-a-row", all)
	write("FuzzReadMessage", "huge-length", []byte{byte(TypeSubmit), 0xff, 0xff, 0xff, 0xff, 0x0f})
	write("FuzzDecodeMessage", "trailing-byte", append(must(EncodeMessage(&AcceptMsg{})), 0))
	write("FuzzDecodeMessage", "output-chunk-too-long", outputFrame(0, MaxOutputChunk+1, 0, 0))
	write("FuzzDecodeMessage", "bad-task-id", []byte{byte(TypeAttach), 2, 1, 'A'})
	s := sampleSpec()
	write("FuzzDecodeSpec", "full", must(encodeSpec(&s)))
	minimal := Spec{Module: wasm.IDOf(nil), Replicas: 1, Quorum: 1, CrashPolicy: CrashRerun}
	write("FuzzDecodeSpec", "minimal", must(encodeSpec(&minimal)))
	write("FuzzDecodeSpec", "bad-version", append([]byte{9}, must(encodeSpec(&minimal))[1:]...))
	_, p := testKey(t, 5)
	a := &attemptRecord{N: 2, Provider: p, State: AttemptAnswered, Kind: KindCompleted, Output: runner.EncodeResult(wasm.Result{Stdout: []byte("x")})}
	write("FuzzDecodeRecord", "attempt", must(encodeAttempt(a)))
	write("FuzzDecodeRecord", "outcome", must(encodeOutcome(&outcomeRecord{Agreed: true, Kind: KindCompleted,
		Providers: []peer.ID{p}, Answers: []Answer{{Provider: p, Kind: KindCompleted}}, Output: a.Output})))
	write("FuzzDecodeRecord", "huge-length", []byte{0xff, 0xff, 0xff, 0xff, 0x0f, '{'})
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
