package mixsvc

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/mix/mixnet"
)

// A message whose body starts with a routed prefix goes to its handler,
// not to the inbox.
func TestRoute(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mc := DefaultConfig()
		mc.Cover = false
		m := newMixnetWith(t, 10, mc, netOptions{epoch: 10 * time.Second})
		m.waitRoutable(0)
		got := make(chan Received, 2)
		m.mixes[9].Route([]byte("chat:"), func(r Received) { got <- r })
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for _, body := range []string{"chat:hello", "plain"} {
			id, err := m.mixes[8].Send(ctx, m.net.Hosts[9].ID(), []byte(body), mixnet.SendOptions{})
			require.NoError(t, err)
			r, err := m.mixes[8].Wait(ctx, id)
			require.NoError(t, err)
			require.NotNil(t, r.Acked)
		}
		require.Len(t, got, 1)
		assert.Equal(t, "chat:hello", string((<-got).Body))
		in := m.mixes[9].Inbox(0)
		require.Len(t, in, 1)
		assert.Equal(t, "plain", string(in[0].Body))
	})
}
