package channel

import (
	"bytes"
	"crypto/ecdh"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// seedKey returns a deterministic Ed25519 identity.
func seedKey(tb testing.TB, seed uint64) (crypto.PrivKey, peer.ID) {
	tb.Helper()
	rng := mrand.NewChaCha8([32]byte{byte(seed)})
	k, _, err := crypto.GenerateEd25519Key(rng)
	if err != nil {
		tb.Fatal(err)
	}
	id, err := peer.IDFromPrivateKey(k)
	if err != nil {
		tb.Fatal(err)
	}
	return k, id
}

func seedMessage(tb testing.TB) []byte {
	k, id := seedKey(tb, 1)
	m := Message{Kind: KindPost, Channel: "lobby", Author: id, Seq: 7, Time: time.UnixMilli(1_800_000_000_000), Body: []byte("hi")}
	if err := m.Sign(k); err != nil {
		tb.Fatal(err)
	}
	b, err := EncodeMessage(m)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func seedRoster(tb testing.TB) []byte {
	rng := mrand.NewChaCha8([32]byte{9})
	var ms []Member
	for i := range 3 {
		_, id := seedKey(tb, uint64(10+i))
		ck, err := ecdh.X25519().GenerateKey(rng)
		if err != nil {
			tb.Fatal(err)
		}
		ms = append(ms, Member{Peer: id, ChatKey: ck.PublicKey()})
	}
	b, err := SealRoster("crew", 1, ms, [KeySize]byte{1}, rng)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func seedRanges(tb testing.TB) [][]byte {
	a, _, _, _ := sets(3, 300, 0, 0)
	s := NewSet(a)
	r := NewReconciler(s, DefaultRBSRConfig(), true)
	first := r.Initiate(0)
	resp := NewReconciler(NewSet(a[:100]), DefaultRBSRConfig(), false)
	reply, _, err := resp.Step(first)
	if err != nil {
		tb.Fatal(err)
	}
	return [][]byte{first, reply, NewReconciler(NewSet(nil), DefaultRBSRConfig(), true).Initiate(5)}
}

func seedFrames(tb testing.TB) [][]byte {
	return [][]byte{
		frame{kind: fHello, name: "lobby"}.encode(),
		frame{kind: fWelcome, roster: seedMessage(tb)}.encode(),
		frame{kind: fRefuse, reason: "not joined"}.encode(),
		frame{kind: fRecon, recon: seedRanges(tb)[0]}.encode(),
		frame{kind: fFetch, ids: []ID{{1}, {2}}}.encode(),
		frame{kind: fMsgs, msgs: [][]byte{seedMessage(tb)}}.encode(),
		frame{kind: fDone}.encode(),
		frame{kind: fDone, ids: []ID{{3}, {4}, {5}}}.encode(),
	}
}

// FuzzDecodeMessage: the decoder never panics and accepts only canonical
// encodings.
func FuzzDecodeMessage(f *testing.F) {
	good := seedMessage(f)
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMessage(b)
		if err != nil {
			return
		}
		out, err := EncodeMessage(m)
		if err != nil {
			t.Fatalf("decoded message does not encode: %v", err)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("not canonical:\n in %x\nout %x", b, out)
		}
		_ = m.Verify() // must not panic
	})
}

// FuzzDecodeRoster: the roster decoder never panics and is canonical.
func FuzzDecodeRoster(f *testing.F) {
	good := seedRoster(f)
	f.Add(good)
	f.Add(good[:40])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeRoster(b)
		if err != nil {
			return
		}
		out, err := EncodeRoster(r)
		if err != nil {
			t.Fatalf("decoded roster does not encode: %v", err)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("not canonical")
		}
		_, _ = r.OpenKey("crew", 1, r.Members[0].Peer, nil)
	})
}

// FuzzReconcile: a reconciliation message never panics either side's
// Step, and what decodes re-encodes to the same bytes.
func FuzzReconcile(f *testing.F) {
	for _, b := range seedRanges(f) {
		f.Add(b)
	}
	f.Add([]byte{rbsrVersion})
	a, _, _, _ := sets(4, 200, 0, 0)
	set := NewSet(a)
	f.Fuzz(func(t *testing.T, b []byte) {
		rs, err := decodeRanges(b, DefaultRBSRConfig().MaxRanges)
		if err != nil {
			return
		}
		if out := (&builder{ranges: rs}).encode(); !bytes.Equal(out, b) {
			t.Fatalf("not canonical:\n in %x\nout %x", b, out)
		}
		for _, ini := range []bool{false, true} {
			r := NewReconciler(set, DefaultRBSRConfig(), ini)
			out, _, err := r.Step(b)
			if err != nil {
				t.Fatalf("decoded message not processed: %v", err)
			}
			if out != nil {
				if _, err := decodeRanges(out, 1<<20); err != nil {
					t.Fatalf("our answer does not decode: %v", err)
				}
			}
		}
	})
}

// FuzzDecodeFrame: sync frames never panic the decoder and are canonical.
func FuzzDecodeFrame(f *testing.F) {
	for _, b := range seedFrames(f) {
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{99})
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := decodeFrame(b)
		if err != nil {
			return
		}
		if out := fr.encode(); !bytes.Equal(out, b) {
			t.Fatalf("not canonical:\n in %x\nout %x", b, out)
		}
	})
}

// TestWriteFuzzCorpus writes the seeds above into testdata/fuzz when
// FOG_WRITE_CORPUS is set, so the committed corpora follow the formats.
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("FOG_WRITE_CORPUS") == "" {
		t.Skip("set FOG_WRITE_CORPUS=1 to rewrite testdata/fuzz")
	}
	good := seedMessage(t)
	roster := seedRoster(t)
	corpora := map[string][][]byte{
		"FuzzDecodeMessage": {good, good[:len(good)/2], append(append([]byte{}, good...), 0)},
		"FuzzDecodeRoster":  {roster, roster[:40]},
		"FuzzReconcile":     seedRanges(t),
		"FuzzDecodeFrame":   seedFrames(t),
	}
	for name, seeds := range corpora {
		dir := filepath.Join("testdata", "fuzz", name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, s := range seeds {
			body := fmt.Sprintf("go test fuzz v1\n[]byte(%s)\n", strconv.Quote(string(s)))
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed%d", i)), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func seededRand() *mrand.ChaCha8 { return mrand.NewChaCha8([32]byte{42}) }
