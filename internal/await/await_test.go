package await

import (
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/libp2p/go-libp2p/p2p/net/mock"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestUntil(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ch := make(chan struct{})
		var n atomic.Int32
		go func() {
			time.Sleep(time.Second)
			n.Store(1)
			close(ch)
		}()
		Until(t, 5*time.Second, func() <-chan struct{} { return ch }, func() bool { return n.Load() == 1 })
	})
}

func TestConns(t *testing.T) {
	mn := mocknet.New()
	defer mn.Close()
	a, err := mn.GenPeer()
	require.NoError(t, err)
	b, err := mn.GenPeer()
	require.NoError(t, err)
	require.NoError(t, mn.LinkAll())
	go func() { _, _ = mn.ConnectPeers(a.ID(), b.ID()) }()
	Conns(t, 10*time.Second, func() bool { return len(a.Network().Peers()) == 1 }, a)
}
