package lotterysvc

import (
	"context"
	"crypto/ecdh"
	"crypto/ed25519"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fog-compute/fog/gossip"
	"github.com/fog-compute/fog/gossip/gossipnet"
	"github.com/fog-compute/fog/mix/lottery"
)

// forged builds a claim by sk for epoch e with seed, its VRF proof made
// over the ticket input of proofEpoch, one seat in layer 0, and mix key
// number i; signed by sk.
func forged(t *testing.T, cfg lottery.Config, sk ed25519.PrivateKey, e, proofEpoch uint64, seed lottery.Seed, i int) *lottery.Claim {
	t.Helper()
	// With p = 1 every ticket wins: the claim carries a real proof over
	// proofEpoch's input, then gets the fields of the forgery.
	c, _, won, err := lottery.NewClaim(sk, proofEpoch, seed, 1, 1, cfg, detRand(fmt.Sprint("forged", i)))
	require.NoError(t, err)
	require.True(t, won)
	c.Epoch, c.Layer, c.Seats, c.MixKey = e, 0, 1, mixPub(t, fmt.Sprint("forged", i))
	require.NoError(t, c.Sign(sk, cfg))
	return c
}

func mixPub(t *testing.T, label string) *ecdh.PublicKey {
	t.Helper()
	var b [32]byte
	_, err := detRand(label).Read(b[:])
	require.NoError(t, err)
	k, err := ecdh.X25519().NewPrivateKey(b[:])
	require.NoError(t, err)
	return k.PublicKey()
}

// TestServiceRejectsForgedClaims has raw-protocol hostile hosts send forged
// lottery messages to some honest nodes: claims with a bad VRF proof,
// claims for a wrong epoch, claims whose mix key the claimant did not sign,
// and an honest winner's claim with its mix key swapped, sent under the
// attacker's own envelope. The attackers are candidates, so their claims
// reach the proof and signature checks. Each targeted node must reject
// what it was sent by the rule meant for it and graylist the sender; the
// untargeted nodes must never see any of it (nothing was forwarded); and
// the honest directory must stay the same everywhere, without the
// attackers.
func TestServiceRejectsForgedClaims(t *testing.T) {
	t.Parallel()
	synctest.Test(t, testServiceRejectsForgedClaims)
}

func testServiceRejectsForgedClaims(t *testing.T) {
	const honest = 10
	c := newCluster(t, honest, 11)
	type attack struct {
		name    string
		targets []int
		// what the targets' counters must show
		lottery string      // Service.Stats().Rejected key, or ""
		rule    gossip.Rule // gossip chain rule that rejects
		key     crypto.PrivKey
		id      peer.ID
		host    host.Host
	}
	attacks := []*attack{
		{name: "bad proof", targets: []int{0, 1}, lottery: "bad_proof", rule: gossip.RuleTopic},
		{name: "wrong epoch", targets: []int{2, 3}, rule: gossip.RuleTime},
		{name: "mix key not signed", targets: []int{4, 5}, lottery: "bad_signature", rule: gossip.RuleTopic},
		{name: "claim of another node", targets: []int{6, 7}, rule: gossip.RuleAuthor},
	}
	for _, a := range attacks {
		h, key, err := c.net.AddHost()
		require.NoError(t, err)
		a.key, a.id, a.host = key, h.ID(), h
	}

	genesis := time.Now().Add(1500 * time.Millisecond)
	cfg := svcConfig(genesis)
	// Only epoch 0 is used: a long claim window, so that every forged
	// claim lands inside it even on a slow machine.
	cfg.EpochLength, cfg.ClaimWindow, cfg.RevealWindow = 10*time.Second, 6*time.Second, time.Second
	cfg.TargetRelays = honest // p = 10/14: some honest node wins epoch 0 but for a 4e-6 chance
	cfg.Candidates = c.peerIDs(indexes(0, honest)...)
	for _, a := range attacks {
		cfg.Candidates = append(cfg.Candidates, a.id)
	}
	for i := range honest {
		c.start(i, cfg, c.ds(i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	topic := TopicName(cfg.NetworkID)
	c.waitTopic(ctx, topic, indexes(0, honest))

	// Once the honest claims of epoch 0 are out, forge.
	waitUntil(cfg.EpochStart(0).Add(200 * time.Millisecond))
	d0, _ := c.svcs[9].Directory(0)
	require.NotEmpty(t, d0.Claims(), "no honest winner in epoch 0")
	honestClaim, err := lottery.DecodeClaim(d0.Claims()[0])
	require.NoError(t, err)
	seed := lottery.GenesisSeed(cfg.Config)
	var running []*gossipnet.Attacker
	defer func() {
		for _, a := range running {
			require.NoError(t, a.Close())
		}
	}()
	for k, a := range attacks {
		sk := edKey(t, a.key)
		var msgs []*pb.Message
		for i := range 5 { // distinct messages: a repeated one is only counted once
			var cl *lottery.Claim
			switch k {
			case 0:
				cl = forged(t, cfg.Config, sk, 0, 1, seed, i) // proof for epoch 1's input
			case 1:
				cl = forged(t, cfg.Config, sk, uint64(5+i), uint64(5+i), seed, i)
			case 2:
				cl = forged(t, cfg.Config, sk, 0, 0, seed, i)
				cl.MixKey = mixPub(t, fmt.Sprint("swapped", i)) // after signing
			case 3:
				stolen := *honestClaim
				stolen.MixKey = mixPub(t, fmt.Sprint("stolen", i))
				cl = &stolen
			}
			data, err := cl.Encode()
			require.NoError(t, err)
			m, err := gossipnet.SignMessage(a.key, topic, data, uint64(i+1))
			require.NoError(t, err)
			msgs = append(msgs, m)
		}
		atk, err := gossipnet.NewAttacker(a.host, gossipnet.AttackerConfig{Topic: topic, Kinds: []gossipnet.Attack{gossipnet.Replay}, Rate: 100})
		require.NoError(t, err)
		atk.Seed(msgs...)
		var targets []peer.AddrInfo
		for _, j := range a.targets {
			targets = append(targets, peer.AddrInfo{ID: c.net.Hosts[j].ID(), Addrs: c.net.Hosts[j].Addrs()})
		}
		require.NoError(t, atk.Start(targets))
		running = append(running, atk)
	}

	for _, a := range attacks {
		for _, j := range a.targets {
			g := c.net.Nodes[j]
			// Each score snapshot is announced; look at each.
			deadline := time.NewTimer(5 * time.Second)
			for updated := g.ScoresUpdated(); !g.Graylisted(a.id); updated = g.ScoresUpdated() {
				select {
				case <-updated:
				case <-deadline.C:
					require.True(t, g.Graylisted(a.id), "%s: node %d did not graylist the attacker", a.name, j)
				}
			}
			deadline.Stop()
			s := c.svcs[j]
			if a.lottery != "" {
				assert.Positive(t, s.Stats().Rejected[a.lottery], "%s: node %d stats %+v", a.name, j, s.Stats())
			}
			assert.Positive(t, s.TopicStats().Rejected[a.rule], "%s: node %d chain %+v", a.name, j, s.TopicStats())
			sc, _ := g.Score(a.id)
			assert.Positive(t, sc.Topics[topic].InvalidDeliveries, "%s: node %d", a.name, j)
		}
	}
	require.True(t, cfg.ClaimClose(0).After(time.Now()), "attacks must land inside the claim window")

	a := measure(t, c.services(indexes(0, honest)...), 0, 10*time.Second)
	assert.True(t, a.Agree, "%d distinct honest directories", a.Digests)
	d, _ := c.svcs[8].Directory(0)
	for _, at := range attacks {
		_, in := d.Lookup(edKey(t, at.key).Public().(ed25519.PublicKey))
		assert.False(t, in, "%s: attacker got into the directory", at.name)
	}
	r, in := d.Lookup(honestClaim.Claimant)
	require.True(t, in)
	assert.True(t, r.MixKey.Equal(honestClaim.MixKey), "the honest winner keeps its own mix key")

	// Nothing forged was forwarded: nodes 8 and 9 were not attacked and saw
	// none of it, and each target saw only its own attacker's kind.
	for j := range honest {
		s := c.svcs[j]
		var want *attack
		for _, at := range attacks {
			for _, x := range at.targets {
				if x == j {
					want = at
				}
			}
		}
		for name, n := range s.Stats().Rejected {
			require.NotNil(t, want, "untargeted node %d rejected %d %s: forged claims were forwarded", j, n, name)
			assert.Equal(t, want.lottery, name, "node %d", j)
		}
		for rule, n := range s.TopicStats().Rejected {
			require.NotNil(t, want, "untargeted node %d: chain rejected %d by %s", j, n, rule)
			assert.Equal(t, want.rule, rule, "node %d", j)
		}
		for _, p := range c.net.Hosts[j].Network().Peers() {
			if c.net.Index(p) >= 0 {
				assert.False(t, c.net.Nodes[j].Graylisted(p), "node %d graylisted honest %s", j, p)
			}
		}
	}
}
