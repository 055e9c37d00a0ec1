package mixnet

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// captureFirst sets the net to keep a copy of the first frame sent to a
// relay of layer 0.
func captureFirst(tn *testNet) *[]byte {
	var got []byte
	first := map[NodeID]bool{}
	for _, r := range tn.relays {
		if r.Layer == 0 {
			first[r.ID] = true
		}
	}
	tn.tamper = func(to NodeID, f []byte) {
		if got == nil && first[to] {
			got = append([]byte(nil), f...)
		}
	}
	return &got
}

func TestReplayIsDropped(t *testing.T) {
	tn := newTestNet(t, noCover(), 8, 2, 6)
	pkt := captureFirst(tn)
	tn.send(6, 7, "once", SendOptions{})
	tn.run(10 * time.Second)
	require.NotNil(t, *pkt)
	require.Len(t, tn.inbox[tn.nodes[7].ID()], 1)
	to := tn.nodes[0]
	for _, r := range tn.relays {
		if r.Layer == 0 && tn.frames > 0 {
			if s := tn.byID[r.ID].Stats(); s.Relayed > 0 {
				to = tn.byID[r.ID]
			}
		}
	}
	before := to.Stats()
	for range 3 {
		tn.push(tn.now, to, append([]byte(nil), (*pkt)...))
	}
	tn.run(10 * time.Second)
	after := to.Stats()
	assert.Equal(t, before.Relayed, after.Relayed, "no replay is relayed")
	assert.EqualValues(t, 3, after.Drops[DropReplay]-before.Drops[DropReplay])
	assert.Len(t, tn.inbox[tn.nodes[7].ID()], 1)

	// A relay that restarts with its persisted tags still knows them.
	var tags [][32]byte
	for tag := range to.relay[1].tags {
		tags = append(tags, tag)
	}
	require.Equal(t, tn.tags[1] > 0, true)
	to.SetRelayKey(1, to.relay[1].layer, to.relay[1].key, tags)
	tn.push(tn.now, to, append([]byte(nil), (*pkt)...))
	tn.run(time.Second)
	assert.EqualValues(t, 4, to.Stats().Drops[DropReplay]-before.Drops[DropReplay])
}

func TestUnknownEpochCostsNoUnwrap(t *testing.T) {
	tn := newTestNet(t, noCover(), 8, 2, 7)
	pkt := captureFirst(tn)
	tn.send(6, 7, "x", SendOptions{})
	tn.run(10 * time.Second)
	f := append([]byte(nil), (*pkt)...)
	f[8] ^= 1 // epoch 1 → 0
	r := tn.byID[tn.relays[0].ID]
	r.Receive(tn.now, f)
	assert.EqualValues(t, 1, r.Stats().Drops[DropUnknownKey])
	assert.EqualValues(t, 1, r.Stats().Drops[DropUnknownKey])
	r.Receive(tn.now, f[:10])
	assert.EqualValues(t, 1, r.Stats().Drops[DropMalformed])
}

// Every bit flip of a packet in flight is caught: in the frame's header by
// the relay, in the Sphinx header by the hop that reads it (MAC), in the
// payload by the recipient (its tag). Nothing is delivered.
func TestBitFlipsAreRejected(t *testing.T) {
	tn := newTestNet(t, noCover(), 8, 2, 8)
	pkt := captureFirst(tn)
	tn.send(6, 7, "flip me", SendOptions{})
	tn.run(10 * time.Second)
	require.NotNil(t, *pkt)
	rec := tn.nodes[7]
	var first *Node
	for _, r := range tn.relays {
		if r.Layer == 0 && tn.byID[r.ID].Stats().Relayed > 0 {
			first = tn.byID[r.ID]
		}
	}
	require.NotNil(t, first)
	drops := func() uint64 {
		var d uint64
		for _, nd := range tn.nodes {
			for _, v := range nd.Stats().Drops {
				d += v
			}
		}
		return d
	}
	bits := len(*pkt) * 8
	step := 13 // a prime stride: every region of the frame, in a few seconds
	if testing.Short() {
		step = 101
	}
	for b := 0; b < bits; b += step {
		f := append([]byte(nil), (*pkt)...)
		f[b/8] ^= 1 << (b % 8)
		d0 := drops()
		for _, nd := range tn.nodes { // as if the original never came
			for _, k := range nd.relay {
				clear(k.tags)
			}
		}
		tn.push(tn.now, first, f)
		tn.run(3 * time.Second)
		require.Len(t, tn.inbox[rec.ID()], 1, "bit %d: nothing new is delivered", b)
		require.Equal(t, d0+1, drops(), "bit %d: dropped once, by the hop that reads it", b)
	}
	s := rec.Stats()
	assert.NotZero(t, s.Drops[DropPayload], "payload flips are caught at the recipient")
	assert.NotZero(t, first.Stats().Drops[DropMAC], "header flips are caught at the first hop")
}

func TestRelayEpoch(t *testing.T) {
	for _, tc := range []struct {
		name  string
		f     []byte
		epoch uint64
		ok    bool
	}{
		{"relay frame", frame(frameRelay, 7, []byte{1, 2, 3}), 7, true},
		{"relay header only", frame(frameRelay, 1<<40, nil), 1 << 40, true},
		{"endpoint frame", frame(frameEndpoint, 7, []byte{1, 2, 3}), 0, false},
		{"unknown kind", frame(9, 7, []byte{1}), 0, false},
		{"short", frame(frameRelay, 7, nil)[:frameHeader-1], 0, false},
		{"empty", nil, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, ok := RelayEpoch(tc.f)
			assert.Equal(t, tc.ok, ok)
			assert.Equal(t, tc.epoch, e)
		})
	}
}

// firstHop sends a message from node 6 to node 7 and returns a copy of
// its first frame and the relay of layer 0 that relayed it.
func firstHop(t *testing.T, tn *testNet) ([]byte, *Node) {
	t.Helper()
	pkt := captureFirst(tn)
	tn.send(6, 7, "x", SendOptions{})
	tn.run(10 * time.Second)
	require.NotNil(t, *pkt)
	var r *Node
	for _, rl := range tn.relays {
		if rl.Layer == 0 && tn.byID[rl.ID].Stats().Relayed > 0 {
			r = tn.byID[rl.ID]
		}
	}
	require.NotNil(t, r)
	return *pkt, r
}

// A frame prepared under a relay key that leaves the Node before Finish
// (its epoch ended while the shell unwrapped it) is dropped as unknown_key,
// not relayed under a key the Node no longer holds.
func TestKeyDroppedWhileOpening(t *testing.T) {
	tn := newTestNet(t, noCover(), 8, 2, 9)
	pkt, r := firstHop(t, tn)
	before := r.Stats()
	o := r.Prepare(append([]byte(nil), pkt...))
	k := r.relay[1]
	r.DropEpoch(1)
	o.Open()
	r.Finish(tn.now, o)
	after := r.Stats()
	assert.EqualValues(t, 1, after.Drops[DropUnknownKey]-before.Drops[DropUnknownKey])
	assert.Equal(t, before.Relayed, after.Relayed)

	// Given again while a frame opens (as after a restart: another value,
	// the same key, no tags), the frame finishes under it and is relayed.
	r.SetRelayKey(1, k.layer, k.key, nil)
	o = r.Prepare(append([]byte(nil), pkt...))
	r.SetRelayKey(1, k.layer, k.key, nil)
	o.Open()
	r.Finish(tn.now, o)
	assert.Equal(t, before.Relayed+1, r.Stats().Relayed, "%v", r.Stats().Drops)
}

// Open reads nothing of its Node: frames open on other goroutines while
// the Node runs (the race detector checks it), with the same results as
// Receive.
func TestOpenRunsBesideTheNode(t *testing.T) {
	tn := newTestNet(t, noCover(), 8, 2, 10)
	pkt, r := firstHop(t, tn)
	const n = 8
	os := make([]*Opening, n)
	for i := range os {
		f := append([]byte(nil), pkt...)
		if i%2 == 1 {
			f[len(f)-1] ^= 1       // payload: the relay cannot tell
			f[frameHeader+40] ^= 1 // header: the MAC fails
		}
		os[i] = r.Prepare(f)
	}
	before := r.Stats()
	done := make(chan struct{}, n)
	for _, o := range os {
		go func() { o.Open(); done <- struct{}{} }()
	}
	for range 50 {
		r.Tick(tn.now.Add(time.Millisecond))
	}
	for range n {
		<-done
	}
	for _, o := range os {
		r.Finish(tn.now, o)
	}
	after := r.Stats()
	assert.EqualValues(t, n/2, after.Drops[DropReplay]-before.Drops[DropReplay], "the copies of the packet are replays")
	assert.EqualValues(t, n/2, after.Drops[DropMAC]-before.Drops[DropMAC])
	assert.EqualValues(t, n, after.PacketsIn-before.PacketsIn)
}

// A packet's Sphinx wrapping is left to the shell: Send's Transmit has no
// frame until Seal, which runs beside the Node (the race detector checks
// that it reads nothing of it) and gives a frame the network carries.
func TestSealRunsBesideTheNode(t *testing.T) {
	tn := newTestNet(t, noCover(), 8, 2, 11)
	_, eff, err := tn.nodes[6].Send(tn.now, tn.nodes[7].ID(), []byte("sealed later"), SendOptions{})
	require.NoError(t, err)
	var ts []Transmit
	for _, e := range eff {
		if tr, ok := e.(Transmit); ok {
			require.Nil(t, tr.Frame, "wrapped under the Node's lock")
			ts = append(ts, tr)
		}
	}
	require.Len(t, ts, 1)
	done := make(chan error)
	go func() { done <- ts[0].Seal() }()
	for range 50 {
		tn.nodes[6].Tick(tn.now.Add(time.Millisecond))
	}
	require.NoError(t, <-done)
	require.Len(t, ts[0].Frame, tn.nodes[6].FrameSize())
	f := ts[0].Frame
	require.NoError(t, ts[0].Seal(), "a sealed Transmit is left as it is")
	require.Equal(t, f, ts[0].Frame)
	tn.apply(tn.nodes[6], []Effect{ts[0]})
	tn.run(10 * time.Second)
	require.Len(t, tn.inbox[tn.nodes[7].ID()], 1)
	assert.Equal(t, "sealed later", string(tn.inbox[tn.nodes[7].ID()][0].Body))
}
