// Package mailbox keeps mail for absent nodes: offline mailboxes in the
// DHT, for chat's direct messages and any other small sealed payload (task
// results, later).
//
// # Mailboxes
//
// A node's mailbox of one UTC day lives at the key MailboxKey(node's peer
// ID, day), a SHA-256 that changes daily, so that hosts and observers of
// the DHT see unrelated keys rather than one mailbox followed across
// days. Whoever knows the node's peer ID can compute the keys (that is how
// senders find them), so they hide nothing from someone already looking
// for that node.
//
// Deposit seals a payload to the recipient's X25519 chat key with the one
// message of a Noise N handshake (Noise_N_25519_ChaChaPoly_SHA256, the
// prologue binding the mailbox key and the item's random ID) and stores it
// at the Config.K (3) peers closest to today's key in the DHT. Hosts see
// the ciphertext, its size, the mailbox key, the ID and the peer that
// deposited it, never the payload or the recipient's identity. The seal
// does not say who made it: a payload that must be authenticated carries
// its own signature (chat's DMs do).
//
// Fetch, run by a node when it comes back, asks the K closest peers to
// each daily key within Config.TTL (7 days) for the items, opens them,
// de-duplicates the copies by ID, hands each new message to its caller's
// deliver function, and acknowledges what was delivered (and what did not
// open); the hosts delete what was acknowledged.
//
// # Hosts
//
// Every node hosts. Items live in the node's store under
// /chat/mailbox/<key hex>/<id hex> and a deposit is answered only once the
// item is synced. A deposit carries the item's expiry (a new item's is
// Config.TTL after it is sent; a copy handed on keeps its own, so a handoff
// never extends it); a host keeps an item until then, at most Config.TTL
// after its deposit there (expired items are skipped on read and deleted
// by Run's sweep), refuses one already expired, and
// admits a deposit only within Config.MaxItemBytes, a quota per sender (the
// peer that deposits: SenderItems, SenderBytes) and a total (HostItems,
// HostBytes). The quota holds one peer back; a party with many identities
// is held by the total.
//
// A host gives a mailbox's items, and deletes them, only to the mailbox's
// owner: a fetch or an ack carries the owner's Ed25519 identity key, the
// day and the time, signed over those, the request and the host's peer ID.
// The host recomputes the mailbox key from the key and the day and checks
// the day (within the TTL), the time (within MaxClockSkew) and the
// signature; anyone else is denied and gets nothing.
//
// # The protocol
//
// /fog/mailbox/1.0.0 (Protocol) carries one request and its response per
// stream, each one frame: a uvarint length and that many bytes, a request
// at most MaxRequestLen and a response at most MaxResponseLen. Integers are
// minimal uvarints; byte strings are prefixed with their length; keys (32
// bytes), IDs (16) and signatures (64) are fixed.
//
//	deposit  = 1, key, id, expires (unix seconds, 1..2⁴⁰), sealed
//	fetch    = 2, key, day, owner, time, after, signature
//	ack      = 3, key, day, owner, time, count, id…, signature
//	response = status [, flags, count, (id, sealed)…, deleted]
//
// The signature is Ed25519 over "fog/mailbox/v1 auth", the host's peer ID
// (length-prefixed) and the request without it. A fetch returns the items
// with IDs above after, ascending, up to Config.MaxFetchBytes, and flags 1
// when more remain. The statuses are ok (1, the only one followed by
// fields), malformed, too large, quota, full, denied, busy, ID taken and
// expired.
// Each decoder accepts only what its encoder produces.
//
// # Invariants
//
//   - A host answers a deposit "ok" only once the item is durable, and
//     stores nothing beyond its quotas.
//   - A host gives out or deletes a mailbox's items only on a request
//     signed, for that host and within MaxClockSkew, by the identity the
//     mailbox key was derived from.
//   - Fetch delivers each item ID at most once per Service (it remembers
//     delivered IDs for the TTL and two days), and acknowledges only what
//     it delivered or what cannot be opened.
//   - Decoders never panic and never allocate more than their input
//     justifies.
//
// # Concurrency
//
// A Service is safe for concurrent use. It owns the protocol's handlers
// (Close waits for them) and Run's sweep loop; Deposit and Fetch run on
// their caller's goroutine plus goroutines they wait for, and end when
// the Service closes.
package mailbox
