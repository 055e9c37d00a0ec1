// Package token is fog's ledger: credits, stake, escrow and DAO votes in a
// block lattice without a coordinator, after Nano's. It is the ledger's
// deterministic core: blocks and their canonical encoding, the Ledger that
// validates and applies them, open representative voting (Node) that
// settles forks, and the DAO's tally. It does no I/O, starts no goroutine
// and reads no clock: time and epochs come in as arguments. Package
// token/ledgerstore keeps a Ledger's blocks and confirmations in the
// node's store, and token/ledgersvc runs a Node over gossip.
// docs/token.md is the specification.
//
// # The lattice
//
// An Account is an Ed25519 public key with its own chain of state Blocks.
// Each block names the previous block of its chain and carries the
// account's whole state after it (balance, stake, representative), with a
// Link whose meaning depends on its Kind: a send names the destination, a
// receive the confirmed send it takes, an escrow lock the task. Amounts are
// uint64 micro-credits; every sum is checked for overflow. The first
// blocks descend from a Genesis allocation (a JSON file). A block is
// hashed with BLAKE2b-256 and the hash is signed with the account's key.
//
// # Forks and confirmation
//
// Two valid blocks with the same root (the previous block, or the account
// for an open block) are a fork. The Ledger keeps the first on the chain
// and the others as competitors; a Node holds an election per root, in
// which representatives, weighed by the balances and stakes delegated to
// them, vote; a block with final votes from more than half of the online
// weight is confirmed, the chain rolled back to it if needed. A receive,
// claim or refund may only use a confirmed source, so what was received
// is never rolled back.
//
// # Invariants
//
//   - Determinism: a Ledger fed the same blocks and confirmations holds the
//     same state on every node; Tally and Ledger.Ballots use integer
//     arithmetic only; Ledger.Stakes (the relay lottery's weights: bonded
//     stake from confirmed blocks dated up to an epoch) and ParamsAt (the
//     network parameters accepted proposals set, from their ExecuteAt on)
//     depend only on the confirmed blocks and the decisions, not on the
//     order they came in.
//   - Conservation: the balances and stakes of all accounts plus the
//     credits in flight (sent and not received, unbonding, in escrow)
//     always equal the genesis supply.
//   - At most one block per root is ever confirmed by a Node, as long as
//     representatives that equivocate hold less weight than the margin by
//     which the online weight exceeds twice each side's weight.
//   - Decoders reject rather than panic and accept only canonical bytes.
//
// Ledger, Node and Wallet are not safe for concurrent use; the shell
// serializes calls.
package token
