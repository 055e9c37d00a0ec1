package ledgersvc

import (
	"context"
	"crypto/ed25519"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/gossip"
	"github.com/fog-compute/fog/token"
)

func TestConfigValidate(t *testing.T) {
	require.NoError(t, DefaultConfig().Validate())
	require.NoError(t, TestConfig().Validate())
	for name, f := range map[string]func(*Config){
		"Node":         func(c *Config) { c.Node.MaxElections = 0 },
		"EpochLength":  func(c *Config) { c.EpochLength = 0 },
		"TickInterval": func(c *Config) { c.TickInterval = 0 },
		"MaxSkew":      func(c *Config) { c.MaxSkew = 0 },
		"MaxAge":       func(c *Config) { c.MaxAge = 0 },
		"MaxAge ":      func(c *Config) { c.MaxAge = c.MaxSkew }, // gossip refuses such a topic
		"Rate":         func(c *Config) { c.Rate = 0 },
		"Burst":        func(c *Config) { c.Burst = 0 },
		"Clock":        func(c *Config) { c.Clock = nil },
	} {
		c := DefaultConfig()
		f(&c)
		err := c.Validate()
		require.ErrorIs(t, err, ErrConfig, name)
		assert.Contains(t, err.Error(), name)
	}
	c := DefaultConfig()
	assert.Equal(t, uint64(0), c.Epoch(c.EpochZero.Add(-time.Hour)))
	assert.Equal(t, uint64(3), c.Epoch(c.EpochZero.Add(3*time.Minute+time.Second)))
}

// TestValidators checks the topics' verdicts one by one: what is
// rejected (its sender penalised), ignored, or let through.
func TestValidators(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		spender := ed25519.NewKeyFromSeed([]byte("ledgersvc validator test key...."))
		sa := token.AccountOf(spender.Public().(ed25519.PublicKey))
		c := newCluster(t, 1, 1, token.Allocation{Account: sa.String(), Balance: 100})
		s := c.start(0)
		now := time.Now()
		epoch := TestConfig().Epoch(now)
		l, err := token.NewLedger(c.genesis)
		require.NoError(t, err)
		w := token.NewWallet(l, spender)
		s1, err := w.Send(s.Account(), 10, epoch)
		require.NoError(t, err)
		s2, err := w.Send(token.Account{9}, 20, epoch)
		require.NoError(t, err)
		future, err := w.Send(s.Account(), 10, epoch+5)
		require.NoError(t, err)
		forged := s1
		forged.Signature[0] ^= 1
		over := s1
		over.Balance = 101
		over.Sign(spender)
		gap := s1
		gap.Previous = token.Hash{5}
		gap.Sign(spender)

		// s1 is taken and confirmed by the node (it holds nearly all the
		// weight): s2 then loses a settled fork.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err = s.step(func(now time.Time) (token.Effects, error) { return s.node.ProcessBlock(s1, now) })
		require.NoError(t, err)
		require.NoError(t, s.WaitConfirmed(ctx, s1.Hash()))

		vote := func(k ed25519.PrivateKey) *token.VoteBatch {
			v := token.VoteBatch{Votes: []token.BatchVote{{Root: s1.Previous, Block: s1.Hash(), Final: true}}}
			v.Sign(k)
			return &v
		}
		fv := vote(spender)
		fv.Signature[3] ^= 1
		node := edKey(t, c.net.Keys[0])
		stranger := ed25519.NewKeyFromSeed(make([]byte, 32))

		_, err = l.Apply(s1)
		require.NoError(t, err)
		require.NoError(t, l.Confirm(s1.Hash()))
		s3, err := w.Send(s.Account(), 1, epoch)
		require.NoError(t, err)

		msg := func(b *token.Block, v *token.VoteBatch) *Message { return &Message{Block: b, Votes: v} }
		tests := []struct {
			name  string
			check func(*Message, time.Time, bool) error
			m     *Message
			want  error // nil: passes
		}{
			{"valid block", s.checkBlock, msg(&s3, nil), nil},
			{"forged block", s.checkBlock, msg(&forged, nil), gossip.ErrInvalid},
			{"over-spending block", s.checkBlock, msg(&over, nil), gossip.ErrInvalid},
			{"loser of a settled fork", s.checkBlock, msg(&s2, nil), gossip.ErrIgnore},
			{"block from the future", s.checkBlock, msg(&future, nil), gossip.ErrIgnore},
			{"block with a missing previous", s.checkBlock, msg(&gap, nil), nil},
			{"duplicate block", s.checkBlock, msg(&s1, nil), nil},
			{"vote on the blocks topic", s.checkBlock, msg(nil, vote(node)), gossip.ErrInvalid},
			{"vote", s.checkVote, msg(nil, vote(node)), nil},
			{"forged vote", s.checkVote, msg(nil, fv), gossip.ErrInvalid},
			{"vote without weight", s.checkVote, msg(nil, vote(stranger)), gossip.ErrIgnore},
			{"block on the votes topic", s.checkVote, msg(&s1, nil), gossip.ErrInvalid},
		}
		for _, tt := range tests {
			err := tt.check(tt.m, now, false)
			if tt.want == nil {
				assert.NoError(t, err, tt.name)
				continue
			}
			assert.True(t, errors.Is(err, tt.want), "%s: %v", tt.name, err)
		}
		st := s.Stats()
		assert.Equal(t, uint64(5), st.Rejected)
		assert.Equal(t, uint64(3), st.Ignored)
		assert.Equal(t, map[Reason]uint64{IgnoredSettled: 1, IgnoredFuture: 1, IgnoredNoWeight: 1}, st.IgnoredBy)
	})
}
