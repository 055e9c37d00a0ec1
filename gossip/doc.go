// Package gossip owns a fog node's gossipsub: the router with peer scoring
// (gossipsub v1.1), strict message signing, content-hash message IDs,
// typed topics with a validator chain that every message passes before it
// is delivered or forwarded, the capacity adverts nodes publish on
// /fog/capacity/1, and the directory in which every node keeps the newest
// valid advert of each peer — the replacement for a central registry and
// the input to task placement. docs/gossip.md explains the parameters and
// the figures measured.
//
// # Pieces
//
//   - New starts gossipsub on a libp2p host and returns a Gossip, which
//     owns the pubsub router, the capacity topic, the Directory fed by it,
//     score snapshots (Scores, Graylisted) and counters (Stats).
//   - Join[T] adds a typed Topic: other subsystems give an encoder, a
//     decoder, a Header (claimed author, sequence, timestamp) and optional
//     topic-specific checks, and get Publish and Subscribe of decoded,
//     validated values.
//   - Advertiser publishes this node's advert on an interval and soon
//     after its capacity (from a CapacitySource) changes; it satisfies the
//     node's service interface (Name, Run, Health).
//
// # Invariants
//
//   - Every message is signed by its author's peer key (pubsub's
//     StrictSign) and that envelope signature is the only signature
//     checked: payloads carry none of their own, and the chain's author
//     rule requires the author a message claims to be its signer.
//   - A message reaches a subscriber, the directory or another peer only
//     after the chain accepted it: size, decode, author, time, topic
//     check, sequence, rate (see the chain type for the verdicts). Rejected
//     messages cost the peer that sent them score (P4); messages an honest
//     relay might have forwarded in good faith are ignored instead.
//   - Decoders of network input (DecodeAdvert) reject rather than panic,
//     and accept only canonical encodings.
//   - The directory holds at most one advert per peer, the one with the
//     highest sequence, never returns an expired one, and is bounded by
//     DirectoryConfig.MaxEntries; the per-author validator state is
//     bounded by TopicParams.MaxAuthors.
//
// # Concurrency
//
// Gossip, Topic, Subscription, Directory and Advertiser are safe for
// concurrent use. Gossip owns pubsub and a maintenance goroutine, a Topic
// owns its subscriptions' goroutines; both stop them in an idempotent
// Close that waits for them. A subscription handler runs on its own
// goroutine, one message at a time, and must not call Close on its Topic.
package gossip
