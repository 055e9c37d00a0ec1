package mailbox

import (
	"crypto/rand"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/stretchr/testify/require"
)

func TestAuthorize(t *testing.T) {
	bob, eve, host, other := newIdentity(t), newIdentity(t), newIdentity(t), newIdentity(t)
	day := Day(20500)
	now := day.Start().Add(10 * time.Hour)
	ttl, skew := 7*24*time.Hour, 10*time.Minute
	secp, _, err := crypto.GenerateSecp256k1Key(rand.Reader)
	require.NoError(t, err)

	fetch := func(signer crypto.PrivKey, key Key, d Day, forHost identity, at time.Time) request {
		r := request{op: opFetch, key: key, day: d}
		require.NoError(t, r.sign(signer, forHost.id, at))
		return r
	}
	tampered := fetch(bob.priv, MailboxKey(bob.id, day), day, host, now)
	tampered.after[0] = 1
	bobsKeyEvesSig := fetch(eve.priv, MailboxKey(bob.id, day), day, host, now)
	bobsKeyEvesSig.owner = fetch(bob.priv, MailboxKey(bob.id, day), day, host, now).owner

	for _, tc := range []struct {
		name string
		r    request
		ok   bool
	}{
		{"the owner", fetch(bob.priv, MailboxKey(bob.id, day), day, host, now), true},
		{"the owner, a week back", fetch(bob.priv, MailboxKey(bob.id, day-7), day-7, host, now), true},
		{"the owner, clock a little ahead", fetch(bob.priv, MailboxKey(bob.id, day+1), day+1, host, now.Add(skew)), true},
		{"a stranger asking for bob's mailbox", fetch(eve.priv, MailboxKey(bob.id, day), day, host, now), false},
		{"a stranger with bob's public key", bobsKeyEvesSig, false},
		{"bob's key for another day", fetch(bob.priv, MailboxKey(bob.id, day), day-1, host, now), false},
		{"beyond the TTL", fetch(bob.priv, MailboxKey(bob.id, day-8), day-8, host, now), false},
		{"two days ahead", fetch(bob.priv, MailboxKey(bob.id, day+2), day+2, host, now), false},
		{"signed for another host", fetch(bob.priv, MailboxKey(bob.id, day), day, other, now), false},
		{"stale", fetch(bob.priv, MailboxKey(bob.id, day), day, host, now.Add(-skew-time.Second)), false},
		{"from the future", fetch(bob.priv, MailboxKey(bob.id, day), day, host, now.Add(skew+time.Second)), false},
		{"tampered after signing", tampered, false},
		{"not an Ed25519 identity", func() request {
			id, _ := peerIDOf(secp)
			return fetch(secp, MailboxKey(id, day), day, host, now)
		}(), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.r.authorize(host.id, now, ttl, skew)
			if tc.ok {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, ErrDenied)
			}
		})
	}
}
