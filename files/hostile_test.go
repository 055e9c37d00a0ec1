package files

import (
	"bytes"
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bsmsg "github.com/ipfs/boxo/bitswap/message"
	pb "github.com/ipfs/boxo/bitswap/message/pb"
	blocks "github.com/ipfs/go-block-format"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-msgio"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const bitswap120 = protocol.ID("/ipfs/bitswap/1.2.0")

// liar speaks Bitswap 1.2.0 on a raw host: to every want it answers HAVE
// and a block of other bytes under the wanted CID's prefix, which the
// receiver hashes to a CID it never asked for.
type liar struct {
	h    host.Host
	sent atomic.Int64
	wg   sync.WaitGroup
}

func newLiar(t *testing.T, tn *testNet) *liar {
	l := &liar{h: tn.host(t)}
	l.h.SetStreamHandler(bitswap120, l.handle)
	t.Cleanup(func() {
		l.h.RemoveStreamHandler(bitswap120)
		l.h.Close()
		l.wg.Wait()
	})
	return l
}

func (l *liar) handle(s network.Stream) {
	l.wg.Add(1)
	defer l.wg.Done()
	defer s.Close()
	r := msgio.NewVarintReaderSize(s, 4<<20)
	for n := uint64(0); ; n++ {
		m, _, err := bsmsg.FromMsgReader(r)
		if err != nil {
			return
		}
		reply := bsmsg.New(false)
		for _, e := range m.Wantlist() {
			if e.Cancel {
				continue
			}
			reply.AddBlockPresence(e.Cid, pb.Message_Have)
			blk, err := blocks.NewBlockWithCid(content(n, 2048), e.Cid)
			if err != nil {
				return
			}
			reply.AddBlock(blk)
		}
		if reply.Empty() {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		out, err := l.h.NewStream(ctx, s.Conn().RemotePeer(), bitswap120)
		cancel()
		if err != nil {
			return
		}
		if err := reply.ToNetV1(out); err != nil {
			out.Reset()
			return
		}
		out.Close()
		l.sent.Add(int64(len(reply.Blocks())))
	}
}

func (l *liar) info() peer.AddrInfo { return peer.AddrInfo{ID: l.h.ID(), Addrs: l.h.Addrs()} }

// A peer that answers wants with wrong bytes is dropped and scored down,
// and the get completes from the honest source.
func TestHostileAndHonest(t *testing.T) {
	tn := newTestNet(t)
	cfg := TestConfig()
	a := tn.node(t, cfg, Options{})
	bad := newLiar(t, tn)
	var reported sync.Map
	b := tn.node(t, cfg, Options{OnBadPeer: func(p peer.ID, _ string) { reported.Store(p, true) }})
	ctx := testCtx(t)
	data := content(11, 50*cfg.ChunkBytes)
	p, err := a.Share(ctx, writeFile(t, "f", data), nil)
	require.NoError(t, err)

	// The liar first, so it is connected when the session broadcasts.
	prog, err := b.Get(ctx, p.Root, GetOptions{Providers: []peer.AddrInfo{bad.info(), info(a)}})
	require.NoError(t, err)
	assert.True(t, prog.Done)
	assert.True(t, bytes.Equal(data, readAll(t, b, ctx, p)), "only verified bytes were stored")
	assert.Positive(t, bad.sent.Load(), "the liar did send")

	scores := map[peer.ID]PeerScore{}
	for _, ps := range b.Stats().Peers {
		scores[ps.Peer] = ps
	}
	liar := scores[bad.h.ID()]
	assert.False(t, liar.DroppedUntil.IsZero(), "the liar is dropped")
	assert.Negative(t, liar.Score)
	assert.Positive(t, scores[a.h.ID()].Score)
	assert.True(t, scores[a.h.ID()].DroppedUntil.IsZero())
	_, ok := reported.Load(bad.h.ID())
	assert.True(t, ok, "OnBadPeer was told")
	assert.True(t, b.guard.dropped(bad.h.ID()))
	assert.False(t, b.guard.dropped(a.h.ID()))
}

// With the liar the only source, the get stalls rather than store its
// bytes, and the liar is dropped.
func TestHostileOnly(t *testing.T) {
	tn := newTestNet(t)
	cfg := TestConfig()
	cfg.Stall = time.Second
	cfg.MaxBadBlocks = 1            // the liar is asked once before the stall
	a := tn.node(t, cfg, Options{}) // has the file, but is never connected
	bad := newLiar(t, tn)
	b := tn.node(t, cfg, Options{})
	ctx := testCtx(t)
	p, err := a.Share(ctx, writeFile(t, "f", content(12, 3*cfg.ChunkBytes)), nil)
	require.NoError(t, err)
	_, err = b.Get(ctx, p.Root, GetOptions{Providers: []peer.AddrInfo{bad.info()}})
	require.ErrorIs(t, err, ErrStalled)
	assert.True(t, b.guard.dropped(bad.h.ID()))
	assert.Zero(t, b.Stats().StoredBytes, "nothing the liar sent was stored")
}
