package token

import (
	"crypto/ed25519"
	"encoding/binary"
	"encoding/hex"
	"fmt"

	"golang.org/x/crypto/blake2b"
)

// Account is an account: an Ed25519 public key.
type Account [ed25519.PublicKeySize]byte

// AccountOf returns the account of an Ed25519 public key.
func AccountOf(pk ed25519.PublicKey) Account {
	var a Account
	copy(a[:], pk)
	return a
}

// String returns the account in hex.
func (a Account) String() string { return hex.EncodeToString(a[:]) }

// IsZero reports whether a is the zero account.
func (a Account) IsZero() bool { return a == Account{} }

// Hash is a block hash: BLAKE2b-256 of the block's signed bytes.
type Hash [32]byte

// String returns the hash in hex.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// IsZero reports whether h is the zero hash.
func (h Hash) IsZero() bool { return h == Hash{} }

// Kind is what a block does to its account's chain.
type Kind uint8

// The kinds of block. Each carries the account's state after it; the
// Link field means what the kind says.
const (
	// KindOpen is an account's first block: it receives the send named by
	// Link (Previous is zero).
	KindOpen Kind = 1 + iota
	// KindReceive receives the confirmed send named by Link, or releases
	// this account's own confirmed unstake named by Link once its
	// unbonding period is over.
	KindReceive
	// KindSend lowers the balance; Link is the destination account.
	KindSend
	// KindStake moves credits from the balance to the stake.
	KindStake
	// KindUnstake lowers the stake; the credits unbond and a later
	// KindReceive naming this block returns them to the balance.
	KindUnstake
	// KindVote casts a DAO vote: Link is the proposal ID, Aux the Choice.
	KindVote
	// KindChange changes the account's representative.
	KindChange
	// KindEscrowLock locks credits for a task: Link is the task ID, Aux
	// the deadline epoch; the balance drop is the locked amount.
	KindEscrowLock
	// KindEscrowClaim pays a provider from an escrow: Link is the lock
	// block's hash, Ticket the submitter's signature over ClaimTicket.
	KindEscrowClaim
	// KindEscrowRefund returns to the submitter what was not claimed from
	// the escrow named by Link, after its deadline.
	KindEscrowRefund
	kindEnd
)

var kindNames = [...]string{"", "open", "receive", "send", "stake", "unstake", "vote", "change", "escrow-lock", "escrow-claim", "escrow-refund"}

// String returns the kind's name.
func (k Kind) String() string {
	if k == 0 || k >= kindEnd {
		return fmt.Sprintf("kind(%d)", uint8(k))
	}
	return kindNames[k]
}

// Block is a state block of one account's chain, as Nano's: it names the
// previous block and carries the account's resulting balance, stake and
// representative, so every block states the whole account and balances are
// derived from chains. The zero Block is not valid.
type Block struct {
	Kind           Kind
	Account        Account
	Previous       Hash // zero for KindOpen
	Representative Account
	Balance        uint64 // spendable micro-credits after this block
	Staked         uint64 // staked micro-credits after this block
	Link           [32]byte
	Epoch          uint64                      // the epoch the signer made the block in; never decreases along a chain
	Aux            uint64                      // KindEscrowLock: deadline epoch; KindVote: Choice; otherwise 0
	Ticket         [ed25519.SignatureSize]byte // KindEscrowClaim only
	Signature      [ed25519.SignatureSize]byte
}

// Sizes of the encodings.
const (
	blockVersion = 1
	bodySize     = 2 + 32 + 32 + 32 + 8 + 8 + 32 + 8 + 8
	// BlockSize is the encoded size of a block of any kind but
	// KindEscrowClaim.
	BlockSize = bodySize + ed25519.SignatureSize
	// ClaimBlockSize is the encoded size of a KindEscrowClaim block.
	ClaimBlockSize = BlockSize + ed25519.SignatureSize
	// MaxBlockSize is the largest encoded block.
	MaxBlockSize = ClaimBlockSize
)

const blockDomain = "fog/token/block/v1\x00"

// appendBody appends everything the signature covers.
func (b *Block) appendBody(dst []byte) []byte {
	dst = append(dst, blockVersion, byte(b.Kind))
	dst = append(dst, b.Account[:]...)
	dst = append(dst, b.Previous[:]...)
	dst = append(dst, b.Representative[:]...)
	dst = binary.BigEndian.AppendUint64(dst, b.Balance)
	dst = binary.BigEndian.AppendUint64(dst, b.Staked)
	dst = append(dst, b.Link[:]...)
	dst = binary.BigEndian.AppendUint64(dst, b.Epoch)
	dst = binary.BigEndian.AppendUint64(dst, b.Aux)
	if b.Kind == KindEscrowClaim {
		dst = append(dst, b.Ticket[:]...)
	}
	return dst
}

// Hash returns the block's hash, which its signature signs and other
// blocks name it by.
func (b *Block) Hash() Hash {
	var buf [len(blockDomain) + bodySize + ed25519.SignatureSize]byte
	s := append(buf[:0], blockDomain...)
	s = b.appendBody(s)
	return blake2b.Sum256(s)
}

// Append appends the block's canonical encoding to dst.
func (b *Block) Append(dst []byte) []byte {
	dst = b.appendBody(dst)
	return append(dst, b.Signature[:]...)
}

// Encode returns the block's canonical encoding.
func (b *Block) Encode() []byte {
	return b.Append(make([]byte, 0, MaxBlockSize))
}

// Sign sets the account to priv's public key and signs the block.
func (b *Block) Sign(priv ed25519.PrivateKey) {
	b.Account = AccountOf(priv.Public().(ed25519.PublicKey))
	h := b.Hash()
	copy(b.Signature[:], ed25519.Sign(priv, h[:]))
}

// Verify checks the block's signature by its account and returns its hash.
func (b *Block) Verify() (Hash, error) {
	var none *SigCache
	return none.VerifyBlock(b)
}

// DecodeBlock decodes a canonical block encoding. It checks the layout and
// the field rules that need no ledger (see Block.checkShape) but not the
// signature.
func DecodeBlock(p []byte) (Block, error) {
	var b Block
	if len(p) < BlockSize {
		return b, fmt.Errorf("%w: block of %d bytes", ErrMalformed, len(p))
	}
	if p[0] != blockVersion {
		return b, fmt.Errorf("%w: block version %d", ErrMalformed, p[0])
	}
	b.Kind = Kind(p[1])
	want := BlockSize
	if b.Kind == KindEscrowClaim {
		want = ClaimBlockSize
	}
	if len(p) != want {
		return b, fmt.Errorf("%w: %s block of %d bytes, want %d", ErrMalformed, b.Kind, len(p), want)
	}
	off := 2
	off += copy(b.Account[:], p[off:])
	off += copy(b.Previous[:], p[off:])
	off += copy(b.Representative[:], p[off:])
	b.Balance = binary.BigEndian.Uint64(p[off:])
	off += 8
	b.Staked = binary.BigEndian.Uint64(p[off:])
	off += 8
	off += copy(b.Link[:], p[off:])
	b.Epoch = binary.BigEndian.Uint64(p[off:])
	off += 8
	b.Aux = binary.BigEndian.Uint64(p[off:])
	off += 8
	if b.Kind == KindEscrowClaim {
		off += copy(b.Ticket[:], p[off:])
	}
	copy(b.Signature[:], p[off:])
	if err := b.checkShape(); err != nil {
		return Block{}, err
	}
	return b, nil
}

// checkShape checks the rules a block must meet whatever the ledger holds.
func (b *Block) checkShape() error {
	bad := func(what string) error {
		return fmt.Errorf("%w: %s block: %s", ErrMalformed, b.Kind, what)
	}
	if b.Kind == 0 || b.Kind >= kindEnd {
		return fmt.Errorf("%w: unknown block kind %d", ErrMalformed, uint8(b.Kind))
	}
	if b.Account.IsZero() {
		return bad("zero account")
	}
	if b.Representative.IsZero() {
		return bad("zero representative")
	}
	if (b.Kind == KindOpen) != b.Previous.IsZero() {
		return bad("an open block and only an open block has no previous")
	}
	var zero [32]byte
	switch b.Kind {
	case KindStake, KindUnstake, KindChange:
		if b.Link != zero {
			return bad("link must be zero")
		}
	default:
		if b.Link == zero {
			return bad("link must not be zero")
		}
	}
	switch b.Kind {
	case KindVote:
		if b.Aux < uint64(Yes) || b.Aux > uint64(Abstain) {
			return bad("unknown vote choice")
		}
	case KindEscrowLock:
		if b.Aux < b.Epoch {
			return bad("deadline before the block's epoch")
		}
	default:
		if b.Aux != 0 {
			return bad("aux must be zero")
		}
	}
	if b.Kind == KindOpen && b.Staked != 0 {
		return bad("an open block has no stake")
	}
	return nil
}

// ClaimTicket returns the bytes a submitter signs to let provider claim
// amount from the escrow locked by the block lock.
func ClaimTicket(lock Hash, provider Account, amount uint64) []byte {
	const domain = "fog/token/claim/v1\x00"
	b := make([]byte, 0, len(domain)+32+32+8)
	b = append(b, domain...)
	b = append(b, lock[:]...)
	b = append(b, provider[:]...)
	return binary.BigEndian.AppendUint64(b, amount)
}
