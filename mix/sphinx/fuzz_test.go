package sphinx

import (
	"bytes"
	"errors"
	"testing"
)

// fuzzGeo is small so that the fuzzer reaches valid packets quickly.
var fuzzGeo = Geometry{Hops: 2, PayloadLength: 40}

// fuzzFixture is a 2-hop path, a forward packet and a SURB reply on it,
// all deterministic.
func fuzzFixture(tb testing.TB) (nodes []testNode, fwd, reply, surb, keys []byte) {
	rnd := detRand(77)
	nodes, path := newPath(tb, rnd, 2, true)
	fwd, err := NewPacket(rnd, fuzzGeo, path, testPayload(fuzzGeo, 5))
	if err != nil {
		tb.Fatal(err)
	}
	surb, keys, err = NewSURB(rnd, fuzzGeo, path)
	if err != nil {
		tb.Fatal(err)
	}
	reply, _, err = NewPacketFromSURB(fuzzGeo, surb, testPayload(fuzzGeo, 6))
	if err != nil {
		tb.Fatal(err)
	}
	return nodes, fwd, reply, surb, keys
}

func isSentinel(err error) bool {
	for _, s := range []error{ErrConfig, ErrPath, ErrMalformed, ErrMAC, ErrPayloadAuth} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// FuzzUnwrap feeds arbitrary bytes to Unwrap at the first hop of the
// fixture's path. It must not panic, must wrap a sentinel when it fails,
// and a packet it forwards keeps its length and unwraps again at the next
// hop only if it passes that hop's MAC.
func FuzzUnwrap(f *testing.F) {
	nodes, fwd, reply, _, _ := fuzzFixture(f)
	f.Add(fwd)
	f.Add(reply)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, pkt []byte) {
		n := len(pkt)
		payload, _, cmds, err := Unwrap(fuzzGeo, nodes[0].priv, pkt)
		if err != nil {
			if !isSentinel(err) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			return
		}
		if len(pkt) != n || len(cmds) == 0 && payload == nil {
			t.Fatalf("accepted packet: length %d→%d, %d commands", n, len(pkt), len(cmds))
		}
		if payload == nil {
			_, _, _, err = Unwrap(fuzzGeo, nodes[1].priv, pkt)
			if err != nil && !isSentinel(err) {
				t.Fatalf("second hop: error %v wraps no sentinel", err)
			}
		}
	})
}

// FuzzParseCommands feeds arbitrary routing blocks to ParseCommands. What
// it accepts must re-encode to a prefix of the block followed by nothing
// or by a null command with zero padding.
func FuzzParseCommands(f *testing.F) {
	f.Add(appendCommand(appendCommand(nil, NodeDelay{Delay: 1234}), NextNodeHop{ID: [32]byte{1}, MAC: [32]byte{2}}))
	f.Add(append(appendCommand(appendCommand(nil, Recipient{ID: [32]byte{3}}), SURBReply{ID: [16]byte{4}}), make([]byte, 32)...))
	f.Add([]byte{0, 0, 0})
	f.Fuzz(func(t *testing.T, block []byte) {
		cmds, err := ParseCommands(block)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		var enc []byte
		for _, c := range cmds {
			enc = appendCommand(enc, c)
		}
		if !bytes.HasPrefix(block, enc) {
			t.Fatalf("commands re-encode to %x, not a prefix of %x", enc, block)
		}
		if rest := block[len(enc):]; len(rest) > 0 && !isZero(rest) {
			t.Fatalf("accepted non-zero padding %x", rest)
		}
	})
}

// FuzzNewPacketFromSURB feeds arbitrary SURBs and payloads: no panic,
// sentinel errors, and a packet of the geometry's length on success.
func FuzzNewPacketFromSURB(f *testing.F) {
	_, _, _, surb, _ := fuzzFixture(f)
	f.Add(surb, testPayload(fuzzGeo, 1))
	f.Add([]byte{}, []byte{})
	f.Fuzz(func(t *testing.T, surb, payload []byte) {
		pkt, _, err := NewPacketFromSURB(fuzzGeo, surb, payload)
		if err != nil {
			if !isSentinel(err) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			return
		}
		if len(pkt) != fuzzGeo.PacketLength() {
			t.Fatalf("packet of %d bytes", len(pkt))
		}
	})
}

// FuzzDecryptSURBPayload feeds arbitrary keys and reply payloads: no
// panic, sentinel errors, payload untouched.
func FuzzDecryptSURBPayload(f *testing.F) {
	nodes, _, reply, _, keys := fuzzFixture(f)
	for _, n := range nodes {
		if _, _, _, err := Unwrap(fuzzGeo, n.priv, reply); err != nil {
			f.Fatal(err)
		}
	}
	f.Add(keys, bytes.Clone(reply[fuzzGeo.HeaderLength():]))
	f.Add([]byte{}, []byte{})
	f.Fuzz(func(t *testing.T, keys, payload []byte) {
		in := bytes.Clone(payload)
		got, err := DecryptSURBPayload(fuzzGeo, keys, payload)
		if !bytes.Equal(in, payload) {
			t.Fatal("DecryptSURBPayload modified its input")
		}
		if err != nil {
			if !isSentinel(err) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			return
		}
		if len(got) != fuzzGeo.PayloadLength {
			t.Fatalf("plaintext of %d bytes", len(got))
		}
	})
}
