package node

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"filippo.io/edwards25519"
	"github.com/creachadair/jrpc2"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fog-compute/fog/mix/lottery"
	"github.com/fog-compute/fog/token"
	"github.com/fog-compute/fog/token/ledgersvc"
)

// WalletBalanceParams are wallet.balance's parameters (all optional).
type WalletBalanceParams struct {
	// Account is the account shown (a peer ID or 64 hex digits); empty,
	// the node's own.
	Account string `json:"account,omitempty"`
}

// WalletBalance is wallet.balance's result. Amounts are micro-credits
// (millionths of a credit).
type WalletBalance struct {
	// Account is the account shown, the node's by default: its Ed25519
	// public key in hex.
	Account string `json:"account"`
	// PeerID is the same key as a peer ID.
	PeerID string `json:"peer_id"`
	// Balance is what the account can spend, including its blocks not
	// confirmed yet.
	Balance uint64 `json:"balance"`
	// Staked is the account's stake.
	Staked uint64 `json:"staked"`
	// Pending is what was sent to the account and not received yet
	// (received once confirmed, with token.auto_receive).
	Pending uint64 `json:"pending"`
	// Height is the number of blocks on the account's chain;
	// ConfirmedHeight how many of them are confirmed.
	Height          uint64 `json:"height"`
	ConfirmedHeight uint64 `json:"confirmed_height"`
	// Weight is the voting weight delegated to this node as a
	// representative.
	Weight uint64 `json:"weight"`
	// Supply is the network's total supply.
	Supply uint64 `json:"supply"`
}

// WalletSendParams are wallet.send's parameters.
type WalletSendParams struct {
	// From is the account sending: a peer ID or 64 hex digits of an
	// account whose key the wallet holds (wallet.list); empty, the
	// node's own.
	From string `json:"from,omitempty"`
	// To is a peer ID or an account (64 hex digits).
	To string `json:"to"`
	// Amount is in micro-credits.
	Amount uint64 `json:"amount"`
	// Wait returns once the send is confirmed.
	Wait bool `json:"wait,omitempty"`
}

// WalletSendResult is wallet.send's result.
type WalletSendResult struct {
	Hash    string `json:"hash"`
	From    string `json:"from"`
	To      string `json:"to"`
	ToPeer  string `json:"to_peer"`
	Amount  uint64 `json:"amount"`
	Balance uint64 `json:"balance"` // this account's balance after the send
	// Confirmed is true with Wait (the call returns once it is); without,
	// whether it already was.
	Confirmed bool `json:"confirmed"`
}

// WalletHistoryParams are wallet.history's parameters.
type WalletHistoryParams struct {
	// Limit is the most blocks returned, newest first: default 50, at
	// most 1000.
	Limit int `json:"limit,omitempty"`
	// Account is the account listed (a peer ID or 64 hex digits); empty,
	// the node's own.
	Account string `json:"account,omitempty"`
}

// WalletImportParams are wallet.import's parameters.
type WalletImportParams struct {
	// Seed is the account's Ed25519 private key seed: 64 hex digits.
	Seed string `json:"seed"`
}

// WalletAccount is an account of the node's wallet, in wallet.create,
// wallet.import and wallet.list.
type WalletAccount struct {
	// Account is the account in hex; PeerID the same key as a peer ID.
	Account string `json:"account"`
	PeerID  string `json:"peer_id"`
	// Identity is true for the node's own account (its identity key).
	Identity bool `json:"identity,omitempty"`
	// Created is false when wallet.import was given a key the wallet held
	// already.
	Created bool `json:"created,omitempty"`
	// Balance and Pending are as in wallet.balance.
	Balance uint64 `json:"balance"`
	Pending uint64 `json:"pending"`
}

// WalletEntry is a block in wallet.history and wallet.pending.
type WalletEntry struct {
	Hash string `json:"hash"`
	// Kind is open, receive, send, stake, unstake, vote, change,
	// escrow-lock, escrow-claim or escrow-refund.
	Kind string `json:"kind"`
	// Amount is what the block moved, in micro-credits.
	Amount uint64 `json:"amount"`
	// Account is the block's account; Counterparty the other side of a
	// send or receive (hex), CounterpartyPeer the same as a peer ID.
	Account          string `json:"account"`
	Counterparty     string `json:"counterparty,omitempty"`
	CounterpartyPeer string `json:"counterparty_peer,omitempty"`
	// Balance and Staked are the account's state after the block.
	Balance   uint64 `json:"balance"`
	Staked    uint64 `json:"staked"`
	Epoch     uint64 `json:"epoch"`
	Confirmed bool   `json:"confirmed"`
}

// WalletPending is wallet.pending's result.
type WalletPending struct {
	// Receivable are the sends to this account not received yet.
	Receivable []WalletEntry `json:"receivable"`
	// Unconfirmed are this account's blocks not confirmed yet, newest
	// first.
	Unconfirmed []WalletEntry `json:"unconfirmed"`
}

// RelayStatus is relay.status's result: the lottery's status and, if the
// node runs the ledger, this node's stake.
type RelayStatus struct {
	lottery.Status
	Stake *RelayStake `json:"stake,omitempty"`
}

// RelayStake is a node's stake on the ledger, in micro-credits: what its
// account has staked as of the ledger's current epoch (confirmed blocks
// only), and, when stake weighs the relay lottery, the weight the lottery
// gives it in its current epoch (docs/lottery.md section 9).
type RelayStake struct {
	Epoch  uint64 `json:"epoch"`
	Staked uint64 `json:"staked"`
	Total  uint64 `json:"total"`
	// Lottery is the relay lottery's view, absent when the lottery does
	// not weigh by stake (relay.candidates fixes the candidates).
	Lottery *LotteryWeight `json:"lottery,omitempty"`
}

// LotteryWeight is what the relay lottery's stake oracle gives for one of
// its epochs.
type LotteryWeight struct {
	// Epoch is the lottery's epoch; SnapshotEpoch the ledger epoch whose
	// confirmed stakes and DAO parameters it uses.
	Epoch         uint64 `json:"epoch"`
	SnapshotEpoch uint64 `json:"snapshot_epoch"`
	// Weight is this node's weight (its bonded stake, 0 below MinStake)
	// and TotalWeight the sum over all candidates, in micro-credits.
	Weight      uint64 `json:"weight"`
	TotalWeight uint64 `json:"total_weight"`
	// TargetRelays and MinStake are the parameters in force (the DAO's).
	TargetRelays uint64 `json:"target_relays"`
	MinStake     uint64 `json:"min_stake"`
}

func (n *Node) relayStatus() RelayStatus {
	st := RelayStatus{Status: n.lottery.Status()}
	if l := n.ledger; l != nil {
		e := l.Epoch()
		st.Stake = &RelayStake{Epoch: e}
		l.View(func(led *token.Ledger) {
			st.Stake.Staked, st.Stake.Total = led.StakeAt(l.Account(), e), led.TotalStakeAt(e)
		})
		if o := n.stakeOracle; o != nil {
			le := st.Status.Current.Epoch
			se := o.epoch(le)
			st.Stake.Lottery = &LotteryWeight{
				Epoch: le, SnapshotEpoch: se.snapshot,
				Weight: se.table.Weight(l.Account()), TotalWeight: se.table.Total,
				TargetRelays: se.params.TargetRelays, MinStake: se.params.MinStake,
			}
		}
	}
	return st
}

const (
	defaultHistory = 50
	maxHistory     = 1000
)

func (n *Node) registerWalletMethods() error {
	methods := map[string]any{
		"wallet.balance": func(_ context.Context, p WalletBalanceParams) (WalletBalance, error) {
			l, err := n.ledgerOrErr()
			if err != nil {
				return WalletBalance{}, err
			}
			acct, err := accountParam(l, "account", p.Account)
			if err != nil {
				return WalletBalance{}, err
			}
			return walletBalance(l, acct), nil
		},
		"wallet.send": func(ctx context.Context, p WalletSendParams) (WalletSendResult, error) {
			l, err := n.ledgerOrErr()
			if err != nil {
				return WalletSendResult{}, err
			}
			return n.walletSend(ctx, l, p)
		},
		"wallet.create": func(context.Context) (WalletAccount, error) {
			l, err := n.ledgerOrErr()
			if err != nil {
				return WalletAccount{}, err
			}
			a, err := n.wallet.create()
			if err != nil {
				return WalletAccount{}, &jrpc2.Error{Code: CodeUnavailable, Message: err.Error()}
			}
			r := walletAccount(l, a)
			r.Created = true
			return r, nil
		},
		"wallet.import": func(_ context.Context, p WalletImportParams) (WalletAccount, error) {
			l, err := n.ledgerOrErr()
			if err != nil {
				return WalletAccount{}, err
			}
			seed, err := hex.DecodeString(strings.TrimPrefix(p.Seed, "0x"))
			if err != nil || len(seed) != 32 {
				return WalletAccount{}, invalidParams("seed: want an Ed25519 seed, 64 hex digits")
			}
			a, created, err := n.wallet.add(seed)
			if err != nil {
				return WalletAccount{}, &jrpc2.Error{Code: CodeUnavailable, Message: err.Error()}
			}
			r := walletAccount(l, a)
			r.Created = created
			return r, nil
		},
		"wallet.list": func(context.Context) ([]WalletAccount, error) {
			l, err := n.ledgerOrErr()
			if err != nil {
				return nil, err
			}
			out := []WalletAccount{walletAccount(l, l.Account())}
			out[0].Identity = true
			for _, a := range n.wallet.accounts() {
				if a != l.Account() {
					out = append(out, walletAccount(l, a))
				}
			}
			return out, nil
		},
		"wallet.history": func(_ context.Context, p WalletHistoryParams) ([]WalletEntry, error) {
			l, err := n.ledgerOrErr()
			if err != nil {
				return nil, err
			}
			acct, err := accountParam(l, "account", p.Account)
			if err != nil {
				return nil, err
			}
			switch {
			case p.Limit < 0 || p.Limit > maxHistory:
				return nil, invalidParams("limit %d: want 1 to %d (0: %d)", p.Limit, maxHistory, defaultHistory)
			case p.Limit == 0:
				p.Limit = defaultHistory
			}
			var out []WalletEntry
			l.View(func(led *token.Ledger) { out = chainEntries(led, acct, p.Limit, false) })
			return out, nil
		},
		"wallet.pending": func(context.Context) (WalletPending, error) {
			l, err := n.ledgerOrErr()
			if err != nil {
				return WalletPending{}, err
			}
			r := WalletPending{Receivable: []WalletEntry{}}
			l.View(func(led *token.Ledger) {
				for _, h := range led.Pending(l.Account()) {
					if b, ok := led.Block(h); ok {
						r.Receivable = append(r.Receivable, entryOf(led, h, b))
					}
				}
				r.Unconfirmed = chainEntries(led, l.Account(), maxHistory, true)
			})
			return r, nil
		},
	}
	return n.api.registerAll(methods)
}

// ledgerOrErr returns the ledger, or the error that says why there is none.
func (n *Node) ledgerOrErr() (*ledgersvc.Service, error) {
	switch {
	case n.ledger != nil:
		return n.ledger, nil
	case !n.cfg.Token.Enabled:
		return nil, &jrpc2.Error{Code: CodeUnavailable, Message: "the ledger is off on this node (token.enabled = false in config.toml)"}
	}
	return nil, &jrpc2.Error{Code: CodeUnavailable, Message: "this node runs no ledger, so it has no wallet: token.genesis in config.toml names no genesis file " +
		"(the network's file of funded accounts, see docs/token.md; fog devnet writes one for its nodes)"}
}

// accountParam reads the account parameter named name: the node's own
// when empty.
func accountParam(l *ledgersvc.Service, name, s string) (token.Account, error) {
	if s == "" {
		return l.Account(), nil
	}
	a, err := parseAccount(s)
	if err != nil {
		return a, invalidParams("%s: %v", name, err)
	}
	return a, nil
}

// walletAccount describes account a of the wallet.
func walletAccount(l *ledgersvc.Service, a token.Account) WalletAccount {
	b := walletBalance(l, a)
	return WalletAccount{Account: b.Account, PeerID: b.PeerID, Balance: b.Balance, Pending: b.Pending}
}

func walletBalance(l *ledgersvc.Service, acct token.Account) WalletBalance {
	b := WalletBalance{Account: acct.String(), PeerID: peerOf(acct)}
	l.View(func(led *token.Ledger) {
		info, _ := led.Account(acct)
		b.Balance, b.Staked, b.Height, b.ConfirmedHeight = info.Balance, info.Staked, info.Height, info.ConfirmedHeight
		for _, h := range led.Pending(acct) {
			a, _ := led.Amount(h)
			b.Pending += a
		}
		b.Weight, b.Supply = led.Weight(acct), led.Supply()
	})
	return b
}

func (n *Node) walletSend(ctx context.Context, l *ledgersvc.Service, p WalletSendParams) (WalletSendResult, error) {
	from, err := accountParam(l, "from", p.From)
	if err != nil {
		return WalletSendResult{}, err
	}
	var key ed25519.PrivateKey // nil: the node's identity
	if from != l.Account() {
		k, ok := n.wallet.key(from)
		if !ok {
			return WalletSendResult{}, &jrpc2.Error{Code: CodeNotFound, Message: fmt.Sprintf(
				"from: this node's wallet holds no key for account %s (see fog wallet ls)", from)}
		}
		key = k
	}
	to, err := parseAccount(p.To)
	if err != nil {
		return WalletSendResult{}, invalidParams("to: %v", err)
	}
	switch {
	case to == from && key == nil:
		return WalletSendResult{}, invalidParams("to: %s is this node's own account", p.To)
	case to == from:
		return WalletSendResult{}, invalidParams("to: %s is the sending account itself", p.To)
	}
	if p.Amount == 0 {
		return WalletSendResult{}, invalidParams("amount: must be positive (micro-credits)")
	}
	// available is what from can spend: its balance and, for a wallet
	// account (SendFrom receives them first), the confirmed sends to it.
	available := func() uint64 {
		var have uint64
		l.View(func(led *token.Ledger) {
			info, _ := led.Account(from)
			have = info.Balance
			if key == nil {
				return
			}
			for _, h := range led.Pending(from) {
				if a, _ := led.Amount(h); led.Confirmed(h) {
					have += a
				}
			}
		})
		return have
	}
	if have := available(); p.Amount > have {
		return WalletSendResult{}, insufficient(p.Amount, have)
	}
	var h token.Hash
	if key == nil {
		h, err = l.Send(ctx, to, p.Amount)
	} else {
		h, err = l.SendFrom(ctx, key, to, p.Amount)
	}
	if err != nil {
		if errors.Is(err, token.ErrInvalid) || errors.Is(err, token.ErrGap) {
			// Spent meanwhile, or the account has no chain yet.
			if have := available(); p.Amount > have {
				return WalletSendResult{}, insufficient(p.Amount, have)
			}
			return WalletSendResult{}, &jrpc2.Error{Code: CodeConflict, Message: err.Error()}
		}
		return WalletSendResult{}, ledgerError(err)
	}
	r := WalletSendResult{Hash: h.String(), From: from.String(), To: to.String(), ToPeer: peerOf(to), Amount: p.Amount}
	if p.Wait {
		if err := l.WaitConfirmed(ctx, h); err != nil {
			return WalletSendResult{}, ledgerError(fmt.Errorf("send %s made, not confirmed yet: %w", h, err))
		}
	}
	l.View(func(led *token.Ledger) {
		r.Confirmed = led.Confirmed(h)
		if b, ok := led.Block(h); ok {
			r.Balance = b.Balance
		}
	})
	return r, nil
}

func insufficient(want, have uint64) error {
	return &jrpc2.Error{Code: CodeConflict, Message: fmt.Sprintf(
		"insufficient balance: %d micro-credits available, %d asked", have, want)}
}

// ledgerError maps the ledger service's errors to RPC codes.
func ledgerError(err error) error {
	if errors.Is(err, ledgersvc.ErrNotRunning) {
		return &jrpc2.Error{Code: CodeUnavailable, Message: err.Error()}
	}
	return err
}

// chainEntries lists account a's chain from its head back, at most limit
// blocks; with unconfirmed, only those not confirmed yet.
func chainEntries(l *token.Ledger, a token.Account, limit int, unconfirmed bool) []WalletEntry {
	out := []WalletEntry{}
	info, ok := l.Account(a)
	if !ok {
		return out
	}
	for h := info.Head; len(out) < limit; {
		b, ok := l.Block(h)
		if !ok || (unconfirmed && l.Confirmed(h)) {
			break
		}
		out = append(out, entryOf(l, h, b))
		if b.Kind == token.KindOpen {
			break
		}
		h = b.Previous
	}
	return out
}

// entryOf describes block h.
func entryOf(l *token.Ledger, h token.Hash, b token.Block) WalletEntry {
	amount, _ := l.Amount(h)
	e := WalletEntry{Hash: h.String(), Kind: b.Kind.String(), Amount: amount, Account: b.Account.String(),
		Balance: b.Balance, Staked: b.Staked, Epoch: b.Epoch, Confirmed: l.Confirmed(h)}
	var other token.Account
	switch b.Kind {
	case token.KindSend:
		other = token.Account(b.Link)
	case token.KindOpen, token.KindReceive, token.KindEscrowClaim:
		if src, ok := l.Block(token.Hash(b.Link)); ok {
			other = src.Account
		}
	}
	if !other.IsZero() {
		e.Counterparty, e.CounterpartyPeer = other.String(), peerOf(other)
	}
	return e
}

// peerOf returns the peer ID of an account's key, or "" if it is none.
func peerOf(a token.Account) string {
	pk, err := crypto.UnmarshalEd25519PublicKey(a[:])
	if err != nil {
		return ""
	}
	id, err := peer.IDFromPublicKey(pk)
	if err != nil {
		return ""
	}
	return id.String()
}

// parseAccount reads a peer ID (of an Ed25519 key) or an account in hex.
func parseAccount(s string) (token.Account, error) {
	var a token.Account
	if id, err := peer.Decode(s); err == nil {
		pk, err := id.ExtractPublicKey()
		if err != nil || pk.Type() != crypto.Ed25519 {
			return a, fmt.Errorf("peer %s has no Ed25519 key, and fog accounts are Ed25519 keys", s)
		}
		raw, err := pk.Raw()
		if err != nil || len(raw) != len(a) {
			return a, fmt.Errorf("peer %s: %v", s, err)
		}
		copy(a[:], raw)
		return a, nil
	}
	raw, err := hex.DecodeString(strings.TrimPrefix(s, "0x"))
	if err != nil || len(raw) != len(a) {
		return a, fmt.Errorf("%q is neither a peer ID nor an account (64 hex digits)", s)
	}
	if _, err := new(edwards25519.Point).SetBytes(raw); err != nil {
		return a, fmt.Errorf("%q is not an account: not an Ed25519 public key", s)
	}
	copy(a[:], raw)
	return a, nil
}
