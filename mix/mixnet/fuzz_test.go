package mixnet

import (
	"testing"
	"time"
)

func FuzzDecodeMessage(f *testing.F) {
	tn := newTestNet(f, noCover(), 4, 1, 11)
	c := tn.nodes[0].c
	for _, m := range []*message{
		{kind: kindDrop},
		{kind: kindAck, id: MsgID{1}},
		{kind: kindData, ack: &surbRef{epoch: 1, surb: make([]byte, c.surbSize())}, body: []byte("hi")},
	} {
		b, err := m.encode(c.payloadSize())
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMessage(b, c.surbSize())
		if err != nil {
			return
		}
		out, err := m.encode(len(b))
		if err != nil {
			t.Fatalf("a decoded message does not encode: %v", err)
		}
		if string(out) != string(b) {
			t.Fatalf("not canonical:\n%x\n%x", b, out)
		}
	})
}

// FuzzReceive feeds frames to a relay and endpoint: nothing panics, and a
// frame is either relayed, handled or counted as a drop.
func FuzzReceive(f *testing.F) {
	tn := newTestNet(f, noCover(), 4, 1, 12)
	pkt := captureFirst(tn)
	id, eff, err := tn.nodes[3].Send(tn.now, tn.nodes[3].ID(), []byte("seed"), SendOptions{})
	if err != nil {
		f.Fatal(err)
	}
	_ = id
	tn.apply(tn.nodes[3], eff)
	tn.run(5 * time.Second)
	f.Add(*pkt)
	f.Add([]byte{frameEndpoint, 0, 0, 0, 0, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, nd := range tn.nodes[:2] {
			before := nd.Stats()
			nd.Receive(tn.now, append([]byte(nil), b...))
			after := nd.Stats()
			var d0, d1 uint64
			for _, v := range before.Drops {
				d0 += v
			}
			for _, v := range after.Drops {
				d1 += v
			}
			if d1 == d0 && after.Relayed == before.Relayed && after.Delivered == before.Delivered &&
				after.CoverDropped == before.CoverDropped && after.Acked == before.Acked && after.LoopsBack == before.LoopsBack {
				t.Fatalf("a frame left no trace")
			}
		}
	})
}
