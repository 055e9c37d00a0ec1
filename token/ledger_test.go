package token

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLedgerTransfer(t *testing.T) {
	l := newLedger(t, 1000, 0)
	w0, w1 := NewWallet(l, key(0)), NewWallet(l, key(1))
	w2 := NewWallet(l, key(2)) // not in the genesis

	b, err := w0.Send(acct(2), 300, 1)
	send := applyConfirm(t, l, b, err)
	assert.Equal(t, []Hash{send}, l.Pending(acct(2)))
	conserved(t, l)

	b, err = w2.Receive(send, 1)
	require.NoError(t, err)
	assert.Equal(t, KindOpen, b.Kind)
	applyConfirm(t, l, b, nil)
	assert.Empty(t, l.Pending(acct(2)))
	info, ok := l.Account(acct(2))
	require.True(t, ok)
	assert.Equal(t, uint64(300), info.Balance)
	assert.Equal(t, uint64(1), info.Height)
	assert.Equal(t, uint64(300), l.Weight(acct(2)))
	assert.Equal(t, uint64(700), l.Weight(acct(0)))
	conserved(t, l)

	// Genesis account 1 receives on its genesis root.
	b, err = w2.Send(acct(1), 100, 2)
	send2 := applyConfirm(t, l, b, err)
	b, err = w1.Receive(send2, 2)
	require.NoError(t, err)
	assert.Equal(t, KindReceive, b.Kind)
	applyConfirm(t, l, b, nil)
	info, _ = l.Account(acct(1))
	assert.Equal(t, uint64(100), info.Balance)
	conserved(t, l)
}

// mutate signs a modified copy of b with key k.
func mutate(b Block, k int, f func(*Block)) Block {
	f(&b)
	b.Sign(key(k))
	return b
}

func TestLedgerRules(t *testing.T) {
	l := newLedger(t, 1000, 50)
	w0, w1 := NewWallet(l, key(0)), NewWallet(l, key(1))
	b, err := w0.Send(acct(1), 100, 5)
	confirmedSend := applyConfirm(t, l, b, err)
	b, err = w0.Send(acct(1), 100, 5)
	require.NoError(t, err)
	unconfirmedSend, err := l.Apply(b)
	require.NoError(t, err)
	b, err = w0.Send(acct(3), 1, 5)
	require.NoError(t, err)
	_, err = l.Apply(b)
	require.NoError(t, err)

	recv, err := w1.Receive(confirmedSend, 5)
	require.NoError(t, err)
	send1, err := w1.Send(acct(0), 10, 5)
	require.NoError(t, err)
	head1, _ := l.Account(acct(1))

	tests := []struct {
		name  string
		block Block
		want  error
	}{
		{"bad signature", func() Block { c := recv; c.Signature[0] ^= 1; return c }(), ErrSignature},
		{"signed by another key", mutate(recv, 0, func(b *Block) {}), ErrGap}, // now account 0's, whose chain has no such previous
		{"unknown previous", mutate(send1, 1, func(b *Block) { b.Previous[0] ^= 1 }), ErrGap},
		{"previous of another account", mutate(send1, 1, func(b *Block) { b.Previous = confirmedSend }), ErrInvalid},
		{"receive too much", mutate(recv, 1, func(b *Block) { b.Balance++ }), ErrInvalid},
		{"receive too little", mutate(recv, 1, func(b *Block) { b.Balance-- }), ErrInvalid},
		{"receive of an unconfirmed send", mutate(recv, 1, func(b *Block) { b.Link = unconfirmedSend }), ErrGap},
		{"receive of an unknown send", mutate(recv, 1, func(b *Block) { b.Link[3] ^= 1 }), ErrGap},
		{"receive changes the stake", mutate(recv, 1, func(b *Block) { b.Staked = 1 }), ErrInvalid},
		{"receive changes the representative", mutate(recv, 1, func(b *Block) { b.Representative = acct(0) }), ErrInvalid},
		{"send of more than the balance", mutate(send1, 1, func(b *Block) { b.Balance = head1.Balance + 1 }), ErrInvalid},
		{"send of nothing", mutate(send1, 1, func(b *Block) { b.Balance = head1.Balance }), ErrInvalid},
		{"epoch goes back", mutate(send1, 1, func(b *Block) { b.Epoch = 0 }), nil}, // genesis head has epoch 0: allowed
		{"open of a genesis account", mutate(recv, 1, func(b *Block) { b.Kind = KindOpen; b.Previous = Hash{} }), ErrInvalid},
		{"stake changed by a send", mutate(send1, 1, func(b *Block) { b.Staked = 5 }), ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := l.Apply(tt.block)
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.want)
		})
	}
}

func TestLedgerFrozenAndDoubleReceive(t *testing.T) {
	l := newLedger(t, 1000, 0)
	w0, w1, w2 := NewWallet(l, key(0)), NewWallet(l, key(1)), NewWallet(l, key(2))
	b, err := w0.Send(acct(1), 100, 1)
	send := applyConfirm(t, l, b, err)
	b, err = w1.Receive(send, 1)
	applyConfirm(t, l, b, err)
	// The same send again, on the new head.
	b, err = w1.Receive(send, 1)
	require.NoError(t, err)
	_, err = l.Apply(b)
	require.ErrorIs(t, err, ErrInvalid)
	// A send to account 1 received by account 2.
	b, err = w0.Send(acct(1), 100, 1)
	send = applyConfirm(t, l, b, err)
	b, err = w2.Receive(send, 1)
	require.NoError(t, err)
	_, err = l.Apply(b)
	require.ErrorIs(t, err, ErrInvalid)
	// A frozen account adds nothing.
	l.SetFrozen(acct(0), true)
	assert.True(t, l.Frozen(acct(0)))
	b, err = w0.Send(acct(1), 1, 1)
	require.NoError(t, err)
	_, err = l.Apply(b)
	require.ErrorIs(t, err, ErrInvalid)
	l.SetFrozen(acct(0), false)
	_, err = l.Apply(b)
	require.NoError(t, err)
	conserved(t, l)
}

func TestLedgerStakeUnbonding(t *testing.T) {
	l := newLedger(t, 1000)
	w := NewWallet(l, key(0))
	b, err := w.Stake(400, 10)
	applyConfirm(t, l, b, err)
	info, _ := l.Account(acct(0))
	assert.Equal(t, uint64(600), info.Balance)
	assert.Equal(t, uint64(400), info.Staked)
	assert.Equal(t, uint64(1000), l.Weight(acct(0)), "stake weighs in the representative's weight")

	b, err = w.Unstake(150, 10)
	unstake := applyConfirm(t, l, b, err)
	info, _ = l.Account(acct(0))
	assert.Equal(t, uint64(250), info.Staked)
	assert.Equal(t, uint64(850), l.Weight(acct(0)), "unbonding credits weigh nothing")
	conserved(t, l)

	for _, tt := range []struct {
		epoch uint64
		want  error
	}{{10, ErrInvalid}, {12, ErrInvalid}, {13, nil}} {
		b, err = w.Receive(unstake, tt.epoch)
		require.NoError(t, err)
		_, err = l.Apply(b)
		if tt.want != nil {
			require.ErrorIs(t, err, tt.want, "epoch %d", tt.epoch)
			continue
		}
		require.NoError(t, err, "epoch %d", tt.epoch)
	}
	info, _ = l.Account(acct(0))
	assert.Equal(t, uint64(750), info.Balance)
	conserved(t, l)

	// Stake arithmetic is checked.
	bad := mutate(b, 0, func(x *Block) {})
	bad, err = w.Stake(10, 13)
	require.NoError(t, err)
	_, err = l.Apply(mutate(bad, 0, func(x *Block) { x.Staked++ }))
	require.ErrorIs(t, err, ErrInvalid)
	_, err = l.Apply(mutate(bad, 0, func(x *Block) { x.Kind = KindUnstake; x.Balance = info.Balance; x.Staked = info.Staked + 1 }))
	require.ErrorIs(t, err, ErrInvalid)
}

func TestLedgerEscrow(t *testing.T) {
	l := newLedger(t, 1000, 0, 0)
	sub, p1, p2 := NewWallet(l, key(0)), NewWallet(l, key(1)), NewWallet(l, key(2))
	task := [32]byte{7}
	b, err := sub.Lock(task, 300, 20, 10)
	lock := applyConfirm(t, l, b, err)
	conserved(t, l)

	claim := func(w *Wallet, amount uint64, ticket [64]byte, epoch uint64) error {
		b, err := w.Claim(lock, amount, ticket, epoch)
		require.NoError(t, err)
		h, err := l.Apply(b)
		if err == nil {
			require.NoError(t, l.Confirm(h))
		}
		return err
	}
	require.ErrorIs(t, claim(p1, 100, sub.Ticket(lock, acct(1), 99), 11), ErrSignature, "a ticket for another amount")
	require.ErrorIs(t, claim(p1, 100, p1.Ticket(lock, acct(1), 100), 11), ErrSignature, "a ticket not by the submitter")
	require.ErrorIs(t, claim(p1, 301, sub.Ticket(lock, acct(1), 301), 11), ErrInvalid, "more than locked")
	require.ErrorIs(t, claim(p1, 100, sub.Ticket(lock, acct(1), 100), 21), ErrInvalid, "after the deadline")
	require.NoError(t, claim(p1, 100, sub.Ticket(lock, acct(1), 100), 11))
	require.ErrorIs(t, claim(p1, 100, sub.Ticket(lock, acct(1), 100), 11), ErrInvalid, "a second claim")
	conserved(t, l)

	b, err = sub.Refund(lock, 20)
	require.NoError(t, err)
	_, err = l.Apply(b)
	require.ErrorIs(t, err, ErrInvalid, "a refund before the deadline")
	require.NoError(t, claim(p2, 50, sub.Ticket(lock, acct(2), 50), 12))

	b, err = sub.Refund(lock, 21)
	require.NoError(t, err)
	applyConfirm(t, l, b, nil)
	info, _ := l.Account(acct(0))
	assert.Equal(t, uint64(850), info.Balance, "1000 - 300 locked + 150 not claimed")
	conserved(t, l)
	require.ErrorIs(t, claim(p1, 1, sub.Ticket(lock, acct(1), 1), 20), ErrInvalid, "claims after the refund")
	b, err = sub.Refund(lock, 22)
	require.NoError(t, err)
	_, err = l.Apply(b)
	require.ErrorIs(t, err, ErrInvalid, "a second refund")
}

func TestLedgerFork(t *testing.T) {
	l := newLedger(t, 1000, 0, 0)
	w0, w1, w2 := NewWallet(l, key(0)), NewWallet(l, key(1)), NewWallet(l, key(2))
	b, err := w0.Send(acct(0), 0, 1)
	require.Error(t, err, "a send of nothing is refused")

	s1, err := w0.Send(acct(1), 600, 1)
	require.NoError(t, err)
	s2, err := w0.Send(acct(2), 700, 1)
	require.NoError(t, err)
	h1, err := l.Apply(s1)
	require.NoError(t, err)
	// Account 0 builds on s1 (unconfirmed).
	b, err = w0.Send(acct(2), 100, 2)
	require.NoError(t, err)
	after, err := l.Apply(b)
	require.NoError(t, err)
	// The double spend.
	h2, err := l.Apply(s2)
	require.ErrorIs(t, err, ErrFork)
	assert.Equal(t, []Hash{h1, h2}, l.Conflicts(s1.Previous))
	assert.Equal(t, 1, l.Forks())
	assert.True(t, l.OnChain(h1))
	assert.False(t, l.OnChain(h2))
	// A block on the competitor waits for the election.
	b = mutate(s2, 0, func(x *Block) { x.Previous = h2; x.Balance = 200; x.Link = acct(1) })
	_, err = l.Apply(b)
	require.ErrorIs(t, err, ErrGap)
	_, err = l.Apply(s2)
	require.ErrorIs(t, err, ErrDuplicate)
	forgedCopy := s2
	forgedCopy.Signature[0] ^= 1
	_, err = l.Apply(forgedCopy)
	require.ErrorIs(t, err, ErrSignature, "a forged copy of a held block is not a duplicate")
	conserved(t, l)

	// The election chooses the competitor: the chain rolls back.
	require.NoError(t, l.Confirm(h2))
	assert.True(t, l.OnChain(h2))
	assert.True(t, l.Confirmed(h2))
	_, held := l.Block(h1)
	assert.False(t, held, "the loser is dropped")
	_, held = l.Block(after)
	assert.False(t, held, "and the block built on it")
	assert.Zero(t, l.Forks())
	info, _ := l.Account(acct(0))
	assert.Equal(t, uint64(300), info.Balance)
	assert.Equal(t, h2, info.Head)
	assert.Equal(t, []Hash{h2}, l.Pending(acct(2)))
	assert.Empty(t, l.Pending(acct(1)))
	assert.Equal(t, uint64(300), l.Weight(acct(0)))
	conserved(t, l)

	// The loser is refused now.
	_, err = l.Apply(s1)
	require.ErrorIs(t, err, ErrInvalid)
	// The winner's recipient receives it.
	b, err = w2.Receive(h2, 2)
	applyConfirm(t, l, b, err)
	b, err = w1.Receive(h1, 2)
	require.ErrorIs(t, err, ErrGap, "the loser is gone")
	conserved(t, l)
}

func TestLedgerConfirmNeedsPrevious(t *testing.T) {
	l := newLedger(t, 1000)
	w := NewWallet(l, key(0))
	b, err := w.Send(acct(1), 1, 1)
	require.NoError(t, err)
	h1, err := l.Apply(b)
	require.NoError(t, err)
	b, err = w.Send(acct(1), 1, 1)
	require.NoError(t, err)
	h2, err := l.Apply(b)
	require.NoError(t, err)
	require.ErrorIs(t, l.Confirm(h2), ErrGap)
	require.NoError(t, l.Confirm(h1))
	require.NoError(t, l.Confirm(h2))
	require.NoError(t, l.Confirm(h2), "confirming twice does nothing")
	info, _ := l.Account(acct(0))
	assert.Equal(t, uint64(2), info.ConfirmedHeight)
}

func TestLedgerForkOfReceives(t *testing.T) {
	// Two receives of one send at the same root are a fork, not a double
	// receive: the second competes with the first.
	l := newLedger(t, 1000, 10)
	w0, w1 := NewWallet(l, key(0)), NewWallet(l, key(1))
	b, err := w0.Send(acct(1), 100, 1)
	send := applyConfirm(t, l, b, err)
	r1, err := w1.Receive(send, 1)
	require.NoError(t, err)
	r2, err := w1.Receive(send, 2)
	require.NoError(t, err)
	_, err = l.Apply(r1)
	require.NoError(t, err)
	h2, err := l.Apply(r2)
	require.ErrorIs(t, err, ErrFork)
	require.NoError(t, l.Confirm(h2))
	info, _ := l.Account(acct(1))
	assert.Equal(t, uint64(110), info.Balance)
	conserved(t, l)
}

func TestLedgerValidateDoesNotApply(t *testing.T) {
	l := newLedger(t, 1000, 0)
	w := NewWallet(l, key(0))
	s1, err := w.Send(acct(1), 10, 1)
	require.NoError(t, err)
	s2, err := w.Send(acct(1), 20, 1)
	require.NoError(t, err)
	h, err := l.Validate(s1)
	require.NoError(t, err)
	assert.Equal(t, s1.Hash(), h)
	assert.False(t, l.OnChain(h))
	_, err = l.Apply(s1)
	require.NoError(t, err)
	_, err = l.Validate(s2)
	require.ErrorIs(t, err, ErrFork)
	assert.Zero(t, l.Forks())
	require.NoError(t, l.Confirm(s1.Hash()))
	_, err = l.Validate(s2)
	require.ErrorIs(t, err, ErrInvalid)
	require.ErrorIs(t, err, ErrSettled)
	over := mutate(s2, 0, func(b *Block) { b.Previous = s1.Hash(); b.Balance = 991 })
	_, err = l.Validate(over)
	require.ErrorIs(t, err, ErrInvalid)
	require.NotErrorIs(t, err, ErrSettled)
	conserved(t, l)
}

func TestLedgerRepresentatives(t *testing.T) {
	g := genesisOf(300, 100, 300, 50, 0)
	g.Accounts[3].Representative = hexAcct(1) // account 1 weighs 150
	l, err := NewLedger(g)
	require.NoError(t, err)
	first := acct(0)
	second := acct(2)
	if bytes.Compare(first[:], second[:]) > 0 {
		first, second = second, first
	}
	assert.Equal(t, []Account{first, second, acct(1)}, l.Representatives(10))
	assert.Equal(t, []Account{first}, l.Representatives(1))
	assert.Empty(t, l.Representatives(0))
}
