package wire

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
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
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
