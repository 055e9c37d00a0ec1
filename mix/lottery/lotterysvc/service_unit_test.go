package lottery

import (
	"context"
	"crypto/ecdh"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/gossip"
	"github.com/fog-compute/fog/store"
)

func TestServiceConfigPresetsValid(t *testing.T) {
	require.NoError(t, DefaultServiceConfig().Validate())
	require.NoError(t, SimServiceConfig().Validate())
	assert.Equal(t, 10*time.Minute, DefaultServiceConfig().EpochLength)
	assert.False(t, DefaultServiceConfig().Candidate, "standing as a relay is opt-in")
	assert.True(t, SimServiceConfig().Candidate)
	assert.Less(t, SimServiceConfig().ClaimWindow, 5*time.Second)
	// The lottery topic must fit gossip's seen cache in both presets.
	for _, c := range []struct {
		l Config
		g gossip.Config
	}{{DefaultConfig(), gossip.DefaultConfig()}, {SimConfig(), gossip.TestConfig()}, {SimConfig(), gossip.DefaultConfig()}} {
		assert.LessOrEqual(t, TopicParams(c.l).RejectAge(c.g.Heartbeat), c.g.SeenTTL)
	}
}

func TestServiceConfigValidateNamesField(t *testing.T) {
	secp, _, err := crypto.GenerateSecp256k1Key(nil)
	require.NoError(t, err)
	secpID, err := peer.IDFromPrivateKey(secp)
	require.NoError(t, err)
	ed, _, err := crypto.GenerateEd25519Key(nil)
	require.NoError(t, err)
	edID, err := peer.IDFromPrivateKey(ed)
	require.NoError(t, err)
	tests := []struct {
		field string
		mod   func(*ServiceConfig)
	}{
		{"relay.network_id", func(c *ServiceConfig) { c.NetworkID = "" }},
		{"relay.genesis", func(c *ServiceConfig) { c.Genesis = time.Time{} }},
		{"relay.epoch_length", func(c *ServiceConfig) { c.EpochLength = 0 }},
		{"relay.target_relays", func(c *ServiceConfig) { c.TargetRelays = 0 }},
		{"relay.claim_window", func(c *ServiceConfig) { c.ClaimWindow = 0 }},
		{"relay.candidates[1]", func(c *ServiceConfig) { c.Candidates = []peer.ID{edID, "garbage"} }},
		{"relay.candidates[0]", func(c *ServiceConfig) { c.Candidates = []peer.ID{secpID} }},
		{"relay.join_quorum", func(c *ServiceConfig) { c.JoinQuorum = 0 }},
		{"relay.max_candidates", func(c *ServiceConfig) { c.MaxCandidates = 0 }},
		{"relay.warm_up", func(c *ServiceConfig) { c.WarmUp = -time.Second }},
		{"relay.flush_interval", func(c *ServiceConfig) { c.FlushInterval = 0 }},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			c := DefaultServiceConfig()
			tt.mod(&c)
			err := c.Validate()
			require.ErrorIs(t, err, ErrConfig)
			assert.Contains(t, err.Error(), tt.field)
		})
	}
	// The core names fields without a prefix.
	c := DefaultConfig()
	c.EpochLength = 0
	assert.Contains(t, c.Validate().Error(), ": epoch_length")
}

func TestNewServiceChecks(t *testing.T) {
	ctx := context.Background()
	c := newCluster(t, 1, 1)
	ds := c.ds(0)
	g := c.net.Nodes[0]
	cfg := SimServiceConfig()
	cfg.Genesis = time.Now()

	_, err := NewService(cfg, ServiceOptions{Store: ds, Identity: c.net.Keys[0]})
	assert.Error(t, err, "no gossip")
	_, err = NewService(cfg, ServiceOptions{Gossip: g, Identity: c.net.Keys[0]})
	assert.Error(t, err, "no store")
	_, err = NewService(cfg, ServiceOptions{Gossip: g, Store: ds})
	assert.ErrorIs(t, err, ErrConfig, "a candidate needs an identity")
	obs := cfg
	obs.Candidate = false
	s, err := NewService(obs, ServiceOptions{Gossip: g, Store: ds})
	require.NoError(t, err, "an observer needs none")
	assert.Equal(t, "lottery", s.Name())
	assert.ErrorIs(t, s.Health(ctx), ErrNotRunning)
	long := cfg
	long.ClaimWindow, long.EpochLength = time.Minute, 2*time.Minute
	_, err = NewService(long, ServiceOptions{Gossip: g, Store: ds, Identity: c.net.Keys[0]})
	assert.ErrorIs(t, err, ErrConfig, "reject age beyond gossip's seen TTL")
	assert.Contains(t, err.Error(), "relay.claim_window")

	// Two Runs of one Service cannot overlap.
	s = c.start(0, cfg, ds)
	assert.ErrorIs(t, s.Run(ctx, nil), ErrRunning)
}

func TestQuietGap(t *testing.T) {
	cfg := svcConfig(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	s := &Service{cfg: cfg}
	start := cfg.EpochStart(5)
	sk := 2 * cfg.MaxClockSkew
	tests := []struct {
		name string
		a, b time.Time
		want bool
	}{
		{"inside the quiet phase", cfg.ClaimClose(5), cfg.revealAt(5).Add(-sk), true},
		{"touches the reveal phase", cfg.ClaimClose(5), cfg.revealAt(5).Add(-sk + 1), false},
		{"ends in the claim window", start.Add(-time.Second), start, false},
		{"reveal phase to claim window", cfg.revealAt(4), start.Add(-sk), false},
		{"inside the claim window", start.Add(time.Millisecond), start.Add(2 * time.Millisecond), false},
		{"a whole epoch", cfg.ClaimClose(5), cfg.ClaimClose(6), false},
		{"empty", start, start, true},
		{"long before genesis", cfg.Genesis.Add(-time.Hour), cfg.Genesis.Add(-sk), true},
		{"into epoch 0", cfg.Genesis.Add(-time.Hour), cfg.Genesis.Add(time.Millisecond), false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, s.quietGap(tt.a, tt.b), tt.name)
	}
}

func TestPersistedRecords(t *testing.T) {
	m := meta{
		fingerprint: [32]byte{1, 2, 3},
		checkpoint:  Checkpoint{Epoch: 42, Seed: Seed{9, 8, 7}},
		spanFrom:    time.Unix(0, 1_800_000_000_123_456_789),
		alive:       time.Unix(0, 1_800_000_100_000_000_001),
		confirmed:   true,
	}
	got, err := decodeMeta(m.encode())
	require.NoError(t, err)
	assert.Equal(t, m.fingerprint, got.fingerprint)
	assert.Equal(t, m.checkpoint, got.checkpoint)
	assert.True(t, m.spanFrom.Equal(got.spanFrom))
	assert.True(t, m.alive.Equal(got.alive))
	assert.True(t, got.confirmed)
	_, err = decodeMeta(m.encode()[1:])
	assert.Error(t, err)

	cfg := testConfig()
	c, mk, won, err := NewClaim(testKey(1), 3, GenesisSeed(cfg), 1, 1, cfg, detRand("own"))
	require.NoError(t, err)
	require.True(t, won)
	data := mustEncode(t, c)
	o := ownClaim{at: time.Unix(0, 1_800_000_000_000_000_000), data: data, claim: c, mixKey: mk}
	back, err := decodeOwn(o.encode())
	require.NoError(t, err)
	assert.Equal(t, data, back.data)
	assert.Equal(t, mk.Bytes(), back.mixKey.Bytes())
	assert.True(t, o.at.Equal(back.at))
	enc := o.encode()
	other, err := ecdh.X25519().NewPrivateKey(make([]byte, 32))
	require.NoError(t, err)
	copy(enc[len(enc)-32:], other.Bytes())
	_, err = decodeOwn(enc)
	assert.Error(t, err, "a mix key that does not match its claim")

	// A store written for other parameters is discarded.
	db, err := store.Open(store.InMemoryConfig())
	require.NoError(t, err)
	defer db.Close()
	ctx := context.Background()
	p := &persister{ds: db.Datastore(store.Prefix("/lottery"))}
	sc := SimServiceConfig()
	sc.Genesis = cfg.Genesis
	fp := fingerprint(sc)
	require.NoError(t, p.saveOwn(ctx, o))
	require.NoError(t, p.flush(ctx, []logEntry{{epoch: 3, seq: 0, at: o.at, data: data}}, meta{fingerprint: fp, checkpoint: Checkpoint{Epoch: 3}}, 0))
	ld, err := (&persister{ds: p.ds}).load(ctx, fp)
	require.NoError(t, err)
	require.NotNil(t, ld.meta)
	assert.Len(t, ld.log, 1)
	assert.Len(t, ld.own, 1)
	sc.TargetRelays++
	ld, err = (&persister{ds: p.ds}).load(ctx, fingerprint(sc))
	require.NoError(t, err)
	assert.Nil(t, ld.meta)
	assert.Empty(t, ld.log)
	assert.Empty(t, ld.own)
}
