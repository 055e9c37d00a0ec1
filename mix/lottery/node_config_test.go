package lottery

import (
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestServiceConfigPresetsValid(t *testing.T) {
	require.NoError(t, DefaultServiceConfig().Validate())
	require.NoError(t, SimServiceConfig().Validate())
	assert.Equal(t, 10*time.Minute, DefaultServiceConfig().EpochLength)
	assert.False(t, DefaultServiceConfig().Candidate, "standing as a relay is opt-in")
	assert.True(t, SimServiceConfig().Candidate)
	assert.Less(t, SimServiceConfig().ClaimWindow, 5*time.Second)
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

func TestNewNodeChecks(t *testing.T) {
	cfg := nodeConfig()
	_, err := NewNode(cfg, NodeOptions{})
	assert.ErrorIs(t, err, ErrConfig, "a candidate needs an identity")
	_, err = NewNode(cfg, NodeOptions{Identity: testKey(1)[:10]})
	assert.Error(t, err, "a short key")
	obs := cfg
	obs.Candidate = false
	n, err := NewNode(obs, NodeOptions{})
	require.NoError(t, err, "an observer needs none")
	assert.False(t, n.Started())
	assert.Nil(t, n.Tick(cfg.Genesis), "nothing before Start")
	v, effs, err := n.Receive(cfg.Genesis, &Message{})
	assert.Equal(t, Ignore, v)
	assert.Empty(t, effs)
	assert.ErrorIs(t, err, errNotStarted)
	bad := cfg
	bad.JoinQuorum = 0
	_, err = NewNode(bad, NodeOptions{Identity: testKey(1)})
	assert.ErrorIs(t, err, ErrConfig)
}
