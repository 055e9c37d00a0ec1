package files

import (
	"log/slog"
	"testing"
	"testing/synctest"
	"time"

	bsmsg "github.com/ipfs/boxo/bitswap/message"
	pb "github.com/ipfs/boxo/bitswap/message/pb"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The guard's bookkeeping, on its own: blocks whose CIDs were wanted count
// for their sender, others against it; MaxBadBlocks of them drop it for
// DropFor; the oldest wants are forgotten past maxAsked.
func TestGuardScores(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := TestConfig()
		g := newGuard(cfg, nil, slog.New(slog.DiscardHandler), nil)
		good := blocks.NewBlock([]byte("wanted"))
		bad := blocks.NewBlock([]byte("not wanted"))
		want := bsmsg.New(false)
		want.AddEntry(good.Cid(), 1, pb.Message_Wantlist_Block, true)
		g.noteWants("honest", want)

		var got []peer.ID
		stop := g.watch(func(p peer.ID, _ cid.Cid, _ int) { got = append(got, p) })
		honest, liar := peer.ID("honest"), peer.ID("liar")
		m := bsmsg.New(false)
		m.AddBlock(good)
		assert.False(t, g.check(honest, m))
		assert.Equal(t, []peer.ID{honest}, got)
		stop()

		m = bsmsg.New(false)
		m.AddBlock(bad)
		assert.False(t, g.check(liar, m), "one bad block is not enough")
		assert.True(t, g.check(liar, m), "MaxBadBlocks drops it")
		assert.True(t, g.dropped(liar))
		assert.False(t, g.dropped(honest))
		sc := g.scores()
		require.Len(t, sc, 2)
		assert.Equal(t, liar, sc[0].Peer, "worst first")
		assert.Less(t, sc[0].Score, int64(0))
		assert.Equal(t, uint64(1), sc[1].Blocks)

		time.Sleep(cfg.DropFor)
		assert.False(t, g.dropped(liar), "heard again after DropFor")

		// Past maxAsked newer wants, the first is forgotten.
		for i := range maxAsked {
			w := bsmsg.New(false)
			w.AddEntry(blocks.NewBlock([]byte{byte(i), byte(i >> 8), byte(i >> 16)}).Cid(), 1, pb.Message_Wantlist_Have, false)
			g.noteWants("honest", w)
		}
		m = bsmsg.New(false)
		m.AddBlock(good)
		g.check(honest, m)
		for _, ps := range g.scores() {
			if ps.Peer == honest {
				assert.Equal(t, 1, ps.Bad)
			}
		}
	})
}
