package lotterysvc

import (
	"context"
	"crypto/ecdh"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/gossip"
	"github.com/fog-compute/fog/mix/lottery"
	"github.com/fog-compute/fog/store"
)

// TestTopicParamsFitSeenCache checks that the lottery topic's reject age
// fits gossip's seen cache in both presets: beyond it a replay would look
// new.
func TestTopicParamsFitSeenCache(t *testing.T) {
	for _, c := range []struct {
		l lottery.Config
		g gossip.Config
	}{{lottery.DefaultConfig(), gossip.DefaultConfig()}, {lottery.SimConfig(), gossip.TestConfig()}, {lottery.SimConfig(), gossip.DefaultConfig()}} {
		assert.LessOrEqual(t, TopicParams(c.l).RejectAge(c.g.Heartbeat), c.g.SeenTTL)
	}
}

func TestNewServiceChecks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		c := newCluster(t, 1, 1)
		ds := c.ds(0)
		g := c.net.Nodes[0]
		cfg := lottery.SimServiceConfig()
		cfg.Genesis = time.Now()

		_, err := New(cfg, Options{Store: ds, Identity: c.net.Keys[0]})
		assert.Error(t, err, "no gossip")
		_, err = New(cfg, Options{Gossip: g, Identity: c.net.Keys[0]})
		assert.Error(t, err, "no store")
		_, err = New(cfg, Options{Gossip: g, Store: ds})
		assert.ErrorIs(t, err, lottery.ErrConfig, "a candidate needs an identity")
		obs := cfg
		obs.Candidate = false
		s, err := New(obs, Options{Gossip: g, Store: ds})
		require.NoError(t, err, "an observer needs none")
		assert.Equal(t, "lottery", s.Name())
		assert.ErrorIs(t, s.Health(ctx), ErrNotRunning)
		st := s.Status()
		assert.False(t, st.Running)
		assert.Equal(t, "claims", st.Current.Phase, "before Run the status follows the clock")
		long := cfg
		long.ClaimWindow, long.EpochLength = time.Minute, 2*time.Minute
		_, err = New(long, Options{Gossip: g, Store: ds, Identity: c.net.Keys[0]})
		assert.ErrorIs(t, err, lottery.ErrConfig, "reject age beyond gossip's seen TTL")
		assert.Contains(t, err.Error(), "relay.claim_window")

		// Two Runs of one Service cannot overlap.
		s = c.start(0, cfg, ds)
		assert.ErrorIs(t, s.Run(ctx, nil), ErrRunning)
		assert.NoError(t, s.Health(ctx))
	})
}

func TestPersistedRecords(t *testing.T) {
	fp := [32]byte{1, 2, 3}
	m := lottery.Snapshot{
		Checkpoint: lottery.Checkpoint{Epoch: 42, Seed: lottery.Seed{9, 8, 7}},
		Since:      time.Unix(0, 1_800_000_000_123_456_789),
		Alive:      time.Unix(0, 1_800_000_100_000_000_001),
		Confirmed:  true,
	}
	gotFP, got, err := decodeMeta(encodeMeta(fp, m))
	require.NoError(t, err)
	assert.Equal(t, fp, gotFP)
	assert.Equal(t, m.Checkpoint, got.Checkpoint)
	assert.True(t, m.Since.Equal(got.Since))
	assert.True(t, m.Alive.Equal(got.Alive))
	assert.True(t, got.Confirmed)
	_, _, err = decodeMeta(encodeMeta(fp, m)[1:])
	assert.Error(t, err)

	cfg := lottery.SimServiceConfig()
	cfg.Genesis = time.Date(2030, time.January, 1, 0, 0, 0, 0, time.UTC)
	c, mk, won, err := lottery.NewClaim(testKey(1), 3, lottery.GenesisSeed(cfg.Config), 1, 1, cfg.Config, detRand("own"))
	require.NoError(t, err)
	require.True(t, won)
	data, err := c.Encode()
	require.NoError(t, err)
	o := lottery.OwnClaim{At: time.Unix(0, 1_800_000_000_000_000_000), Data: data, Claim: c, MixKey: mk}
	back, err := decodeOwn(encodeOwn(o))
	require.NoError(t, err)
	assert.Equal(t, data, back.Data)
	assert.Equal(t, mk.Bytes(), back.MixKey.Bytes())
	assert.True(t, o.At.Equal(back.At))
	enc := encodeOwn(o)
	other, err := ecdh.X25519().NewPrivateKey(make([]byte, 32))
	require.NoError(t, err)
	copy(enc[len(enc)-32:], other.Bytes())
	_, err = decodeOwn(enc)
	assert.Error(t, err, "a mix key that does not match its claim")

	// What is stored comes back as the Node wrote it; a store written for
	// other parameters is discarded.
	db, err := store.Open(store.InMemoryConfig())
	require.NoError(t, err)
	defer db.Close()
	ctx := context.Background()
	ds := db.Datastore(store.Prefix("/lottery"))
	p := &persister{ds: ds, fp: fingerprint(cfg)}
	require.NoError(t, p.saveOwn(ctx, o))
	log := []logEntry{{epoch: 3, seq: 1, at: o.At.Add(time.Second), data: []byte{2}}, {epoch: 3, seq: 0, at: o.At, data: data}}
	require.NoError(t, p.flush(ctx, log, lottery.Snapshot{Checkpoint: lottery.Checkpoint{Epoch: 3}}))
	saved, bad, err := (&persister{ds: ds, fp: p.fp}).load(ctx)
	require.NoError(t, err)
	assert.Zero(t, bad)
	require.NotNil(t, saved.Snapshot)
	assert.Equal(t, uint64(3), saved.Snapshot.Checkpoint.Epoch)
	require.Len(t, saved.Log, 2)
	assert.Equal(t, data, saved.Log[0].Data, "records come back in the order they were emitted")
	assert.Len(t, saved.Own, 1)
	cfg.TargetRelays++
	saved, _, err = (&persister{ds: ds, fp: fingerprint(cfg)}).load(ctx)
	require.NoError(t, err)
	assert.Nil(t, saved.Snapshot)
	assert.Empty(t, saved.Log)
	assert.Empty(t, saved.Own)
}
