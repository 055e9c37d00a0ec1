package token

import (
	"crypto/ed25519"
	"fmt"
)

// Wallet builds and signs the blocks of one account on the head of its
// chain in a Ledger. It does not apply them: they go through
// Node.ProcessBlock (or Ledger.Apply) like blocks from the network, which
// validates them. Build one block at a time: the next builds on the head
// the ledger has then.
type Wallet struct {
	l    *Ledger
	key  ed25519.PrivateKey
	acct Account
}

// NewWallet returns the wallet of the account of key on ledger l.
func NewWallet(l *Ledger, key ed25519.PrivateKey) *Wallet {
	return &Wallet{l: l, key: key, acct: AccountOf(key.Public().(ed25519.PublicKey))}
}

// Account returns the wallet's account.
func (w *Wallet) Account() Account { return w.acct }

// next returns the block continuing the chain, with the head's state.
func (w *Wallet) next(k Kind, epoch uint64) (Block, error) {
	info, ok := w.l.Account(w.acct)
	if !ok {
		return Block{}, fmt.Errorf("%w: account %s has no chain; receive a send first", ErrGap, w.acct)
	}
	return Block{
		Kind: k, Account: w.acct, Previous: info.Head, Representative: info.Representative,
		Balance: info.Balance, Staked: info.Staked, Epoch: max(epoch, info.Epoch),
	}, nil
}

func (w *Wallet) sign(b Block) Block {
	b.Sign(w.key)
	return b
}

// Send returns a block sending amount to account to.
func (w *Wallet) Send(to Account, amount, epoch uint64) (Block, error) {
	b, err := w.next(KindSend, epoch)
	if err != nil {
		return b, err
	}
	if amount == 0 || amount > b.Balance {
		return Block{}, fmt.Errorf("%w: send %d with a balance of %d", ErrInvalid, amount, b.Balance)
	}
	b.Balance -= amount
	b.Link = to
	return w.sign(b), nil
}

// Receive returns a block receiving the confirmed send (or own unstake)
// source: an open block if the account has no chain yet, representing
// itself.
func (w *Wallet) Receive(source Hash, epoch uint64) (Block, error) {
	src, ok := w.l.blocks[source]
	if !ok {
		return Block{}, fmt.Errorf("%w: source %s unknown", ErrGap, source)
	}
	b, err := w.next(KindReceive, epoch)
	if err != nil {
		b = Block{Kind: KindOpen, Account: w.acct, Representative: w.acct, Epoch: epoch}
	}
	if b.Balance, err = add(b.Balance, src.amount); err != nil {
		return Block{}, err
	}
	b.Link = source
	return w.sign(b), nil
}

// Stake returns a block moving amount from the balance to the stake.
func (w *Wallet) Stake(amount, epoch uint64) (Block, error) {
	b, err := w.next(KindStake, epoch)
	if err != nil {
		return b, err
	}
	if amount == 0 || amount > b.Balance {
		return Block{}, fmt.Errorf("%w: stake %d with a balance of %d", ErrInvalid, amount, b.Balance)
	}
	b.Balance -= amount
	if b.Staked, err = add(b.Staked, amount); err != nil {
		return Block{}, err
	}
	return w.sign(b), nil
}

// Unstake returns a block starting to unbond amount of the stake.
func (w *Wallet) Unstake(amount, epoch uint64) (Block, error) {
	b, err := w.next(KindUnstake, epoch)
	if err != nil {
		return b, err
	}
	if amount == 0 || amount > b.Staked {
		return Block{}, fmt.Errorf("%w: unstake %d of a stake of %d", ErrInvalid, amount, b.Staked)
	}
	b.Staked -= amount
	return w.sign(b), nil
}

// Change returns a block making rep the account's representative.
func (w *Wallet) Change(rep Account, epoch uint64) (Block, error) {
	b, err := w.next(KindChange, epoch)
	if err != nil {
		return b, err
	}
	b.Representative = rep
	return w.sign(b), nil
}

// Vote returns a block casting choice c on the DAO proposal with ID id.
func (w *Wallet) Vote(id Hash, c Choice, epoch uint64) (Block, error) {
	b, err := w.next(KindVote, epoch)
	if err != nil {
		return b, err
	}
	b.Link, b.Aux = id, uint64(c)
	return w.sign(b), nil
}

// Lock returns a block locking amount in escrow for task until the
// deadline epoch.
func (w *Wallet) Lock(task [32]byte, amount, deadline, epoch uint64) (Block, error) {
	b, err := w.next(KindEscrowLock, epoch)
	if err != nil {
		return b, err
	}
	if amount == 0 || amount > b.Balance {
		return Block{}, fmt.Errorf("%w: lock %d with a balance of %d", ErrInvalid, amount, b.Balance)
	}
	b.Balance -= amount
	b.Link, b.Aux = task, deadline
	return w.sign(b), nil
}

// Ticket signs, as the submitter of escrow lock, the ticket letting
// provider claim amount from it.
func (w *Wallet) Ticket(lock Hash, provider Account, amount uint64) [ed25519.SignatureSize]byte {
	var t [ed25519.SignatureSize]byte
	copy(t[:], ed25519.Sign(w.key, ClaimTicket(lock, provider, amount)))
	return t
}

// Claim returns a block claiming amount from the escrow lock with the
// submitter's ticket.
func (w *Wallet) Claim(lock Hash, amount uint64, ticket [ed25519.SignatureSize]byte, epoch uint64) (Block, error) {
	b, err := w.next(KindEscrowClaim, epoch)
	if err != nil {
		return b, err
	}
	if b.Balance, err = add(b.Balance, amount); err != nil {
		return Block{}, err
	}
	b.Link, b.Ticket = lock, ticket
	return w.sign(b), nil
}

// Refund returns a block taking back what is left in the escrow lock.
func (w *Wallet) Refund(lock Hash, epoch uint64) (Block, error) {
	b, err := w.next(KindEscrowRefund, epoch)
	if err != nil {
		return b, err
	}
	es := w.l.escrows[lock]
	if es == nil {
		return Block{}, fmt.Errorf("%w: no escrow %s", ErrGap, lock)
	}
	if b.Balance, err = add(b.Balance, es.locked-es.claimed); err != nil {
		return Block{}, err
	}
	b.Link = lock
	return w.sign(b), nil
}
