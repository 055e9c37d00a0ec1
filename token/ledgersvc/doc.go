// Package ledgersvc is the ledger's shell: it runs a token.Node on a node.
// Blocks travel on the gossip topic /fog/ledger/1 and votes on
// /fog/ledger/votes/1 (BlocksTopic, VotesTopic), each in a Message under
// the publishing node's gossip envelope. The Service feeds what arrives to
// the Node, writes the Node's records to the store (token/ledgerstore,
// synced) before it publishes anything that follows from them, ticks the
// elections on the injected clock, receives the confirmed sends to the
// node's account, and offers the node's wallet (Send, Wait, Balance).
//
// # Validation
//
// Each topic's gossip validator runs before a message is delivered or
// forwarded. A block whose signature fails, that does not decode, or that
// breaks the ledger's rules against this node's ledger (over-spending,
// wrong arithmetic, a receive of what is not the account's or was
// received, a frozen account) is rejected, and its sender loses gossip
// score; so is a forged vote. Replayed envelopes are refused by gossip's
// own time and sequence rules. The loser of a settled fork (an honest
// peer may relay it late), a block dated more than an epoch ahead, a block
// this node does not hold dated more than Config.MaxBackdate epochs back
// (so a past epoch's confirmed blocks stop changing: Config.Settled), and
// a vote by a representative without weight here are ignored, without
// penalty. A block whose previous block or source is missing passes: the
// Node keeps it until they come.
//
// DAO.ParamsAt applies the accepted proposals (token.ParamsAt) with the
// least execution delay MinExecDelay, and Service.Stakes gives the stake
// tables the relay lottery's oracle (package node) weighs candidates by.
//
// # Durability
//
// The Node's records are queued under the Service's lock; one committer
// goroutine writes all that is queued in one synced batch (group commit:
// messages go on being processed while it syncs), then publishes the
// blocks and votes that waited for those records. Send and Wait return
// only once the state they report is durable. Run's end drops what was
// not written; nothing of it was acknowledged.
//
// # Not yet
//
// A node that was offline does not fetch the blocks it missed (no
// bootstrap).
//
// # Concurrency
//
// A Service is safe for concurrent use. Run owns the topics, their
// subscriptions, the committer and the ticker, and stops them when its
// ctx ends; the Node is used under one lock, the store by the committer
// alone.
package ledgersvc
