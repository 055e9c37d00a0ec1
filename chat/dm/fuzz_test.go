package dm

import (
	"bytes"
	"testing"
	"time"
)

// FuzzDecodePayload: decodePayload never panics, and what it accepts
// encodes back to the same bytes.
func FuzzDecodePayload(f *testing.F) {
	for _, p := range []payload{
		{kind: kindText, id: MsgID{1}, seq: 3, sent: t0, expiry: t0.Add(time.Hour), body: []byte("hello")},
		{kind: kindDelivered, id: MsgID{2}},
		{kind: kindRead, id: MsgID{3}},
	} {
		b, err := p.encode()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := decodePayload(b)
		if err != nil {
			return
		}
		out, err := p.encode()
		if err != nil {
			t.Fatalf("a decoded payload does not encode: %v", err)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("not canonical:\n%x\n%x", b, out)
		}
	})
}

// FuzzReceive feeds frames to a node with an established session and to
// its sealed-envelope path: nothing panics, and nothing but the genuine
// frames delivers a message.
func FuzzReceive(f *testing.F) {
	cfg := testConfig()
	_, ida, a := testKeys(f, 1)
	_, idb, b := testKeys(f, 2)
	sa, sb := pair(f, cfg, a, b)
	plain, err := (&payload{kind: kindText, id: MsgID{7}, sent: t0, expiry: t0.Add(time.Hour), body: []byte("hi")}).encode()
	if err != nil {
		f.Fatal(err)
	}
	data, err := sa.Encrypt(t0, nil, plain)
	if err != nil {
		f.Fatal(err)
	}
	sealed, err := Seal(a, b.Record, plain, rnd(3))
	if err != nil {
		f.Fatal(err)
	}
	_, hs1, err := NewInitiator(cfg, a, idb, nil, rnd(4))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add(sealed)
	f.Add(hs1)
	f.Add([]byte{frameReset, 1, 2, 3, 4, 5, 6, 7, 8})
	f.Add([]byte{frameHS2})
	f.Fuzz(func(t *testing.T, frame []byte) {
		nd, err := NewNode(cfg, b, rnd(5))
		if err != nil {
			t.Fatal(err)
		}
		nd.SetPeer(t0, ida, true)
		nd.peer(ida).sess = cloneSession(sb)
		for _, r := range []Route{Direct, Mailbox} {
			eff, err := nd.Receive(t0, ida, r, append([]byte(nil), frame...))
			for _, e := range eff {
				if d, ok := e.(Deliver); ok && err == nil && !bytes.Equal(frame, data) && !bytes.Equal(frame, sealed) {
					t.Fatalf("delivered %x from a frame that was not sent", d.Message.ID)
				}
			}
		}
	})
}

// cloneSession copies an established session (for fuzzing from one state).
func cloneSession(s *Session) *Session {
	c := *s
	return &c
}
