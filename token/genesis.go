package token

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"slices"

	"filippo.io/edwards25519"
	"golang.org/x/crypto/blake2b"
)

// Genesis is a network's initial allocation: who holds what at the start,
// under which representative, and the ledger parameters every node must
// share. Its JSON form is the genesis file (see LoadGenesis).
type Genesis struct {
	// Network names the network; it is part of the genesis digest, so two
	// networks with the same allocation still have different chains.
	Network string `json:"network"`
	// UnbondingEpochs is how many epochs unstaked credits stay locked.
	UnbondingEpochs uint64 `json:"unbonding_epochs"`
	// Faucet, if set, is the account tools send free credits from; it
	// must be one of Accounts.
	Faucet string `json:"faucet,omitempty"`
	// Accounts are the funded accounts.
	Accounts []Allocation `json:"accounts"`
	// Frozen accounts may not add blocks.
	Frozen []string `json:"frozen,omitempty"`
}

// Allocation is one funded account of a Genesis. Account and
// Representative are hex Ed25519 public keys; an empty Representative
// means the account represents itself.
type Allocation struct {
	Account        string `json:"account"`
	Balance        uint64 `json:"balance"`
	Staked         uint64 `json:"staked,omitempty"`
	Representative string `json:"representative,omitempty"`
}

// genesisState is a validated Genesis in the form the Ledger uses.
type genesisState struct {
	digest    Hash
	unbonding uint64
	faucet    Account
	accounts  []genesisAccount // sorted by account
	frozen    []Account
	supply    uint64
}

type genesisAccount struct {
	account Account
	balance uint64
	staked  uint64
	rep     Account
	root    Hash // the chain's virtual first block
}

// Limits of a genesis file.
const (
	maxGenesisAccounts = 100_000
	maxGenesisBytes    = 32 << 20
	maxNetworkName     = 64
)

// LoadGenesis reads and validates a genesis file (JSON, unknown fields
// refused).
func LoadGenesis(r io.Reader) (Genesis, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxGenesisBytes+1))
	if err != nil {
		return Genesis{}, fmt.Errorf("%w: %w", ErrGenesis, err)
	}
	if len(data) > maxGenesisBytes {
		return Genesis{}, fmt.Errorf("%w: file exceeds %d bytes", ErrGenesis, maxGenesisBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var g Genesis
	if err := dec.Decode(&g); err != nil {
		return Genesis{}, fmt.Errorf("%w: %w", ErrGenesis, err)
	}
	if dec.More() {
		return Genesis{}, fmt.Errorf("%w: trailing data", ErrGenesis)
	}
	if err := g.Validate(); err != nil {
		return Genesis{}, err
	}
	return g, nil
}

// Validate checks the genesis: well-formed distinct keys, a positive
// unbonding period, a total supply that fits in uint64, a faucet among the
// accounts.
func (g Genesis) Validate() error {
	_, err := g.state()
	return err
}

// Digest returns the genesis digest, which every chain's first block
// descends from.
func (g Genesis) Digest() (Hash, error) {
	s, err := g.state()
	if err != nil {
		return Hash{}, err
	}
	return s.digest, nil
}

func parseAccount(s string) (Account, error) {
	var a Account
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(a) {
		return a, fmt.Errorf("account %q is not %d hex bytes", s, len(a))
	}
	if _, err := new(edwards25519.Point).SetBytes(b); err != nil {
		return a, fmt.Errorf("account %q is not an Ed25519 key", s)
	}
	copy(a[:], b)
	return a, nil
}

func (g Genesis) state() (*genesisState, error) {
	fail := func(format string, args ...any) (*genesisState, error) {
		return nil, fmt.Errorf("%w: "+format, append([]any{ErrGenesis}, args...)...)
	}
	if g.Network == "" || len(g.Network) > maxNetworkName {
		return fail("network name must have 1 to %d bytes", maxNetworkName)
	}
	if g.UnbondingEpochs == 0 {
		return fail("unbonding_epochs must be positive")
	}
	if len(g.Accounts) == 0 || len(g.Accounts) > maxGenesisAccounts {
		return fail("accounts: need 1 to %d", maxGenesisAccounts)
	}
	s := &genesisState{unbonding: g.UnbondingEpochs}
	seen := make(map[Account]bool, len(g.Accounts))
	for i, al := range g.Accounts {
		a, err := parseAccount(al.Account)
		if err != nil {
			return fail("accounts[%d]: %v", i, err)
		}
		if seen[a] {
			return fail("accounts[%d]: account %s listed twice", i, a)
		}
		seen[a] = true
		rep := a
		if al.Representative != "" {
			if rep, err = parseAccount(al.Representative); err != nil {
				return fail("accounts[%d].representative: %v", i, err)
			}
		}
		if s.supply, err = add(s.supply, al.Balance); err == nil {
			s.supply, err = add(s.supply, al.Staked)
		}
		if err != nil {
			return fail("total supply exceeds 2^64-1 micro-credits")
		}
		s.accounts = append(s.accounts, genesisAccount{account: a, balance: al.Balance, staked: al.Staked, rep: rep})
	}
	if g.Faucet != "" {
		f, err := parseAccount(g.Faucet)
		if err != nil {
			return fail("faucet: %v", err)
		}
		if !seen[f] {
			return fail("faucet %s is not among the accounts", f)
		}
		s.faucet = f
	}
	for i, fs := range g.Frozen {
		f, err := parseAccount(fs)
		if err != nil {
			return fail("frozen[%d]: %v", i, err)
		}
		s.frozen = append(s.frozen, f)
	}
	slices.SortFunc(s.accounts, func(a, b genesisAccount) int { return bytes.Compare(a.account[:], b.account[:]) })
	slices.SortFunc(s.frozen, func(a, b Account) int { return bytes.Compare(a[:], b[:]) })
	s.frozen = slices.Compact(s.frozen)

	// The digest covers the sorted allocation, so the order of the file
	// does not matter.
	h, _ := blake2b.New256(nil)
	h.Write([]byte("fog/token/genesis/v1\x00"))
	h.Write(binary.AppendUvarint(nil, uint64(len(g.Network))))
	h.Write([]byte(g.Network))
	h.Write(binary.BigEndian.AppendUint64(nil, g.UnbondingEpochs))
	h.Write(s.faucet[:])
	for _, a := range s.accounts {
		h.Write(a.account[:])
		h.Write(binary.BigEndian.AppendUint64(nil, a.balance))
		h.Write(binary.BigEndian.AppendUint64(nil, a.staked))
		h.Write(a.rep[:])
	}
	for _, f := range s.frozen {
		h.Write(f[:])
	}
	copy(s.digest[:], h.Sum(nil))
	for i := range s.accounts {
		s.accounts[i].root = genesisRoot(s.digest, s.accounts[i].account)
	}
	return s, nil
}

// genesisRoot is the hash a genesis account's first real block names as
// its previous.
func genesisRoot(digest Hash, a Account) Hash {
	var buf []byte
	buf = append(buf, "fog/token/genesis-root/v1\x00"...)
	buf = append(buf, digest[:]...)
	buf = append(buf, a[:]...)
	return blake2b.Sum256(buf)
}
