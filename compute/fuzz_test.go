package compute

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/compute/placement"
	"github.com/fog-compute/fog/compute/runner"
	"github.com/fog-compute/fog/compute/wasm"
)

func sampleSpec() Spec {
	return Spec{
		Module: wasm.IDOf([]byte("m")), Args: []string{"p", "q"}, Env: map[string]string{"K": "v"}, Stdin: []byte("in"),
		Limits: Limits{MemoryPages: 3, WallTime: time.Second, OutputBytes: 100}, Random: true,
		Replicas: 3, Quorum: 2, MaxPrice: 10, Deadline: time.UnixMilli(1_800_000_000_000), Priority: -2,
		Strategy: placement.PowerOfTwo, CrashPolicy: CrashFail,
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
			_, _, _ = a.answer().DecodeOutput()
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

func testKey(t testing.TB, seed byte) (crypto.PrivKey, peer.ID) {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(rand.NewChaCha8([32]byte{seed}))
	require.NoError(t, err)
	id, err := peer.IDFromPrivateKey(k)
	require.NoError(t, err)
	return k, id
}

func TestFailureKind(t *testing.T) {
	for reason, want := range map[string]Kind{
		"limit 5s: " + wasm.ErrTimeout.Error():         KindTimeout,
		wasm.ErrMemoryLimit.Error() + ": 10 pages":     KindMemory,
		wasm.ErrOutputLimit.Error():                    KindOutput,
		"runner: " + wasm.ErrInvalidModule.Error():     KindInvalid,
		wasm.ErrInvalidSpec.Error() + ": Args[0]: NUL": KindInvalid,
		"node crashed while running":                   "",
		"deadline":                                     "",
	} {
		assert.Equal(t, want, failureKind(reason), reason)
	}
	assert.True(t, crashReason("node crashed while running"))
	assert.False(t, crashReason("deadline"))
}
