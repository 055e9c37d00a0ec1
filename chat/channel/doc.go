// Package channel is BitChat-style channels on fog: public and private
// group chats carried on gossip, with a bounded history in the store that
// nodes reconcile with their neighbours.
//
// A channel is the gossip topic /fog/chat/<name>/1 (Topic). Its messages
// (Message) are signed by their author's libp2p Ed25519 identity, so a
// message can be verified wherever it comes from, and travel through
// gossip's typed-topic validator chain: size, author = envelope signer,
// time window, sequence and per-author rate, with peers that forward
// invalid messages losing gossip score; the channel adds its own check
// (signature, channel, kind, body size, and the roster rules below).
//
// A private channel belongs to its creator, who signs its roster
// (a KindRoster message: members, each with its X25519 chat key, and a
// fresh channel key sealed to each) for every key epoch. A member removed
// by a new roster does not get the new epoch's key. Posts are sealed with
// XChaCha20-Poly1305 under the epoch's key; non-members relay and store
// ciphertext only, and a post under an epoch already replaced when it
// was written is refused.
//
// History is kept in the store under /channel/<name>/<time>/<id>,
// bounded per channel by count and age (Config). A node that joins late
// or returns from a partition reconciles with a neighbour over
// SyncProtocol (/fog/chat/sync/1.0.0) by range-based set reconciliation
// of message IDs over time ranges (Reconciler, a deterministic core
// without I/O), then fetches and verifies what it lacks.
// docs/channels.md describes the protocols.
//
// # Concurrency
//
// Service is safe for concurrent use; it owns its goroutines (the sync
// server's handlers, the prune and sync timer) and stops them in its
// idempotent Close. Set is immutable; a Reconciler is used by one
// goroutine.
package channel
